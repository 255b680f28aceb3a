using System.Text.Json.Nodes;
using Kcm.Api.Core.V1;
using Kcm.Api.Meta.V1;
using Kcm.Api.Quota;

namespace Kcm.Api.Tests.Quota;

public sealed class QuotaEvaluatorTests
{
    private static readonly PodEvaluator Pods = new(TimeProvider.System);

    [Fact]
    public void PodUsage_InitContainersAndOverhead_AsUpstream()
    {
        var pod = PodFromJson("""
            {"metadata":{"name":"p"},"spec":{
              "containers":[{"name":"a","resources":{"requests":{"cpu":"100m","memory":"1Gi","example.com/gpu":"2","hugepages-2Mi":"4Mi"},"limits":{"cpu":"1"}}},
                            {"name":"b","resources":{"requests":{"cpu":"200m"},"limits":{"memory":"500M"}}}],
              "initContainers":[{"name":"i","resources":{"requests":{"cpu":"250m","memory":"100Mi"}}}],
              "overhead":{"cpu":"10m"}}}
            """);

        var usage = Pods.Usage(pod).ToDictionary(e => e.Key, e => e.Value.ToString());

        Assert.Equal(new Dictionary<string, string>
        {
            ["count/pods"] = "1", ["pods"] = "1",
            ["cpu"] = "310m", ["requests.cpu"] = "310m", ["limits.cpu"] = "1010m",
            ["memory"] = "1Gi", ["requests.memory"] = "1Gi", ["limits.memory"] = "500M",
            ["requests.example.com/gpu"] = "2", ["hugepages-2Mi"] = "4Mi", ["requests.hugepages-2Mi"] = "4Mi",
        }, usage);
    }

    [Fact]
    public void PodConstraints_ContainersMissingLimitedResources_UpstreamMessage()
    {
        var pod = PodFromJson("""
            {"metadata":{"name":"p"},"spec":{"containers":[{"name":"web","resources":{"requests":{"cpu":"1"}}},{"name":"log"}],"initContainers":[{"name":"setup"}]}}
            """);

        Assert.Equal("must specify limits.memory for: log,setup,web; requests.cpu for: log,setup",
            Pods.Constraints(["requests.cpu", "limits.memory", "pods", "count/pods"], pod));
        Assert.Null(Pods.Constraints(["pods", "requests.storage"], pod));
    }

    [Theory]
    [InlineData("NodePort", null, "2", "0")]
    [InlineData("LoadBalancer", null, "2", "1")]
    [InlineData("LoadBalancer", false, "1", "1")]
    [InlineData("ClusterIP", null, "0", "0")]
    public void ServiceUsage_ByType_NodePortsAndLoadBalancers(string type, bool? allocate, string nodePorts, string loadBalancers)
    {
        var service = new Service
        {
            Metadata = new ObjectMeta { Name = "s" },
            Spec = new ServiceSpec { Type = type, AllocateLoadBalancerNodePorts = allocate, Ports = [new ServicePort { Port = 80, NodePort = 30080 }, new ServicePort { Port = 81 }] },
        };

        var usage = new ServiceEvaluator().Usage(service);

        Assert.Equal((nodePorts, loadBalancers, "1"), (usage["services.nodeports"].ToString(), usage["services.loadbalancers"].ToString(), usage["services"].ToString()));
    }

    [Fact]
    public void ClaimUsage_StorageClassAndFractionalRequest_RoundedUpPerClass()
    {
        var claim = new PersistentVolumeClaim
        {
            Metadata = new ObjectMeta { Name = "c", Annotations = new() { ["volume.beta.kubernetes.io/storage-class"] = "gold" } },
            Spec = new PersistentVolumeClaimSpec { StorageClassName = "silver", Resources = new ResourceRequirements { Requests = new() { ["storage"] = Quantity.Parse("1500m") } } },
        };
        var evaluator = new PersistentVolumeClaimEvaluator();

        var usage = evaluator.Usage(claim).ToDictionary(e => e.Key, e => e.Value.ToString());

        // The beta annotation wins over spec.storageClassName, as upstream.
        Assert.Equal(new Dictionary<string, string>
        {
            ["persistentvolumeclaims"] = "1", ["count/persistentvolumeclaims"] = "1", ["gold.storageclass.storage.k8s.io/persistentvolumeclaims"] = "1",
            ["requests.storage"] = "2", ["gold.storageclass.storage.k8s.io/requests.storage"] = "2",
        }, usage);
        Assert.Equal(["requests.storage", "gold.storageclass.storage.k8s.io/requests.storage"],
            evaluator.MatchingResources(["requests.storage", "requests.cpu", "gold.storageclass.storage.k8s.io/requests.storage", "count/pods"]));
    }

    [Fact]
    public void CalculateUsage_ObjectCountsAndAliases_OnlyLimitedResources()
    {
        var registry = new QuotaRegistry(TimeProvider.System);
        registry.GetOrAddObjectCount(new GroupResource("apps", "deployments"));
        var hard = new Dictionary<string, Quantity> { ["configmaps"] = Quantity.Parse("5"), ["count/configmaps"] = Quantity.Parse("5"), ["count/deployments.apps"] = Quantity.Parse("1"), ["count/widgets.example.com"] = Quantity.Parse("1") };
        var objects = new Dictionary<GroupResource, object[]>
        {
            [new("", "configmaps")] = [new JsonObject(), new JsonObject()],
            [new("apps", "deployments")] = [new JsonObject()],
        };

        var (usage, errors) = registry.CalculateUsage("ns", null, hard, null, (r, _) => objects[r]);

        Assert.Empty(errors);
        // Nothing counts widgets: their usage is left out, not reported as zero.
        Assert.Equal(new Dictionary<string, string> { ["configmaps"] = "2", ["count/configmaps"] = "2", ["count/deployments.apps"] = "1" },
            usage.ToDictionary(e => e.Key, e => e.Value.ToString()));
    }

    [Fact]
    public void PriorityClassScope_BadOperator_QuotaScopeException()
    {
        var pod = PodFromJson("""{"metadata":{"name":"p"},"spec":{"priorityClassName":"high","containers":[{"name":"c"}]}}""");

        Assert.True(Pods.MatchesScope(new ScopedResourceSelectorRequirement { ScopeName = "PriorityClass", Operator = "In", Values = ["high", "low"] }, pod));
        Assert.Throws<QuotaScopeException>(() => Pods.MatchesScope(new ScopedResourceSelectorRequirement { ScopeName = "PriorityClass", Operator = "Gt" }, pod));
    }

    [Fact]
    public void ResourceLists_PrintAndArithmetic_AsUpstream()
    {
        var used = new Dictionary<string, Quantity> { ["requests.memory"] = Quantity.Parse("1Gi"), ["pods"] = Quantity.Parse("2") };
        var more = new Dictionary<string, Quantity> { ["requests.memory"] = Quantity.Parse("512Mi"), ["pods"] = Quantity.Parse("1") };

        Assert.Equal("pods=3,requests.memory=1536Mi", ResourceLists.Print(ResourceLists.Add(used, more)));
        Assert.Equal("pods=0,requests.memory=0", ResourceLists.Print(ResourceLists.SubtractWithNonNegativeResult(more, used)));
        var (within, exceeded) = ResourceLists.LessThanOrEqual(ResourceLists.Add(used, more), new Dictionary<string, Quantity> { ["pods"] = Quantity.Parse("3"), ["requests.memory"] = Quantity.Parse("1Gi") });
        Assert.False(within);
        Assert.Equal(["requests.memory"], exceeded);
    }

    private static JsonObject PodFromJson(string json) => (JsonObject)JsonNode.Parse(json)!;
}

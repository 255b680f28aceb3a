using Kcm.Api;
using Kcm.Api.Core.V1;
using Kcm.Api.Meta.V1;
using Kcm.Api.Quota;
using Kcm.Client;
using Kcm.Controllers.Common;
using Kcm.Runtime.Informers;

namespace Kcm.Controllers.Tests.ResourceQuotas;

public sealed class ResourceQuotaControllerTests
{
    [Fact(Timeout = 10_000)]
    public async Task SyncAsync_NewQuota_StatusHasHardAndUsageOfEveryLimit()
    {
        using var h = new ResourceQuotaHarness();
        h.AddQuota(new()
        {
            ["pods"] = "10", ["count/pods"] = "10", ["requests.cpu"] = "4", ["requests.memory"] = "8Gi", ["limits.memory"] = "8Gi",
            ["configmaps"] = "5", ["services"] = "5", ["services.nodeports"] = "5", ["services.loadbalancers"] = "1",
            ["persistentvolumeclaims"] = "5", ["requests.storage"] = "10Gi", ["gold.storageclass.storage.k8s.io/requests.storage"] = "5Gi",
        });
        h.Pods.Upsert(ResourceQuotaHarness.NewPod("a", cpu: "100m", memoryLimit: "1Gi"));
        var b = ResourceQuotaHarness.NewPod("b", cpu: "900m", memoryLimit: "512Mi");
        b.Spec!.Containers![0].Resources!.Requests!["memory"] = Quantity.Parse("512Mi");
        // An init container asking for more than the app containers sets the pod's request.
        b.Spec.InitContainers = [new Container { Name = "init", Resources = new ResourceRequirements { Requests = new() { ["cpu"] = Quantity.Parse("2") } } }];
        h.Pods.Upsert(b);
        h.ConfigMaps.Upsert(new ConfigMap { Metadata = new ObjectMeta { Name = "c1", Namespace = ResourceQuotaHarness.Ns } });
        h.ConfigMaps.Upsert(new ConfigMap { Metadata = new ObjectMeta { Name = "elsewhere", Namespace = "other" } });
        h.Services.Upsert(new Service
        {
            Metadata = new ObjectMeta { Name = "np", Namespace = ResourceQuotaHarness.Ns },
            Spec = new ServiceSpec { Type = "NodePort", Ports = [new ServicePort { Port = 80 }, new ServicePort { Port = 81 }] },
        });
        h.Services.Upsert(new Service
        {
            Metadata = new ObjectMeta { Name = "lb", Namespace = ResourceQuotaHarness.Ns },
            Spec = new ServiceSpec { Type = "LoadBalancer", AllocateLoadBalancerNodePorts = false, Ports = [new ServicePort { Port = 80, NodePort = 30001 }, new ServicePort { Port = 81 }] },
        });
        h.Claims.Upsert(new PersistentVolumeClaim
        {
            Metadata = new ObjectMeta { Name = "data", Namespace = ResourceQuotaHarness.Ns },
            Spec = new PersistentVolumeClaimSpec { StorageClassName = "gold", Resources = new ResourceRequirements { Requests = new() { ["storage"] = Quantity.Parse("1500Mi") } } },
        });

        await h.SyncAsync();

        var written = Assert.Single(h.Writer.Statuses);
        Assert.Equal(written.Spec!.Hard!.Keys.Order(), written.Status!.Hard!.Keys.Order());
        Assert.Equal(new Dictionary<string, string>
        {
            ["pods"] = "2", ["count/pods"] = "2", ["requests.cpu"] = "2100m", ["requests.memory"] = "512Mi", ["limits.memory"] = "1536Mi",
            ["configmaps"] = "1", ["services"] = "2", ["services.nodeports"] = "3", ["services.loadbalancers"] = "1",
            ["persistentvolumeclaims"] = "1", ["requests.storage"] = "1500Mi", ["gold.storageclass.storage.k8s.io/requests.storage"] = "1500Mi",
        }, h.Used());
    }

    [Fact(Timeout = 10_000)]
    public async Task SyncAsync_FinishedOrExpiredPods_CountOnlyUnderCountPods()
    {
        using var h = new ResourceQuotaHarness();
        h.AddQuota(new() { ["pods"] = "10", ["count/pods"] = "10", ["requests.cpu"] = "10" });
        h.Pods.Upsert(ResourceQuotaHarness.NewPod("running", cpu: "1", phase: "Running"));
        h.Pods.Upsert(ResourceQuotaHarness.NewPod("done", cpu: "1", phase: "Succeeded"));
        h.Pods.Upsert(ResourceQuotaHarness.NewPod("failed", cpu: "1", phase: "Failed"));
        var deleting = ResourceQuotaHarness.NewPod("deleting", cpu: "1", phase: "Running");
        deleting.Metadata!.DeletionTimestamp = h.Clock.GetUtcNow();
        deleting.Metadata.DeletionGracePeriodSeconds = 30;
        h.Pods.Upsert(deleting);

        await h.SyncAsync();
        Assert.Equal(new Dictionary<string, string> { ["pods"] = "2", ["count/pods"] = "4", ["requests.cpu"] = "2" }, h.Used());

        // Past its grace period a pod being deleted no longer counts (the next resync sees it).
        h.Clock.Advance(TimeSpan.FromSeconds(31));
        await h.SyncAsync();
        Assert.Equal(new Dictionary<string, string> { ["pods"] = "1", ["count/pods"] = "4", ["requests.cpu"] = "1" }, h.Used());
    }

    [Theory(Timeout = 10_000)]
    [InlineData("BestEffort", "1")]
    [InlineData("NotBestEffort", "2")]
    [InlineData("Terminating", "1")]
    [InlineData("NotTerminating", "2")]
    public async Task SyncAsync_ScopedQuota_CountsOnlyPodsInScope(string scope, string expected)
    {
        using var h = new ResourceQuotaHarness();
        h.AddQuota(new() { ["pods"] = "10" }, configure: s => s.Scopes = [scope]);
        h.Pods.Upsert(ResourceQuotaHarness.NewPod("besteffort"));
        var terminating = ResourceQuotaHarness.NewPod("terminating", cpu: "100m");
        terminating.Spec!.ActiveDeadlineSeconds = 60;
        h.Pods.Upsert(terminating);
        h.Pods.Upsert(ResourceQuotaHarness.NewPod("burstable", memoryLimit: "64Mi"));

        await h.SyncAsync();

        Assert.Equal(expected, h.Used()["pods"]);
    }

    [Theory(Timeout = 10_000)]
    [InlineData("In", new[] { "high" }, "1")]
    [InlineData("NotIn", new[] { "high" }, "2")]
    [InlineData("Exists", new string[0], "1")]
    [InlineData("DoesNotExist", new string[0], "2")]
    public async Task SyncAsync_PriorityClassSelector_CountsMatchingPods(string op, string[] values, string expected)
    {
        using var h = new ResourceQuotaHarness();
        h.AddQuota(new() { ["pods"] = "10" }, configure: s => s.ScopeSelector = new ScopeSelector
        {
            MatchExpressions = [new ScopedResourceSelectorRequirement { ScopeName = "PriorityClass", Operator = op, Values = [.. values] }],
        });
        var high = ResourceQuotaHarness.NewPod("high");
        high.Spec!.PriorityClassName = "high";
        h.Pods.Upsert(high);
        h.Pods.Upsert(ResourceQuotaHarness.NewPod("plain-1"));
        h.Pods.Upsert(ResourceQuotaHarness.NewPod("plain-2"));

        await h.SyncAsync();

        Assert.Equal(expected, h.Used()["pods"]);
    }

    [Fact(Timeout = 10_000)]
    public async Task SyncAsync_UsageUnchanged_WritesNothing()
    {
        using var h = new ResourceQuotaHarness();
        h.AddQuota(new() { ["pods"] = "3" });
        h.Pods.Upsert(ResourceQuotaHarness.NewPod("a"));
        await h.SyncAsync();
        await h.SyncAsync();

        Assert.Single(h.Writer.Statuses);
    }

    [Fact(Timeout = 10_000)]
    public async Task SyncAsync_LimitRemoved_UsageDroppedFromStatus()
    {
        using var h = new ResourceQuotaHarness();
        h.AddQuota(new() { ["pods"] = "3", ["configmaps"] = "2" });
        await h.SyncAsync();
        var quota = h.Quotas.Get(new ObjectKey(ResourceQuotaHarness.Ns, "quota"))!;
        quota.Spec!.Hard!.Remove("configmaps");

        await h.SyncAsync();

        Assert.Equal(new Dictionary<string, string> { ["pods"] = "0" }, h.Used());
        Assert.Equal(["pods"], h.Writer.Statuses[^1].Status!.Hard!.Keys);
    }

    [Fact(Timeout = 10_000)]
    public async Task SyncAsync_PodCacheNotSynced_KeepsPreviousPodUsageAndFails()
    {
        using var h = new ResourceQuotaHarness();
        var quota = h.AddQuota(new() { ["pods"] = "3", ["configmaps"] = "2" });
        quota.Status = new ResourceQuotaStatus { Hard = quota.Spec!.Hard, Used = new() { ["pods"] = Quantity.Parse("2"), ["configmaps"] = Quantity.Parse("2") } };
        h.PodsSynced = false;

        await Assert.ThrowsAsync<QuotaListException>(() => h.SyncAsync());

        // What could be counted was written; the pods' usage waits for their cache.
        Assert.Equal(new Dictionary<string, string> { ["pods"] = "2", ["configmaps"] = "0" }, h.Used());
    }

    [Fact]
    public void AddQuota_UsageMissing_GoesToPriorityQueue()
    {
        using var h = new ResourceQuotaHarness();
        var quota = h.AddQuota(new() { ["pods"] = "3" });
        h.Controller.AddQuota(quota);
        quota.Status = new ResourceQuotaStatus { Hard = quota.Spec!.Hard };
        h.Controller.AddQuota(quota);

        Assert.Equal((0, 1), (h.Primary.Count, h.Priority.Count)); // the same key, queued once
        quota.Status.Used = new() { ["pods"] = Quantity.Parse("1") };
        h.Controller.AddQuota(quota);
        Assert.Equal(1, h.Primary.Count);
    }

    [Fact]
    public void AddQuota_LimitNoEvaluatorTracks_NotPriority()
    {
        using var h = new ResourceQuotaHarness();
        var quota = h.AddQuota(new() { ["count/widgets.example.com"] = "3" });
        quota.Status = new ResourceQuotaStatus { Hard = quota.Spec!.Hard };

        h.Controller.AddQuota(quota);

        Assert.Equal((1, 0), (h.Primary.Count, h.Priority.Count));
    }

    [Fact]
    public void Replenish_Namespace_QueuesOnlyQuotasLimitingTheResource()
    {
        using var h = new ResourceQuotaHarness();
        foreach (var (name, resource) in new[] { ("pods", "pods"), ("cpu", "requests.cpu"), ("maps", "configmaps") })
        {
            var quota = h.AddQuota(new() { [resource] = "1" }, name);
            quota.Status = new ResourceQuotaStatus { Hard = quota.Spec!.Hard };
        }

        h.Controller.Replenish(new GroupResource("", "pods"), ResourceQuotaHarness.Ns);
        h.Controller.Replenish(new GroupResource("", "pods"), "other");
        h.Controller.Replenish(new GroupResource("example.com", "unknown"), ResourceQuotaHarness.Ns);

        Assert.Equal(2, h.Primary.Count);
    }

    [Fact]
    public void EnqueueAll_EveryQuota_OnPrimaryQueue()
    {
        using var h = new ResourceQuotaHarness();
        h.AddQuota(new() { ["pods"] = "1" }, "a");
        h.AddQuota(new() { ["pods"] = "1" }, "b");

        h.Controller.EnqueueAll();

        Assert.Equal(2, h.Primary.Count);
    }

    [Fact]
    public void SyncMonitors_DiscoveredResources_ObjectCountEvaluatorsExceptIgnored()
    {
        using var h = new ResourceQuotaHarness();
        static DiscoveredResource Resource(string group, string resource) => new(new GroupVersionResource(group, "v1", resource), "Kind", true, new HashSet<string>(), true);

        h.Controller.Monitor.SyncMonitors([Resource("apps", "deployments"), Resource("", "events"), Resource("events.k8s.io", "events"), Resource("", "pods")]);

        Assert.IsType<ObjectCountEvaluator>(h.Controller.Registry.Get(new GroupResource("apps", "deployments")));
        Assert.Null(h.Controller.Registry.Get(new GroupResource("", "events")));
        Assert.Null(h.Controller.Registry.Get(new GroupResource("events.k8s.io", "events")));
        Assert.IsType<PodEvaluator>(h.Controller.Registry.Get(new GroupResource("", "pods")));
        Assert.Equal([new GroupVersionResource("", "v1", "pods")], h.Controller.Monitor.Resources);
    }
}

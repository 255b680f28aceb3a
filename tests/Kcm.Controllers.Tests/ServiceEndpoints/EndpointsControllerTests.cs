using Kcm.Api.Core.V1;
using Kcm.Api.Meta.V1;
using Kcm.Client.Errors;
using Kcm.Controllers.ServiceEndpoints;
using Kcm.Controllers.Tests.Deployments;
using Kcm.Runtime.Informers;
using Kcm.Runtime.Queues;
using Kcm.Testing;
using Microsoft.Extensions.Logging.Abstractions;
using static Kcm.Controllers.Tests.ServiceEndpoints.EndpointsTestObjects;

namespace Kcm.Controllers.Tests.ServiceEndpoints;

/// <summary>The endpoint controller on hand-filled caches: what it writes for each situation upstream's tests cover.</summary>
public sealed class EndpointsControllerTests : IDisposable
{
    private static readonly Dictionary<string, string> AppA = new() { ["app"] = "a" };
    private static readonly ObjectKey Key = new(Ns, "svc");

    private readonly ThreadSafeStore<Service> _services = Store<Service>();
    private readonly ThreadSafeStore<Pod> _pods = Store<Pod>();
    private readonly ThreadSafeStore<Endpoints> _endpoints = Store<Endpoints>();
    private readonly FakeTimeProvider _time = new();
    private readonly RateLimitingQueue<ObjectKey> _queue;
    private readonly RecordingEventRecorder _events = new();
    private readonly FakeEndpointsClient _client;
    private readonly EndpointsController _controller;

    public EndpointsControllerTests()
    {
        _queue = RateLimitingQueue<ObjectKey>.WithDefaultControllerRateLimiter(new WorkQueueOptions { Name = EndpointsController.QueueName, TimeProvider = _time });
        _client = new FakeEndpointsClient(_endpoints);
        _controller = new EndpointsController(_services, _pods, _endpoints, _client, _events, _queue, NullLogger.Instance, TimeSpan.Zero);
    }

    public void Dispose() => _queue.Dispose();

    private static ThreadSafeStore<T> Store<T>()
        where T : class, Kcm.Api.IKubernetesObject
        => new(ObjectKey.Of, [new(KnownIndexers.Namespace, o => [ObjectKey.Of(o).Namespace ?? ""])]);

    private async Task<Endpoints> SyncAndGetAsync()
    {
        await _controller.SyncAsync(Key, CancellationToken.None);
        return _endpoints.Get(Key) ?? throw new InvalidOperationException("no Endpoints written");
    }

    [Fact]
    public async Task SyncAsync_ReadyAndNotReadyPods_SplitsAddressesWithTargetAndNode()
    {
        _services.Upsert(NewService("svc", AppA, Port("http", 80, 8080)));
        _pods.Upsert(NewPod("p1", "10.0.0.2", node: "n1"));
        _pods.Upsert(NewPod("p2", "10.0.0.1", ready: false, node: "n2"));
        _pods.Upsert(NewPod("other", "10.0.0.3", labels: new() { ["app"] = "b" }));

        var ep = await SyncAndGetAsync();

        var (verb, _, _) = Assert.Single(_client.Calls);
        Assert.Equal("create", verb);
        var subset = Assert.Single(ep.Subsets!);
        var ready = Assert.Single(subset.Addresses!);
        Assert.Equal(("10.0.0.2", "n1", "Pod", Ns, "p1", "uid-p1"), (ready.Ip, ready.NodeName, ready.TargetRef!.Kind, ready.TargetRef.Namespace, ready.TargetRef.Name, ready.TargetRef.Uid));
        Assert.Null(ready.Hostname);
        Assert.Equal([("10.0.0.1", "p2")], Addresses(subset.NotReadyAddresses));
        var port = Assert.Single(subset.Ports!);
        Assert.Equal(("http", 8080, "TCP"), (port.Name, port.Port, port.Protocol));
        Assert.Equal("2026-01-01T00:00:00Z", ep.Metadata!.Annotations![EndpointsController.LastChangeTriggerTimeAnnotation]);
    }

    [Fact]
    public async Task SyncAsync_PodsTerminatingTerminalOrWithoutIp_Skipped()
    {
        _services.Upsert(NewService("svc", AppA, Port("http", 80, 8080)));
        _pods.Upsert(NewPod("ok", "10.0.0.1"));
        _pods.Upsert(NewPod("terminating", "10.0.0.2").With(p => p.Metadata!.DeletionTimestamp = ServiceCreated));
        _pods.Upsert(NewPod("succeeded", "10.0.0.3").With(p => p.Status!.Phase = "Succeeded"));
        _pods.Upsert(NewPod("failed", "10.0.0.4").With(p => p.Status!.Phase = "Failed"));
        _pods.Upsert(NewPod("noip", "10.0.0.5").With(p => { p.Status!.PodIP = null; p.Status.PodIPs = null; }));
        // Upstream reads only status.podIPs: a pod with podIP alone passes the filter but has no address to give.
        _pods.Upsert(NewPod("podiponly", "10.0.0.6").With(p => p.Status!.PodIPs = null));

        var ep = await SyncAndGetAsync();

        var subset = Assert.Single(ep.Subsets!);
        Assert.Equal([("10.0.0.1", "ok")], Addresses(subset.Addresses));
        Assert.Null(subset.NotReadyAddresses);
    }

    [Fact]
    public async Task SyncAsync_PublishNotReadyAddresses_NotReadyAndTerminatingPodsListedAsReady()
    {
        var service = NewService("svc", AppA, Port("http", 80, 8080));
        service.Spec!.PublishNotReadyAddresses = true;
        _services.Upsert(service);
        _pods.Upsert(NewPod("ready", "10.0.0.1"));
        _pods.Upsert(NewPod("unready", "10.0.0.2", ready: false));
        _pods.Upsert(NewPod("terminating", "10.0.0.3", ready: false).With(p => p.Metadata!.DeletionTimestamp = ServiceCreated));

        var ep = await SyncAndGetAsync();

        var subset = Assert.Single(ep.Subsets!);
        Assert.Equal([("10.0.0.1", "ready"), ("10.0.0.2", "unready"), ("10.0.0.3", "terminating")], Addresses(subset.Addresses));
        Assert.Null(subset.NotReadyAddresses);
    }

    /// <summary>
    /// The objects of a comparison run on the real cluster (namespace cmp3, 2026-12-06): upstream's controller wrote
    /// exactly this order of subsets and of ports, which comes from the MD5 of go-spew's dump of each.
    /// </summary>
    [Fact]
    public async Task SyncAsync_NamedPortsDifferingAcrossPods_SubsetsAndPortsInUpstreamsOrder()
    {
        // The namespace is part of what is hashed: the comparison run's.
        static T InCmp3<T>(T obj) where T : Kcm.Api.IKubernetesObject { obj.Metadata!.Namespace = "cmp3"; return obj; }
        _services.Upsert(InCmp3(NewService("svc", AppA,
            Port("http", 80, "web"), Port("metrics", 9090, "metrics"), Port("dns", 53, "dns", "UDP"), Port("alt", 81, 7000, appProtocol: "http"))));
        _pods.Upsert(InCmp3(NewPod("a1", "10.1.0.5", uid: "b90086d3-f080-4f7c-a7e4-baf47530603e", webPort: 8080, labels: new() { ["app"] = "a", ["tier"] = "x" })));
        _pods.Upsert(InCmp3(NewPod("a2", "10.1.0.3", uid: "ff412bce-e520-4976-b217-084178649afe", webPort: 8081).With(p => { p.Spec!.Hostname = "h2"; p.Spec.Subdomain = "headless"; })));
        _pods.Upsert(InCmp3(NewPod("a3", "10.1.0.4", ready: false, uid: "9d3804a8-ac8c-45dc-96f9-a4b83e453d8e", webPort: 8080, node: "node-0")));
        _pods.Upsert(InCmp3(NewPod("a4", "10.1.0.7", uid: "c051dd81-54b0-41b6-b2ce-df58276446cf", webPort: 8080).With(p => p.Metadata!.DeletionTimestamp = ServiceCreated)));
        _pods.Upsert(InCmp3(NewPod("a5", "10.1.0.9", uid: "739c98f1-3378-4d99-ba7e-dbd66aa67d0b", webPort: 8082)));

        await _controller.SyncAsync(new ObjectKey("cmp3", "svc"), CancellationToken.None);
        var ep = _endpoints.Get(new ObjectKey("cmp3", "svc"))!;

        var subsets = ep.Subsets!;
        Assert.Equal(4, subsets.Count);
        Assert.Equal([("10.1.0.5", "a1")], Addresses(subsets[0].Addresses));
        Assert.Equal([("10.1.0.4", "a3")], Addresses(subsets[0].NotReadyAddresses));
        Assert.Equal([("http", 8080)], subsets[0].Ports!.Select(p => (p.Name, p.Port ?? 0)));
        Assert.Equal([("10.1.0.9", "a5")], Addresses(subsets[1].Addresses));
        Assert.Equal([("http", 8082)], subsets[1].Ports!.Select(p => (p.Name, p.Port ?? 0)));
        Assert.Equal([("10.1.0.3", "a2")], Addresses(subsets[2].Addresses));
        Assert.Equal([("http", 8081)], subsets[2].Ports!.Select(p => (p.Name, p.Port ?? 0)));
        Assert.Equal([("10.1.0.3", "a2"), ("10.1.0.5", "a1"), ("10.1.0.9", "a5")], Addresses(subsets[3].Addresses));
        Assert.Equal([("10.1.0.4", "a3")], Addresses(subsets[3].NotReadyAddresses));
        Assert.Equal([("dns", 53, "UDP", null), ("metrics", 9090, "TCP", null), ("alt", 7000, "TCP", "http")],
            subsets[3].Ports!.Select(p => (p.Name, p.Port ?? 0, p.Protocol, p.AppProtocol)));
        // The subdomain names another Service: no hostname here.
        Assert.All(subsets.SelectMany(s => s.Addresses ?? []), a => Assert.Null(a.Hostname));
    }

    [Fact]
    public async Task SyncAsync_HeadlessWithoutPorts_OnePortlessSubsetHostnameAndHeadlessLabel()
    {
        var service = NewService("svc", AppA);
        service.Spec!.ClusterIP = "None";
        service.Metadata!.Labels = new() { ["team"] = "t1" };
        _services.Upsert(service);
        _pods.Upsert(NewPod("p1", "10.0.0.1").With(p => { p.Spec!.Hostname = "h1"; p.Spec.Subdomain = "svc"; }));
        _pods.Upsert(NewPod("p2", "10.0.0.2", ready: false));

        var ep = await SyncAndGetAsync();

        var subset = Assert.Single(ep.Subsets!);
        Assert.Null(subset.Ports);
        Assert.Equal("h1", Assert.Single(subset.Addresses!).Hostname);
        Assert.Equal([("10.0.0.2", "p2")], Addresses(subset.NotReadyAddresses));
        Assert.Equal(new Dictionary<string, string> { ["team"] = "t1", [EndpointsController.HeadlessServiceLabel] = "" }, ep.Metadata!.Labels);
    }

    [Fact]
    public async Task SyncAsync_ClusterIpServiceWithoutPorts_EmptyEndpointsWithoutHeadlessLabel()
    {
        _services.Upsert(NewService("svc", AppA));
        _pods.Upsert(NewPod("p1", "10.0.0.1"));

        var ep = await SyncAndGetAsync();

        Assert.Empty(ep.Subsets ?? []);
        Assert.Null(ep.Metadata!.Labels);
    }

    [Fact]
    public async Task SyncAsync_ServiceWithoutSelector_WritesNothing()
    {
        _services.Upsert(NewService("svc", null, Port("http", 80, 8080)));
        _endpoints.Upsert(new Endpoints { Metadata = new ObjectMeta { Name = "svc", Namespace = Ns, ResourceVersion = "5" } });

        await _controller.SyncAsync(Key, CancellationToken.None);

        Assert.Empty(_client.Calls);
    }

    [Fact]
    public async Task SyncAsync_ServiceGone_DeletesEndpointsEvenWhenAlreadyGone()
    {
        await _controller.SyncAsync(Key, CancellationToken.None);
        _client.NotFoundOnDelete = true;
        var result = await _controller.SyncAsync(Key, CancellationToken.None);

        Assert.Equal([("delete", "svc"), ("delete", "svc")], _client.Calls.Select(c => (c.Verb, c.Name)));
        Assert.Equal(Kcm.Runtime.Controllers.ReconcileAction.Done, result.Action);
    }

    [Fact]
    public async Task SyncAsync_SecondSyncNothingChanged_NoWrite()
    {
        _services.Upsert(NewService("svc", AppA, Port("http", 80, "web"), Port("m", 9090, "metrics")));
        _pods.Upsert(NewPod("p1", "10.0.0.1"));
        _pods.Upsert(NewPod("p2", "10.0.0.2", ready: false, webPort: 8081));
        await _controller.SyncAsync(Key, CancellationToken.None);

        // A pod change that is not about endpoints: new resourceVersion only.
        _pods.Upsert(_pods.Get(new ObjectKey(Ns, "p1"))!.With(p => p.Metadata!.Annotations = new() { ["x"] = "y" }));
        await _controller.SyncAsync(Key, CancellationToken.None);
        await _controller.SyncAsync(Key, CancellationToken.None);

        Assert.Single(_client.Calls);
    }

    [Fact]
    public async Task SyncAsync_PodBecomesReady_UpdateWithTriggerTimeOfTheTransition()
    {
        _services.Upsert(NewService("svc", AppA, Port("http", 80, 8080)));
        _pods.Upsert(NewPod("p1", "10.0.0.1", ready: false));
        await _controller.SyncAsync(Key, CancellationToken.None);

        var transition = ServiceCreated.AddHours(1);
        _pods.Upsert(_pods.Get(new ObjectKey(Ns, "p1"))!.With(p => p.Status!.Conditions = [new PodCondition { Type = "Ready", Status = "True", LastTransitionTime = transition }]));
        var ep = await SyncAndGetAsync();

        Assert.Equal("update", _client.Calls[^1].Verb);
        Assert.Equal([("10.0.0.1", "p1")], Addresses(Assert.Single(ep.Subsets!).Addresses));
        Assert.Equal("2026-01-01T01:00:00Z", ep.Metadata!.Annotations![EndpointsController.LastChangeTriggerTimeAnnotation]);
    }

    /// <summary>What upstream wrote on the real cluster (namespace ttup2): a write with no new trigger drops the annotation.</summary>
    [Fact]
    public async Task SyncAsync_OnlyServiceLabelsChanged_TriggerTimeAnnotationRemoved()
    {
        var service = NewService("svc", AppA, Port("http", 80, 8080));
        _services.Upsert(service);
        _pods.Upsert(NewPod("p1", "10.0.0.1"));
        Assert.True((await SyncAndGetAsync()).Metadata!.Annotations!.ContainsKey(EndpointsController.LastChangeTriggerTimeAnnotation));

        var labelled = Kcm.Controllers.Common.KubeObjects.Clone(service);
        labelled.Metadata!.Labels = new() { ["extra"] = "1" };
        _services.Upsert(labelled);
        var ep = await SyncAndGetAsync();

        Assert.Equal("update", _client.Calls[^1].Verb);
        Assert.Equal(new Dictionary<string, string> { ["extra"] = "1" }, ep.Metadata!.Labels);
        Assert.Null(ep.Metadata.Annotations);
    }

    [Fact]
    public async Task SyncAsync_LabelsDiffer_UpdateCopiesServiceLabelsAndKeepsOtherAnnotations()
    {
        var service = NewService("svc", AppA, Port("http", 80, 8080));
        service.Metadata!.Labels = new() { ["team"] = "t2" };
        _services.Upsert(service);
        _endpoints.Upsert(new Endpoints
        {
            Metadata = new ObjectMeta { Name = "svc", Namespace = Ns, ResourceVersion = "5", Labels = new() { ["team"] = "t1" }, Annotations = new() { ["keep"] = "me" } },
        });

        var ep = await SyncAndGetAsync();

        Assert.Equal("update", Assert.Single(_client.Calls).Verb);
        Assert.Equal(new Dictionary<string, string> { ["team"] = "t2" }, ep.Metadata!.Labels);
        Assert.Equal("me", ep.Metadata.Annotations!["keep"]);
        Assert.Equal("5", _client.Calls[0].Endpoints!.Metadata!.ResourceVersion);
    }

    [Fact]
    public async Task SyncAsync_Over1000Pods_TruncatedWithAnnotationThenRemovedWhenBackUnder()
    {
        _services.Upsert(NewService("svc", AppA, Port("http", 80, 8080)));
        for (var i = 0; i < 1001; i++)
        {
            _pods.Upsert(NewPod($"p{i}", $"10.0.{i / 250}.{i % 250}", ready: i % 2 == 0));
        }

        var ep = await SyncAndGetAsync();

        var subset = Assert.Single(ep.Subsets!);
        // 501 ready addresses all stay; the not-ready ones are cut to what is left of 1000.
        Assert.Equal((501, 499), (subset.Addresses!.Count, subset.NotReadyAddresses!.Count));
        Assert.Equal(EndpointsController.Truncated, ep.Metadata!.Annotations![EndpointsController.OverCapacityAnnotation]);

        // Over capacity the stored object never compares equal: every sync rewrites it, as upstream.
        await _controller.SyncAsync(Key, CancellationToken.None);
        Assert.Equal(2, _client.Calls.Count);

        _pods.Delete(new ObjectKey(Ns, "p1000"));
        _pods.Delete(new ObjectKey(Ns, "p999"));
        ep = await SyncAndGetAsync();

        Assert.Equal(999, EndpointSubsets.AddressCount(ep.Subsets));
        Assert.False(ep.Metadata!.Annotations?.ContainsKey(EndpointsController.OverCapacityAnnotation) ?? false);
    }

    [Fact]
    public void Truncate_ReadyOverCapacityAcrossSubsets_ProportionalShareRoundedUpAndNotReadyDropped()
    {
        EndpointSubset Subset(int ready, int notReady, int port) => new()
        {
            Addresses = [.. Enumerable.Range(0, ready).Select(i => new EndpointAddress { Ip = $"10.{port}.{i / 250}.{i % 250}" })],
            NotReadyAddresses = [.. Enumerable.Range(0, notReady).Select(i => new EndpointAddress { Ip = $"10.{port}.9.{i}" })],
            Ports = [new EndpointPort { Port = port }],
        };
        var subsets = new List<EndpointSubset> { Subset(700, 5, 1), Subset(500, 5, 2) };

        Assert.True(EndpointSubsets.Truncate(subsets));

        // ceil(700/1200*1000) = 584, the rest (416) for the second subset.
        Assert.Equal((584, 416), (subsets[0].Addresses!.Count, subsets[1].Addresses!.Count));
        Assert.All(subsets, s => Assert.Empty(s.NotReadyAddresses ?? []));
    }

    [Fact]
    public async Task SyncAsync_Ipv6Service_UsesThePodsIpv6AddressAndSkipsPodsWithout()
    {
        var service = NewService("svc", AppA, Port("http", 80, 8080));
        service.Spec!.IpFamilies = ["IPv6"];
        _services.Upsert(service);
        _pods.Upsert(NewPod("dual", "10.0.0.1").With(p => p.Status!.PodIPs = [new PodIP { Ip = "10.0.0.1" }, new PodIP { Ip = "fd00::1" }]));
        _pods.Upsert(NewPod("v4only", "10.0.0.2"));

        var ep = await SyncAndGetAsync();

        Assert.Equal([("fd00::1", "dual")], Addresses(Assert.Single(ep.Subsets!).Addresses));
    }

    [Fact]
    public async Task SyncAsync_UpdateFails_WarningEventAndError()
    {
        _services.Upsert(NewService("svc", AppA, Port("http", 80, 8080)));
        _endpoints.Upsert(new Endpoints { Metadata = new ObjectMeta { Name = "svc", Namespace = Ns, ResourceVersion = "5" } });
        _pods.Upsert(NewPod("p1", "10.0.0.1"));
        _client.FailWith = new ConflictException(409, new Status { Message = "conflict" });

        await Assert.ThrowsAsync<ConflictException>(() => _controller.SyncAsync(Key, CancellationToken.None));

        var e = Assert.Single(_events.Events);
        Assert.Equal(("Warning", "FailedToUpdateEndpoint", "svc"), (e.Type, e.Reason, e.Object));
    }

    [Fact]
    public async Task SyncAsync_CreateForbiddenNamespaceTerminating_DoneWithoutEvent()
    {
        _services.Upsert(NewService("svc", AppA, Port("http", 80, 8080)));
        _client.FailWith = new ForbiddenException(403, new Status
        {
            Details = new StatusDetails { Causes = [new StatusCause { Reason = "NamespaceTerminating" }] },
        });

        var result = await _controller.SyncAsync(Key, CancellationToken.None);

        Assert.Equal(Kcm.Runtime.Controllers.ReconcileAction.Done, result.Action);
        Assert.Empty(_events.Events);
    }

    [Fact]
    public void QueueLeftoverEndpoints_LeaderElectionRecord_NotQueued()
    {
        _endpoints.Upsert(new Endpoints { Metadata = new ObjectMeta { Name = "orphan", Namespace = Ns } });
        _endpoints.Upsert(new Endpoints
        {
            Metadata = new ObjectMeta { Name = "kube-controller-manager", Namespace = "kube-system", Annotations = new() { [EndpointsController.LeaderElectionAnnotation] = "{}" } },
        });

        _controller.QueueLeftoverEndpoints();

        Assert.Equal(1, _queue.Count);
        Assert.True(_queue.TryTake(out var key));
        Assert.Equal(new ObjectKey(Ns, "orphan"), key);
    }

    [Fact]
    public void OnPodUpdated_OnlyAnnotationsChanged_QueuesNothing()
    {
        _services.Upsert(NewService("svc", AppA, Port("http", 80, 8080)));
        var pod = NewPod("p1", "10.0.0.1");

        _controller.OnPodUpdated(pod, pod.With(p => p.Metadata!.Annotations = new() { ["x"] = "y" }));
        _controller.OnPodUpdated(pod, pod); // resync: same resourceVersion

        Assert.Equal(0, _queue.Count);
    }

    [Fact]
    public void OnPodUpdated_LabelsMoveBetweenServices_QueuesBothButNotTheUnaffected()
    {
        _services.Upsert(NewService("a", AppA));
        _services.Upsert(NewService("b", new() { ["app"] = "b" }));
        _services.Upsert(NewService("all", new() { ["tier"] = "x" }));
        var pod = NewPod("p1", "10.0.0.1", labels: new() { ["app"] = "a", ["tier"] = "x" });

        _controller.OnPodUpdated(pod, pod.With(p => p.Metadata!.Labels = new() { ["app"] = "b", ["tier"] = "x" }));

        var keys = new List<string>();
        while (_queue.TryTake(out var key))
        {
            keys.Add(key.Name);
        }
        Assert.Equal(["a", "b"], keys.Order());
    }

    [Fact]
    public void OnPodUpdated_ReadinessChanged_QueuesSelectingService()
    {
        _services.Upsert(NewService("svc", AppA));
        var pod = NewPod("p1", "10.0.0.1");

        _controller.OnPodUpdated(pod, pod.With(p => p.Status!.Conditions![0].Status = "False"));

        Assert.True(_queue.TryTake(out var key));
        Assert.Equal(Key, key);
    }
}

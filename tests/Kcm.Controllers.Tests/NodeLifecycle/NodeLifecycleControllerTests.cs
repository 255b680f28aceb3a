using System.Collections.Concurrent;
using System.Text.Json.Nodes;
using Kcm.Api;
using Kcm.Api.Apps.V1;
using Kcm.Api.Coordination.V1;
using Kcm.Api.Core.V1;
using Kcm.Api.Meta.V1;
using Kcm.Client.Errors;
using Kcm.Controllers.NodeLifecycle;
using Kcm.Runtime.Events;
using Kcm.Runtime.Informers;
using Kcm.Runtime.Metrics;
using Kcm.Runtime.Queues;
using Kcm.Testing;
using Microsoft.Extensions.Logging.Abstractions;

namespace Kcm.Controllers.Tests.NodeLifecycle;

/// <summary>The node lifecycle controller without a server: caches seeded by hand, a fake client, a fake clock.</summary>
public sealed class NodeLifecycleControllerTests
{
    private static readonly TimeSpan Grace = TimeSpan.FromSeconds(40);

    private readonly FakeTimeProvider _time = new();
    private readonly ThreadSafeStore<Node> _nodes = new(ObjectKey.Of, []);
    private readonly ThreadSafeStore<Pod> _pods = new(ObjectKey.Of, [KeyValuePair.Create<string, IndexFunc<Pod>>(KnownIndexers.PodNodeName, KnownIndexers.NodeNameOf)]);
    private readonly ThreadSafeStore<Lease> _leases = new(ObjectKey.Of, []);
    private readonly ThreadSafeStore<DaemonSet> _daemonSets = new(ObjectKey.Of, []);
    private readonly FakeClient _client;
    private readonly RecordingRecorder _events = new();
    private readonly MetricsRegistry _metrics = new();

    public NodeLifecycleControllerTests()
    {
        _client = new FakeClient(_nodes, _pods);
    }

    private NodeLifecycleController NewController(NodeLifecycleControllerOptions? options = null)
        => new(
            options ?? new NodeLifecycleControllerOptions { NodeMonitorGracePeriod = Grace, EvictionLimiterQps = 100 },
            _client, _nodes, _pods, _leases, _daemonSets, _events, _events, new NodeLifecycleMetrics(_metrics),
            name => new WorkQueueOptions { Name = name, TimeProvider = _time }, _time, NullLogger.Instance);

    private Node AddNode(string name, string ready = "True", string? zone = null)
    {
        var now = _time.GetUtcNow();
        var node = new Node
        {
            Metadata = new ObjectMeta
            {
                Name = name,
                Uid = "uid-" + name,
                ResourceVersion = "1",
                CreationTimestamp = now - TimeSpan.FromHours(1),
                Labels = zone is null ? null : new Dictionary<string, string> { ["topology.kubernetes.io/zone"] = zone },
            },
            Spec = new NodeSpec(),
            Status = new NodeStatus
            {
                Conditions =
                [
                    new NodeCondition { Type = "MemoryPressure", Status = "False", Reason = "KubeletHasSufficientMemory", LastHeartbeatTime = now, LastTransitionTime = now },
                    new NodeCondition { Type = "Ready", Status = ready, Reason = "KubeletReady", LastHeartbeatTime = now, LastTransitionTime = now },
                ],
            },
        };
        _nodes.Upsert(node);
        return node;
    }

    private void AddPod(string name, string nodeName, params Toleration[] tolerations)
        => _pods.Upsert(new Pod
        {
            Metadata = new ObjectMeta { Name = name, Namespace = "ns", Uid = "uid-" + name, ResourceVersion = "1" },
            Spec = new PodSpec { NodeName = nodeName, Tolerations = [.. tolerations] },
            Status = new PodStatus { Phase = "Running", Conditions = [new PodCondition { Type = "Ready", Status = "True" }] },
        });

    private Node Stored(string name) => _nodes.Get(new ObjectKey(null, name))!;

    [Fact]
    public async Task MonitorNodeHealthAsync_NoHeartbeatForGracePeriod_ConditionsUnknownWithUpstreamReason()
    {
        AddNode("n1");
        var controller = NewController();
        await controller.MonitorNodeHealthAsync(CancellationToken.None);
        Assert.Empty(_client.StatusUpdates);

        _time.Advance(Grace + TimeSpan.FromSeconds(1));
        await controller.MonitorNodeHealthAsync(CancellationToken.None);

        var node = Assert.Single(_client.StatusUpdates);
        var conditions = node.Status!.Conditions!.ToDictionary(c => c.Type!);
        Assert.Equal(["MemoryPressure", "Ready", "DiskPressure", "PIDPressure"], node.Status.Conditions!.Select(c => c.Type));
        Assert.All(conditions.Values, c => Assert.Equal("Unknown", c.Status));
        Assert.Equal(("NodeStatusUnknown", "Kubelet stopped posting node status."), (conditions["Ready"].Reason, conditions["Ready"].Message));
        // Conditions the kubelet never posted are added as never updated.
        Assert.Equal(("NodeStatusNeverUpdated", "Kubelet never posted node status."), (conditions["DiskPressure"].Reason, conditions["DiskPressure"].Message));
        Assert.Contains(_events.Events, e => e.Reason == "NodeNotReady" && e.Message == "Node n1 status is now: NodeNotReady");
    }

    [Fact]
    public async Task MonitorNodeHealthAsync_LeaseRenewed_NodeStaysReady()
    {
        AddNode("n1");
        var controller = NewController();
        await controller.MonitorNodeHealthAsync(CancellationToken.None);

        for (var i = 0; i < 6; i++)
        {
            _time.Advance(TimeSpan.FromSeconds(10));
            _leases.Upsert(new Lease
            {
                Metadata = new ObjectMeta { Name = "n1", Namespace = "kube-node-lease" },
                Spec = new LeaseSpec { HolderIdentity = "n1", RenewTime = _time.GetUtcNow() },
            });
            await controller.MonitorNodeHealthAsync(CancellationToken.None);
        }

        Assert.Empty(_client.StatusUpdates);
    }

    [Fact]
    public async Task MonitorNodeHealthAsync_NodeUnknown_TaintedUnreachableAndPodsMarkedNotReady()
    {
        AddNode("n1");
        AddNode("n2");
        AddPod("p1", "n1");
        var controller = NewController();
        await controller.MonitorNodeHealthAsync(CancellationToken.None);
        _time.Advance(Grace + TimeSpan.FromSeconds(1));
        // n2 keeps heartbeating, so the zone is only partially unhealthy.
        _leases.Upsert(new Lease { Metadata = new ObjectMeta { Name = "n2", Namespace = "kube-node-lease" }, Spec = new LeaseSpec { RenewTime = _time.GetUtcNow() } });

        // The pass that writes Unknown judges the node by the Ready it had before; the next one queues the taint.
        await controller.MonitorNodeHealthAsync(CancellationToken.None);
        await controller.MonitorNodeHealthAsync(CancellationToken.None);
        await controller.DoNoExecuteTaintingPassAsync(CancellationToken.None);
        await controller.DoNoScheduleTaintingPassAsync("n1", CancellationToken.None);

        var taints = Stored("n1").Spec!.Taints!;
        Assert.Contains(taints, t => t is { Key: NodeTaints.Unreachable, Effect: NodeTaints.NoExecute } && t.TimeAdded is not null);
        Assert.Contains(taints, t => t is { Key: NodeTaints.Unreachable, Effect: NodeTaints.NoSchedule });
        Assert.Empty(Stored("n2").Spec!.Taints ?? []);
        var pod = Assert.Single(_client.PodStatusUpdates);
        Assert.Equal("False", pod.Status!.Conditions!.Single(c => c.Type == "Ready").Status);
        Assert.Contains(_events.Events, e => e.Reason == "NodeNotReady" && e.Message == "Node is not ready" && e.Type == EventTypes.Warning);
        Assert.Equal(1, _metrics.Counter("node_collector_evictions_total", "", "zone").Value(""));
    }

    [Fact(Timeout = 30_000)]
    public async Task MonitorNodeHealthAsync_ManyNodesSilent_HandledSeveralAtATime()
    {
        var names = Enumerable.Range(0, 10).Select(i => $"n{i}").ToList();
        foreach (var name in names)
        {
            AddNode(name);
            AddPod("p-" + name, name);
        }
        var controller = NewController();
        await controller.MonitorNodeHealthAsync(CancellationToken.None);
        _time.Advance(Grace + TimeSpan.FromSeconds(1));
        // Every node's Unknown write waits until as many are in flight as the pass allows: one node at a time would
        // never get past it.
        var inFlight = 0;
        var allIn = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        _client.BeforeNodeStatusUpdate = async _ =>
        {
            if (Interlocked.Increment(ref inFlight) == NodeLifecycleController.NodeUpdateWorkers) allIn.TrySetResult();
            await allIn.Task.WaitAsync(TimeSpan.FromSeconds(10));
        };

        await controller.MonitorNodeHealthAsync(CancellationToken.None);

        Assert.Equal(names.Order(StringComparer.Ordinal), _client.StatusUpdates.Select(n => n.Metadata!.Name!).Order(StringComparer.Ordinal));
        Assert.All(names, n => Assert.Equal("Unknown", Stored(n).Status!.Conditions!.Single(c => c.Type == "Ready").Status));
        Assert.Equal(names.Select(n => "p-" + n).Order(StringComparer.Ordinal), _client.PodStatusUpdates.Select(p => p.Metadata!.Name!).Order(StringComparer.Ordinal));
        Assert.Equal(10, _events.Events.Count(e => e.Reason == "NodeNotReady" && e.Message.EndsWith("status is now: NodeNotReady", StringComparison.Ordinal)));
        // The zone's health was computed from all ten: every node is down, so it is fully disrupted.
        Assert.Equal(ZoneState.FullDisruption, controller.ZoneStates[""]);
    }

    [Fact(Timeout = 30_000)]
    public async Task MarkPodsNotReadyAsync_ManyPods_WritesOverlapAndEveryFailureIsReported()
    {
        var names = Enumerable.Range(0, 20).Select(i => $"p{i}").ToList();
        foreach (var name in names) AddPod(name, "n1");
        AddPod("other-node", "n2");
        _pods.Upsert(new Pod
        {
            Metadata = new ObjectMeta { Name = "already", Namespace = "ns", Uid = "uid-already", ResourceVersion = "1" },
            Spec = new PodSpec { NodeName = "n1" },
            Status = new PodStatus { Phase = "Running", Conditions = [new PodCondition { Type = "Ready", Status = "False" }] },
        });
        // Every write waits until as many are in flight as the controller allows: one at a time would never get past it.
        var inFlight = 0;
        var allIn = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        _client.BeforePodStatusUpdate = async pod =>
        {
            if (Interlocked.Increment(ref inFlight) == NodeLifecycleController.MarkPodsNotReadyConcurrency) allIn.TrySetResult();
            await allIn.Task.WaitAsync(TimeSpan.FromSeconds(10));
            if (pod.Metadata!.Name is "p3" or "p7") throw new ConflictException(409, new Status { Reason = StatusReasons.Conflict, Message = $"{pod.Metadata.Name} changed" });
        };
        var controller = NewController();

        var error = await Assert.ThrowsAsync<MarkPodsNotReadyException>(() => controller.MarkPodsNotReadyAsync(_pods.List(), "n1", CancellationToken.None));

        Assert.Equal(2, error.Errors.Count);
        Assert.Contains("p3 changed", error.Message);
        Assert.Contains("p7 changed", error.Message);
        var written = _client.PodStatusUpdates.Select(p => p.Metadata!.Name!).Order(StringComparer.Ordinal).ToList();
        Assert.Equal(names.Except(["p3", "p7"]).Order(StringComparer.Ordinal), written);
        Assert.All(_client.PodStatusUpdates, p => Assert.Equal("False", p.Status!.Conditions!.Single(c => c.Type == "Ready").Status));
        // One event per pod tried, as upstream records it whether or not the write succeeded.
        Assert.Equal(20, _events.Events.Count(e => e.Reason == "NodeNotReady" && e.Message == "Node is not ready"));
    }

    [Fact]
    public async Task MonitorNodeHealthAsync_NodeReadyAgain_NoExecuteTaintsRemoved()
    {
        var node = AddNode("n1", ready: "False");
        node.Spec!.Taints = [new Taint { Key = NodeTaints.NotReady, Effect = NodeTaints.NoExecute }, new Taint { Key = "other", Effect = NodeTaints.NoExecute }];
        var controller = NewController();
        await controller.MonitorNodeHealthAsync(CancellationToken.None);

        var ready = AddNode("n1");
        ready.Spec!.Taints = node.Spec.Taints;
        await controller.MonitorNodeHealthAsync(CancellationToken.None);

        Assert.Equal(["other"], Stored("n1").Spec!.Taints!.Select(t => t.Key));
    }

    [Fact]
    public async Task MonitorNodeHealthAsync_NotReadyNodeAlreadyUnreachable_TaintSwappedAtOnce()
    {
        AddNode("n1");
        AddNode("n2");
        var controller = NewController();
        await controller.MonitorNodeHealthAsync(CancellationToken.None);

        // The kubelet reports NotReady while the node still carries the unreachable taint: no queue, no rate limit.
        var node = AddNode("n1", ready: "False");
        node.Spec!.Taints = [new Taint { Key = NodeTaints.Unreachable, Effect = NodeTaints.NoExecute }];
        await controller.MonitorNodeHealthAsync(CancellationToken.None);

        Assert.Equal([(NodeTaints.NotReady, NodeTaints.NoExecute)], Stored("n1").Spec!.Taints!.Select(t => (t.Key!, t.Effect!)));
    }

    [Fact]
    public async Task MonitorNodeHealthAsync_AllZonesFullyDisrupted_EvictionsStop()
    {
        AddNode("n1", zone: "a");
        AddNode("n2", zone: "a");
        var controller = NewController();
        await controller.MonitorNodeHealthAsync(CancellationToken.None);
        _time.Advance(Grace + TimeSpan.FromSeconds(1));

        await controller.MonitorNodeHealthAsync(CancellationToken.None);
        await controller.MonitorNodeHealthAsync(CancellationToken.None);
        await controller.DoNoExecuteTaintingPassAsync(CancellationToken.None);
        _time.Advance(TimeSpan.FromMinutes(5));
        await controller.DoNoExecuteTaintingPassAsync(CancellationToken.None);

        Assert.Equal(ZoneState.FullDisruption, Assert.Single(controller.ZoneStates).Value);
        Assert.All(_nodes.List(), n => Assert.DoesNotContain(n.Spec?.Taints ?? [], t => t.Effect == NodeTaints.NoExecute));
    }

    [Fact]
    public async Task MonitorNodeHealthAsync_OneZoneFullyDisruptedAnotherHealthy_ThatZoneEvictedAtNormalRate()
    {
        AddNode("a1", zone: "a");
        AddNode("b1", zone: "b");
        var controller = NewController();
        await controller.MonitorNodeHealthAsync(CancellationToken.None);
        _time.Advance(Grace + TimeSpan.FromSeconds(1));
        _leases.Upsert(new Lease { Metadata = new ObjectMeta { Name = "b1", Namespace = "kube-node-lease" }, Spec = new LeaseSpec { RenewTime = _time.GetUtcNow() } });

        await controller.MonitorNodeHealthAsync(CancellationToken.None);
        await controller.MonitorNodeHealthAsync(CancellationToken.None);
        await controller.DoNoExecuteTaintingPassAsync(CancellationToken.None);

        Assert.Equal(ZoneState.FullDisruption, controller.ZoneStates[NodeLifecycleController.ZoneKey(Stored("a1"))]);
        Assert.Contains(Stored("a1").Spec!.Taints!, t => t is { Key: NodeTaints.Unreachable, Effect: NodeTaints.NoExecute });
    }

    [Theory]
    [InlineData(new[] { "True", "True", "True" }, 0, ZoneState.Normal)]
    [InlineData(new[] { "False", "Unknown" }, 2, ZoneState.FullDisruption)]
    [InlineData(new[] { "False", "Unknown", "True" }, 2, ZoneState.Normal)]
    [InlineData(new[] { "False", "Unknown", "False", "True" }, 3, ZoneState.PartialDisruption)]
    [InlineData(new[] { "False", "Unknown", "False", "True", "True", "True" }, 3, ZoneState.Normal)]
    public void ComputeZoneState_ReadyConditions_UpstreamsState(string[] statuses, int notReady, ZoneState state)
    {
        var controller = NewController();

        var result = controller.ComputeZoneState([.. statuses.Select(s => new NodeCondition { Type = "Ready", Status = s })]);

        Assert.Equal((notReady, state), result);
    }

    [Theory]
    [InlineData(50, 0f)]
    [InlineData(51, 0.01f)]
    public void ReducedQps_ClusterSize_SecondaryRateOnlyForLargeClusters(int zoneSize, float qps)
        => Assert.Equal(qps, NewController(new NodeLifecycleControllerOptions()).ReducedQps(zoneSize));

    [Fact]
    public async Task DoNoScheduleTaintingPassAsync_ConditionsAndUnschedulable_MatchingTaintsOnly()
    {
        var node = AddNode("n1");
        node.Status!.Conditions!.Single(c => c.Type == "MemoryPressure").Status = "True";
        node.Spec!.Unschedulable = true;
        node.Spec.Taints = [new Taint { Key = NodeTaints.DiskPressure, Effect = NodeTaints.NoSchedule }, new Taint { Key = "mine", Effect = NodeTaints.NoSchedule }];
        var controller = NewController();

        await controller.DoNoScheduleTaintingPassAsync("n1", CancellationToken.None);

        Assert.Equal(["mine", NodeTaints.MemoryPressure, NodeTaints.Unschedulable], Stored("n1").Spec!.Taints!.Select(t => t.Key).Order());
        // Added first, then removed, each with the resourceVersion it read as precondition.
        Assert.Equal(["1", "2"], _client.Patches.Select(p => (string?)JsonNode.Parse(p)!["metadata"]!["resourceVersion"]));
    }

    [Fact]
    public async Task TaintManager_UntoleratedNoExecuteTaint_PodDeletedAtOnceWithCondition()
    {
        var node = AddNode("n1");
        node.Spec!.Taints = [new Taint { Key = NodeTaints.Unreachable, Effect = NodeTaints.NoExecute }];
        AddPod("p1", "n1");
        var controller = NewController();

        await controller.TaintManager!.HandleNodeUpdateAsync("n1", CancellationToken.None);

        await Eventually.TrueAsync("p1 deleted", () => Task.FromResult(_client.DeletedPods.Contains("ns/p1")));
        Assert.Contains("ns/p1", _client.EvictionConditions);
        Assert.Contains(_events.Events, e => e.Reason == "TaintManagerEviction" && e.Message == "Marking for deletion Pod ns/p1" && e.Reference.Kind == "Pod");
    }

    [Fact]
    public async Task TaintManager_TolerationSeconds_PodDeletedAfterThemAndCancelledOnRecovery()
    {
        var node = AddNode("n1");
        node.Spec!.Taints = [new Taint { Key = NodeTaints.Unreachable, Effect = NodeTaints.NoExecute }];
        AddPod("p1", "n1", new Toleration { Key = NodeTaints.Unreachable, Operator = "Exists", Effect = NodeTaints.NoExecute, TolerationSeconds = 300 });
        AddPod("p2", "n1", new Toleration { Key = NodeTaints.Unreachable, Operator = "Exists", Effect = NodeTaints.NoExecute, TolerationSeconds = 30 });
        AddPod("forever", "n1", new Toleration { Operator = "Exists" });
        var controller = NewController();
        var manager = controller.TaintManager!;

        await manager.HandleNodeUpdateAsync("n1", CancellationToken.None);
        _time.Advance(TimeSpan.FromSeconds(30));

        Assert.Equal(["ns/p2"], _client.DeletedPods);
        Assert.Null(manager.Evictions.GetWorker(new ObjectKey("ns", "forever")));

        node.Spec.Taints = [];
        await manager.HandleNodeUpdateAsync("n1", CancellationToken.None);
        _time.Advance(TimeSpan.FromMinutes(10));

        Assert.Equal(["ns/p2"], _client.DeletedPods);
        Assert.Contains(_events.Events, e => e.Reason == "TaintManagerEviction" && e.Message == "Cancelling deletion of Pod ns/p1");
    }

    private sealed record RecordedEvent(ObjectReference Reference, string Type, string Reason, string Message);

    private sealed class RecordingRecorder : IEventRecorder
    {
        public ConcurrentQueue<RecordedEvent> Events { get; } = new();

        public void Event(ObjectReference reference, string type, string reason, string message) => Events.Enqueue(new(reference, type, reason, message));
    }

    /// <summary>Applies writes to the caches (as a watch would) and records them.</summary>
    private sealed class FakeClient(ThreadSafeStore<Node> nodes, ThreadSafeStore<Pod> pods) : INodeLifecycleClient
    {
        private int _version = 1;

        public List<Node> StatusUpdates { get; } = [];

        public List<Pod> PodStatusUpdates { get; } = [];

        public List<string> Patches { get; } = [];

        public ConcurrentQueue<string> DeletedPods { get; } = new();

        public ConcurrentQueue<string> EvictionConditions { get; } = new();

        public Task<Node> GetNodeAsync(string name, CancellationToken cancellationToken)
            => nodes.Get(new ObjectKey(null, name)) is { } node ? Task.FromResult(Copy(node)) : throw NotFound();

        public Task PatchNodeAsync(string name, string patch, CancellationToken cancellationToken)
        {
            Patches.Add(patch);
            var node = Copy(nodes.Get(new ObjectKey(null, name)) ?? throw NotFound());
            var body = JsonNode.Parse(patch)!.AsObject();
            if (body["spec"]?["taints"] is var taints && body["spec"] is not null)
            {
                node.Spec!.Taints = taints is null ? null : KubeJson.FromNode<List<Taint>>(taints);
            }
            foreach (var (key, value) in body["metadata"]?["labels"]?.AsObject() ?? [])
            {
                (node.Metadata!.Labels ??= [])[key] = (string)value!;
            }
            node.Metadata!.ResourceVersion = (++_version).ToString(System.Globalization.CultureInfo.InvariantCulture);
            nodes.Upsert(node);
            return Task.CompletedTask;
        }

        /// <summary>Runs before a node status write is applied (a test's gate).</summary>
        public Func<Node, Task>? BeforeNodeStatusUpdate { get; set; }

        public async Task<Node> UpdateNodeStatusAsync(Node node, CancellationToken cancellationToken)
        {
            if (BeforeNodeStatusUpdate is { } before) await before(node);
            var copy = Copy(node);
            lock (StatusUpdates)
            {
                StatusUpdates.Add(copy);
            }
            nodes.Upsert(copy);
            return Copy(copy);
        }

        /// <summary>Runs before a pod status write is applied (a test's gate or failure).</summary>
        public Func<Pod, Task>? BeforePodStatusUpdate { get; set; }

        public async Task UpdatePodStatusAsync(Pod pod, CancellationToken cancellationToken)
        {
            if (BeforePodStatusUpdate is { } before) await before(pod);
            lock (PodStatusUpdates)
            {
                PodStatusUpdates.Add(pod);
            }
            pods.Upsert(pod);
        }

        public Task DeletePodAsync(string @namespace, string name, CancellationToken cancellationToken)
        {
            DeletedPods.Enqueue($"{@namespace}/{name}");
            return Task.CompletedTask;
        }

        public Task ApplyTaintEvictionConditionAsync(string @namespace, string name, DateTimeOffset now, CancellationToken cancellationToken)
        {
            EvictionConditions.Enqueue($"{@namespace}/{name}");
            return Task.CompletedTask;
        }

        private static NotFoundException NotFound() => new(404, new Status { Reason = StatusReasons.NotFound });

        private static Node Copy(Node node) => KubeJson.Deserialize<Node>(KubeJson.Serialize(node))!;
    }
}

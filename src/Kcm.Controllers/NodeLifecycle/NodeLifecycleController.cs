using System.Collections.Concurrent;
using Kcm.Api.Apps.V1;
using Kcm.Api.Coordination.V1;
using Kcm.Api.Core.V1;
using Kcm.Runtime.Controllers;
using Kcm.Runtime.Events;
using Kcm.Runtime.Informers;
using Kcm.Runtime.Queues;
using Microsoft.Extensions.Logging;

namespace Kcm.Controllers.NodeLifecycle;

public sealed record NodeLifecycleControllerOptions
{
    /// <summary>--node-monitor-period: how often node health is checked.</summary>
    public TimeSpan NodeMonitorPeriod { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>--node-startup-grace-period: the grace of a node that never posted a Ready condition.</summary>
    public TimeSpan NodeStartupGracePeriod { get; init; } = TimeSpan.FromMinutes(1);

    /// <summary>--node-monitor-grace-period: how long a node may go without a heartbeat before it is Unknown.</summary>
    public TimeSpan NodeMonitorGracePeriod { get; init; } = TimeSpan.FromSeconds(40);

    /// <summary>--pod-eviction-timeout: used only without the taint manager, as in v1.26.</summary>
    public TimeSpan PodEvictionTimeout { get; init; } = TimeSpan.FromMinutes(5);

    /// <summary>--node-eviction-rate: nodes per second tainted (or evicted) in a healthy zone.</summary>
    public float EvictionLimiterQps { get; init; } = 0.1f;

    /// <summary>--secondary-node-eviction-rate: the rate in a partially disrupted zone of a large cluster.</summary>
    public float SecondaryEvictionLimiterQps { get; init; } = 0.01f;

    /// <summary>--large-cluster-size-threshold.</summary>
    public int LargeClusterThreshold { get; init; } = 50;

    /// <summary>--unhealthy-zone-threshold.</summary>
    public float UnhealthyZoneThreshold { get; init; } = 0.55f;

    /// <summary>--enable-taint-manager.</summary>
    public bool RunTaintManager { get; init; } = true;

    /// <summary>How often the zone queues are worked (upstream's NodeEvictionPeriod).</summary>
    public TimeSpan EvictionPeriod { get; init; } = TimeSpan.FromMilliseconds(100);

    /// <summary>
    /// The nodes this controller looks after; all by default. Tests on a shared cluster give it their own simulated
    /// nodes only, so other tests' nodes (heartbeating at their own pace) are left alone.
    /// </summary>
    public Func<Node, bool>? NodeFilter { get; init; }
}

/// <summary>
/// Upstream's node lifecycle controller (pkg/controller/nodelifecycle): watches node heartbeats (the Ready
/// condition and the kube-node-lease Lease), marks nodes whose kubelet went silent Unknown, keeps the condition
/// NoSchedule taints in step, rate-limits NoExecute not-ready/unreachable taints per zone by the zone's health, and
/// marks pods on not-ready nodes not ready. The <see cref="NoExecuteTaintManager"/> evicts the pods those taints
/// do not tolerate. Without the taint manager pods are deleted directly after --pod-eviction-timeout.
/// </summary>
public sealed partial class NodeLifecycleController
{
    public const string ControllerName = "nodelifecycle";
    public const string ServiceAccountName = "node-controller";
    public const string EventComponent = "node-controller";
    public const string NodeLeaseNamespace = "kube-node-lease";

    /// <summary>Upstream's podUpdateWorkerSize.</summary>
    private const int PodUpdateWorkers = 4;

    // Upstream's labelReconcileInfo: the beta OS/arch labels follow the stable ones.
    private static readonly (string Primary, string Secondary)[] LabelsToReconcile =
    [
        ("kubernetes.io/os", "beta.kubernetes.io/os"),
        ("kubernetes.io/arch", "beta.kubernetes.io/arch"),
    ];

    private readonly NodeLifecycleControllerOptions _options;
    private readonly INodeLifecycleClient _client;
    private readonly NodeTaintWriter _taints;
    private readonly IObjectCache<Node> _nodes;
    private readonly IObjectCache<Pod> _pods;
    private readonly IObjectCache<Lease> _leases;
    private readonly IObjectCache<DaemonSet> _daemonSets;
    private readonly IEventRecorder _recorder;
    private readonly NodeLifecycleMetrics _metrics;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly IReadOnlyList<ISharedInformer> _informers;
    private readonly RateLimitingQueue<string> _nodeUpdates;
    private readonly RateLimitingQueue<ObjectKey> _podUpdates;
    private readonly ControllerWorkers<string> _nodeWorkers;
    private readonly ControllerWorkers<ObjectKey> _podWorkers;

    private readonly ConcurrentDictionary<string, NodeHealth> _nodeHealth = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, byte> _nodesToRetry = new(StringComparer.Ordinal);
    private readonly NodeEvictionMap _evictionMap = new();
    private readonly Dictionary<string, Node> _knownNodes = new(StringComparer.Ordinal);

    // Guards the two zone queue maps; zones are only ever added.
    private readonly Lock _evictorGate = new();
    private readonly Dictionary<string, RateLimitedTimedQueue> _zonePodEvictor = new(StringComparer.Ordinal);
    private readonly Dictionary<string, RateLimitedTimedQueue> _zoneNoExecuteTainter = new(StringComparer.Ordinal);

    // Touched by the monitor pass only (and by zone-queue creation, under the evictor lock).
    private readonly Dictionary<string, ZoneState> _zoneStates = new(StringComparer.Ordinal);

    public NodeLifecycleController(ControllerContext context, NodeLifecycleControllerOptions options)
        : this(
            context,
            options,
            context.Informers.InformerFor<Node>(),
            context.Informers.InformerFor<Pod>(),
            context.Informers.InformerFor<Lease>(),
            context.Informers.InformerFor<DaemonSet>())
    {
    }

    private NodeLifecycleController(ControllerContext context, NodeLifecycleControllerOptions options, SharedInformer<Node> nodes, SharedInformer<Pod> pods, SharedInformer<Lease> leases, SharedInformer<DaemonSet> daemonSets)
        : this(
            options,
            new ApiNodeLifecycleClient(context.Clients.For(ServiceAccountName)),
            nodes.Cache,
            pods.Cache,
            leases.Cache,
            daemonSets.Cache,
            context.Events.NewRecorder(EventComponent),
            options.RunTaintManager ? context.Events.NewRecorder(NoExecuteTaintManager.EventComponent) : null,
            new NodeLifecycleMetrics(context.Metrics),
            context.QueueOptions,
            context.Time,
            context.Loggers.CreateLogger<NodeLifecycleController>(),
            [leases, nodes, pods, daemonSets])
    {
        pods.AddEventHandler(new ResourceEventHandler<Pod>
        {
            Added = (pod, _) => OnPodUpdate(null, pod),
            Updated = OnPodUpdate,
            Deleted = (pod, _) => OnPodUpdate(pod, null),
        });
        nodes.AddEventHandler(new ResourceEventHandler<Node>
        {
            Added = (node, _) => OnNodeAdded(node),
            Updated = OnNodeUpdated,
            Deleted = (node, _) => OnNodeDeleted(node),
        });
    }

    /// <summary>Builds the controller over caches the caller fills (unit tests call the handlers and passes).</summary>
    internal NodeLifecycleController(
        NodeLifecycleControllerOptions options,
        INodeLifecycleClient client,
        IObjectCache<Node> nodes,
        IObjectCache<Pod> pods,
        IObjectCache<Lease> leases,
        IObjectCache<DaemonSet> daemonSets,
        IEventRecorder recorder,
        IEventRecorder? taintManagerRecorder,
        NodeLifecycleMetrics metrics,
        Func<string, WorkQueueOptions> queueOptions,
        TimeProvider time,
        ILogger logger,
        IReadOnlyList<ISharedInformer>? informers = null)
    {
        _options = options;
        _client = client;
        _taints = new NodeTaintWriter(client, time);
        _nodes = nodes;
        _pods = pods;
        _leases = leases;
        _daemonSets = daemonSets;
        _recorder = recorder;
        _metrics = metrics;
        _time = time;
        _logger = logger;
        _logger.LogInformation("Controller will reconcile labels.");
        _informers = informers ?? [];
        _nodeUpdates = RateLimitingQueue<string>.WithDefaultControllerRateLimiter(queueOptions("node_lifecycle_controller"));
        _podUpdates = RateLimitingQueue<ObjectKey>.WithDefaultControllerRateLimiter(queueOptions("node_lifecycle_controller_pods"));
        _nodeWorkers = new ControllerWorkers<string>("node_lifecycle_controller", _nodeUpdates, ProcessNodeAsync, logger);
        _podWorkers = new ControllerWorkers<ObjectKey>("node_lifecycle_controller_pods", _podUpdates, ProcessPodAsync, logger);
        if (options.RunTaintManager)
        {
            TaintManager = new NoExecuteTaintManager(client, pods, nodes, PodsOnNode, taintManagerRecorder ?? recorder, queueOptions, time, logger);
        }
    }

    public NoExecuteTaintManager? TaintManager { get; }

    private bool Watched(Node node) => _options.NodeFilter?.Invoke(node) ?? true;

    private IReadOnlyList<Pod> PodsOnNode(string nodeName) => _pods.ByIndex(KnownIndexers.PodNodeName, nodeName);

    internal void OnPodUpdate(Pod? oldPod, Pod? newPod)
    {
        if (newPod?.Spec?.NodeName is { Length: > 0 } nodeName && (oldPod is null || oldPod.Spec?.NodeName != nodeName))
        {
            _podUpdates.Add(ObjectKey.Of(newPod));
        }
        TaintManager?.PodUpdated(oldPod, newPod);
    }

    internal void OnNodeAdded(Node node)
    {
        if (!Watched(node))
        {
            return;
        }
        TaintManager?.NodeUpdated(null, node);
        var name = node.Metadata?.Name ?? "";
        _nodeUpdates.Add(name);
        _evictionMap.Register(name);
    }

    internal void OnNodeUpdated(Node oldNode, Node node)
    {
        if (!Watched(node))
        {
            return;
        }
        TaintManager?.NodeUpdated(oldNode, node);
        _nodeUpdates.Add(node.Metadata?.Name ?? "");
    }

    internal void OnNodeDeleted(Node node)
    {
        if (!Watched(node))
        {
            return;
        }
        TaintManager?.NodeUpdated(node, null);
        var name = node.Metadata?.Name ?? "";
        _nodesToRetry.TryRemove(name, out _);
        _evictionMap.Unregister(name);
    }

    public async Task RunAsync(CancellationToken cancellationToken)
    {
        _logger.LogInformation("Sending events to api server.");
        _logger.LogInformation("Starting node controller");
        try
        {
            _logger.LogInformation("Waiting for caches to sync for {Name}", "taint");
            if (!await CacheSync.WaitAsync(_informers, cancellationToken).ConfigureAwait(false))
            {
                return;
            }
            _logger.LogInformation("Caches are synced for {Name}", "taint");
            var loops = new List<Task>
            {
                _nodeWorkers.RunAsync(NoExecuteTaintManager.UpdateWorkerSize, cancellationToken),
                _podWorkers.RunAsync(PodUpdateWorkers, cancellationToken),
            };
            if (TaintManager is not null)
            {
                loops.Add(Task.Run(() => TaintManager.RunAsync(cancellationToken), CancellationToken.None));
                loops.Add(Task.Run(() => EveryAsync(_options.EvictionPeriod, DoNoExecuteTaintingPassAsync, cancellationToken), CancellationToken.None));
            }
            else
            {
                loops.Add(Task.Run(() => EveryAsync(_options.EvictionPeriod, DoEvictionPassAsync, cancellationToken), CancellationToken.None));
            }
            loops.Add(Task.Run(() => EveryAsync(_options.NodeMonitorPeriod, MonitorNodeHealthAsync, cancellationToken), CancellationToken.None));
            await Task.WhenAll(loops).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
        }
        finally
        {
            _logger.LogInformation("Shutting down node controller");
        }
    }

    /// <summary>wait.Until: run, then wait the period after it ended; a failed pass is logged and the loop goes on.</summary>
    private async Task EveryAsync(TimeSpan period, Func<CancellationToken, Task> pass, CancellationToken cancellationToken)
    {
        while (!cancellationToken.IsCancellationRequested)
        {
            try
            {
                await pass(cancellationToken).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
            {
                _logger.LogError("Error monitoring node health: {Error}", ex.Message);
            }
            try
            {
                await Task.Delay(period, _time, cancellationToken).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }

    /// <summary>A node's NoSchedule taints from its conditions, then its beta labels; failures are logged, not retried (as upstream).</summary>
    internal async Task<ReconcileResult> ProcessNodeAsync(string nodeName, CancellationToken cancellationToken)
    {
        try
        {
            await DoNoScheduleTaintingPassAsync(nodeName, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            _logger.LogError("{Message}", $"Failed to taint NoSchedule on node <{nodeName}>, requeue it: {ex.Message}");
        }
        try
        {
            await ReconcileNodeLabelsAsync(nodeName, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            _logger.LogError("{Message}", $"Failed to reconcile labels for node <{nodeName}>, requeue it: {ex.Message}");
        }
        return ReconcileResult.Done;
    }

    internal async Task DoNoScheduleTaintingPassAsync(string nodeName, CancellationToken cancellationToken)
    {
        if (_nodes.Get(new ObjectKey(null, nodeName)) is not { } node)
        {
            return;
        }
        var wanted = new List<Taint>();
        foreach (var condition in node.Status?.Conditions ?? [])
        {
            if (NodeTaints.TaintKeyFor(condition.Type, condition.Status) is { } key)
            {
                wanted.Add(new Taint { Key = key, Effect = NodeTaints.NoSchedule });
            }
        }
        if (node.Spec?.Unschedulable == true)
        {
            wanted.Add(new Taint { Key = NodeTaints.Unschedulable, Effect = NodeTaints.NoSchedule });
        }
        var current = (node.Spec?.Taints ?? [])
            .Where(t => t.Effect == NodeTaints.NoSchedule && (t.Key == NodeTaints.Unschedulable || NodeTaints.IsConditionTaint(t.Key)))
            .ToList();
        var (toAdd, toRemove) = NodeTaints.Diff(wanted, current);
        if (toAdd.Count == 0 && toRemove.Count == 0)
        {
            return;
        }
        await _taints.SwapAsync(node, toAdd, toRemove, cancellationToken).ConfigureAwait(false);
    }

    private async Task ReconcileNodeLabelsAsync(string nodeName, CancellationToken cancellationToken)
    {
        if (_nodes.Get(new ObjectKey(null, nodeName)) is not { Metadata.Labels: { } labels })
        {
            return;
        }
        var wanted = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var (primary, secondary) in LabelsToReconcile)
        {
            if (labels.TryGetValue(primary, out var value) && (!labels.TryGetValue(secondary, out var current) || current != value))
            {
                wanted[secondary] = value;
            }
        }
        if (wanted.Count == 0)
        {
            return;
        }
        // Upstream's two-way merge patch of the labels alone.
        var patch = new System.Text.Json.Nodes.JsonObject
        {
            ["metadata"] = new System.Text.Json.Nodes.JsonObject
            {
                ["labels"] = new System.Text.Json.Nodes.JsonObject([.. wanted.Select(kv => KeyValuePair.Create(kv.Key, (System.Text.Json.Nodes.JsonNode?)kv.Value))]),
            },
        };
        await _client.PatchNodeAsync(nodeName, patch.ToJsonString(), cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// A pod newly bound to a node: on a node that is not Ready it is marked not ready at once (and, without the
    /// taint manager, considered for eviction) rather than at the next monitor pass.
    /// </summary>
    internal async Task<ReconcileResult> ProcessPodAsync(ObjectKey key, CancellationToken cancellationToken)
    {
        if (_pods.Get(key) is not { } pod)
        {
            return ReconcileResult.Done;
        }
        var nodeName = pod.Spec?.NodeName ?? "";
        if (!_nodeHealth.TryGetValue(nodeName, out var health))
        {
            return ReconcileResult.Done;
        }
        if (_nodes.Get(new ObjectKey(null, nodeName)) is not { } node)
        {
            _logger.LogWarning("{Message}", $"Failed to read node {nodeName}: node \"{nodeName}\" not found.");
            return ReconcileResult.Retry;
        }
        var ready = ReadyCondition(health.Status);
        if (ready is null)
        {
            return ReconcileResult.Done;
        }
        if (!_options.RunTaintManager)
        {
            await ProcessNoTaintBaseEvictionAsync(node, ready, [pod], cancellationToken).ConfigureAwait(false);
        }
        if (ready.Status != "True")
        {
            await MarkPodsNotReadyAsync([pod], nodeName, cancellationToken).ConfigureAwait(false);
        }
        return ReconcileResult.Done;
    }

    internal static NodeCondition? ReadyCondition(NodeStatus? status) => Condition(status, "Ready");

    internal static NodeCondition? Condition(NodeStatus? status, string type) => status?.Conditions?.FirstOrDefault(c => c.Type == type);
}

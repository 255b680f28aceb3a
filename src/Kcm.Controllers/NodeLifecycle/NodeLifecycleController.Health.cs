using Kcm.Api;
using Kcm.Api.Codecs;
using Kcm.Api.Coordination.V1;
using Kcm.Api.Core.V1;
using Kcm.Client.Errors;
using Kcm.Runtime.Events;
using Kcm.Runtime.Informers;
using Kcm.Runtime.Logging;
using Microsoft.Extensions.Logging;

namespace Kcm.Controllers.NodeLifecycle;

public enum ZoneState
{
    Initial,
    Normal,
    PartialDisruption,
    FullDisruption,
}

/// <summary>
/// The last health seen of a node, stamped with this controller's own clock (never the kubelet's): when a heartbeat
/// (new Ready heartbeat time or a renewed Lease) was last observed and when Ready last changed.
/// </summary>
internal sealed record NodeHealth(DateTimeOffset ProbeTimestamp, DateTimeOffset ReadyTransitionTimestamp, NodeStatus? Status, Lease? Lease);

public sealed partial class NodeLifecycleController
{
    private const int NodeHealthUpdateRetry = 5;
    private static readonly TimeSpan RetrySleepTime = TimeSpan.FromMilliseconds(20);

    /// <summary>A node with this label is left out of its zone's health (upstream's labelNodeDisruptionExclusion).</summary>
    public const string DisruptionExclusionLabel = "node.kubernetes.io/exclude-disruption";

    private static readonly string[] ConditionsMadeUnknown = ["Ready", "MemoryPressure", "DiskPressure", "PIDPressure"];

    /// <summary>The zone states as of the last monitor pass (tests).</summary>
    internal IReadOnlyDictionary<string, ZoneState> ZoneStates => _zoneStates;

    /// <summary>nodetopology.GetZoneKey: region and zone (beta labels first), "" without either.</summary>
    public static string ZoneKey(Node node)
    {
        var labels = node.Metadata?.Labels;
        if (labels is null)
        {
            return "";
        }
        var zone = labels.GetValueOrDefault("failure-domain.beta.kubernetes.io/zone") ?? labels.GetValueOrDefault("topology.kubernetes.io/zone") ?? "";
        var region = labels.GetValueOrDefault("failure-domain.beta.kubernetes.io/region") ?? labels.GetValueOrDefault("topology.kubernetes.io/region") ?? "";
        return region.Length == 0 && zone.Length == 0 ? "" : region + ":\0:" + zone;
    }

    /// <summary>
    /// One monitor pass (upstream's monitorNodeHealth): notices added and deleted nodes, brings every node's health up
    /// to date (marking silent ones Unknown), queues or removes NoExecute taints, marks pods of newly not-ready nodes
    /// not ready, and recomputes the zones' states and eviction rates.
    /// </summary>
    internal async Task MonitorNodeHealthAsync(CancellationToken cancellationToken)
    {
        var nodes = _nodes.List().Where(Watched).ToList();
        var (added, deleted, newZoneRepresentatives) = ClassifyNodes(nodes);
        foreach (var node in newZoneRepresentatives)
        {
            AddPodEvictorForNewZone(node);
        }
        foreach (var node in added)
        {
            var name = node.Metadata?.Name ?? "";
            _logger.LogInformation(Klog.V1, "Controller observed a new Node: \"{Node}\"", name);
            RecordNodeEvent(name, node.Metadata?.Uid, EventTypes.Normal, "RegisteredNode", $"Registered Node {name} in Controller");
            _knownNodes[name] = node;
            AddPodEvictorForNewZone(node);
            if (_options.RunTaintManager)
            {
                await MarkNodeAsReachableAsync(node, cancellationToken).ConfigureAwait(false);
            }
            else
            {
                CancelPodEviction(node);
            }
        }
        foreach (var node in deleted)
        {
            var name = node.Metadata?.Name ?? "";
            _logger.LogInformation(Klog.V1, "Controller observed a Node deletion: {Node}", name);
            RecordNodeEvent(name, node.Metadata?.Uid, EventTypes.Normal, "RemovingNode", $"Removing Node {name} from Controller");
            _knownNodes.Remove(name);
        }

        var zoneToNodeConditions = new Dictionary<string, List<NodeCondition?>>(StringComparer.Ordinal);
        var options = new ParallelOptions { MaxDegreeOfParallelism = NodeUpdateWorkers, CancellationToken = cancellationToken };
        await Parallel.ForEachAsync(nodes, options, (node, ct) => new ValueTask(MonitorNodeAsync(node, zoneToNodeConditions, ct))).ConfigureAwait(false);
        await HandleDisruptionAsync(zoneToNodeConditions, nodes, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// How many nodes one monitor pass handles at a time. v1.26 goes through them one by one; later releases use 8
    /// (nodeUpdateWorkerSize), because the pass marks every pod of a newly failed node not Ready and, one node after
    /// another, many failed nodes kept each other's NoExecute taints waiting until the pass ended.
    /// </summary>
    internal const int NodeUpdateWorkers = 8;

    /// <summary>One node's part of a monitor pass; its Ready condition is added to its zone's list.</summary>
    private async Task MonitorNodeAsync(Node node, Dictionary<string, List<NodeCondition?>> zoneToNodeConditions, CancellationToken cancellationToken)
    {
        // The cached node as it is: TryUpdateNodeHealthAsync copies it only when it must change it (a JSON
        // round trip of every node every pass was most of this loop's CPU at 1,000 nodes).
        var name = node.Metadata?.Name ?? "";
        HealthResult result;
        try
        {
            result = await UpdateNodeHealthWithRetryAsync(node, cancellationToken).ConfigureAwait(false);
            node = result.Node;
        }
        catch (Exception ex) when (ex is KubeApiException or HttpRequestException or IOException)
        {
            _logger.LogError("Update health of Node '{Node}' from Controller error: {Error}. Skipping - no pods will be evicted.", name, ex.Message);
            return;
        }

        if (node.Metadata?.Labels?.ContainsKey(DisruptionExclusionLabel) != true)
        {
            var zone = ZoneKey(node);
            lock (zoneToNodeConditions)
            {
                if (!zoneToNodeConditions.TryGetValue(zone, out var list))
                {
                    zoneToNodeConditions[zone] = list = [];
                }
                list.Add(result.Current);
            }
        }

        if (result.Current is { } current)
        {
            // Read from the pod index only when used: with the taint manager that is only on a transition, not
            // for every node on every pass.
            IReadOnlyList<Pod>? pods = null;
            if (_options.RunTaintManager)
            {
                await ProcessTaintBaseEvictionAsync(node, result.Observed, cancellationToken).ConfigureAwait(false);
            }
            else
            {
                try
                {
                    pods = PodsOnNode(name);
                    await ProcessNoTaintBaseEvictionAsync(node, result.Observed, pods, cancellationToken).ConfigureAwait(false);
                }
                catch (Exception ex) when (ex is KubeApiException or HttpRequestException or IOException or NodeHealthMissingException)
                {
                    _logger.LogError("{Message}", $"unable to evict all pods from node {name}: {ex.Message}; queuing for retry");
                }
            }

            var becameNotReady = current.Status != "True" && result.Observed.Status == "True";
            if (becameNotReady)
            {
                // Reported once, on the transition.
                RecordNodeStatusChange(node, "NodeNotReady");
            }
            if (becameNotReady || (_nodesToRetry.ContainsKey(name) && result.Observed.Status != "True"))
            {
                try
                {
                    await MarkPodsNotReadyAsync(pods ?? PodsOnNode(name), name, cancellationToken).ConfigureAwait(false);
                }
                catch (MarkPodsNotReadyException ex)
                {
                    _logger.LogError("{Message}", $"unable to mark all pods NotReady on node {name}: {ex.Message}; queuing for retry");
                    _nodesToRetry[name] = 0;
                    return;
                }
            }
        }
        _nodesToRetry.TryRemove(name, out _);
    }

    private readonly record struct HealthResult(Node Node, TimeSpan GracePeriod, NodeCondition Observed, NodeCondition? Current);

    // Upstream polls every 20 ms for up to NodeHealthUpdateRetry tries, reading the node afresh after a failure.
    private async Task<HealthResult> UpdateNodeHealthWithRetryAsync(Node node, CancellationToken cancellationToken)
    {
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                return await TryUpdateNodeHealthAsync(node, cancellationToken).ConfigureAwait(false);
            }
            catch (Exception ex) when (attempt < NodeHealthUpdateRetry && ex is KubeApiException or HttpRequestException or IOException)
            {
                var name = node.Metadata?.Name ?? "";
                await Task.Delay(RetrySleepTime, _time, cancellationToken).ConfigureAwait(false);
                try
                {
                    node = await _client.GetNodeAsync(name, cancellationToken).ConfigureAwait(false);
                }
                catch (Exception getError) when (getError is KubeApiException or HttpRequestException or IOException)
                {
                    _logger.LogError("{Message}", $"Failed while getting a Node to retry updating node health. Probably Node {name} was deleted.");
                    throw;
                }
            }
        }
    }

    /// <summary>
    /// Upstream's tryUpdateNodeHealth: updates the node's observed health and, when no heartbeat came within the grace
    /// period, writes Ready and the pressure conditions as Unknown. Returns the Ready condition as observed before and
    /// as it is now.
    /// </summary>
    private async Task<HealthResult> TryUpdateNodeHealthAsync(Node node, CancellationToken cancellationToken)
    {
        var name = node.Metadata?.Name ?? "";
        var now = Now();
        var created = node.Metadata?.CreationTimestamp ?? default;
        _nodeHealth.TryGetValue(name, out var health);
        if (node.Status is null)
        {
            node = Copy(node);
            node.Status = new NodeStatus();
        }

        TimeSpan gracePeriod;
        NodeCondition observed;
        var current = ReadyCondition(node.Status);
        if (current is null)
        {
            // Never posted: a made-up Unknown condition dated at creation, judged with the startup grace period.
            observed = new NodeCondition { Type = "Ready", Status = "Unknown", LastHeartbeatTime = created, LastTransitionTime = created };
            gracePeriod = _options.NodeStartupGracePeriod;
            health = health is not null ? health with { Status = node.Status } : new NodeHealth(created, created, node.Status, null);
        }
        else
        {
            observed = CopyCondition(current);
            gracePeriod = _options.NodeMonitorGracePeriod;
        }

        var saved = ReadyCondition(health?.Status);
        var savedLease = health?.Lease;
        if (health is null)
        {
            _logger.LogWarning("{Message}", $"Missing timestamp for Node {name}. Assuming now as a timestamp.");
            health = new NodeHealth(now, now, node.Status, null);
        }
        else if (saved is null && current is not null)
        {
            _logger.LogInformation(Klog.V1, "Creating timestamp entry for newly observed Node {Node}", name);
            health = new NodeHealth(now, now, node.Status, null);
        }
        else if (saved is not null && current is null)
        {
            _logger.LogError("ReadyCondition was removed from Status of Node {Node}", name);
            health = new NodeHealth(now, now, node.Status, null);
        }
        else if (saved is not null && current is not null && saved.LastHeartbeatTime != current.LastHeartbeatTime)
        {
            var transition = saved.LastTransitionTime != current.LastTransitionTime ? now : health.ReadyTransitionTimestamp;
            health = new NodeHealth(now, transition, node.Status, null);
        }

        // A renewed Lease is a heartbeat too (a node that renews its Lease but never posts status counts as healthy).
        var observedLease = _leases.Get(new ObjectKey(NodeLeaseNamespace, name));
        if (observedLease is not null && (savedLease is null || savedLease.Spec?.RenewTime < observedLease.Spec?.RenewTime))
        {
            health = health with { Lease = observedLease, ProbeTimestamp = now };
        }

        try
        {
            if (now > health.ProbeTimestamp + gracePeriod)
            {
                // Upstream mutates its deep copy here; a health record made from this node in this pass keeps
                // pointing at the mutated status, as upstream's does.
                var original = node.Status;
                node = Copy(node);
                node.Status ??= new NodeStatus();
                if (ReferenceEquals(health.Status, original))
                {
                    health = health with { Status = node.Status };
                }
                foreach (var type in ConditionsMadeUnknown)
                {
                    var condition = Condition(node.Status, type);
                    if (condition is null)
                    {
                        _logger.LogDebug("{Message}", $"Condition {type} of node {name} was never updated by kubelet");
                        (node.Status.Conditions ??= []).Add(new NodeCondition
                        {
                            Type = type,
                            Status = "Unknown",
                            Reason = "NodeStatusNeverUpdated",
                            Message = "Kubelet never posted node status.",
                            LastHeartbeatTime = created,
                            LastTransitionTime = now,
                        });
                    }
                    else if (condition.Status != "Unknown")
                    {
                        if (_logger.IsEnabled(LogLevel.Debug))
                        {
                            _logger.LogDebug("{Message}", $"node {name} hasn't been updated for {GoDuration.Format(now - health.ProbeTimestamp)}. Last {type} is: &NodeCondition{{Type:{type},Status:{condition.Status},Reason:{condition.Reason},Message:{condition.Message},}}");
                        }
                        condition.Status = "Unknown";
                        condition.Reason = "NodeStatusUnknown";
                        condition.Message = "Kubelet stopped posting node status.";
                        condition.LastTransitionTime = now;
                    }
                }
                current = ReadyCondition(node.Status);
                if (!SameCondition(current, observed))
                {
                    var updated = await _client.UpdateNodeStatusAsync(node, cancellationToken).ConfigureAwait(false);
                    node = updated;
                    health = new NodeHealth(health.ProbeTimestamp, now, node.Status, observedLease);
                    current = ReadyCondition(node.Status);
                }
            }
        }
        finally
        {
            _nodeHealth[name] = health;
        }
        return new HealthResult(node, gracePeriod, observed, current);
    }

    private async Task ProcessTaintBaseEvictionAsync(Node node, NodeCondition observed, CancellationToken cancellationToken)
    {
        var name = node.Metadata?.Name ?? "";
        var taints = node.Spec?.Taints;
        switch (observed.Status)
        {
            case "False":
                // Already unreachable: swap straight away, no need to wait for the rate limiter.
                if (NodeTaints.Exists(taints, NodeTaints.UnreachableNoExecute()))
                {
                    if (!await TrySwapAsync(node, NodeTaints.NotReadyNoExecute(), NodeTaints.UnreachableNoExecute(), cancellationToken).ConfigureAwait(false))
                    {
                        _logger.LogError("Failed to instantly swap UnreachableTaint to NotReadyTaint. Will try again in the next cycle.");
                    }
                }
                else if (MarkNodeForTainting(node, "False"))
                {
                    _logger.LogDebug("{Message}", $"Node {name} is NotReady as of {GoTime(Now())}. Adding it to the Taint queue.");
                }
                break;
            case "Unknown":
                if (NodeTaints.Exists(taints, NodeTaints.NotReadyNoExecute()))
                {
                    if (!await TrySwapAsync(node, NodeTaints.UnreachableNoExecute(), NodeTaints.NotReadyNoExecute(), cancellationToken).ConfigureAwait(false))
                    {
                        _logger.LogError("Failed to instantly swap NotReadyTaint to UnreachableTaint. Will try again in the next cycle.");
                    }
                }
                else if (MarkNodeForTainting(node, "Unknown"))
                {
                    _logger.LogDebug("{Message}", $"Node {name} is unresponsive as of {GoTime(Now())}. Adding it to the Taint queue.");
                }
                break;
            case "True":
                if (await MarkNodeAsReachableAsync(node, cancellationToken).ConfigureAwait(false))
                {
                    _logger.LogDebug("{Message}", $"Node {name} is healthy again, removing all taints");
                }
                break;
        }
    }

    private async Task HandleDisruptionAsync(Dictionary<string, List<NodeCondition?>> zoneToNodeConditions, IReadOnlyList<Node> nodes, CancellationToken cancellationToken)
    {
        var newZoneStates = new Dictionary<string, ZoneState>(StringComparer.Ordinal);
        var allAreFullyDisrupted = true;
        foreach (var (zone, conditions) in zoneToNodeConditions)
        {
            _metrics.ZoneSize.Set(conditions.Count, zone);
            var (unhealthy, state) = ComputeZoneState(conditions);
            _metrics.ZoneHealth.Set(100.0 * (conditions.Count - unhealthy) / conditions.Count, zone);
            _metrics.UnhealthyNodes.Set(unhealthy, zone);
            if (state != ZoneState.FullDisruption)
            {
                allAreFullyDisrupted = false;
            }
            newZoneStates[zone] = state;
            if (!_zoneStates.ContainsKey(zone))
            {
                _logger.LogError("Setting initial state for unseen zone: {Zone}", zone);
                SetZoneState(zone, ZoneState.Initial);
            }
        }

        var allWasFullyDisrupted = true;
        foreach (var (zone, state) in _zoneStates.ToList())
        {
            if (!zoneToNodeConditions.ContainsKey(zone))
            {
                _metrics.ZoneSize.Set(0, zone);
                _metrics.ZoneHealth.Set(100, zone);
                _metrics.UnhealthyNodes.Set(0, zone);
                RemoveZoneState(zone);
                continue;
            }
            if (state != ZoneState.FullDisruption)
            {
                allWasFullyDisrupted = false;
                break;
            }
        }

        // Some node answered in this pass or the last one:
        // - partial disruption: the reduced rate (0 in small clusters),
        // - normal: the normal rate,
        // - full disruption: the normal rate, unless every zone is fully disrupted; then all evictions stop, since
        //   the likelier fault is this controller's connection, not every node at once.
        if (allAreFullyDisrupted && allWasFullyDisrupted)
        {
            return;
        }
        if (allAreFullyDisrupted)
        {
            _logger.LogInformation("Controller detected that all Nodes are not-Ready. Entering master disruption mode.");
            foreach (var node in nodes)
            {
                if (_options.RunTaintManager)
                {
                    await MarkNodeAsReachableAsync(node, cancellationToken).ConfigureAwait(false);
                }
                else
                {
                    CancelPodEviction(node);
                }
            }
            foreach (var zone in _zoneStates.Keys.ToList())
            {
                ZoneQueue(zone)?.SwapLimiter(0);
                SetZoneState(zone, ZoneState.FullDisruption);
            }
            return;
        }
        if (allWasFullyDisrupted)
        {
            _logger.LogInformation("Controller detected that some Nodes are Ready. Exiting master disruption mode.");
            // Every node gets a fresh grace period: none was judged while the controller could not see them.
            var now = Now();
            foreach (var node in nodes)
            {
                var name = node.Metadata?.Name ?? "";
                if (_nodeHealth.TryGetValue(name, out var health))
                {
                    _nodeHealth[name] = health with { ProbeTimestamp = now, ReadyTransitionTimestamp = now };
                }
            }
            foreach (var zone in _zoneStates.Keys.ToList())
            {
                var state = newZoneStates.GetValueOrDefault(zone);
                SetLimiterInZone(zone, zoneToNodeConditions.GetValueOrDefault(zone)?.Count ?? 0, state);
                SetZoneState(zone, state);
            }
            return;
        }
        foreach (var (zone, state) in _zoneStates.ToList())
        {
            var newState = newZoneStates.GetValueOrDefault(zone);
            if (state == newState)
            {
                continue;
            }
            _logger.LogInformation("{Message}", $"Controller detected that zone {zone} is now in state {newState}.");
            SetLimiterInZone(zone, zoneToNodeConditions.GetValueOrDefault(zone)?.Count ?? 0, newState);
            SetZoneState(zone, newState);
        }
    }

    private void SetZoneState(string zone, ZoneState state)
    {
        lock (_evictorGate)
        {
            _zoneStates[zone] = state;
        }
    }

    private void RemoveZoneState(string zone)
    {
        lock (_evictorGate)
        {
            _zoneStates.Remove(zone);
        }
    }

    private RateLimitedTimedQueue? ZoneQueue(string zone)
    {
        lock (_evictorGate)
        {
            return (_options.RunTaintManager ? _zoneNoExecuteTainter : _zonePodEvictor).GetValueOrDefault(zone);
        }
    }

    private void SetLimiterInZone(string zone, int zoneSize, ZoneState state)
    {
        var qps = state switch
        {
            ZoneState.Normal => _options.EvictionLimiterQps,
            ZoneState.PartialDisruption => ReducedQps(zoneSize),
            ZoneState.FullDisruption => HealthyQps(zoneSize),
            _ => (float?)null,
        };
        if (qps is { } value)
        {
            ZoneQueue(zone)?.SwapLimiter(value);
        }
    }

    /// <summary>HealthyQPSFunc: the normal rate (a fully disrupted zone among healthy ones is evicted normally).</summary>
    internal float HealthyQps(int zoneSize) => _options.EvictionLimiterQps;

    /// <summary>ReducedQPSFunc: the secondary rate in a large cluster, none in a small one.</summary>
    internal float ReducedQps(int zoneSize) => zoneSize > _options.LargeClusterThreshold ? _options.SecondaryEvictionLimiterQps : 0;

    /// <summary>
    /// ComputeZoneState: full disruption when no node is Ready, partial when more than two and at least the threshold
    /// share are not Ready, normal otherwise. Returns the not-Ready count too.
    /// </summary>
    internal (int NotReady, ZoneState State) ComputeZoneState(IReadOnlyList<NodeCondition?> readyConditions)
    {
        var ready = readyConditions.Count(c => c?.Status == "True");
        var notReady = readyConditions.Count - ready;
        if (ready == 0 && notReady > 0)
        {
            return (notReady, ZoneState.FullDisruption);
        }
        if (notReady > 2 && (float)notReady / (notReady + ready) >= _options.UnhealthyZoneThreshold)
        {
            return (notReady, ZoneState.PartialDisruption);
        }
        return (notReady, ZoneState.Normal);
    }

    private (List<Node> Added, List<Node> Deleted, List<Node> NewZoneRepresentatives) ClassifyNodes(IReadOnlyList<Node> nodes)
    {
        var added = new List<Node>();
        var newZones = new List<Node>();
        foreach (var node in nodes)
        {
            if (!_knownNodes.ContainsKey(node.Metadata?.Name ?? ""))
            {
                added.Add(node);
            }
            else if (!_zoneStates.ContainsKey(ZoneKey(node)))
            {
                newZones.Add(node);
            }
        }
        var deleted = new List<Node>();
        if (_knownNodes.Count + added.Count != nodes.Count)
        {
            var present = nodes.Select(n => n.Metadata?.Name ?? "").ToHashSet(StringComparer.Ordinal);
            deleted.AddRange(_knownNodes.Where(kv => !present.Contains(kv.Key)).Select(kv => kv.Value));
        }
        return (added, deleted, newZones);
    }

    private void AddPodEvictorForNewZone(Node node)
    {
        var zone = ZoneKey(node);
        lock (_evictorGate)
        {
            if (_zoneStates.ContainsKey(zone))
            {
                return;
            }
            _zoneStates[zone] = ZoneState.Initial;
            var queue = new RateLimitedTimedQueue(_options.EvictionLimiterQps, _time);
            if (_options.RunTaintManager)
            {
                _zoneNoExecuteTainter[zone] = queue;
            }
            else
            {
                _zonePodEvictor[zone] = queue;
            }
        }
        _logger.LogInformation("Initializing eviction metric for zone: {Zone}", zone);
        _metrics.EvictionsTotal.Add(0, zone);
    }

    private void RecordNodeEvent(string nodeName, string? uid, string type, string reason, string message)
    {
        _logger.LogDebug("Recording event message for node {Event} {Node}", message, nodeName);
        _recorder.Event(new ObjectReference { ApiVersion = "v1", Kind = "Node", Name = nodeName, Uid = uid }, type, reason, $"Node {nodeName} event: {message}");
    }

    // Go's time.Time %v: "2006-01-02 15:04:05.999999999 +0000 UTC".
    private static string GoTime(DateTimeOffset t)
        => t.UtcDateTime.ToString("yyyy-MM-dd HH:mm:ss.FFFFFFF", System.Globalization.CultureInfo.InvariantCulture) + " +0000 UTC";

    private void RecordNodeStatusChange(Node node, string newStatus)
    {
        var name = node.Metadata?.Name ?? "";
        _logger.LogDebug("Recording status change event message for node {Status} {Node}", newStatus, name);
        _recorder.Event(new ObjectReference { ApiVersion = "v1", Kind = "Node", Name = name, Uid = node.Metadata?.Uid }, EventTypes.Normal, newStatus, $"Node {name} status is now: {newStatus}");
    }

    // metav1.Now at the wire's precision, so what is kept in memory compares equal to what the server returns.
    private DateTimeOffset Now()
    {
        var now = _time.GetUtcNow();
        return new DateTimeOffset(now.UtcTicks - (now.UtcTicks % TimeSpan.TicksPerSecond), TimeSpan.Zero);
    }

    private static Node Copy(Node node) => KubeJson.Deserialize<Node>(KubeJson.Serialize(node))!;

    private static NodeCondition CopyCondition(NodeCondition c) => new()
    {
        Type = c.Type,
        Status = c.Status,
        Reason = c.Reason,
        Message = c.Message,
        LastHeartbeatTime = c.LastHeartbeatTime,
        LastTransitionTime = c.LastTransitionTime,
        ExtensionData = c.ExtensionData,
    };

    private static bool SameCondition(NodeCondition? a, NodeCondition? b)
        => a is null || b is null
            ? a is null && b is null
            : a.Type == b.Type && a.Status == b.Status && a.Reason == b.Reason && a.Message == b.Message
                && a.LastHeartbeatTime == b.LastHeartbeatTime && a.LastTransitionTime == b.LastTransitionTime;
}

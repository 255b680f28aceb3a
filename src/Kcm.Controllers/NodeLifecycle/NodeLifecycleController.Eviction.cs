using Kcm.Api;
using Kcm.Api.Codecs;
using Kcm.Api.Core.V1;
using Kcm.Client.Errors;
using Kcm.Runtime.Events;
using Kcm.Runtime.Informers;
using Microsoft.Extensions.Logging;
using LabelSelector = Kcm.Api.Selectors.LabelSelector;

namespace Kcm.Controllers.NodeLifecycle;

/// <summary>Pods of a node could not all be marked not ready; the node is tried again at the next pass.</summary>
public sealed class MarkPodsNotReadyException(string message, IReadOnlyList<Exception> errors) : Exception(message)
{
    public IReadOnlyList<Exception> Errors { get; } = errors;
}

/// <summary>The node has no observed health yet (it is evicted later, once it has).</summary>
public sealed class NodeHealthMissingException(string nodeName) : Exception($"health data doesn't exist for node \"{nodeName}\"");

/// <summary>Pods of a node could not all be given their termination reason (conflicts); retried by the zone queue.</summary>
public sealed class PodEvictionException(string message) : Exception(message);

/// <summary>Per node, where its pod eviction stands (used without the taint manager).</summary>
internal sealed class NodeEvictionMap
{
    public enum Status
    {
        Unmarked,
        ToBeEvicted,
        Evicted,
    }

    private readonly Lock _gate = new();
    private readonly Dictionary<string, Status> _nodes = new(StringComparer.Ordinal);

    public void Register(string node)
    {
        lock (_gate)
        {
            _nodes[node] = Status.Unmarked;
        }
    }

    public void Unregister(string node)
    {
        lock (_gate)
        {
            _nodes.Remove(node);
        }
    }

    public bool SetStatus(string node, Status status)
    {
        lock (_gate)
        {
            if (!_nodes.ContainsKey(node))
            {
                return false;
            }
            _nodes[node] = status;
            return true;
        }
    }

    public Status? GetStatus(string node)
    {
        lock (_gate)
        {
            return _nodes.TryGetValue(node, out var status) ? status : null;
        }
    }
}

public sealed partial class NodeLifecycleController
{
    private const string NodeUnreachablePodReason = "NodeLost";

    /// <summary>
    /// Works every zone's taint queue (upstream's doNoExecuteTaintingPass): a queued node gets the NoExecute taint
    /// matching its Ready condition (and loses the opposite one), at most as fast as its zone's rate allows.
    /// </summary>
    internal async Task DoNoExecuteTaintingPassAsync(CancellationToken cancellationToken)
    {
        foreach (var (zone, queue) in ZoneQueues(_zoneNoExecuteTainter))
        {
            await queue.TryAsync(async value =>
            {
                if (_nodes.Get(new ObjectKey(null, value.Value)) is not { } node)
                {
                    _logger.LogWarning("{Message}", $"Node {value.Value} no longer present in nodeLister!");
                    return (true, TimeSpan.Zero);
                }
                // Mimics the Ready condition: "unreachable" and "not ready" exclude each other.
                Taint add, opposite;
                switch (ReadyCondition(node.Status)?.Status)
                {
                    case "False":
                        (add, opposite) = (NodeTaints.NotReadyNoExecute(), NodeTaints.UnreachableNoExecute());
                        break;
                    case "Unknown":
                        (add, opposite) = (NodeTaints.UnreachableNoExecute(), NodeTaints.NotReadyNoExecute());
                        break;
                    default:
                        _logger.LogTrace("{Message}", $"Node {value.Value} was in a taint queue, but it's ready now. Ignoring taint request.");
                        return (true, TimeSpan.Zero);
                }
                var done = await TrySwapAsync(node, add, opposite, cancellationToken).ConfigureAwait(false);
                if (done)
                {
                    _metrics.EvictionsTotal.Inc(ZoneKey(node));
                }
                return (done, TimeSpan.Zero);
            }).ConfigureAwait(false);
        }
    }

    /// <summary>Without the taint manager: deletes the pods of the nodes in each zone's eviction queue.</summary>
    internal async Task DoEvictionPassAsync(CancellationToken cancellationToken)
    {
        foreach (var (zone, queue) in ZoneQueues(_zonePodEvictor))
        {
            await queue.TryAsync(async value =>
            {
                var node = _nodes.Get(new ObjectKey(null, value.Value));
                if (node is null)
                {
                    _logger.LogWarning("{Message}", $"Node {value.Value} no longer present in nodeLister!");
                }
                bool remaining;
                try
                {
                    remaining = await DeletePodsAsync(PodsOnNode(value.Value), value.Value, value.Uid, cancellationToken).ConfigureAwait(false);
                }
                catch (Exception ex) when (ex is KubeApiException or HttpRequestException or IOException or PodEvictionException)
                {
                    _logger.LogError("unable to evict node \"{Node}\": {Error}", value.Value, ex.Message);
                    return (false, TimeSpan.Zero);
                }
                if (!_evictionMap.SetStatus(value.Value, NodeEvictionMap.Status.Evicted))
                {
                    _logger.LogDebug("{Message}", $"node {value.Value} was unregistered in the meantime - skipping setting status");
                }
                if (remaining)
                {
                    _logger.LogInformation("Pods awaiting deletion due to Controller eviction");
                }
                if (node is not null)
                {
                    _metrics.EvictionsTotal.Inc(ZoneKey(node));
                }
                return (true, TimeSpan.Zero);
            }).ConfigureAwait(false);
        }
    }

    private List<(string Zone, RateLimitedTimedQueue Queue)> ZoneQueues(Dictionary<string, RateLimitedTimedQueue> queues)
    {
        lock (_evictorGate)
        {
            return [.. queues.Select(kv => (kv.Key, kv.Value))];
        }
    }

    private async Task<bool> TrySwapAsync(Node node, Taint add, Taint remove, CancellationToken cancellationToken)
    {
        try
        {
            await _taints.SwapAsync(node, [add], [remove], cancellationToken).ConfigureAwait(false);
            return true;
        }
        catch (Exception ex) when (ex is KubeApiException or HttpRequestException or IOException)
        {
            _logger.LogError("unable to swap taints of Node {Node}: {Error}", node.Metadata?.Name, ex.Message);
            return false;
        }
    }

    private bool MarkNodeForTainting(Node node, string status)
    {
        var name = node.Metadata?.Name ?? "";
        lock (_evictorGate)
        {
            var queue = _zoneNoExecuteTainter[ZoneKey(node)];
            // Queued for the other taint: start over for this one.
            if ((status == "False" && !NodeTaints.Exists(node.Spec?.Taints, NodeTaints.NotReadyNoExecute()))
                || (status == "Unknown" && !NodeTaints.Exists(node.Spec?.Taints, NodeTaints.UnreachableNoExecute())))
            {
                queue.Remove(name);
            }
            return queue.Add(name, node.Metadata?.Uid);
        }
    }

    /// <summary>Removes both NoExecute taints and takes the node out of its zone's queue; true when it was queued.</summary>
    private async Task<bool> MarkNodeAsReachableAsync(Node node, CancellationToken cancellationToken)
    {
        var name = node.Metadata?.Name ?? "";
        try
        {
            await _taints.RemoveAsync(name, node, [NodeTaints.UnreachableNoExecute()], cancellationToken).ConfigureAwait(false);
            await _taints.RemoveAsync(name, node, [NodeTaints.NotReadyNoExecute()], cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is KubeApiException or HttpRequestException or IOException)
        {
            _logger.LogError("{Message}", $"Failed to remove taint from node {name}: {ex.Message}");
            return false;
        }
        lock (_evictorGate)
        {
            return _zoneNoExecuteTainter.TryGetValue(ZoneKey(node), out var queue) && queue.Remove(name);
        }
    }

    private async Task ProcessNoTaintBaseEvictionAsync(Node node, NodeCondition observed, IReadOnlyList<Pod> pods, CancellationToken cancellationToken)
    {
        var name = node.Metadata?.Name ?? "";
        var now = _time.GetUtcNow();
        if (!_nodeHealth.TryGetValue(name, out var health))
        {
            throw new NodeHealthMissingException(name);
        }
        switch (observed.Status)
        {
            case "False" when now > health.ReadyTransitionTimestamp + _options.PodEvictionTimeout:
            case "Unknown" when now > health.ProbeTimestamp + _options.PodEvictionTimeout:
                if (await EvictPodsAsync(node, pods, cancellationToken).ConfigureAwait(false))
                {
                    var since = observed.Status == "False" ? health.ReadyTransitionTimestamp : health.ProbeTimestamp;
                    _logger.LogDebug("{Message}", observed.Status == "False"
                        ? $"Node is NotReady. Adding Pods on Node {name} to eviction queue: {GoTime(now)} is later than {GoTime(since)} + {GoDuration.Format(_options.PodEvictionTimeout)}"
                        : $"Node is unresponsive. Adding Pods on Node {name} to eviction queues: {GoTime(now)} is later than {GoTime(since)} + {GoDuration.Format(_options.PodEvictionTimeout)}");
                }
                break;
            case "True":
                if (CancelPodEviction(node))
                {
                    _logger.LogDebug("{Message}", $"Node {name} is ready again, cancelled pod eviction");
                }
                break;
        }
    }

    private bool CancelPodEviction(Node node)
    {
        var name = node.Metadata?.Name ?? "";
        if (!_evictionMap.SetStatus(name, NodeEvictionMap.Status.Unmarked))
        {
            _logger.LogDebug("{Message}", $"node {name} was unregistered in the meantime - skipping setting status");
        }
        lock (_evictorGate)
        {
            if (_zonePodEvictor.TryGetValue(ZoneKey(node), out var queue) && queue.Remove(name))
            {
                _logger.LogDebug("Cancelling pod Eviction on Node: {Node}", name);
                return true;
            }
            return false;
        }
    }

    /// <summary>Queues the node for eviction, or, once it was evicted, deletes these pods at once; true when queued.</summary>
    private async Task<bool> EvictPodsAsync(Node node, IReadOnlyList<Pod> pods, CancellationToken cancellationToken)
    {
        var name = node.Metadata?.Name ?? "";
        if (_evictionMap.GetStatus(name) == NodeEvictionMap.Status.Evicted)
        {
            await DeletePodsAsync(pods, name, node.Metadata?.Uid, cancellationToken).ConfigureAwait(false);
            return false;
        }
        if (!_evictionMap.SetStatus(name, NodeEvictionMap.Status.ToBeEvicted))
        {
            _logger.LogDebug("{Message}", $"node {name} was unregistered in the meantime - skipping setting status");
        }
        lock (_evictorGate)
        {
            return _zonePodEvictor[ZoneKey(node)].Add(name, node.Metadata?.Uid);
        }
    }

    /// <summary>
    /// Upstream's DeletePods: every pod of the node (DaemonSet pods excepted) gets reason NodeLost and is deleted.
    /// True when some pod is (or was already) being deleted.
    /// </summary>
    private async Task<bool> DeletePodsAsync(IReadOnlyList<Pod> pods, string nodeName, string? nodeUid, CancellationToken cancellationToken)
    {
        var remaining = false;
        var conflicts = new List<string>();
        if (pods.Count > 0)
        {
            RecordNodeEvent(nodeName, nodeUid, EventTypes.Normal, "DeletingAllPods", $"Deleting all Pods from Node {nodeName}.");
        }
        foreach (var cached in pods)
        {
            if (cached.Spec?.NodeName != nodeName)
            {
                continue;
            }
            var pod = CopyPod(cached);
            var key = ObjectKey.Of(pod);
            if (pod.Status?.Reason != NodeUnreachablePodReason)
            {
                pod.Status ??= new PodStatus();
                pod.Status.Reason = NodeUnreachablePodReason;
                pod.Status.Message = $"Node {nodeName} which was running pod {pod.Metadata?.Name} is unresponsive";
                try
                {
                    await _client.UpdatePodStatusAsync(pod, cancellationToken).ConfigureAwait(false);
                }
                catch (ConflictException ex)
                {
                    conflicts.Add($"update status failed for pod \"{key}\": {ex.Message}");
                    continue;
                }
                catch (Exception ex) when (ex is KubeApiException or HttpRequestException or IOException)
                {
                    // Upstream goes on with the deletion after any other failure.
                }
            }
            if (pod.Metadata?.DeletionGracePeriodSeconds is not null)
            {
                remaining = true;
                continue;
            }
            if (IsDaemonSetPod(pod))
            {
                continue;
            }
            _logger.LogDebug("Starting deletion of pod {pod}", key);
            _recorder.Event(pod, EventTypes.Normal, "NodeControllerEviction", $"Marking for deletion Pod {pod.Metadata?.Name} from Node {nodeName}");
            try
            {
                await _client.DeletePodAsync(key.Namespace ?? "", key.Name, cancellationToken).ConfigureAwait(false);
            }
            catch (NotFoundException)
            {
                continue;
            }
            remaining = true;
        }
        if (conflicts.Count > 0)
        {
            throw new PodEvictionException(string.Join("; ", conflicts));
        }
        return remaining;
    }

    // GetPodDaemonSets: some DaemonSet of the pod's namespace selects it.
    private bool IsDaemonSetPod(Pod pod)
    {
        foreach (var ds in _daemonSets.List())
        {
            if (ds.Metadata?.Namespace != pod.Metadata?.Namespace)
            {
                continue;
            }
            LabelSelector? selector;
            try
            {
                selector = LabelSelector.FromApi(ds.Spec?.Selector);
            }
            catch (Exception ex) when (ex is Kcm.Api.Selectors.SelectorParseException or ArgumentException)
            {
                continue;
            }
            if (selector is not null && !selector.IsEverything && selector.Matches(pod.Metadata?.Labels))
            {
                return true;
            }
        }
        return false;
    }

    /// <summary>
    /// How many of one node's pod status writes MarkPodsNotReadyAsync keeps in flight: with the monitor pass's 8 node
    /// workers, at most 32 of these writes at once.
    /// </summary>
    internal const int MarkPodsNotReadyConcurrency = 4;

    /// <summary>
    /// Upstream's MarkPodsNotReady: each pod of the node whose Ready condition is not yet False gets it False (PUT of
    /// its status) and a NodeNotReady warning event. Throws with every failure after trying them all. Upstream writes
    /// the pods one after another; they are independent, so here a few overlap (a node of 110 pods is otherwise 110
    /// round trips). Each pod still gets the same single write and event.
    /// </summary>
    internal async Task MarkPodsNotReadyAsync(IReadOnlyList<Pod> pods, string nodeName, CancellationToken cancellationToken)
    {
        _logger.LogDebug("Update ready status of pods on node {node}", nodeName);
        var toMark = pods.Where(p => p.Spec?.NodeName == nodeName && p.Status?.Conditions?.FirstOrDefault(c => c.Type == "Ready") is { Status: not "False" }).ToList();
        var errors = new List<Exception>();
        var options = new ParallelOptions { MaxDegreeOfParallelism = MarkPodsNotReadyConcurrency, CancellationToken = cancellationToken };
        await Parallel.ForEachAsync(toMark, options, async (cached, ct) =>
        {
            var pod = CopyPod(cached);
            var condition = pod.Status!.Conditions!.First(c => c.Type == "Ready");
            condition.Status = "False";
            condition.LastTransitionTime = Now();
            _logger.LogDebug("Updating ready status of pod to false {pod}", pod.Metadata?.Name);
            try
            {
                await _client.UpdatePodStatusAsync(pod, ct).ConfigureAwait(false);
            }
            catch (NotFoundException)
            {
                return;
            }
            catch (Exception ex) when (ex is KubeApiException or HttpRequestException or IOException)
            {
                _logger.LogInformation("Failed to update status for pod {Pod} {Err}", ObjectKey.Of(pod), ex.Message);
                lock (errors)
                {
                    errors.Add(ex);
                }
            }
            // After the update, so the event is about a pod that still exists.
            _recorder.Event(pod, EventTypes.Warning, "NodeNotReady", "Node is not ready");
        }).ConfigureAwait(false);
        if (errors.Count > 0)
        {
            throw new MarkPodsNotReadyException(string.Join("; ", errors.Select(e => e.Message)), errors);
        }
    }

    private static Pod CopyPod(Pod pod) => KubeJson.Deserialize<Pod>(KubeJson.Serialize(pod))!;
}

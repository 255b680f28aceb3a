using System.Text.Json.Nodes;
using Kcm.Api.Core.V1;
using Kcm.Api.Meta.V1;
using Kcm.Client;
using Kcm.Client.Errors;
using Kcm.Runtime.Informers;
using Kcm.Runtime.Queues;
using Microsoft.Extensions.Logging;

namespace Kcm.Controllers.PodGc;

public sealed record PodGcControllerOptions
{
    /// <summary>--terminated-pod-gc-threshold: terminated pods kept; 0 or less disables collecting them.</summary>
    public int TerminatedPodThreshold { get; init; } = 12500;

    /// <summary>How often a collection pass runs (upstream gcCheckPeriod).</summary>
    public TimeSpan CheckPeriod { get; init; } = TimeSpan.FromSeconds(20);

    /// <summary>How long a node missing from the informer stays quarantined before the API is asked whether it is really gone.</summary>
    public TimeSpan QuarantineTime { get; init; } = TimeSpan.FromSeconds(40);
}

/// <summary>
/// Upstream's pod garbage collector: every period it force-deletes terminated pods beyond the threshold (evicted
/// first, then oldest), terminating pods on out-of-service nodes, pods bound to nodes that no longer exist (after
/// a quarantine and a live check), and terminating pods that were never scheduled.
/// </summary>
public sealed class PodGcController
{
    public const string ControllerName = "podgc";
    public const string ServiceAccountName = "pod-garbage-collector";
    public const string OutOfServiceTaint = "node.kubernetes.io/out-of-service";

    private static readonly DeleteOptions ForceDelete = new() { GracePeriodSeconds = 0 };

    private readonly KubeApiClient _client;
    private readonly SharedInformer<Pod> _pods;
    private readonly SharedInformer<Node> _nodes;
    private readonly DelayingQueue<ObjectKey> _nodeQueue;
    private readonly PodGcControllerOptions _options;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;

    public PodGcController(ControllerContext context, PodGcControllerOptions? options = null)
    {
        _options = options ?? new PodGcControllerOptions();
        _client = context.Clients.For(ServiceAccountName);
        _pods = context.Informers.InformerFor<Pod>();
        _nodes = context.Informers.InformerFor<Node>();
        _nodeQueue = new DelayingQueue<ObjectKey>(context.QueueOptions("orphaned_pods_nodes"));
        _time = context.Time;
        _logger = context.Loggers.CreateLogger<PodGcController>();
    }

    public async Task RunAsync(CancellationToken cancellationToken)
    {
        _logger.LogInformation("Starting GC controller");
        try
        {
            _logger.LogInformation("Waiting for caches to sync for {Name}", "GC");
            if (!await CacheSync.WaitAsync([_pods, _nodes], cancellationToken).ConfigureAwait(false))
            {
                return;
            }
            _logger.LogInformation("Caches are synced for {Name}", "GC");
            while (!cancellationToken.IsCancellationRequested)
            {
                try
                {
                    await GcAsync(cancellationToken).ConfigureAwait(false);
                }
                catch (Exception ex) when (ex is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
                {
                    // One failed pass must not stop the loop (upstream wait.Until carries on).
                    _logger.LogError(ex, "pod garbage collection pass failed");
                }
                await Task.Delay(_options.CheckPeriod, _time, cancellationToken).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
        }
        finally
        {
            _nodeQueue.ShutDown();
            _logger.LogInformation("Shutting down GC controller");
        }
    }

    /// <summary>One collection pass over the caches.</summary>
    public async Task GcAsync(CancellationToken cancellationToken)
    {
        var pods = _pods.Cache.List();
        var nodes = _nodes.Cache.List();
        if (_options.TerminatedPodThreshold > 0)
        {
            await GcTerminatedAsync(pods, cancellationToken).ConfigureAwait(false);
        }
        await GcTerminatingOutOfServiceAsync(pods, cancellationToken).ConfigureAwait(false);
        await GcOrphanedAsync(pods, nodes, cancellationToken).ConfigureAwait(false);
        await GcUnscheduledTerminatingAsync(pods, cancellationToken).ConfigureAwait(false);
    }

    private static bool IsTerminated(Pod pod) => pod.Status?.Phase is not ("Pending" or "Running" or "Unknown");

    private async Task GcTerminatedAsync(IReadOnlyList<Pod> pods, CancellationToken cancellationToken)
    {
        var terminated = pods.Where(IsTerminated).ToList();
        var deleteCount = terminated.Count - _options.TerminatedPodThreshold;
        if (deleteCount <= 0)
        {
            return;
        }
        _logger.LogInformation("Garbage collecting pods {numPods}", deleteCount);
        terminated.Sort(ByEvictionAndCreationTimestamp);
        await Task.WhenAll(terminated.Take(deleteCount).Select(pod => TryMarkFailedAndDeleteAsync(pod, null, cancellationToken))).ConfigureAwait(false);
    }

    private async Task GcTerminatingOutOfServiceAsync(IReadOnlyList<Pod> pods, CancellationToken cancellationToken)
    {
        _logger.LogTrace("GC'ing terminating pods that are on out-of-service nodes");
        var terminating = new List<Pod>();
        foreach (var pod in pods.Where(p => p.Metadata?.DeletionTimestamp is not null))
        {
            var nodeName = pod.Spec?.NodeName;
            if (string.IsNullOrEmpty(nodeName))
            {
                continue;
            }
            if (_nodes.Cache.Get(new ObjectKey(null, nodeName)) is not { } node)
            {
                _logger.LogError("{Message}", $"failed to get node {nodeName} : node \"{nodeName}\" not found");
                continue;
            }
            var ready = node.Status?.Conditions?.Any(c => c.Type == "Ready" && c.Status == "True") == true;
            if (!ready && node.Spec?.Taints?.Any(t => t.Key == OutOfServiceTaint) == true)
            {
                _logger.LogTrace("{Message}", $"garbage collecting pod {pod.Metadata?.Name} that is terminating. Phase [{pod.Status?.Phase}]");
                terminating.Add(pod);
            }
        }
        if (terminating.Count == 0)
        {
            return;
        }
        _logger.LogTrace("{Message}", $"Garbage collecting {terminating.Count} pods that are terminating on node tainted with node.kubernetes.io/out-of-service");
        terminating.Sort(ByEvictionAndCreationTimestamp);
        await Task.WhenAll(terminating.Select(pod => TryMarkFailedAndDeleteAsync(pod, null, cancellationToken))).ConfigureAwait(false);
    }

    /// <summary>Pods bound to nodes that don't exist: quarantined first, then confirmed with a live GET.</summary>
    private async Task GcOrphanedAsync(IReadOnlyList<Pod> pods, IReadOnlyList<Node> nodes, CancellationToken cancellationToken)
    {
        _logger.LogTrace("GC'ing orphaned");
        var existing = nodes.Select(n => n.Metadata?.Name).OfType<string>().ToHashSet(StringComparer.Ordinal);
        foreach (var pod in pods)
        {
            if (pod.Spec?.NodeName is { Length: > 0 } nodeName && !existing.Contains(nodeName))
            {
                _nodeQueue.AddAfter(new ObjectKey(null, nodeName), _options.QuarantineTime);
            }
        }
        var deleted = await DiscoverDeletedNodesAsync(existing, cancellationToken).ConfigureAwait(false);
        foreach (var pod in pods)
        {
            if (pod.Spec?.NodeName is not { Length: > 0 } nodeName || !deleted.Contains(nodeName))
            {
                continue;
            }
            _logger.LogDebug("Found orphaned Pod assigned to the Node, deleting. {Pod} {Node}", ObjectKey.Of(pod), nodeName);
            var condition = new PodCondition { Type = "DisruptionTarget", Status = "True", Reason = "DeletionByPodGC", Message = "PodGC: node no longer exists" };
            if (await TryMarkFailedAndDeleteAsync(pod, condition, cancellationToken).ConfigureAwait(false))
            {
                _logger.LogInformation("Forced deletion of orphaned Pod succeeded {pod}", ObjectKey.Of(pod));
            }
        }
    }

    private async Task<HashSet<string>> DiscoverDeletedNodesAsync(HashSet<string> existing, CancellationToken cancellationToken)
    {
        var deleted = new HashSet<string>(StringComparer.Ordinal);
        // Drains the node names whose quarantine has passed; not a worker loop (upstream's discoverDeletedNodes).
        while (_nodeQueue.TryTake(out var nodeKey))
        {
            var nodeName = nodeKey.Name;
            try
            {
                if (!existing.Contains(nodeName))
                {
                    try
                    {
                        await _client.GetAsync<Node>(null, nodeName, cancellationToken).ConfigureAwait(false);
                    }
                    catch (NotFoundException)
                    {
                        deleted.Add(nodeName);
                    }
                    catch (Exception ex) when (ex is KubeApiException or KubeProtocolException or HttpRequestException)
                    {
                        // Queued again on the next pass if still needed.
                        _logger.LogError(ex, "Error while getting node {node}", nodeName);
                    }
                }
            }
            finally
            {
                _nodeQueue.Done(nodeKey);
            }
        }
        return deleted;
    }

    private async Task GcUnscheduledTerminatingAsync(IReadOnlyList<Pod> pods, CancellationToken cancellationToken)
    {
        _logger.LogTrace("GC'ing unscheduled pods which are terminating");
        foreach (var pod in pods)
        {
            if (pod.Metadata?.DeletionTimestamp is null || !string.IsNullOrEmpty(pod.Spec?.NodeName))
            {
                continue;
            }
            _logger.LogDebug("Found unscheduled terminating Pod not assigned to any Node, deleting. {pod}", ObjectKey.Of(pod));
            if (await TryMarkFailedAndDeleteAsync(pod, null, cancellationToken).ConfigureAwait(false))
            {
                _logger.LogInformation("Forced deletion of unscheduled terminating Pod succeeded {pod}", ObjectKey.Of(pod));
            }
        }
    }

    /// <summary>Evicted pods first (they are not some controller's finished work), then oldest, then by name.</summary>
    internal static int ByEvictionAndCreationTimestamp(Pod a, Pod b)
    {
        var aEvicted = IsEvicted(a);
        var bEvicted = IsEvicted(b);
        if (aEvicted != bEvicted)
        {
            return aEvicted ? -1 : 1;
        }
        var aCreated = a.Metadata?.CreationTimestamp ?? DateTimeOffset.MinValue;
        var bCreated = b.Metadata?.CreationTimestamp ?? DateTimeOffset.MinValue;
        return aCreated == bCreated
            ? string.CompareOrdinal(a.Metadata?.Name, b.Metadata?.Name)
            : aCreated.CompareTo(bCreated);
    }

    private static bool IsEvicted(Pod pod) => pod.Status is { Phase: "Failed", Reason: "Evicted" };

    /// <summary>Errors (other than the pod being gone already) are logged; false when the pod was not deleted.</summary>
    private async Task<bool> TryMarkFailedAndDeleteAsync(Pod pod, PodCondition? condition, CancellationToken cancellationToken)
    {
        try
        {
            await MarkFailedAndDeleteAsync(pod, condition, cancellationToken).ConfigureAwait(false);
            return true;
        }
        catch (NotFoundException)
        {
            return false;
        }
        catch (Exception ex) when (ex is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            _logger.LogError("{Message}", ex.Message); // utilruntime.HandleError(err)
            return false;
        }
    }

    /// <summary>
    /// Moves a pod no kubelet will ever finish to Failed (with the disruption condition, if given) and then
    /// force-deletes it, as upstream with PodDisruptionConditions on.
    /// </summary>
    private async Task MarkFailedAndDeleteAsync(Pod pod, PodCondition? condition, CancellationToken cancellationToken)
    {
        var key = ObjectKey.Of(pod);
        _logger.LogInformation("PodGC is force deleting Pod {pod}", key);
        var status = new JsonObject();
        if (condition is not null)
        {
            var existing = pod.Status?.Conditions?.FirstOrDefault(c => c.Type == condition.Type);
            var transition = existing is not null && existing.Status == condition.Status && existing.LastTransitionTime is { } t ? t : _time.GetUtcNow();
            status["conditions"] = new JsonArray(new JsonObject
            {
                ["type"] = condition.Type,
                ["status"] = condition.Status,
                ["reason"] = condition.Reason,
                ["message"] = condition.Message,
                ["lastTransitionTime"] = transition.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", System.Globalization.CultureInfo.InvariantCulture),
            });
        }
        if (pod.Status?.Phase is not ("Succeeded" or "Failed"))
        {
            status["phase"] = "Failed";
        }
        if (status.Count > 0)
        {
            var patch = new JsonObject { ["status"] = status };
            await _client.PatchAsync<Pod>(key.Namespace, key.Name, PatchType.StrategicMerge, patch.ToJsonString(), "status", cancellationToken: cancellationToken).ConfigureAwait(false);
        }
        await _client.DeleteAsync<Pod>(key.Namespace, key.Name, ForceDelete, cancellationToken).ConfigureAwait(false);
    }
}

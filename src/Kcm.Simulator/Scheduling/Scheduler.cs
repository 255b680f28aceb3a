using System.Text.Json.Nodes;
using Kcm.Api.Core.V1;
using Kcm.Api.Meta.V1;
using Kcm.Client;
using Kcm.Client.Errors;
using Kcm.Runtime.Controllers;
using Kcm.Runtime.Informers;
using Microsoft.Extensions.Logging;

namespace Kcm.Simulator.Scheduling;

/// <summary>
/// A minimal stand-in for kube-scheduler over the simulator's own nodes: pods without a node, of its scheduler
/// name and namespaces, are bound through pods/binding to the least-loaded node that passes the filters in
/// <see cref="PodFit"/>. As the real scheduler, it "assumes" a bound pod on its node until the informer shows the
/// binding, so a burst of pods never overcommits a node; a pod that fits nowhere gets PodScheduled=False
/// (Unschedulable) and is retried when nodes or pods change.
/// </summary>
internal sealed class Scheduler(KubeApiClient client, SimulatorOptions options, IObjectCache<Pod> pods,
    Func<IReadOnlyList<Node>> nodes, Action<ObjectKey> enqueue, ILogger logger)
{
    private readonly Lock _gate = new();
    private readonly Dictionary<ObjectKey, (string Node, string Uid, PodRequests Requests)> _assumed = [];
    // What the informer shows running on each node (bound, not finished), kept up to date from every pod event, so
    // choosing a node costs one look per node instead of a walk over every pod the node ever ran.
    private readonly Dictionary<ObjectKey, (string Node, PodRequests Requests)> _counted = [];
    private readonly Dictionary<string, (int Pods, PodRequests Requests)> _usage = new(StringComparer.Ordinal);
    private readonly HashSet<ObjectKey> _unschedulable = [];

    public bool Wants(Pod pod)
        => string.IsNullOrEmpty(pod.Spec?.NodeName) && pod.Metadata?.DeletionTimestamp is null
            && pod.Status?.Phase is not ("Succeeded" or "Failed")
            && (pod.Spec?.SchedulerName ?? "default-scheduler") == options.SchedulerName
            && (pod.Spec?.SchedulingGates ?? []).Count == 0
            && options.InScope(pod.Metadata?.Namespace ?? "");

    /// <summary>
    /// Every pod event (null: deleted): the node usage follows it, and once the informer shows the pod bound or gone its
    /// assumption is no longer needed.
    /// </summary>
    public void Observed(ObjectKey key, Pod? pod)
    {
        var running = pod?.Spec?.NodeName is { Length: > 0 } node && pod.Status?.Phase is not ("Succeeded" or "Failed") ? node : null;
        var requests = running is null ? default : PodRequests.Of(pod!);
        lock (_gate)
        {
            if (_counted.Remove(key, out var before)) AddUsage(before.Node, -1, -before.Requests);
            if (running is not null)
            {
                _counted[key] = (running, requests);
                AddUsage(running, 1, requests);
            }
            if (pod is null || !string.IsNullOrEmpty(pod.Spec?.NodeName)) _assumed.Remove(key);
        }
    }

    // Under _gate.
    private void AddUsage(string node, int pods, PodRequests requests)
    {
        var (count, sum) = _usage.GetValueOrDefault(node);
        if (count + pods == 0) _usage.Remove(node);
        else _usage[node] = (count + pods, sum + requests);
    }

    /// <summary>Capacity or nodes changed: pods that fit nowhere get another try.</summary>
    public void RetryUnschedulable()
    {
        List<ObjectKey> keys;
        lock (_gate)
        {
            keys = [.. _unschedulable];
            _unschedulable.Clear();
        }
        foreach (var key in keys) enqueue(key);
    }

    public async Task<ReconcileResult> ScheduleAsync(ObjectKey key, CancellationToken ct)
    {
        var pod = pods.Get(key);
        if (pod is null || !Wants(pod)) return ReconcileResult.Done;
        string? target;
        string reasons;
        lock (_gate)
        {
            if (_assumed.TryGetValue(key, out var assumed) && assumed.Uid == pod.Metadata!.Uid) return ReconcileResult.Done;
            (target, reasons) = Choose(pod);
            if (target is null)
            {
                _unschedulable.Add(key);
            }
            else
            {
                _assumed[key] = (target, pod.Metadata!.Uid ?? "", PodRequests.Of(pod));
            }
        }
        if (target is null)
        {
            await MarkUnschedulableAsync(pod, reasons, ct).ConfigureAwait(false);
            return ReconcileResult.Done;
        }
        try
        {
            await client.BindAsync(new Binding
            {
                Metadata = new ObjectMeta { Name = pod.Metadata!.Name, Namespace = pod.Metadata.Namespace, Uid = pod.Metadata.Uid },
                Target = new ObjectReference { Kind = "Node", ApiVersion = "v1", Name = target },
            }, cancellationToken: ct).ConfigureAwait(false);
            logger.LogDebug("Bound {Pod} to {Node}", key, target);
        }
        catch (Exception ex) when (ex is ConflictException or NotFoundException)
        {
            // Bound by someone else meanwhile, or gone: nothing to schedule.
            Forget(key);
        }
        catch
        {
            Forget(key);
            throw;
        }
        return ReconcileResult.Done;
    }

    private void Forget(ObjectKey key)
    {
        lock (_gate)
        {
            _assumed.Remove(key);
        }
    }

    // Under _gate: usage = pods the informer shows on the node plus assumed bindings it does not show yet.
    private (string? Node, string Reasons) Choose(Pod pod)
    {
        var candidates = nodes();
        var assumedByNode = new Dictionary<string, (int Pods, PodRequests Requests)>(StringComparer.Ordinal);
        foreach (var (node, _, requests) in _assumed.Values)
        {
            var (count, sum) = assumedByNode.GetValueOrDefault(node);
            assumedByNode[node] = (count + 1, sum + requests);
        }
        var failures = new Dictionary<string, int>();
        (string Name, int Pods, long Cpu)? best = null;
        foreach (var node in candidates)
        {
            var name = node.Metadata!.Name!;
            var (shownPods, shownRequests) = _usage.GetValueOrDefault(name);
            var (assumedPods, assumedRequests) = assumedByNode.GetValueOrDefault(name);
            var count = shownPods + assumedPods;
            var requested = shownRequests + assumedRequests;
            if (PodFit.Check(pod, node, count, requested) is { } reason)
            {
                failures[reason] = failures.GetValueOrDefault(reason) + 1;
                continue;
            }
            if (best is null || count < best.Value.Pods || (count == best.Value.Pods && requested.MilliCpu < best.Value.Cpu))
            {
                best = (name, count, requested.MilliCpu);
            }
        }
        if (best is { } chosen) return (chosen.Name, "");
        // Upstream's FitError message, e.g. "0/3 nodes are available: 1 Insufficient cpu, 2 node(s) didn't match ...".
        var details = string.Join(", ", failures.OrderBy(f => f.Key, StringComparer.Ordinal).Select(f => $"{f.Value} {f.Key}"));
        return (null, $"0/{candidates.Count} nodes are available{(details.Length > 0 ? ": " + details : "")}.");
    }

    private async Task MarkUnschedulableAsync(Pod pod, string message, CancellationToken ct)
    {
        var existing = pod.Status?.Conditions?.FirstOrDefault(c => c.Type == "PodScheduled");
        if (existing is { Status: "False", Reason: "Unschedulable" } && existing.Message == message) return;
        logger.LogInformation("Unable to schedule pod {Namespace}/{Pod}: {Message}", pod.Metadata!.Namespace, pod.Metadata.Name, message);
        var patch = new JsonObject
        {
            ["metadata"] = new JsonObject { ["uid"] = pod.Metadata.Uid },
            ["status"] = new JsonObject
            {
                ["conditions"] = new JsonArray(new JsonObject
                {
                    ["type"] = "PodScheduled",
                    ["status"] = "False",
                    ["reason"] = "Unschedulable",
                    ["message"] = message,
                    ["lastProbeTime"] = null,
                    ["lastTransitionTime"] = options.TimeProvider.GetUtcNow().UtcDateTime.ToString("yyyy-MM-ddTHH:mm:ssZ"),
                }),
            },
        };
        try
        {
            await client.PatchAsync<Pod>(pod.Metadata.Namespace, pod.Metadata.Name!, PatchType.StrategicMerge, patch.ToJsonString(), "status", cancellationToken: ct).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is NotFoundException or ConflictException)
        {
        }
    }
}

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
    private readonly HashSet<ObjectKey> _unschedulable = [];

    public bool Wants(Pod pod)
        => string.IsNullOrEmpty(pod.Spec?.NodeName) && pod.Metadata?.DeletionTimestamp is null
            && pod.Status?.Phase is not ("Succeeded" or "Failed")
            && (pod.Spec?.SchedulerName ?? "default-scheduler") == options.SchedulerName
            && (pod.Spec?.SchedulingGates ?? []).Count == 0
            && options.InScope(pod.Metadata?.Namespace ?? "");

    /// <summary>The informer showed the pod bound or gone: its assumption is no longer needed.</summary>
    public void Observed(ObjectKey key, Pod? pod)
    {
        lock (_gate)
        {
            if (pod is null || !string.IsNullOrEmpty(pod.Spec?.NodeName)) _assumed.Remove(key);
        }
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
        var failures = new Dictionary<string, int>();
        (string Name, int Pods, long Cpu)? best = null;
        foreach (var node in candidates)
        {
            var name = node.Metadata!.Name!;
            var onNode = pods.ByIndex(KnownIndexers.PodNodeName, name).Where(p => p.Status?.Phase is not ("Succeeded" or "Failed")).ToList();
            var count = onNode.Count;
            var requested = onNode.Aggregate(default(PodRequests), (sum, p) => sum + PodRequests.Of(p));
            foreach (var (_, a) in _assumed.Where(a => a.Value.Node == name && !onNode.Any(p => p.Metadata?.Uid == a.Value.Uid)))
            {
                count++;
                requested += a.Requests;
            }
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

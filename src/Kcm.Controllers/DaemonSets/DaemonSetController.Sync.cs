using Kcm.Api.Apps.V1;
using Kcm.Api.Codecs;
using Kcm.Api.Core.V1;
using Kcm.Client.Errors;
using Kcm.Controllers.Common;
using Kcm.Runtime.Controllers;
using Kcm.Runtime.Events;
using Kcm.Runtime.Informers;
using Microsoft.Extensions.Logging;
using LabelSelector = Kcm.Api.Selectors.LabelSelector;

namespace Kcm.Controllers.DaemonSets;

public sealed partial class DaemonSetController
{
    /// <summary>Upstream's syncDaemonSet: reads only the caches; acts only when the last sync's effects were observed.</summary>
    internal async Task<ReconcileResult> SyncAsync(ObjectKey key, CancellationToken cancellationToken)
    {
        var started = _time.GetTimestamp();
        try
        {
            return await SyncCoreAsync(key, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            if (_logger.IsEnabled(LogLevel.Trace))
            {
                _logger.LogTrace("Finished syncing daemon set \"{Key}\" ({Duration})", key, GoDuration.Format(_time.GetElapsedTime(started)));
            }
        }
    }

    private async Task<ReconcileResult> SyncCoreAsync(ObjectKey key, CancellationToken cancellationToken)
    {
        if (_daemonSets.Get(key) is not { } ds)
        {
            _logger.LogDebug("daemon set has been deleted {Key}", key);
            Expectations.DeleteExpectations(key);
            return ReconcileResult.Done;
        }
        var nodes = _nodes.List();
        if (ds.Spec?.Selector is { } s && (s.MatchLabels?.Count ?? 0) == 0 && (s.MatchExpressions?.Count ?? 0) == 0)
        {
            _events.Event(EventTarget(ds), EventTypes.Warning, SelectingAllReason, "This daemon set is selecting all pods. A non-empty selector is required.");
            return ReconcileResult.Done;
        }
        // While it is being deleted its revisions may already be gone or orphaned, so neither act nor report status.
        if (ds.Metadata?.DeletionTimestamp is not null)
        {
            return ReconcileResult.Done;
        }

        var state = new SyncState();
        var (cur, old) = await ConstructHistoryAsync(ds, state, cancellationToken).ConfigureAwait(false);
        var hash = cur.Metadata?.Labels?.GetValueOrDefault(DaemonSetNames.UniqueLabelKey) ?? "";

        if (!Expectations.SatisfiedExpectations(key))
        {
            // Only status; observedGeneration stays, as this generation was not acted on.
            await UpdateStatusAsync(ds, nodes, hash, state, updateObservedGeneration: false, cancellationToken).ConfigureAwait(false);
            return ReconcileResult.Done;
        }

        Exception? error = null;
        try
        {
            await UpdateDaemonSetAsync(ds, nodes, hash, key, old, state, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            error = ex;
        }
        try
        {
            await UpdateStatusAsync(ds, nodes, hash, state, updateObservedGeneration: true, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception statusError) when (error is not null && statusError is not OperationCanceledException)
        {
            _logger.LogError(statusError, "Failed to update status {DaemonSet}", key);
        }
        if (error is not null)
        {
            System.Runtime.ExceptionServices.ExceptionDispatchInfo.Throw(error);
        }
        return ReconcileResult.Done;
    }

    private async Task UpdateDaemonSetAsync(DaemonSet ds, IReadOnlyList<Node> nodes, string hash, ObjectKey key, List<ControllerRevision> old, SyncState state, CancellationToken cancellationToken)
    {
        await ManageAsync(ds, nodes, hash, state, cancellationToken).ConfigureAwait(false);
        if (Expectations.SatisfiedExpectations(key) && DaemonSetUtil.IsRollingUpdate(ds))
        {
            await RollingUpdateAsync(ds, nodes, hash, state, cancellationToken).ConfigureAwait(false);
        }
        await CleanupHistoryAsync(ds, old, state, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Upstream's manage: the pods to create and delete on every node, plus unbound pods for nodes that are gone.</summary>
    private async Task ManageAsync(DaemonSet ds, IReadOnlyList<Node> nodes, string hash, SyncState state, CancellationToken cancellationToken)
    {
        var nodeToDaemonPods = await NodesToDaemonPodsAsync(ds, state, cancellationToken).ConfigureAwait(false);
        var nodesNeedingDaemonPods = new List<string>();
        var podsToDelete = new List<string>();
        foreach (var node in nodes)
        {
            PodsShouldBeOnNode(node, nodeToDaemonPods, ds, hash, nodesNeedingDaemonPods, podsToDelete);
        }
        // Pods never bound to a node that no longer exists are not the pod GC's business: delete them here.
        var existing = nodes.Select(n => n.Metadata?.Name ?? "").ToHashSet(StringComparer.Ordinal);
        foreach (var (nodeName, pods) in nodeToDaemonPods)
        {
            if (!existing.Contains(nodeName))
            {
                podsToDelete.AddRange(pods.Where(p => string.IsNullOrEmpty(p.Spec?.NodeName)).Select(p => p.Metadata!.Name!));
            }
        }
        await SyncNodesAsync(ds, podsToDelete, nodesNeedingDaemonPods, hash, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Upstream's podsShouldBeOnNode: what this node needs (a pod created; failed, excess or misplaced pods deleted).</summary>
    internal void PodsShouldBeOnNode(Node node, IReadOnlyDictionary<string, List<Pod>> nodeToDaemonPods, DaemonSet ds, string hash, List<string> nodesNeedingDaemonPods, List<string> podsToDelete)
    {
        var nodeName = node.Metadata?.Name ?? "";
        var (shouldRun, shouldContinueRunning) = DaemonSetUtil.NodeShouldRunDaemonPod(node, ds);
        var exists = nodeToDaemonPods.TryGetValue(nodeName, out var daemonPods);
        daemonPods ??= [];

        if (shouldRun && !exists)
        {
            nodesNeedingDaemonPods.Add(nodeName);
            return;
        }
        if (shouldContinueRunning)
        {
            var running = new List<Pod>();
            foreach (var pod in daemonPods)
            {
                if (pod.Metadata?.DeletionTimestamp is not null)
                {
                    continue;
                }
                if (pod.Status?.Phase == PodReadiness.PhaseFailed)
                {
                    // The kubelet may keep rejecting the pod: back off instead of fighting it in a hot loop.
                    var backoffKey = FailedPodsBackoffKey(ds, nodeName);
                    var now = _time.GetUtcNow();
                    if (FailedPodsBackoff.IsInBackOffSinceUpdate(backoffKey, now))
                    {
                        var delay = FailedPodsBackoff.Get(backoffKey);
                        if (_logger.IsEnabled(LogLevel.Trace))
                        {
                            _logger.LogTrace("{Message}", $"Deleting failed pod {ObjectKey.Of(pod)} on node {nodeName} has been limited by backoff - {GoDuration.Format(delay)} remaining");
                        }
                        _queue.AddAfter(ObjectKey.Of(ds), delay);
                        continue;
                    }
                    FailedPodsBackoff.Next(backoffKey, now);
                    var message = $"Found failed daemon pod {pod.Metadata?.Namespace}/{pod.Metadata?.Name} on node {nodeName}, will try to kill it";
                    _logger.LogDebug("{Message}", message);
                    _events.Event(EventTarget(ds), EventTypes.Warning, FailedDaemonPodReason, message);
                    podsToDelete.Add(pod.Metadata!.Name!);
                }
                else
                {
                    running.Add(pod);
                }
            }

            if (!DaemonSetUtil.AllowsSurge(ds))
            {
                // More than one pod without surge: keep the oldest.
                if (running.Count > 1)
                {
                    podsToDelete.AddRange(DaemonSetUtil.SortedByCreationTimestampAndPhase(running).Skip(1).Select(p => p.Metadata!.Name!));
                }
                return;
            }
            if (running.Count <= 1)
            {
                if (running.Count == 0 && shouldRun)
                {
                    nodesNeedingDaemonPods.Add(nodeName);
                }
                return;
            }
            // Surging: keep the oldest new pod and the oldest old pod; the old one goes once it is not ready or the
            // new one is available.
            Pod? oldestNew = null, oldestOld = null;
            foreach (var pod in DaemonSetUtil.SortedByCreationTimestampAndPhase(running))
            {
                if (pod.Metadata?.Labels?.GetValueOrDefault(DaemonSetNames.UniqueLabelKey) == hash)
                {
                    if (oldestNew is null)
                    {
                        oldestNew = pod;
                        continue;
                    }
                }
                else if (oldestOld is null)
                {
                    oldestOld = pod;
                    continue;
                }
                podsToDelete.Add(pod.Metadata!.Name!);
            }
            if (oldestNew is not null && oldestOld is not null
                && (!PodReadiness.IsPodReady(oldestOld) || PodReadiness.IsPodAvailable(oldestNew, ds.Spec?.MinReadySeconds ?? 0, _time.GetUtcNow())))
            {
                podsToDelete.Add(oldestOld.Metadata!.Name!);
            }
            return;
        }
        if (exists)
        {
            // Should not run here any more: delete every daemon pod on the node.
            podsToDelete.AddRange(daemonPods.Where(p => p.Metadata?.DeletionTimestamp is null).Select(p => p.Metadata!.Name!));
        }
    }

    /// <summary>
    /// Upstream's syncNodes: expectations first, then creations in slow-start batches (each pod pinned to its node by
    /// node affinity) and deletions in parallel, at most BurstReplicas of each.
    /// </summary>
    private async Task SyncNodesAsync(DaemonSet ds, IReadOnlyList<string> podsToDelete, IReadOnlyList<string> nodesNeedingDaemonPods, string hash, CancellationToken cancellationToken)
    {
        var key = ObjectKey.Of(ds);
        var createDiff = Math.Min(nodesNeedingDaemonPods.Count, _options.BurstReplicas);
        var deleteDiff = Math.Min(podsToDelete.Count, _options.BurstReplicas);
        Expectations.SetExpectations(key, createDiff, deleteDiff);
        var errors = new System.Collections.Concurrent.ConcurrentQueue<Exception>();
        var metadata = ds.Metadata!;
        var eventTarget = EventTarget(ds);
        var controllerRef = ControllerRefs.NewControllerRef(metadata, Kind);

        if (createDiff > 0)
        {
            if (_logger.IsEnabled(LogLevel.Trace))
            {
                _logger.LogTrace("{Message}", $"Nodes needing daemon pods for daemon set {key.Name}: [{string.Join(" ", nodesNeedingDaemonPods)}], creating {createDiff}");
            }
            var template = DaemonSetUtil.CreatePodTemplate(ds.Spec?.Template ?? new PodTemplateSpec(), DaemonSetUtil.TemplateGeneration(ds), hash);
            var next = -1;
            var result = await SlowStartBatch.RunAsync(createDiff, SlowStartBatch.InitialBatchSize, async ct =>
            {
                var nodeName = nodesNeedingDaemonPods[Interlocked.Increment(ref next)];
                var podTemplate = KubeObjects.Clone(template);
                podTemplate.Spec!.Affinity = DaemonSetUtil.ReplaceNodeNameNodeAffinity(podTemplate.Spec.Affinity, nodeName);
                try
                {
                    await _podControl.CreatePodAsync(metadata.Namespace ?? "", podTemplate, eventTarget, controllerRef, ct).ConfigureAwait(false);
                }
                catch (KubeApiException ex) when (ApiErrors.IsNamespaceTerminating(ex))
                {
                    // Every creation fails while the namespace is deleted; nothing to do.
                }
                catch (Exception ex) when (ex is not OperationCanceledException)
                {
                    _logger.LogDebug("Failed creation, decrementing expectations for set \"{Namespace}\"/\"{Name}\"", key.Namespace, key.Name);
                    Expectations.CreationObserved(key);
                    errors.Enqueue(ex);
                    throw;
                }
            }, cancellationToken).ConfigureAwait(false);
            var failed = errors.Count;
            var skipped = createDiff - result.Successes - failed;
            if (skipped > 0)
            {
                // Never attempted, so never observed; the next sync retries them.
                _logger.LogDebug("Slow-start failure. Skipping creation of {Skipped} pods, decrementing expectations for set \"{Namespace}\"/\"{Name}\"", skipped, key.Namespace, key.Name);
                Expectations.LowerExpectations(key, skipped, 0);
            }
        }

        if (deleteDiff > 0)
        {
            if (_logger.IsEnabled(LogLevel.Trace))
            {
                _logger.LogTrace("{Message}", $"Pods to delete for daemon set {key.Name}: [{string.Join(" ", podsToDelete)}], deleting {deleteDiff}");
            }
            await Task.WhenAll(podsToDelete.Take(deleteDiff).Select(name => Task.Run(async () =>
            {
                try
                {
                    await _podControl.DeletePodAsync(metadata.Namespace ?? "", name, eventTarget, cancellationToken).ConfigureAwait(false);
                }
                catch (Exception ex) when (ex is not OperationCanceledException)
                {
                    Expectations.DeletionObserved(key);
                    if (ex is not NotFoundException)
                    {
                        _logger.LogDebug("Failed deletion, decremented expectations for set \"{Namespace}\"/\"{Name}\"", key.Namespace, key.Name);
                        errors.Enqueue(ex);
                    }
                }
            }, CancellationToken.None))).ConfigureAwait(false);
        }

        var all = errors.ToList();
        if (all.Count == 1)
        {
            throw all[0];
        }
        if (all.Count > 1)
        {
            throw new AggregateException(all);
        }
    }

    /// <summary>Upstream's updateDaemonSetStatus: counts per eligible node, judged on each node's oldest pod.</summary>
    private async Task UpdateStatusAsync(DaemonSet ds, IReadOnlyList<Node> nodes, string hash, SyncState state, bool updateObservedGeneration, CancellationToken cancellationToken)
    {
        var nodeToDaemonPods = await NodesToDaemonPodsAsync(ds, state, cancellationToken).ConfigureAwait(false);
        var next = CalculateStatus(ds, nodes, nodeToDaemonPods, hash);
        var current = ds.Status ?? new DaemonSetStatus();
        var generation = ds.Metadata?.Generation ?? 0;
        if (SameCounts(current, next) && (current.ObservedGeneration ?? 0) >= generation)
        {
            return;
        }

        const int statusUpdateRetries = 1;
        var toUpdate = KubeObjects.Clone(ds);
        for (var attempt = 0; ; attempt++)
        {
            toUpdate.Status ??= new DaemonSetStatus();
            if (updateObservedGeneration)
            {
                toUpdate.Status.ObservedGeneration = generation;
            }
            toUpdate.Status.DesiredNumberScheduled = next.DesiredNumberScheduled;
            toUpdate.Status.CurrentNumberScheduled = next.CurrentNumberScheduled;
            toUpdate.Status.NumberMisscheduled = next.NumberMisscheduled;
            toUpdate.Status.NumberReady = next.NumberReady;
            toUpdate.Status.UpdatedNumberScheduled = next.UpdatedNumberScheduled;
            toUpdate.Status.NumberAvailable = next.NumberAvailable;
            toUpdate.Status.NumberUnavailable = next.NumberUnavailable;
            try
            {
                await _client.UpdateStatusAsync(toUpdate, cancellationToken).ConfigureAwait(false);
                break;
            }
            catch (KubeApiException) when (attempt < statusUpdateRetries)
            {
                // The latest version for the retry; a failing GET is the more interesting error.
                toUpdate = await _client.GetAsync(ds.Metadata?.Namespace, ds.Metadata?.Name ?? "", cancellationToken).ConfigureAwait(false);
            }
        }

        // A last line of defence against clock skew.
        var minReadySeconds = ds.Spec?.MinReadySeconds ?? 0;
        if (minReadySeconds > 0 && next.NumberReady != next.NumberAvailable)
        {
            _queue.AddAfter(ObjectKey.Of(ds), TimeSpan.FromSeconds(minReadySeconds));
        }
    }

    internal DaemonSetStatus CalculateStatus(DaemonSet ds, IReadOnlyList<Node> nodes, IReadOnlyDictionary<string, List<Pod>> nodeToDaemonPods, string hash)
    {
        int desired = 0, current = 0, misscheduled = 0, ready = 0, updated = 0, available = 0;
        var now = _time.GetUtcNow();
        var generation = DaemonSetUtil.TemplateGeneration(ds);
        foreach (var node in nodes)
        {
            var (shouldRun, _) = DaemonSetUtil.NodeShouldRunDaemonPod(node, ds);
            var scheduled = nodeToDaemonPods.TryGetValue(node.Metadata?.Name ?? "", out var pods) && pods.Count > 0;
            if (!shouldRun)
            {
                if (scheduled)
                {
                    misscheduled++;
                }
                continue;
            }
            desired++;
            if (!scheduled)
            {
                continue;
            }
            current++;
            var pod = DaemonSetUtil.SortedByCreationTimestampAndPhase(pods!)[0];
            if (PodReadiness.IsPodReady(pod))
            {
                ready++;
                if (PodReadiness.IsPodAvailable(pod, ds.Spec?.MinReadySeconds ?? 0, now))
                {
                    available++;
                }
            }
            if (DaemonSetUtil.IsPodUpdated(pod, hash, generation))
            {
                updated++;
            }
        }
        return new DaemonSetStatus
        {
            DesiredNumberScheduled = desired,
            CurrentNumberScheduled = current,
            NumberMisscheduled = misscheduled,
            NumberReady = ready,
            UpdatedNumberScheduled = updated,
            NumberAvailable = available,
            NumberUnavailable = desired - available,
        };
    }

    private static bool SameCounts(DaemonSetStatus a, DaemonSetStatus b)
        => (a.DesiredNumberScheduled ?? 0) == (b.DesiredNumberScheduled ?? 0)
           && (a.CurrentNumberScheduled ?? 0) == (b.CurrentNumberScheduled ?? 0)
           && (a.NumberMisscheduled ?? 0) == (b.NumberMisscheduled ?? 0)
           && (a.NumberReady ?? 0) == (b.NumberReady ?? 0)
           && (a.UpdatedNumberScheduled ?? 0) == (b.UpdatedNumberScheduled ?? 0)
           && (a.NumberAvailable ?? 0) == (b.NumberAvailable ?? 0)
           && (a.NumberUnavailable ?? 0) == (b.NumberUnavailable ?? 0);

    /// <summary>
    /// getNodesToDaemonPods: the pods the DaemonSet owns (adopting and releasing as needed) by the node they run on
    /// or are meant for. Upstream claims afresh from the cache on every call within a sync; so do we.
    /// </summary>
    private async Task<Dictionary<string, List<Pod>>> NodesToDaemonPodsAsync(DaemonSet ds, SyncState state, CancellationToken cancellationToken)
    {
        var claimed = await DaemonPodsAsync(ds, state, cancellationToken).ConfigureAwait(false);
        var result = new Dictionary<string, List<Pod>>(StringComparer.Ordinal);
        foreach (var pod in claimed)
        {
            if (DaemonSetUtil.TargetNodeName(pod) is not { } nodeName)
            {
                _logger.LogWarning("{Message}", $"Failed to get target node name of Pod {ObjectKey.Of(pod)} in DaemonSet {ObjectKey.Of(ds)}");
                continue;
            }
            if (!result.TryGetValue(nodeName, out var list))
            {
                result[nodeName] = list = [];
            }
            list.Add(pod);
        }
        return result;
    }

    /// <summary>getDaemonPods: every pod of the namespace is a candidate, including ones that stopped matching but still name us.</summary>
    private Task<List<Pod>> DaemonPodsAsync(DaemonSet ds, SyncState state, CancellationToken cancellationToken)
    {
        var selector = Selector(ds);
        var metadata = ds.Metadata!;
        var pods = _pods.ByIndex(KnownIndexers.ControllerUid, metadata.Uid ?? "")
            .Concat(_pods.ByIndex(KnownIndexers.ControllerUid, KnownIndexers.OrphanKey(metadata.Namespace)))
            .ToList();
        var manager = new ControllerRefManager(metadata, Kind, selector, CanAdopt(ds, state), _logger);
        return manager.ClaimPodsAsync(pods, _podControl, cancellationToken);
    }

    // One fresh read per sync at most, shared by the pod and revision claims (upstream re-reads once per claim).
    private Func<CancellationToken, Task> CanAdopt(DaemonSet ds, SyncState state)
    {
        if (state.CanAdopt is null)
        {
            var check = OwnerLookup.CanAdopt(ds.Metadata!, Kind, ct => _client.GetAsync(ds.Metadata!.Namespace, ds.Metadata.Name ?? "", ct));
            var gate = new object();
            Task? once = null;
            state.CanAdopt = ct =>
            {
                lock (gate)
                {
                    return once ??= check(ct);
                }
            };
        }
        return state.CanAdopt;
    }

    private static LabelSelector Selector(DaemonSet ds)
        => LabelSelector.FromApi(ds.Spec?.Selector) ?? throw new Kcm.Api.Selectors.SelectorParseException("daemon set has no selector");

    private static Kcm.Api.Core.V1.ObjectReference EventTarget(DaemonSet ds) => ControllerRefs.ReferenceTo(ds.Metadata!, Kind);

    internal static string FailedPodsBackoffKey(DaemonSet ds, string nodeName)
        => $"{ds.Metadata?.Uid}/{ds.Status?.ObservedGeneration ?? 0}/{nodeName}";

    private sealed class SyncState
    {
        public Func<CancellationToken, Task>? CanAdopt { get; set; }
    }
}

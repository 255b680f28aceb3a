using Kcm.Api.Apps.V1;
using Kcm.Api.Core.V1;
using Kcm.Client.Errors;
using Kcm.Controllers.Common;
using Kcm.Runtime.Events;
using Kcm.Runtime.Informers;
using Microsoft.Extensions.Logging;
using static Kcm.Controllers.StatefulSets.StatefulSetUtil;

namespace Kcm.Controllers.StatefulSets;

/// <summary>Upstream's defaultStatefulSetControl: revisions, the ordered member loop, history and status.</summary>
public sealed partial class StatefulSetController
{
    // client-go's retry.DefaultRetry for status writes and retry.DefaultBackoff for revision updates (10 ms steps).
    private static readonly TimeSpan[] StatusRetry = [.. Enumerable.Repeat(TimeSpan.FromMilliseconds(10), 4)];
    private static readonly TimeSpan[] RevisionRetry = [TimeSpan.FromMilliseconds(10), TimeSpan.FromMilliseconds(50), TimeSpan.FromMilliseconds(250)];

    /// <summary>UpdateStatefulSet: one pass of the control loop, then the revision history limit, even when the pass failed.</summary>
    internal async Task<StatefulSetStatus?> UpdateStatefulSetAsync(StatefulSet cached, IReadOnlyList<Pod> pods, CancellationToken cancellationToken)
    {
        var set = KubeObjects.Clone(cached);
        var selector = Kcm.Api.Selectors.LabelSelector.FromApi(set.Spec?.Selector)!;
        var revisions = ControllerHistory.SortByRevision(ListRevisions(set, selector));

        ControllerRevision? current = null, update = null;
        StatefulSetStatus? status = null;
        Exception? error = null;
        try
        {
            (current, update, status) = await PerformUpdateAsync(set, pods, revisions, cancellationToken).ConfigureAwait(false);
        }
        catch (PerformUpdateException ex)
        {
            (current, update, error) = (ex.Current, ex.Update, ex.InnerException!);
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            error = ex;
        }
        try
        {
            await TruncateHistoryAsync(set, pods, revisions, current, update, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception historyError) when (error is not null && historyError is not OperationCanceledException)
        {
            throw new AggregateException(error, historyError);
        }
        if (error is not null)
        {
            System.Runtime.ExceptionServices.ExceptionDispatchInfo.Throw(error);
        }
        return status;
    }

    private async Task<(ControllerRevision Current, ControllerRevision Update, StatefulSetStatus Status)> PerformUpdateAsync(
        StatefulSet set, IReadOnlyList<Pod> pods, List<ControllerRevision> revisions, CancellationToken cancellationToken)
    {
        var (current, update, collisionCount) = await GetRevisionsAsync(set, revisions, cancellationToken).ConfigureAwait(false);
        StatefulSet currentSet, updateSet;
        try
        {
            currentSet = ApplyRevision(set, current);
            updateSet = ApplyRevision(set, update);
        }
        catch (InvalidRevisionException ex)
        {
            throw new PerformUpdateException(current, update, ex); // No status either, as upstream.
        }
        var status = NewStatus(set, current, update, collisionCount);
        Exception? error = null;
        try
        {
            await UpdateMembersAsync(set, currentSet, updateSet, current, update, pods, status, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            error = ex;
        }
        // The status is written even when the pass failed part way.
        Exception? statusError = null;
        try
        {
            await UpdateStatusAsync(set, status, cancellationToken).ConfigureAwait(false);
            _logger.LogTrace("Updated status {StatefulSet} {Replicas} {ReadyReplicas} {CurrentReplicas} {UpdatedReplicas}",
                ObjectKey.Of(set), status.Replicas, status.ReadyReplicas, status.CurrentReplicas, status.UpdatedReplicas);
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            statusError = ex;
            if (error is not null)
            {
                _logger.LogError(ex, "Could not update status {StatefulSet}", ObjectKey.Of(set));
            }
        }
        if ((error ?? statusError) is { } failure)
        {
            throw new PerformUpdateException(current, update, failure);
        }
        return (current, update, status);
    }

    /// <summary>
    /// getStatefulSetRevisions: the update revision is the set's template (reusing the latest revision, renumbering an
    /// older equal one for a rollback, or creating one); the current revision is status.currentRevision, or the update
    /// revision when that is unknown.
    /// </summary>
    private async Task<(ControllerRevision Current, ControllerRevision Update, int CollisionCount)> GetRevisionsAsync(
        StatefulSet set, List<ControllerRevision> revisions, CancellationToken cancellationToken)
    {
        var collisionCount = set.Status?.CollisionCount ?? 0;
        var candidate = NewRevision(set, NextRevision(revisions), collisionCount);
        var equal = ControllerHistory.FindEqualRevisions(revisions, candidate);
        ControllerRevision update;
        if (equal.Count > 0 && ControllerHistory.EqualRevision(revisions[^1], equal[^1]))
        {
            update = revisions[^1]; // Unchanged.
        }
        else if (equal.Count > 0)
        {
            update = await UpdateRevisionNumberAsync(equal[^1], candidate.Revision ?? 0, cancellationToken).ConfigureAwait(false);
        }
        else
        {
            (update, collisionCount) = await CreateRevisionAsync(set, candidate, collisionCount, cancellationToken).ConfigureAwait(false);
        }
        var current = revisions.FirstOrDefault(r => r.Metadata?.Name == set.Status?.CurrentRevision) ?? update;
        return (current, update, collisionCount);
    }

    /// <summary>history.CreateControllerRevision: on a name taken by other data, count a collision and try the next name.</summary>
    private async Task<(ControllerRevision Revision, int CollisionCount)> CreateRevisionAsync(StatefulSet set, ControllerRevision candidate, int collisionCount, CancellationToken cancellationToken)
    {
        var data = ControllerHistory.RevisionData(candidate);
        while (true)
        {
            var hash = ControllerHistory.HashControllerRevision(data, collisionCount);
            var attempt = KubeObjects.Clone(candidate);
            attempt.Metadata!.Name = ControllerHistory.ControllerRevisionName(set.Metadata?.Name ?? "", hash);
            try
            {
                return (await _revisionClient.CreateAsync(set.Metadata?.Namespace, attempt, cancellationToken).ConfigureAwait(false), collisionCount);
            }
            catch (AlreadyExistsException)
            {
                var existing = await _revisionClient.GetAsync(set.Metadata?.Namespace, attempt.Metadata.Name!, cancellationToken).ConfigureAwait(false);
                if (ControllerHistory.RevisionData(existing).AsSpan().SequenceEqual(data))
                {
                    return (existing, collisionCount);
                }
                collisionCount++;
            }
        }
    }

    /// <summary>history.UpdateControllerRevision: renumbers a revision, retried on conflicts against the cached copy.</summary>
    private async Task<ControllerRevision> UpdateRevisionNumberAsync(ControllerRevision revision, long newRevision, CancellationToken cancellationToken)
    {
        var clone = KubeObjects.Clone(revision);
        for (var attempt = 0; ; attempt++)
        {
            if (clone.Revision == newRevision)
            {
                return clone;
            }
            clone.Revision = newRevision;
            try
            {
                return await _revisionClient.UpdateAsync(clone, cancellationToken).ConfigureAwait(false);
            }
            catch (ConflictException) when (attempt < RevisionRetry.Length)
            {
                if (_revisions.Get(ObjectKey.Of(clone)) is { } cached)
                {
                    clone = KubeObjects.Clone(cached);
                }
                await Task.Delay(RevisionRetry[attempt], _time, cancellationToken).ConfigureAwait(false);
            }
        }
    }

    /// <summary>
    /// truncateHistory: revisions that are neither current, update, nor any pod's are deleted oldest first until
    /// revisionHistoryLimit remain.
    /// </summary>
    private async Task TruncateHistoryAsync(StatefulSet set, IReadOnlyList<Pod> pods, List<ControllerRevision> revisions,
        ControllerRevision? current, ControllerRevision? update, CancellationToken cancellationToken)
    {
        var live = new HashSet<string>(StringComparer.Ordinal);
        if (current?.Metadata?.Name is { } c)
        {
            live.Add(c);
        }
        if (update?.Metadata?.Name is { } u)
        {
            live.Add(u);
        }
        foreach (var pod in pods)
        {
            live.Add(PodRevision(pod));
        }
        var history = revisions.Where(r => !live.Contains(r.Metadata?.Name ?? "")).ToList();
        var limit = set.Spec?.RevisionHistoryLimit ?? 10;
        if (history.Count <= limit)
        {
            return;
        }
        foreach (var revision in history.Take(history.Count - limit))
        {
            await _revisionClient.DeleteAsync(revision.Metadata?.Namespace, revision.Metadata?.Name ?? "", cancellationToken).ConfigureAwait(false);
        }
    }

    private static StatefulSetStatus NewStatus(StatefulSet set, ControllerRevision current, ControllerRevision update, int collisionCount) => new()
    {
        ObservedGeneration = set.Metadata?.Generation ?? 0,
        CurrentRevision = current.Metadata?.Name,
        UpdateRevision = update.Metadata?.Name,
        CollisionCount = collisionCount,
        Replicas = 0,
        ReadyReplicas = 0,
        AvailableReplicas = 0,
        CurrentReplicas = 0,
        UpdatedReplicas = 0,
    };

    /// <summary>
    /// updateStatefulSet: brings the members to the target state, counting them into <paramref name="status"/> as it
    /// goes. With OrderedReady management it stops at the first member it creates, deletes, or has to wait for.
    /// </summary>
    private async Task UpdateMembersAsync(StatefulSet set, StatefulSet currentSet, StatefulSet updateSet, ControllerRevision currentRevision,
        ControllerRevision updateRevision, IReadOnlyList<Pod> pods, StatefulSetStatus status, CancellationToken cancellationToken)
    {
        var currentName = currentRevision.Metadata?.Name ?? "";
        var updateName = updateRevision.Metadata?.Name ?? "";
        var now = _time.GetUtcNow();
        var minReadySeconds = set.Spec?.MinReadySeconds ?? 0;
        var start = StartOrdinal(set, _features);
        var end = EndOrdinal(set, _features);
        var replicas = new Pod[Math.Max(0, Replicas(set))];
        var condemned = new List<Pod>();

        foreach (var pod in pods)
        {
            status.Replicas++;
            if (IsRunningAndReady(pod))
            {
                status.ReadyReplicas++;
                if (IsRunningAndAvailable(pod, minReadySeconds, now))
                {
                    status.AvailableReplicas++;
                }
            }
            if (IsCreated(pod) && !IsTerminating(pod))
            {
                CountRevision(pod, +1);
            }
            var ordinal = Ordinal(pod);
            if (ordinal >= start && ordinal <= end)
            {
                replicas[ordinal - start] = pod;
            }
            else if (ordinal >= 0)
            {
                condemned.Add(pod);
            }
            // An ordinal that does not parse: not ours to manage.
        }

        for (var ordinal = start; ordinal <= end; ordinal++)
        {
            replicas[ordinal - start] ??= NewVersionedPod(currentSet, updateSet, currentName, updateName, ordinal, _features);
        }
        condemned = [.. condemned.OrderBy(Ordinal)];

        Pod? firstUnhealthy = null;
        var unhealthy = 0;
        foreach (var pod in replicas.Concat(condemned))
        {
            if (!IsHealthy(pod))
            {
                unhealthy++;
                firstUnhealthy ??= pod;
            }
        }
        if (unhealthy > 0)
        {
            _logger.LogTrace("StatefulSet has unhealthy Pods {StatefulSet} {UnhealthyReplicas} {Pod}", ObjectKey.Of(set), unhealthy, ObjectKey.Of(firstUnhealthy!));
        }

        // A set being deleted only reports status.
        if (set.Metadata?.DeletionTimestamp is not null)
        {
            return;
        }

        var monotonic = !AllowsBurst(set);
        for (var i = 0; i < replicas.Length; i++)
        {
            var replica = replicas[i];
            if (IsFailed(replica))
            {
                _events.Event(EventTarget(set), EventTypes.Warning, "RecreatingFailedPod",
                    $"StatefulSet {set.Metadata?.Namespace}/{set.Metadata?.Name} is recreating failed Pod {replica.Metadata?.Name}");
                await _podControl.DeleteStatefulPodAsync(set, replica, cancellationToken).ConfigureAwait(false);
                CountRevision(replica, -1);
                status.Replicas--;
                replicas[i] = replica = NewVersionedPod(currentSet, updateSet, currentName, updateName, i + start, _features);
            }
            if (!IsCreated(replica))
            {
                if (_features.AutoDeletePvc && _podControl.PodClaimIsStale(set, replica))
                {
                    // A claim still owned by the previous pod of this name: wait for the garbage collector.
                    return;
                }
                await _podControl.CreateStatefulPodAsync(set, replica, cancellationToken).ConfigureAwait(false);
                status.Replicas++;
                CountRevision(replica, +1);
                if (monotonic)
                {
                    return;
                }
                continue;
            }
            if (IsTerminating(replica) && monotonic)
            {
                _logger.LogTrace("StatefulSet is waiting for Pod to Terminate {StatefulSet} {Pod}", ObjectKey.Of(set), ObjectKey.Of(replica));
                return;
            }
            if (!IsRunningAndReady(replica) && monotonic)
            {
                _logger.LogTrace("StatefulSet is waiting for Pod to be Running and Ready {StatefulSet} {Pod}", ObjectKey.Of(set), ObjectKey.Of(replica));
                return;
            }
            if (!IsRunningAndAvailable(replica, minReadySeconds, now) && monotonic)
            {
                _logger.LogTrace("StatefulSet is waiting for Pod to be Available {StatefulSet} {Pod}", ObjectKey.Of(set), ObjectKey.Of(replica));
                return;
            }
            // An error here means the pod is not fully updated yet: treated as matching.
            var retentionMatch = !_features.AutoDeletePvc || _podControl.ClaimsMatchRetentionPolicy(updateSet, replica);
            if (IdentityMatches(set, replica) && StorageMatches(set, replica) && retentionMatch)
            {
                continue;
            }
            await _podControl.UpdateStatefulPodAsync(updateSet, KubeObjects.Clone(replica), cancellationToken).ConfigureAwait(false);
        }

        if (_features.AutoDeletePvc)
        {
            foreach (var pod in condemned)
            {
                if (!_podControl.ClaimsMatchRetentionPolicy(updateSet, pod))
                {
                    await _podControl.UpdatePodClaimForRetentionPolicyAsync(updateSet, pod, cancellationToken).ConfigureAwait(false);
                }
            }
        }

        // Every replica is Running, Ready and Available: scale down, highest ordinal first; scaling beats updating.
        for (var target = condemned.Count - 1; target >= 0; target--)
        {
            var pod = condemned[target];
            if (IsTerminating(pod))
            {
                _logger.LogTrace("StatefulSet is waiting for Pod to Terminate prior to scale down {StatefulSet} {Pod}", ObjectKey.Of(set), ObjectKey.Of(pod));
                if (monotonic)
                {
                    return;
                }
                continue;
            }
            if (!IsRunningAndReady(pod) && monotonic && !ReferenceEquals(pod, firstUnhealthy))
            {
                _logger.LogTrace("StatefulSet is waiting for Pod to be Running and Ready prior to scale down {StatefulSet} {Pod}", ObjectKey.Of(set), new ObjectKey(firstUnhealthy?.Metadata?.Namespace, firstUnhealthy?.Metadata?.Name ?? ""));
                return;
            }
            if (!IsRunningAndAvailable(pod, minReadySeconds, now) && monotonic && !ReferenceEquals(pod, firstUnhealthy))
            {
                _logger.LogTrace("StatefulSet is waiting for Pod to be Available prior to scale down {StatefulSet} {Pod}", ObjectKey.Of(set), new ObjectKey(firstUnhealthy?.Metadata?.Namespace, firstUnhealthy?.Metadata?.Name ?? ""));
                return;
            }
            _logger.LogDebug("Pod of StatefulSet is terminating for scale down {StatefulSet} {Pod}", ObjectKey.Of(set), ObjectKey.Of(pod));
            await _podControl.DeleteStatefulPodAsync(set, pod, cancellationToken).ConfigureAwait(false);
            if (PodRevision(pod) == currentName)
            {
                status.CurrentReplicas--;
            }
            if (PodRevision(pod) == updateName)
            {
                status.UpdatedReplicas--;
            }
            if (monotonic)
            {
                return;
            }
        }

        if (set.Spec?.UpdateStrategy?.Type == StatefulSetNames.OnDelete)
        {
            return; // Members are updated when someone deletes them.
        }

        if (_features.MaxUnavailable)
        {
            await RollWithMaxUnavailableAsync(set, replicas, updateName, status, cancellationToken).ConfigureAwait(false);
            return;
        }

        // Delete the highest member not at the update revision, one at a time, never below the partition.
        var updateMin = set.Spec?.UpdateStrategy?.RollingUpdate?.Partition ?? 0;
        for (var target = replicas.Length - 1; target >= updateMin; target--)
        {
            var pod = replicas[target];
            if (PodRevision(pod) != updateName && !IsTerminating(pod))
            {
                _logger.LogDebug("Pod of StatefulSet is terminating for update {StatefulSet} {Pod}", ObjectKey.Of(set), ObjectKey.Of(pod));
                status.CurrentReplicas--;
                await _podControl.DeleteStatefulPodAsync(set, pod, cancellationToken).ConfigureAwait(false);
                return;
            }
            if (!IsHealthy(pod))
            {
                _logger.LogTrace("StatefulSet is waiting for Pod to update {StatefulSet} {Pod}", ObjectKey.Of(set), ObjectKey.Of(pod));
                return;
            }
        }

        void CountRevision(Pod pod, int delta)
        {
            if (PodRevision(pod) == currentName)
            {
                status.CurrentReplicas += delta;
            }
            if (PodRevision(pod) == updateName)
            {
                status.UpdatedReplicas += delta;
            }
        }
    }

    /// <summary>
    /// updateStatefulSetAfterInvariantEstablished (MaxUnavailableStatefulSet gate): deletes up to maxUnavailable minus
    /// the members already unhealthy, highest ordinal first, never below the partition.
    /// </summary>
    private async Task RollWithMaxUnavailableAsync(StatefulSet set, Pod[] replicas, string updateName, StatefulSetStatus status, CancellationToken cancellationToken)
    {
        var updateMin = 0;
        var maxUnavailable = 1;
        if (set.Spec?.UpdateStrategy?.RollingUpdate is { } rolling)
        {
            updateMin = rolling.Partition ?? 0;
            maxUnavailable = MaxUnavailable(rolling.MaxUnavailable, Replicas(set));
        }
        var unavailable = replicas.Count(p => !IsHealthy(p));
        if (unavailable >= maxUnavailable)
        {
            _logger.LogDebug("{Message}", $"StatefulSet {ObjectKey.Of(set)} found unavailablePods {unavailable}, more than or equal to allowed maxUnavailable {maxUnavailable}");
            return;
        }
        var toDelete = maxUnavailable - unavailable;
        var deleted = 0;
        for (var target = replicas.Length - 1; target >= updateMin && deleted < toDelete; target--)
        {
            var pod = replicas[target];
            if (PodRevision(pod) == updateName || IsTerminating(pod))
            {
                continue;
            }
            _logger.LogDebug("{Message}", $"StatefulSet {ObjectKey.Of(set)} terminating Pod {pod.Metadata?.Name} for update");
            try
            {
                await _podControl.DeleteStatefulPodAsync(set, pod, cancellationToken).ConfigureAwait(false);
            }
            catch (NotFoundException)
            {
                // Already gone counts as deleted.
            }
            deleted++;
            status.CurrentReplicas--;
        }
    }

    /// <summary>updateStatefulSetStatus: completes a finished rolling update, then writes the status if a compared field changed.</summary>
    private async Task UpdateStatusAsync(StatefulSet set, StatefulSetStatus status, CancellationToken cancellationToken)
    {
        CompleteRollingUpdate(set, status);
        if (!InconsistentStatus(set, status))
        {
            return;
        }
        var toUpdate = KubeObjects.Clone(set);
        for (var attempt = 0; ; attempt++)
        {
            // Upstream replaces the whole status with the computed one (conditions included, which it never sets).
            toUpdate.Status = KubeObjects.Clone(status);
            try
            {
                await _api.UpdateSetStatusAsync(toUpdate, cancellationToken).ConfigureAwait(false);
                return;
            }
            catch (ConflictException) when (attempt < StatusRetry.Length)
            {
                if (_sets.Get(ObjectKey.Of(set)) is { } cached)
                {
                    toUpdate = KubeObjects.Clone(cached);
                }
                await Task.Delay(StatusRetry[attempt], _time, cancellationToken).ConfigureAwait(false);
            }
        }
    }

    /// <summary>A failed control pass, carrying the revisions it resolved so the history is still trimmed around them.</summary>
    private sealed class PerformUpdateException(ControllerRevision current, ControllerRevision update, Exception inner)
        : Exception(inner.Message, inner)
    {
        public ControllerRevision Current { get; } = current;

        public ControllerRevision Update { get; } = update;
    }
}

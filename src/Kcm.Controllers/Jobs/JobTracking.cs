using Kcm.Api.Batch.V1;
using Kcm.Api.Core.V1;
using Kcm.Client.Errors;
using Kcm.Controllers.Common;
using Kcm.Runtime.Events;
using Kcm.Runtime.Informers;
using Microsoft.Extensions.Logging;

namespace Kcm.Controllers.Jobs;

/// <summary>Finalizer-based tracking (tracking_utils and the status half of job_controller upstream).</summary>
public sealed partial class JobController
{
    /// <summary>status.uncountedTerminatedPods as sets.</summary>
    private sealed class Uncounted(UncountedTerminatedPods status)
    {
        public HashSet<string> Succeeded { get; } = [.. status.Succeeded ?? []];

        public HashSet<string> Failed { get; } = [.. status.Failed ?? []];
    }

    private readonly record struct Counters(int Succeeded, int Failed, string? CompletedIndexes)
    {
        public static Counters Of(JobStatus status) => new(status.Succeeded ?? 0, status.Failed ?? 0, status.CompletedIndexes);
    }

    /// <summary>Upstream's getStatus: with tracking, the counters plus uncounted plus finished pods still holding the finalizer.</summary>
    private (int Succeeded, int Failed) CountFinished(Job job, List<Pod> pods, Uncounted? uncounted, HashSet<string> expectedRm)
    {
        var succeeded = uncounted is null ? 0 : job.Status!.Succeeded ?? 0;
        var failed = uncounted is null ? 0 : job.Status!.Failed ?? 0;
        succeeded += CountValid(job, pods, uncounted?.Succeeded, expectedRm, p => p.Status?.Phase == PodReadiness.PhaseSucceeded);
        failed += CountValid(job, pods, uncounted?.Failed, expectedRm, p =>
        {
            if (!IsPodFailed(p, job, uncounted is not null)) return false;
            return !HasPolicy(job) || PodFailurePolicies.Match(job.Spec!.PodFailurePolicy, p).CountFailed;
        });
        return (succeeded, failed);
    }

    private static int CountValid(Job job, List<Pod> pods, HashSet<string>? uncounted, HashSet<string> expectedRm, Func<Pod, bool> filter)
    {
        var result = uncounted?.Count ?? 0;
        foreach (var p in pods)
        {
            var uid = p.Metadata?.Uid ?? "";
            if (uncounted is not null && (!JobConditions.HasTrackingFinalizer(p) || uncounted.Contains(uid) || expectedRm.Contains(uid))) continue;
            if (JobConditions.IsIndexed(job))
            {
                var ix = JobConditions.CompletionIndex(p);
                if (ix < 0 || ix >= (job.Spec?.Completions ?? 0)) continue;
            }
            if (filter(p)) result++;
        }
        return result;
    }

    private bool HasPolicy(Job job) => _options.JobPodFailurePolicy && job.Spec?.PodFailurePolicy is not null;

    /// <summary>Upstream's isPodFailed: with a pod failure policy (and PodDisruptionConditions) only the Failed phase counts.</summary>
    private bool IsPodFailed(Pod pod, Job job, bool withFinalizers)
    {
        if (_options.PodDisruptionConditions && HasPolicy(job)) return pod.Status?.Phase == PodReadiness.PhaseFailed;
        if (pod.Status?.Phase == PodReadiness.PhaseFailed) return true;
        // With finalizers a pod being deleted before it succeeded is a failure.
        return withFinalizers && pod.Metadata?.DeletionTimestamp is not null && pod.Status?.Phase != PodReadiness.PhaseSucceeded;
    }

    private string? FailJobMessage(Job job, List<Pod> pods, bool withFinalizers)
    {
        if (!HasPolicy(job)) return null;
        foreach (var p in pods)
        {
            if (IsPodFailed(p, job, withFinalizers) && PodFailurePolicies.Match(job.Spec!.PodFailurePolicy, p).FailJobMessage is { } message) return message;
        }
        return null;
    }

    /// <summary>With restartPolicy OnFailure failures are container restarts of the running pods.</summary>
    private static bool PastBackoffLimitOnFailure(Job job, List<Pod> pods)
    {
        if (job.Spec?.Template?.Spec?.RestartPolicy != "OnFailure") return false;
        var restarts = 0;
        foreach (var pod in pods)
        {
            if (pod.Status?.Phase is not (PodReadiness.PhaseRunning or PodReadiness.PhasePending)) continue;
            restarts += (pod.Status.InitContainerStatuses ?? []).Sum(s => s.RestartCount ?? 0);
            restarts += (pod.Status.ContainerStatuses ?? []).Sum(s => s.RestartCount ?? 0);
        }
        var limit = job.Spec.BackoffLimit ?? 6;
        return limit == 0 ? restarts > 0 : restarts >= limit;
    }

    private static bool PastActiveDeadline(Job job, DateTimeOffset now)
        => job.Spec?.ActiveDeadlineSeconds is { } deadline && job.Status?.StartTime is { } start && !JobConditions.IsSuspended(job)
           && now - start >= TimeSpan.FromSeconds(deadline);

    /// <summary>The completed indexes in status (with tracking) and those plus the indexes of succeeded pods seen now.</summary>
    private static (CompletedIndexes Previous, CompletedIndexes Current) CalculateSucceededIndexes(Job job, List<Pod> pods, bool tracking)
    {
        var completions = job.Spec?.Completions ?? 0;
        var previous = tracking ? CompletedIndexes.Parse(job.Status?.CompletedIndexes, completions) : CompletedIndexes.Empty;
        var now = pods
            .Where(p => p.Status?.Phase == PodReadiness.PhaseSucceeded && (!tracking || JobConditions.HasTrackingFinalizer(p)))
            .Select(JobConditions.CompletionIndex)
            .Where(ix => ix >= 0 && ix < completions);
        return (previous, previous.With(now));
    }

    /// <summary>
    /// Upstream's trackJobStatusAndRemoveFinalizers: newly finished pods go to uncountedTerminatedPods (written
    /// first), then lose their finalizer, then move into the counters; the Job finishes only with nothing uncounted.
    /// </summary>
    /// <remarks>
    /// <paramref name="job"/> takes every change until the first status write; later ones go to the written copy, so
    /// the caller sees the finished condition only when nothing was written before it (upstream's pointer semantics).
    /// </remarks>
    private async Task TrackStatusAndRemoveFinalizersAsync(Job job, ObjectKey key, List<Pod> pods, CompletedIndexes succeededIndexes, Uncounted uncounted,
        HashSet<string> expectedRm, JobCondition? finished, bool needsFlush, CancellationToken ct)
    {
        var indexed = JobConditions.IsIndexed(job);
        var completions = job.Spec?.Completions ?? 0;
        var status = job.Status!;
        var uncountedStatus = status.UncountedTerminatedPods!;
        uncountedStatus.Succeeded ??= [];
        uncountedStatus.Failed ??= [];
        if (indexed) pods = [.. pods.OrderBy(JobConditions.CompletionIndex)];
        var uidsWithFinalizer = pods
            .Where(p => JobConditions.HasTrackingFinalizer(p) && !expectedRm.Contains(p.Metadata?.Uid ?? ""))
            .Select(p => p.Metadata?.Uid ?? "")
            .ToHashSet();
        var oldCounters = Counters.Of(status);
        if (CleanUncountedWithoutFinalizers(status, uidsWithFinalizer)) needsFlush = true;
        var toRemoveFinalizer = new List<Pod>();
        var newSucceededIndexes = new List<int>();
        var byAction = new Dictionary<string, int>();
        foreach (var pod in pods)
        {
            var uid = pod.Metadata?.Uid ?? "";
            if (!JobConditions.HasTrackingFinalizer(pod) || expectedRm.Contains(uid)) continue;
            var phase = pod.Status?.Phase;
            var terminal = phase is PodReadiness.PhaseSucceeded or PodReadiness.PhaseFailed;
            var considerTerminated = pod.Metadata?.DeletionTimestamp is not null || finished is not null;
            if (_options.PodDisruptionConditions && HasPolicy(job))
            {
                // Only a terminal pod (or any pod of a finishing Job) is done: a deleted pod's phase decides its policy match.
                considerTerminated = terminal || finished is not null || IsPodFailed(pod, job, true);
            }
            if (terminal || considerTerminated || job.Metadata?.DeletionTimestamp is not null) toRemoveFinalizer.Add(pod);
            if (phase == PodReadiness.PhaseSucceeded && !uncounted.Failed.Contains(uid))
            {
                if (indexed)
                {
                    var ix = JobConditions.CompletionIndex(pod);
                    if (ix >= 0 && ix < completions && !succeededIndexes.Has(ix))
                    {
                        newSucceededIndexes.Add(ix);
                        needsFlush = true;
                    }
                }
                else if (!uncounted.Succeeded.Contains(uid))
                {
                    needsFlush = true;
                    uncountedStatus.Succeeded.Add(uid);
                }
            }
            else if (phase == PodReadiness.PhaseFailed || considerTerminated)
            {
                var ix = JobConditions.CompletionIndex(pod);
                if (!uncounted.Failed.Contains(uid) && (!indexed || (ix >= 0 && ix < completions)))
                {
                    var count = true;
                    if (HasPolicy(job))
                    {
                        var match = PodFailurePolicies.Match(job.Spec!.PodFailurePolicy, pod);
                        if (match.Action is { } action) byAction[action] = byAction.GetValueOrDefault(action) + 1;
                        count = match.CountFailed;
                    }
                    if (count)
                    {
                        needsFlush = true;
                        uncountedStatus.Failed.Add(uid);
                    }
                }
            }
            if (newSucceededIndexes.Count + uncountedStatus.Succeeded.Count + uncountedStatus.Failed.Count >= _options.MaxUncountedPods) break;
        }
        if (indexed)
        {
            var merged = succeededIndexes.With(newSucceededIndexes);
            var text = merged.ToString();
            if (text != (status.CompletedIndexes ?? "")) needsFlush = true;
            status.Succeeded = merged.Total;
            status.CompletedIndexes = text;
        }
        if (_options.JobPodFailurePolicy && finished?.Type == JobConditions.FailureTarget)
        {
            // Record the target first, so a restart finishes the Job the same way.
            (status.Conditions ??= []).Add(finished);
            needsFlush = true;
            finished = JobConditions.New(JobConditions.Failed, "True", finished.Reason, finished.Message, _time.GetUtcNow());
        }

        if (needsFlush)
        {
            job = await _client.UpdateStatusAsync(job, ct).ConfigureAwait(false);
            RecordJobPodsFinished(job, oldCounters);
            oldCounters = Counters.Of(job.Status ?? new JobStatus());
            needsFlush = false;
        }
        foreach (var (action, count) in byAction) _metrics.PodFailuresHandledByFailurePolicy.Add(count, action);
        Exception? removeError = null;
        if (toRemoveFinalizer.Count > 0)
        {
            (var removed, removeError) = await RemoveTrackingFinalizersAsync(key, toRemoveFinalizer, ct).ConfigureAwait(false);
            for (var i = 0; i < toRemoveFinalizer.Count; i++)
            {
                if (removed[i]) uidsWithFinalizer.Remove(toRemoveFinalizer[i].Metadata?.Uid ?? "");
            }
        }
        job.Status ??= new JobStatus();
        job.Status.UncountedTerminatedPods ??= new UncountedTerminatedPods();
        if (CleanUncountedWithoutFinalizers(job.Status, uidsWithFinalizer)) needsFlush = true;
        if (removeError is not null)
        {
            // Keep what was counted, then fail the sync.
            if (needsFlush) await _client.UpdateStatusAsync(job, ct).ConfigureAwait(false);
            throw removeError;
        }
        var jobFinished = EnactJobFinished(job, finished);
        if (jobFinished) needsFlush = true;
        if (needsFlush)
        {
            job = await _client.UpdateStatusAsync(job, ct).ConfigureAwait(false);
            if (jobFinished) RecordJobFinished(job, finished!);
            RecordJobPodsFinished(job, oldCounters);
        }
    }

    /// <summary>Moves uncounted pods whose finalizer is gone into the counters.</summary>
    private static bool CleanUncountedWithoutFinalizers(JobStatus status, HashSet<string> uidsWithFinalizer)
    {
        var uncounted = status.UncountedTerminatedPods!;
        var updated = false;
        var succeeded = (uncounted.Succeeded ?? []).Where(uidsWithFinalizer.Contains).ToList();
        if (succeeded.Count != (uncounted.Succeeded?.Count ?? 0))
        {
            updated = true;
            status.Succeeded = (status.Succeeded ?? 0) + uncounted.Succeeded!.Count - succeeded.Count;
            uncounted.Succeeded = succeeded;
        }
        var failed = (uncounted.Failed ?? []).Where(uidsWithFinalizer.Contains).ToList();
        if (failed.Count != (uncounted.Failed?.Count ?? 0))
        {
            updated = true;
            status.Failed = (status.Failed ?? 0) + uncounted.Failed!.Count - failed.Count;
            uncounted.Failed = failed;
        }
        return updated;
    }

    /// <summary>Removes the tracking finalizer from each pod (in parallel); with a Job key the removals are expected first.</summary>
    private async Task<(bool[] Removed, Exception? Error)> RemoveTrackingFinalizersAsync(ObjectKey? key, List<Pod> pods, CancellationToken ct)
    {
        var removed = new bool[pods.Count];
        if (pods.Count == 0) return (removed, null);
        if (key is { } jobKey) FinalizerExpectations.ExpectRemovals(jobKey, pods.Select(p => p.Metadata?.Uid ?? ""));
        var errors = await Task.WhenAll(pods.Select((pod, i) => Task.Run(async () =>
        {
            if (!JobConditions.HasTrackingFinalizer(pod)) return null;
            try
            {
                await _podControl.PatchPodAsync(pod.Metadata!.Namespace ?? "", pod.Metadata.Name!, RemoveFinalizerPatch, ct).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is not OperationCanceledException || !ct.IsCancellationRequested)
            {
                if (key is { } k) FinalizerExpectations.RemovalObserved(k, pod.Metadata?.Uid);
                if (ex is not NotFoundException)
                {
                    _logger.LogError("{Message}", $"removing tracking finalizer: {ex.Message}");
                    return ex;
                }
            }
            removed[i] = true;
            return null;
        }, CancellationToken.None))).ConfigureAwait(false);
        return (removed, errors.FirstOrDefault(e => e is not null));
    }

    /// <summary>Upstream's enactJobFinished: sets the finished condition unless pods are still uncounted.</summary>
    private bool EnactJobFinished(Job job, JobCondition? finished)
    {
        if (finished is null) return false;
        if (job.Status?.UncountedTerminatedPods is { } uncounted && ((uncounted.Succeeded?.Count ?? 0) > 0 || (uncounted.Failed?.Count ?? 0) > 0)) return false;
        var status = job.Status ??= new JobStatus();
        var now = _time.GetUtcNow();
        JobConditions.Ensure(status, finished.Type!, finished.Status!, finished.Reason, finished.Message, now);
        if (finished.Type == JobConditions.Complete) status.CompletionTime = JobConditions.Find(status.Conditions, JobConditions.Complete)!.LastTransitionTime;
        return true;
    }

    private void RecordJobFinished(Job job, JobCondition finished)
    {
        var mode = JobConditions.CompletionMode(job);
        if (finished.Type == JobConditions.Complete)
        {
            if (job.Spec?.Completions is { } completions && (job.Status?.Succeeded ?? 0) > completions)
            {
                _recorder.Event(job, EventTypes.Warning, "TooManySucceededPods", "Too many succeeded pods running after completion count reached");
            }
            _recorder.Event(job, EventTypes.Normal, "Completed", "Job completed");
            _metrics.JobsFinished.Inc(mode, "succeeded", "");
        }
        else
        {
            _recorder.Event(job, EventTypes.Warning, finished.Reason ?? "", finished.Message ?? "");
            _metrics.JobsFinished.Inc(mode, "failed", finished.Reason ?? "");
        }
    }

    private void RecordJobPodsFinished(Job job, Counters old)
    {
        var mode = job.Spec?.CompletionMode ?? JobConditions.NonIndexed;
        var status = job.Status ?? new JobStatus();
        int succeeded;
        if (JobConditions.IsIndexed(job))
        {
            var completions = job.Spec?.Completions ?? 0;
            succeeded = status.CompletedIndexes == old.CompletedIndexes
                ? 0
                : CompletedIndexes.Parse(status.CompletedIndexes, completions).Total - CompletedIndexes.Parse(old.CompletedIndexes, completions).Total;
        }
        else
        {
            succeeded = (status.Succeeded ?? 0) - old.Succeeded;
        }
        // Counters only go up; a status rewritten by someone else could look like a decrease.
        _metrics.PodsFinished.Add(Math.Max(succeeded, 0), mode, "succeeded");
        _metrics.PodsFinished.Add(Math.Max((status.Failed ?? 0) - old.Failed, 0), mode, "failed");
    }
}

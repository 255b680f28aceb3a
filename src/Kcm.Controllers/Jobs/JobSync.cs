using System.Collections.Concurrent;
using System.Text.Json.Nodes;
using Kcm.Api.Batch.V1;
using Kcm.Api.Codecs;
using Kcm.Api.Core.V1;
using Kcm.Api.Selectors;
using Kcm.Client.Errors;
using Kcm.Controllers.Common;
using Kcm.Runtime.Controllers;
using Kcm.Runtime.Events;
using Kcm.Runtime.Informers;
using Microsoft.Extensions.Logging;

namespace Kcm.Controllers.Jobs;

public sealed partial class JobController
{
    private const string CompletionIndexEnvName = "JOB_COMPLETION_INDEX";

    // The sync's metric labels, set as it goes.
    private sealed class SyncRecord
    {
        public string Action { get; set; } = JobMetrics.ActionReconciling;
    }

    /// <summary>Upstream's syncJob: reads the caches, acts, writes status; Done forgets the back-off only after progress.</summary>
    internal async Task<ReconcileResult> SyncAsync(ObjectKey key, CancellationToken cancellationToken)
    {
        var started = _time.GetTimestamp();
        if (_jobs.Get(key) is not { } shared)
        {
            _logger.LogTrace("Job has been deleted: {Key}", key);
            Expectations.DeleteExpectations(key);
            FinalizerExpectations.Delete(key);
            return ReconcileResult.Done;
        }
        var job = KubeObjects.Clone(shared);
        if (JobConditions.IsFinished(job)) return ReconcileResult.Done;
        if (job.Spec?.CompletionMode is { } mode && mode is not (JobConditions.NonIndexed or JobConditions.Indexed))
        {
            _recorder.Event(job, EventTypes.Warning, "UnknownCompletionMode", "Skipped Job sync because completion mode is unknown");
            return ReconcileResult.DoneKeepFailures;
        }
        var record = new SyncRecord();
        var result = "success";
        try
        {
            return await SyncJobAsync(key, job, record, cancellationToken).ConfigureAwait(false) ? ReconcileResult.Done : ReconcileResult.DoneKeepFailures;
        }
        catch (Exception ex) when (ex is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            result = "error";
            throw;
        }
        finally
        {
            var completionMode = JobConditions.CompletionMode(job);
            _metrics.SyncDuration.Observe(_time.GetElapsedTime(started).TotalSeconds, completionMode, result, record.Action);
            _metrics.Syncs.Inc(completionMode, result, record.Action);
            if (_logger.IsEnabled(LogLevel.Trace))
            {
                _logger.LogTrace("Finished syncing job \"{Key}\" ({Duration})", key, GoDuration.Format(_time.GetElapsedTime(started)));
            }
        }
    }

    /// <returns>Whether the Job's back-off is forgotten (new successes, or the suspension changed).</returns>
    private async Task<bool> SyncJobAsync(ObjectKey key, Job job, SyncRecord record, CancellationToken ct)
    {
        var spec = job.Spec ??= new JobSpec();
        var status = job.Status ??= new JobStatus();
        var tracking = JobConditions.HasTrackingAnnotation(job);
        Uncounted? uncounted = null;
        var expectedRm = new HashSet<string>();
        if (tracking)
        {
            status.UncountedTerminatedPods ??= new UncountedTerminatedPods();
            uncounted = new Uncounted(status.UncountedTerminatedPods);
            expectedRm = FinalizerExpectations.ExpectedUids(key);
        }
        var satisfied = Expectations.SatisfiedExpectations(key);
        var pods = await GetPodsForJobAsync(job, tracking, ct).ConfigureAwait(false);
        var activePods = PodReadiness.FilterActivePods(pods);
        var active = activePods.Count;
        var (succeeded, failed) = CountFinished(job, pods, uncounted, expectedRm);
        int? ready = _options.JobReadyPods ? activePods.Count(PodReadiness.IsPodReady) : null;
        var now = _time.GetUtcNow();
        if (status.StartTime is null && !JobConditions.IsSuspended(job)) status.StartTime = now;

        Exception? manageError = null;
        JobCondition? finished = null;
        var parallelism = spec.Parallelism ?? 1;
        var backoffLimit = spec.BackoffLimit ?? 6;
        var jobHasNewFailure = failed > (status.Failed ?? 0);
        // Unless every pod slot is busy, a new failure beyond the limit fails the Job.
        var exceedsBackoffLimit = jobHasNewFailure && active != parallelism && failed > backoffLimit;

        if (_options.JobPodFailurePolicy)
        {
            if (JobConditions.Find(status.Conditions, JobConditions.FailureTarget) is { } target)
            {
                finished = JobConditions.New(JobConditions.Failed, "True", target.Reason, target.Message, now);
            }
            else if (FailJobMessage(job, pods, tracking) is { } message)
            {
                // With finalizers the Job first records the target, then fails once its pods are accounted for.
                finished = JobConditions.New(tracking ? JobConditions.FailureTarget : JobConditions.Failed, "True", JobConditions.ReasonPodFailurePolicy, message, now);
            }
        }
        if (finished is null)
        {
            if (exceedsBackoffLimit || PastBackoffLimitOnFailure(job, pods))
            {
                finished = JobConditions.New(JobConditions.Failed, "True", JobConditions.ReasonBackoffLimitExceeded, "Job has reached the specified backoff limit", now);
            }
            else if (PastActiveDeadline(job, now))
            {
                finished = JobConditions.New(JobConditions.Failed, "True", JobConditions.ReasonDeadlineExceeded, "Job was active longer than specified deadline", now);
            }
            else if (spec.ActiveDeadlineSeconds is { } deadline && !JobConditions.IsSuspended(job))
            {
                var left = TimeSpan.FromSeconds(deadline) - (now - status.StartTime!.Value);
                _logger.LogDebug("Job has activeDeadlineSeconds configuration. Will sync this job again {Job} {NextSyncIn}", key, left);
                _queue.AddAfter(key, left);
            }
        }

        var prevSucceededIndexes = CompletedIndexes.Empty;
        var succeededIndexes = CompletedIndexes.Empty;
        if (JobConditions.IsIndexed(job))
        {
            (prevSucceededIndexes, succeededIndexes) = CalculateSucceededIndexes(job, pods, tracking);
            succeeded = succeededIndexes.Total;
        }
        var suspendChanged = false;
        if (finished is not null)
        {
            var (deleted, error) = await DeleteActivePodsAsync(job, activePods, ct).ConfigureAwait(false);
            if (!tracking)
            {
                deleted = active;
            }
            else if (deleted != active || !satisfied)
            {
                // Not finished until every active pod is gone and counted.
                finished = null;
            }
            active -= deleted;
            failed += deleted;
            manageError = error;
        }
        else
        {
            var manageCalled = false;
            if (satisfied && job.Metadata?.DeletionTimestamp is null)
            {
                (active, record.Action, manageError) = await ManageJobAsync(job, key, activePods, succeeded, succeededIndexes, ct).ConfigureAwait(false);
                manageCalled = true;
            }
            var complete = spec.Completions is { } completions ? succeeded >= completions && active == 0 : succeeded > 0 && active == 0;
            if (complete)
            {
                finished = JobConditions.New(JobConditions.Complete, "True", null, null, now);
            }
            else if (manageCalled)
            {
                if (JobConditions.IsSuspended(job))
                {
                    if (JobConditions.Ensure(status, JobConditions.Suspended, "True", "JobSuspended", "Job suspended", now))
                    {
                        suspendChanged = true;
                        _recorder.Event(job, EventTypes.Normal, "Suspended", "Job suspended");
                    }
                }
                else if (JobConditions.Ensure(status, JobConditions.Suspended, "False", "JobResumed", "Job resumed", now))
                {
                    suspendChanged = true;
                    _recorder.Event(job, EventTypes.Normal, "Resumed", "Job resumed");
                    // The deadline counts from the resumption.
                    status.StartTime = now;
                }
            }
        }

        var forget = (status.Succeeded ?? 0) < succeeded;
        if (uncounted is not null)
        {
            var needsStatusUpdate = suspendChanged || active != (status.Active ?? 0) || ready != status.Ready;
            status.Active = active;
            status.Ready = ready;
            try
            {
                await TrackStatusAndRemoveFinalizersAsync(job, key, pods, prevSucceededIndexes, uncounted, expectedRm, finished, needsStatusUpdate, ct).ConfigureAwait(false);
            }
            catch (ConflictException)
            {
                Enqueue(key, immediate: false, TimeSpan.Zero);
                return false;
            }
            // Judged on this sync's copy of the Job, as upstream does: the finished condition lands on it only when no
            // status write came first. A Job that fails with the very sync that counts its last failed pod therefore
            // still ends in "failed pod(s) detected" (an error line, a rate-limited requeue, result="error").
            if (jobHasNewFailure && !JobConditions.IsFinished(job)) throw new PodFailuresDetectedException(key);
            if (suspendChanged) forget = true;
            if (manageError is not null) throw manageError;
            return forget;
        }

        // Legacy tracking (a Job created without the tracking annotation): counts come from the pods still present.
        await RemoveTrackingFinalizersAsync(null, pods.Where(JobConditions.HasTrackingFinalizer).ToList(), ct).ConfigureAwait(false);
        if ((status.Active ?? 0) != active || (status.Succeeded ?? 0) != succeeded || (status.Failed ?? 0) != failed || status.Ready != ready || suspendChanged || finished is not null)
        {
            status.Active = active;
            status.Succeeded = succeeded;
            status.Failed = failed;
            status.Ready = ready;
            if (JobConditions.IsIndexed(job)) status.CompletedIndexes = succeededIndexes.ToString();
            status.UncountedTerminatedPods = null;
            var jobFinished = EnactJobFinished(job, finished);
            var updated = await _client.UpdateStatusAsync(job, ct).ConfigureAwait(false);
            if (jobFinished) RecordJobFinished(updated, finished!);
            if (jobHasNewFailure && !JobConditions.IsFinished(job)) throw new PodFailuresDetectedException(key);
            if (suspendChanged) forget = true;
        }
        if (manageError is not null) throw manageError;
        return forget;
    }

    // ---- Pods.

    /// <summary>The Job's pods after claiming; with finalizers, adopted pods get the tracking finalizer too.</summary>
    private async Task<List<Pod>> GetPodsForJobAsync(Job job, bool withFinalizers, CancellationToken ct)
    {
        var metadata = job.Metadata!;
        LabelSelector? selector;
        try
        {
            selector = LabelSelector.FromApi(job.Spec?.Selector);
        }
        catch (SelectorParseException ex)
        {
            throw new IgnorableReconcileException($"couldn't convert Job selector: {ex.Message}");
        }
        var candidates = _pods.ByIndex(KnownIndexers.ControllerUid, metadata.Uid ?? "")
            .Concat(_pods.ByIndex(KnownIndexers.ControllerUid, KnownIndexers.OrphanKey(metadata.Namespace)))
            .ToList();
        var canAdopt = OwnerLookup.CanAdopt(metadata, Job.Resource, c => _client.GetAsync(metadata.Namespace ?? "", metadata.Name ?? "", c));
        var manager = new ControllerRefManager(metadata, Job.Resource, selector ?? LabelSelector.Everything, canAdopt, _logger);
        var claimed = await manager.ClaimAsync(candidates, selector is null ? _ => false : null, async (pod, patch, c) =>
        {
            if (withFinalizers && ControllerRefs.ControllerOf(pod.Metadata) is null)
            {
                // Adoption: the same patch adds the tracking finalizer, as upstream's adoption with finalizers does.
                var node = JsonNode.Parse(patch)!;
                node["metadata"]!["finalizers"] = new JsonArray(JobConditions.TrackingFinalizer);
                patch = node.ToJsonString();
            }
            await _podControl.PatchPodAsync(pod.Metadata!.Namespace!, pod.Metadata.Name!, patch, c).ConfigureAwait(false);
        }, ct).ConfigureAwait(false);
        if (!withFinalizers) return claimed;
        for (var i = 0; i < claimed.Count; i++)
        {
            var pod = claimed[i];
            var adopted = pod.Metadata?.OwnerReferences?.All(r => r.Uid != metadata.Uid) ?? true;
            if (adopted && !JobConditions.HasTrackingFinalizer(pod))
            {
                var copy = KubeObjects.Clone(pod);
                copy.Metadata!.Finalizers = [.. copy.Metadata.Finalizers ?? [], JobConditions.TrackingFinalizer];
                claimed[i] = copy;
            }
        }
        return claimed;
    }

    /// <summary>Upstream's manageJob: deletes surplus (or, when suspended, all) active pods, or creates missing ones in slow-start batches.</summary>
    private async Task<(int Active, string Action, Exception? Error)> ManageJobAsync(Job job, ObjectKey key, List<Pod> activePods, int succeeded, CompletedIndexes succeededIndexes, CancellationToken ct)
    {
        var spec = job.Spec!;
        var active = activePods.Count;
        var parallelism = spec.Parallelism ?? 1;
        if (JobConditions.IsSuspended(job))
        {
            _logger.LogTrace("Deleting all active pods in suspended job {Job} {Active}", key, active);
            var all = ActivePodsForRemoval(job, activePods, active);
            Expectations.ExpectDeletions(key, all.Count);
            var (removed, error) = await DeleteJobPodsAsync(job, key, all, ct).ConfigureAwait(false);
            return (active - removed, JobMetrics.ActionPodsDeleted, error);
        }
        int wantActive;
        if (spec.Completions is not { } completions)
        {
            // Without completions any success means the work is done: let running pods finish, start no more.
            wantActive = succeeded > 0 ? active : parallelism;
        }
        else
        {
            wantActive = Math.Clamp(completions - succeeded, 0, parallelism);
        }
        var rmAtLeast = Math.Max(active - wantActive, 0);
        var toDelete = ActivePodsForRemoval(job, activePods, rmAtLeast);
        if (toDelete.Count > _options.MaxPodCreateDeletePerSync) toDelete = toDelete[.._options.MaxPodCreateDeletePerSync];
        if (toDelete.Count > 0)
        {
            Expectations.ExpectDeletions(key, toDelete.Count);
            _logger.LogTrace("Too many pods running for job {Job} {Deleted} {Target}", key, toDelete.Count, wantActive);
            var (removed, error) = await DeleteJobPodsAsync(job, key, toDelete, ct).ConfigureAwait(false);
            return (active - removed, JobMetrics.ActionPodsDeleted, error);
        }
        if (active >= wantActive) return (active, JobMetrics.ActionTracking, null);

        var diff = Math.Min(wantActive - active, _options.MaxPodCreateDeletePerSync);
        var indexed = JobConditions.IsIndexed(job);
        var indexes = new ConcurrentQueue<int>();
        if (indexed)
        {
            foreach (var ix in CompletedIndexes.FirstPending(activePods, succeededIndexes, diff, spec.Completions ?? 0)) indexes.Enqueue(ix);
            diff = indexes.Count;
        }
        if (diff == 0) return (active, JobMetrics.ActionTracking, null);
        Expectations.ExpectCreations(key, diff);
        _logger.LogTrace("Too few pods running job \"{Key}\", need {Need}, creating {Count}", key, wantActive, diff);
        active += diff;
        var template = KubeObjects.Clone(spec.Template ?? new PodTemplateSpec());
        template.Metadata ??= new Kcm.Api.Meta.V1.ObjectMeta();
        if (indexed) AddCompletionIndexEnvVariables(template);
        if (JobConditions.HasTrackingAnnotation(job) && template.Metadata.Finalizers?.Contains(JobConditions.TrackingFinalizer) != true)
        {
            template.Metadata.Finalizers = [.. template.Metadata.Finalizers ?? [], JobConditions.TrackingFinalizer];
        }
        var metadata = job.Metadata!;
        var target = ControllerRefs.ReferenceTo(metadata, Job.Resource);
        var controllerRef = ControllerRefs.NewControllerRef(metadata, Job.Resource);
        var attempted = 0;
        var failedCreates = 0;
        var run = await SlowStartBatch.RunAsync(diff, SlowStartBatch.InitialBatchSize, async c =>
        {
            Interlocked.Increment(ref attempted);
            var podTemplate = template;
            string? generateName = null;
            if (indexes.TryDequeue(out var index))
            {
                podTemplate = KubeObjects.Clone(template);
                podTemplate.Metadata!.Annotations ??= [];
                podTemplate.Metadata.Annotations[JobConditions.CompletionIndexAnnotation] = index.ToString(System.Globalization.CultureInfo.InvariantCulture);
                podTemplate.Spec ??= new PodSpec();
                podTemplate.Spec.Hostname = $"{metadata.Name}-{index}";
                generateName = CompletedIndexes.GenerateNameWithIndex(metadata.Name ?? "", index);
            }
            try
            {
                await _podControl.CreatePodAsync(metadata.Namespace ?? "", podTemplate, target, controllerRef, generateName, c).ConfigureAwait(false);
            }
            catch (Exception ex) when (ApiErrors.IsNamespaceTerminating(ex))
            {
                // Every creation fails while the namespace goes away; nothing to retry.
            }
            catch (Exception ex) when (ex is not OperationCanceledException || !c.IsCancellationRequested)
            {
                _logger.LogDebug("Failed creation, decrementing expectations for job \"{Namespace}\"/\"{Name}\"", key.Namespace, key.Name);
                Expectations.CreationObserved(key);
                Interlocked.Increment(ref failedCreates);
                throw;
            }
        }, ct).ConfigureAwait(false);
        active -= failedCreates;
        var skipped = diff - attempted;
        if (skipped > 0)
        {
            _logger.LogDebug("Slow-start failure. Skipping creation of {Skipped} pods, decrementing expectations for job \"{Namespace}\"/\"{Name}\"", skipped, key.Namespace, key.Name);
            active -= skipped;
            for (var i = 0; i < skipped; i++) Expectations.CreationObserved(key);
        }
        return (active, JobMetrics.ActionPodsCreated, run.FirstError);
    }

    /// <summary>Upstream's activePodsForRemoval: duplicate or out-of-range indexes first, then in ActivePods order.</summary>
    internal List<Pod> ActivePodsForRemoval(Job job, List<Pod> pods, int rmAtLeast)
    {
        var rm = new List<Pod>();
        List<Pod> left;
        if (JobConditions.IsIndexed(job))
        {
            left = [];
            var completions = job.Spec?.Completions ?? 0;
            foreach (var group in pods.OrderBy(JobConditions.CompletionIndex).GroupBy(JobConditions.CompletionIndex))
            {
                if (group.Key < 0 || group.Key >= completions)
                {
                    rm.AddRange(group);
                    continue;
                }
                var sorted = SortActive(group.ToList());
                rm.AddRange(sorted.Take(sorted.Count - 1));
                left.Add(sorted[^1]);
            }
        }
        else
        {
            left = pods;
        }
        if (rm.Count < rmAtLeast) rm.AddRange(SortActive(left).Take(rmAtLeast - rm.Count));
        return rm;
    }

    // controller.ActivePods order: the pod to delete first sorts first.
    private List<Pod> SortActive(List<Pod> pods)
        => [.. new ActivePodsWithRanks(_time.GetUtcNow(), new PodRankingFeatures(PodDeletionCost: false, LogarithmicScaleDown: false)).Sort(pods, new int[pods.Count])];

    private static void AddCompletionIndexEnvVariables(PodTemplateSpec template)
    {
        foreach (var container in (template.Spec?.InitContainers ?? []).Concat(template.Spec?.Containers ?? []))
        {
            if (container.Env?.Any(e => e.Name == CompletionIndexEnvName) == true) continue;
            (container.Env ??= []).Add(new EnvVar
            {
                Name = CompletionIndexEnvName,
                ValueFrom = new EnvVarSource { FieldRef = new ObjectFieldSelector { FieldPath = $"metadata.annotations['{JobConditions.CompletionIndexAnnotation}']" } },
            });
        }
    }

    /// <summary>Upstream's deleteJobPods: removes the tracking finalizer, then deletes; every failure is an observed deletion.</summary>
    private async Task<(int Deleted, Exception? Error)> DeleteJobPodsAsync(Job job, ObjectKey key, List<Pod> pods, CancellationToken ct)
    {
        var target = ControllerRefs.ReferenceTo(job.Metadata!, Job.Resource);
        var results = await Task.WhenAll(pods.Select(pod => Task.Run(async () =>
        {
            try
            {
                if (JobConditions.HasTrackingFinalizer(pod))
                {
                    await _podControl.PatchPodAsync(pod.Metadata!.Namespace ?? "", pod.Metadata.Name!, RemoveFinalizerPatch, ct).ConfigureAwait(false);
                }
                await _podControl.DeletePodAsync(job.Metadata!.Namespace ?? "", pod.Metadata!.Name!, target, ct).ConfigureAwait(false);
                return null;
            }
            catch (Exception ex) when (ex is not OperationCanceledException || !ct.IsCancellationRequested)
            {
                Expectations.DeletionObserved(key);
                return ex is NotFoundException ? null : ex;
            }
        }, CancellationToken.None))).ConfigureAwait(false);
        var errors = results.OfType<Exception>().ToList();
        return (pods.Count - errors.Count, errors.FirstOrDefault());
    }

    /// <summary>Upstream's deleteActivePods (for a finishing Job): plain deletions, finalizers are handled by tracking.</summary>
    private async Task<(int Deleted, Exception? Error)> DeleteActivePodsAsync(Job job, List<Pod> pods, CancellationToken ct)
    {
        var target = ControllerRefs.ReferenceTo(job.Metadata!, Job.Resource);
        var results = await Task.WhenAll(pods.Select(pod => Task.Run(async () =>
        {
            try
            {
                await _podControl.DeletePodAsync(job.Metadata!.Namespace ?? "", pod.Metadata!.Name!, target, ct).ConfigureAwait(false);
                return null;
            }
            catch (Exception ex) when (ex is not OperationCanceledException || !ct.IsCancellationRequested)
            {
                return ex is NotFoundException ? null : ex;
            }
        }, CancellationToken.None))).ConfigureAwait(false);
        var errors = results.OfType<Exception>().ToList();
        return (pods.Count - errors.Count, errors.FirstOrDefault());
    }
}

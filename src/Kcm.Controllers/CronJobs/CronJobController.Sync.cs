using System.Globalization;
using System.Runtime.ExceptionServices;
using Kcm.Api.Batch.V1;
using Kcm.Api.Codecs;
using Kcm.Api.Core.V1;
using Kcm.Api.Meta.V1;
using Kcm.Client.Errors;
using Kcm.Controllers.Common;
using Kcm.Runtime.Controllers;
using Kcm.Runtime.Events;
using Kcm.Runtime.Informers;
using Microsoft.Extensions.Logging;

namespace Kcm.Controllers.CronJobs;

public sealed partial class CronJobController
{
    /// <summary>The working copy a sync mutates, and whether its status must be written (also when the sync fails part way).</summary>
    private sealed class SyncState(CronJob cronJob)
    {
        public CronJob CronJob { get; set; } = cronJob;

        public bool UpdateStatus { get; set; }
    }

    internal async Task<ReconcileResult> SyncAsync(ObjectKey key, CancellationToken cancellationToken)
    {
        if (_cronJobs.Get(key) is not { } cached)
        {
            _logger.LogTrace("CronJob not found, may be it is deleted {Cronjob}", key);
            return ReconcileResult.Done;
        }
        var jobs = JobsToBeReconciled(cached);
        var state = new SyncState(KubeObjects.Clone(cached));
        TimeSpan? requeueAfter;
        try
        {
            requeueAfter = await SyncCronJobAsync(state, jobs, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            _logger.LogDebug("Error reconciling cronjob {Cronjob} {Err}", key, e.Message);
            if (state.UpdateStatus)
            {
                await _cronJobControl.UpdateStatusAsync(state.CronJob, cancellationToken).ConfigureAwait(false);
            }
            ExceptionDispatchInfo.Throw(e);
            throw;
        }

        if (await CleanupFinishedJobsAsync(state.CronJob, jobs, cancellationToken).ConfigureAwait(false))
        {
            state.UpdateStatus = true;
        }
        if (state.UpdateStatus)
        {
            await _cronJobControl.UpdateStatusAsync(state.CronJob, cancellationToken).ConfigureAwait(false);
        }
        if (requeueAfter is { } delay)
        {
            _logger.LogTrace("Re-queuing cronjob {Cronjob} {RequeueAfter}", key, delay);
            return ReconcileResult.After(delay);
        }
        // Suspended, deleted, or a schedule/time zone that cannot run: wait for the next change.
        return ReconcileResult.Done;
    }

    /// <summary>Every Job in the namespace whose controller reference names this CronJob (whatever its labels now say).</summary>
    private List<Job> JobsToBeReconciled(CronJob cronJob)
        => _jobs.ByIndex(KnownIndexers.Namespace, cronJob.Metadata?.Namespace ?? "")
            .Where(job => ControllerRefs.ControllerOf(job.Metadata) is { } owner && owner.Name == cronJob.Metadata?.Name)
            .ToList();

    /// <summary>Upstream syncCronJob: the requeue delay, or null to wait for a change. Throws to retry with backoff.</summary>
    private async Task<TimeSpan?> SyncCronJobAsync(SyncState state, List<Job> jobs, CancellationToken cancellationToken)
    {
        var now = _clock.GetUtcNow();
        var childUids = new HashSet<string>(StringComparer.Ordinal);
        foreach (var job in jobs)
        {
            var uid = job.Metadata?.Uid ?? "";
            childUids.Add(uid);
            var found = InActiveList(state.CronJob, uid);
            var (finished, conditionType) = FinishedStatus(job);
            if (!found && !finished)
            {
                var fresh = await _cronJobControl.GetAsync(state.CronJob.Metadata!.Namespace!, state.CronJob.Metadata.Name!, cancellationToken).ConfigureAwait(false);
                if (InActiveList(fresh, uid))
                {
                    state.CronJob = fresh;
                    continue;
                }
                // Created by us just before a crash, seen before our own status update, or made by someone else for us to adopt.
                _recorder.Event(state.CronJob, EventTypes.Warning, "UnexpectedJob", $"Saw a job that the controller did not create or forgot: {job.Metadata?.Name}");
            }
            else if (found && finished)
            {
                DeleteFromActiveList(state.CronJob, uid);
                _recorder.Event(state.CronJob, EventTypes.Normal, "SawCompletedJob", $"Saw completed job: {job.Metadata?.Name}, status: {conditionType}");
                state.UpdateStatus = true;
            }
            else if (finished)
            {
                // Any finished Job counts (as upstream, a failed one without completionTime too).
                var jobStatus = Status(state.CronJob);
                if (jobStatus.LastSuccessfulTime is null)
                {
                    jobStatus.LastSuccessfulTime = job.Status?.CompletionTime;
                    state.UpdateStatus = true;
                }
                if (job.Status?.CompletionTime is { } completed && completed > jobStatus.LastSuccessfulTime)
                {
                    jobStatus.LastSuccessfulTime = completed;
                    state.UpdateStatus = true;
                }
            }
        }

        // Active references whose Job is gone would keep the CronJob "active" forever; ask the API, not the cache, before dropping one.
        foreach (var reference in (state.CronJob.Status?.Active ?? []).ToList())
        {
            if (childUids.Contains(reference.Uid ?? ""))
            {
                continue;
            }
            try
            {
                await _jobControl.GetAsync(reference.Namespace ?? "", reference.Name ?? "", cancellationToken).ConfigureAwait(false);
            }
            catch (NotFoundException)
            {
                _recorder.Event(state.CronJob, EventTypes.Normal, "MissingJob", $"Active job went missing: {reference.Name}");
                DeleteFromActiveList(state.CronJob, reference.Uid);
                state.UpdateStatus = true;
            }
        }

        var cronJob = state.CronJob;
        var key = ObjectKey.Of(cronJob);
        if (cronJob.Metadata?.DeletionTimestamp is not null)
        {
            return null; // Being deleted: only the status is kept up to date.
        }

        if (_options.TimeZoneEnabled && cronJob.Spec?.TimeZone is { } timeZone)
        {
            try
            {
                GoTime.LoadLocation(timeZone);
            }
            catch (GoTimeException e)
            {
                _logger.LogTrace("Not starting job because timeZone is invalid {Cronjob} {TimeZone} {Err}", key, timeZone, e.Message);
                _recorder.Event(cronJob, EventTypes.Warning, "UnknownTimeZone", $"invalid timeZone: {GoStrings.Quote(timeZone)}: {e.Message}");
                return null;
            }
        }

        if (cronJob.Spec?.Suspend == true)
        {
            _logger.LogTrace("Not starting job because the cron is suspended {cronjob}", key);
            return null;
        }

        ICronSchedule schedule;
        try
        {
            schedule = CronParser.ParseStandard(FormatSchedule(cronJob, warn: true));
        }
        catch (CronParseException e)
        {
            _logger.LogDebug("Unparseable schedule {Cronjob} {Schedule} {Err}", key, cronJob.Spec?.Schedule, e.Message);
            _recorder.Event(cronJob, EventTypes.Warning, "UnparseableSchedule", $"unparseable schedule: {GoStrings.Quote(cronJob.Spec?.Schedule ?? "")} : {e.Message}");
            return null;
        }

        MostRecentSchedule unmet;
        try
        {
            unmet = ScheduleTimes.Unmet(cronJob, now, schedule, _localZone);
        }
        catch (InvalidScheduleException e)
        {
            _logger.LogDebug("invalid schedule {Cronjob} {Schedule} {Err}", key, cronJob.Spec?.Schedule, e.Message);
            _recorder.Event(cronJob, EventTypes.Warning, "InvalidSchedule", $"invalid schedule: {cronJob.Spec?.Schedule} : {e.Message}");
            return null;
        }
        if (unmet.Missed > ScheduleTimes.TooManyMissed)
        {
            // A wedged controller or a skewed clock: say so, but still start the most recent one.
            _recorder.Event(cronJob, EventTypes.Warning, "TooManyMissedTimes", $"too many missed start times: {unmet.Missed}. Set or decrease .spec.startingDeadlineSeconds or check clock skew");
            _logger.LogInformation("too many missed times {Cronjob} {MissedTimes}", key, unmet.Missed);
        }
        if (unmet.Time is not { } scheduledTime)
        {
            // Nothing due (usually a sync after a restart or a spec change): look again at the next schedule time.
            return ScheduleTimes.UntilNext(cronJob, schedule, now, _localZone);
        }

        if (cronJob.Spec?.StartingDeadlineSeconds is { } deadline && scheduledTime + TimeSpan.FromSeconds(deadline) < now)
        {
            _recorder.Event(cronJob, EventTypes.Warning, "MissSchedule", $"Missed scheduled time to start a job: {scheduledTime.UtcDateTime.ToString("ddd, dd MMM yyyy HH:mm:ss '+0000'", CultureInfo.InvariantCulture)}");
            return ScheduleTimes.UntilNext(cronJob, schedule, now, _localZone);
        }

        var jobName = ScheduleTimes.JobName(cronJob.Metadata!.Name!, scheduledTime);
        if ((cronJob.Status?.Active ?? []).Any(r => r.Name == jobName && r.Namespace == cronJob.Metadata.Namespace)
            || cronJob.Status?.LastScheduleTime == scheduledTime)
        {
            _logger.LogTrace("Not starting job because the scheduled time is already processed {Cronjob} {Schedule}", key, scheduledTime);
            return ScheduleTimes.UntilNext(cronJob, schedule, now, _localZone);
        }

        var active = cronJob.Status?.Active ?? [];
        if (cronJob.Spec?.ConcurrencyPolicy == "Forbid" && active.Count > 0)
        {
            _logger.LogTrace("Not starting job because prior execution is still running and concurrency policy is Forbid {cronjob}", key);
            _recorder.Event(cronJob, EventTypes.Normal, "JobAlreadyActive", "Not starting job because prior execution is running and concurrency policy is Forbid");
            return ScheduleTimes.UntilNext(cronJob, schedule, now, _localZone);
        }
        if (cronJob.Spec?.ConcurrencyPolicy == "Replace")
        {
            foreach (var reference in active.ToList())
            {
                _logger.LogTrace("Deleting job that was still running at next scheduled start time {job}", new ObjectKey(key.Namespace, reference.Name ?? ""));
                Job running;
                try
                {
                    running = await _jobControl.GetAsync(reference.Namespace ?? "", reference.Name ?? "", cancellationToken).ConfigureAwait(false);
                }
                catch (Exception e) when (e is not OperationCanceledException)
                {
                    _recorder.Event(cronJob, EventTypes.Warning, "FailedGet", $"Get job: {e.Message}");
                    throw;
                }
                if (!await DeleteJobAsync(cronJob, running, cancellationToken).ConfigureAwait(false))
                {
                    throw new CronJobSyncException($"could not replace job {running.Metadata?.Namespace}/{running.Metadata?.Name}");
                }
                state.UpdateStatus = true;
            }
        }

        var request = JobFromTemplate(cronJob, scheduledTime);
        Job created;
        try
        {
            created = await _jobControl.CreateAsync(cronJob.Metadata.Namespace!, request, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (ApiErrors.IsNamespaceTerminating(e))
        {
            // Upstream carries on with the empty response here; the namespace (and this CronJob) are going away anyway.
            _logger.LogTrace("Not creating job {Job} for {CronJob}: namespace is terminating", jobName, key);
            return null;
        }
        catch (AlreadyExistsException)
        {
            // Created by another actor, who is assumed to have updated the status.
            _logger.LogInformation("Job already exists {Cronjob} {Job}", key, new ObjectKey(key.Namespace, jobName));
            throw;
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            _recorder.Event(cronJob, EventTypes.Warning, "FailedCreate", $"Error creating job: {e.Message}");
            throw;
        }

        if (created.Metadata?.CreationTimestamp is { } createdAt)
        {
            _creationSkew.Observe((createdAt - scheduledTime).TotalSeconds);
        }
        _logger.LogTrace("Created Job {Job} {Cronjob}", new ObjectKey(key.Namespace, created.Metadata?.Name ?? ""), key);
        _recorder.Event(cronJob, EventTypes.Normal, "SuccessfulCreate", $"Created job {created.Metadata?.Name}");

        // The deterministic job name is the lock against creating it twice if we crash before this status update.
        var status = Status(cronJob);
        status.Active = [.. status.Active ?? [], ReferenceTo(created)];
        status.LastScheduleTime = scheduledTime;
        state.UpdateStatus = true;
        return ScheduleTimes.UntilNext(cronJob, schedule, now, unmet.InUtc ? TimeZoneInfo.Utc : _localZone);
    }

    /// <summary>Deletes finished Jobs beyond successfulJobsHistoryLimit / failedJobsHistoryLimit, oldest start first.</summary>
    private async Task<bool> CleanupFinishedJobsAsync(CronJob cronJob, List<Job> jobs, CancellationToken cancellationToken)
    {
        var spec = cronJob.Spec;
        if (spec?.FailedJobsHistoryLimit is null && spec?.SuccessfulJobsHistoryLimit is null)
        {
            return false;
        }
        var successful = new List<Job>();
        var failed = new List<Job>();
        foreach (var job in jobs)
        {
            switch (FinishedStatus(job))
            {
                case (true, "Complete"):
                    successful.Add(job);
                    break;
                case (true, "Failed"):
                    failed.Add(job);
                    break;
            }
        }
        var updateStatus = false;
        if (spec.SuccessfulJobsHistoryLimit is { } successfulLimit && await RemoveOldestJobsAsync(cronJob, successful, successfulLimit, cancellationToken).ConfigureAwait(false))
        {
            updateStatus = true;
        }
        if (spec.FailedJobsHistoryLimit is { } failedLimit && await RemoveOldestJobsAsync(cronJob, failed, failedLimit, cancellationToken).ConfigureAwait(false))
        {
            updateStatus = true;
        }
        return updateStatus;
    }

    private async Task<bool> RemoveOldestJobsAsync(CronJob cronJob, List<Job> jobs, int keep, CancellationToken cancellationToken)
    {
        var toDelete = jobs.Count - keep;
        if (toDelete <= 0)
        {
            return false;
        }
        _logger.LogTrace("Cleaning up jobs from CronJob list {Deletejobnum} {Jobnum} {Cronjob}", toDelete, jobs.Count, ObjectKey.Of(cronJob));
        jobs.Sort(ByStartTime);
        var updateStatus = false;
        foreach (var job in jobs.Take(toDelete))
        {
            if (await DeleteJobAsync(cronJob, job, cancellationToken).ConfigureAwait(false))
            {
                updateStatus = true;
            }
        }
        return updateStatus;
    }

    /// <summary>Deletes the Job (background propagation) and its active reference; false, with a FailedDelete event, when the API refused.</summary>
    private async Task<bool> DeleteJobAsync(CronJob cronJob, Job job, CancellationToken cancellationToken)
    {
        try
        {
            await _jobControl.DeleteAsync(job.Metadata?.Namespace ?? "", job.Metadata?.Name ?? "", cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            _recorder.Event(cronJob, EventTypes.Warning, "FailedDelete", $"Deleted job: {e.Message}");
            _logger.LogError("{Message}", $"Error deleting job {job.Metadata?.Name} from {ObjectKey.Of(cronJob)}: {e.Message}");
            return false;
        }
        DeleteFromActiveList(cronJob, job.Metadata?.Uid);
        _recorder.Event(cronJob, EventTypes.Normal, "SuccessfulDelete", $"Deleted job {job.Metadata?.Name}");
        return true;
    }

    /// <summary>Upstream getJobFromTemplate2: the template's labels, annotations and spec, the deterministic name and a controller reference.</summary>
    internal static Job JobFromTemplate(CronJob cronJob, DateTimeOffset scheduledTime)
    {
        var template = cronJob.Spec?.JobTemplate;
        return new Job
        {
            Metadata = new ObjectMeta
            {
                Labels = template?.Metadata?.Labels is { Count: > 0 } labels ? new Dictionary<string, string>(labels) : null,
                Annotations = template?.Metadata?.Annotations is { Count: > 0 } annotations ? new Dictionary<string, string>(annotations) : null,
                Name = ScheduleTimes.JobName(cronJob.Metadata!.Name!, scheduledTime),
                CreationTimestamp = scheduledTime,
                OwnerReferences = [ControllerRefs.NewControllerRef(cronJob.Metadata, CronJob.Resource)],
            },
            Spec = template?.Spec is { } spec ? KubeObjects.Clone(spec) : null,
        };
    }

    internal static ObjectReference ReferenceTo(Job job) => new()
    {
        Kind = Job.Resource.Kind,
        Namespace = job.Metadata?.Namespace,
        Name = job.Metadata?.Name,
        Uid = job.Metadata?.Uid,
        ApiVersion = Job.Resource.ApiVersion,
        ResourceVersion = job.Metadata?.ResourceVersion,
    };

    /// <summary>Finished means a Complete or Failed condition with status True; the type is which.</summary>
    internal static (bool Finished, string? Type) FinishedStatus(Job job)
    {
        foreach (var condition in job.Status?.Conditions ?? [])
        {
            if (condition.Type is "Complete" or "Failed" && condition.Status == "True")
            {
                return (true, condition.Type);
            }
        }
        return (false, null);
    }

    // Jobs without a start time sort last; equal start times by name.
    private static int ByStartTime(Job a, Job b)
    {
        var ta = a.Status?.StartTime;
        var tb = b.Status?.StartTime;
        if (ta is null && tb is not null)
        {
            return 1;
        }
        if (ta is not null && tb is null)
        {
            return -1;
        }
        if (ta == tb)
        {
            return string.CompareOrdinal(a.Metadata?.Name, b.Metadata?.Name);
        }
        return ta < tb ? -1 : 1;
    }

    private static bool InActiveList(CronJob cronJob, string? uid)
        => cronJob.Status?.Active?.Any(r => r.Uid == uid) == true;

    private static void DeleteFromActiveList(CronJob cronJob, string? uid)
    {
        if (cronJob.Status?.Active is { } active)
        {
            cronJob.Status.Active = active.Where(r => r.Uid != uid).ToList();
        }
    }

    private static CronJobStatus Status(CronJob cronJob) => cronJob.Status ??= new CronJobStatus();
}

/// <summary>A sync that could not finish (e.g. an active Job that could not be replaced); retried with backoff.</summary>
public sealed class CronJobSyncException(string message) : Exception(message);

using Kcm.Api.Batch.V1;
using Kcm.Api.Codecs;
using Kcm.Controllers.Common;
using Kcm.Runtime.Controllers;
using Kcm.Runtime.Events;
using Kcm.Runtime.Informers;
using Kcm.Runtime.Metrics;
using Kcm.Runtime.Queues;
using Microsoft.Extensions.Logging;

namespace Kcm.Controllers.CronJobs;

public sealed record CronJobControllerOptions
{
    /// <summary>Upstream's ConcurrentCronJobSyncs (component config only in v1.26, default 5).</summary>
    public int Workers { get; init; } = 5;

    /// <summary>The CronJobTimeZone feature gate (beta in v1.26, on by default): spec.timeZone is honoured.</summary>
    public bool TimeZoneEnabled { get; init; } = true;

    /// <summary>The zone schedules without a time zone follow: upstream's is the controller manager's local zone.</summary>
    public TimeZoneInfo? LocalTimeZone { get; init; }
}

/// <summary>
/// Upstream's CronJob controller (v2): at each schedule time it creates a Job from the template, named after the
/// scheduled minute and owned by the CronJob, honouring suspend, startingDeadlineSeconds, the concurrency policy
/// and the time zone; it keeps status.active, lastScheduleTime and lastSuccessfulTime current, prunes finished
/// Jobs past the history limits, and requeues each CronJob for just after its next schedule time.
/// </summary>
public sealed partial class CronJobController
{
    public const string ControllerName = "cronjob";
    public const string ServiceAccountName = "cronjob-controller";
    public const string QueueName = "cronjob";

    private readonly CronJobControllerOptions _options;
    private readonly IObjectCache<CronJob> _cronJobs;
    private readonly IObjectCache<Job> _jobs;
    private readonly ICronJobControl _cronJobControl;
    private readonly IJobControl _jobControl;
    private readonly IEventRecorder _recorder;
    private readonly RateLimitingQueue<ObjectKey> _queue;
    private readonly TimeProvider _clock;
    private readonly TimeZoneInfo _localZone;
    private readonly Histogram _creationSkew;
    private readonly ILogger _logger;
    private readonly OwnedObjectEvents<CronJob> _jobOwners;

    /// <param name="clock">The time schedules are judged by; the context's clock unless given (integration tests run it ahead of real time).</param>
    public CronJobController(ControllerContext context, CronJobControllerOptions options, TimeProvider? clock = null)
        : this(context, options, clock, context.Informers.InformerFor<CronJob>(), context.Informers.InformerFor<Job>())
    {
    }

    private CronJobController(ControllerContext context, CronJobControllerOptions options, TimeProvider? clock, SharedInformer<CronJob> cronJobInformer, SharedInformer<Job> jobInformer)
        : this(
            options,
            cronJobInformer.Cache,
            jobInformer.Cache,
            new ApiCronJobControl(context.Clients.For(ServiceAccountName)),
            new ApiJobControl(context.Clients.For(ServiceAccountName)),
            context.Events.NewRecorder(ServiceAccountName),
            context.NewQueue(QueueName),
            clock ?? context.Time,
            context.Metrics,
            context.Loggers.CreateLogger<CronJobController>(),
            [cronJobInformer, jobInformer])
    {
        jobInformer.AddEventHandler(new ResourceEventHandler<Job>
        {
            Added = (job, _) => OnJobAdded(job),
            Updated = OnJobUpdated,
            Deleted = (job, _) => OnJobDeleted(job),
        });
        cronJobInformer.AddEventHandler(new ResourceEventHandler<CronJob>
        {
            Added = (cronJob, _) => _queue.Add(ObjectKey.Of(cronJob)),
            Updated = OnCronJobUpdated,
            Deleted = (cronJob, _) => _queue.Add(ObjectKey.Of(cronJob)),
        });
    }

    /// <summary>Builds the controller from its parts without informers (unit tests feed the caches and call the handlers).</summary>
    internal CronJobController(
        CronJobControllerOptions options,
        IObjectCache<CronJob> cronJobs,
        IObjectCache<Job> jobs,
        ICronJobControl cronJobControl,
        IJobControl jobControl,
        IEventRecorder recorder,
        RateLimitingQueue<ObjectKey> queue,
        TimeProvider clock,
        MetricsRegistry metrics,
        ILogger logger,
        IReadOnlyList<ISharedInformer>? informers = null)
    {
        _options = options;
        _cronJobs = cronJobs;
        _jobs = jobs;
        // CronJobs never adopt: an orphaned Job wakes nobody.
        _jobOwners = new OwnedObjectEvents<CronJob>(cronJobs, CronJob.Resource);
        _cronJobControl = cronJobControl;
        _jobControl = jobControl;
        _recorder = recorder;
        _queue = queue;
        _clock = clock;
        _localZone = options.LocalTimeZone ?? TimeZoneInfo.Local;
        _logger = logger;
        _creationSkew = metrics.Histogram(
            "cronjob_controller_job_creation_skew_duration_seconds",
            "[STABLE] Time between when a cronjob is scheduled to be run, and when the corresponding job is created",
            Histogram.ExponentialBuckets(1, 2, 10));
        var policy = RetryPolicy.HandleError((key, error) => $"error syncing CronJobController {key}, requeuing: {error.Message}");
        Workers = new ControllerWorkers<ObjectKey>(ControllerName, queue, SyncAsync, logger, policy, informers ?? [])
        {
            Description = "cronjob controller v2",
            DescriptionStructured = true,
            CacheSyncName = "cronjob",
        };
    }

    public ControllerWorkers<ObjectKey> Workers { get; }

    internal RateLimitingQueue<ObjectKey> Queue => _queue;

    internal Histogram CreationSkew => _creationSkew;

    public Task RunAsync(CancellationToken cancellationToken) => Workers.RunAsync(_options.Workers, cancellationToken);

    // ---- Event routing.

    internal void OnJobAdded(Job job)
    {
        if (job.Metadata?.DeletionTimestamp is not null)
        {
            // Seen for the first time already being deleted (e.g. after a restart).
            OnJobDeleted(job);
            return;
        }
        _jobOwners.Added(job.Metadata, Enqueue, Enqueue);
    }

    internal void OnJobUpdated(Job oldJob, Job newJob)
    {
        if (oldJob.Metadata?.ResourceVersion == newJob.Metadata?.ResourceVersion)
        {
            return; // A resync: nothing changed.
        }
        _jobOwners.Updated(oldJob.Metadata, newJob.Metadata, Enqueue, Enqueue);
    }

    internal void OnJobDeleted(Job job)
    {
        if (_jobOwners.Owner(job.Metadata) is { } cronJob)
        {
            Enqueue(cronJob);
        }
    }

    private void Enqueue(CronJob cronJob) => _queue.Add(ObjectKey.Of(cronJob));

    /// <summary>
    /// A changed schedule or time zone requeues the CronJob for its next schedule time (an earlier one than queued
    /// takes effect; a later one makes the queued sync a no-op); any other change syncs it now.
    /// </summary>
    internal void OnCronJobUpdated(CronJob oldCronJob, CronJob newCronJob)
    {
        var key = ObjectKey.Of(newCronJob);
        var scheduleChanged = oldCronJob.Spec?.Schedule != newCronJob.Spec?.Schedule
            || (_options.TimeZoneEnabled && oldCronJob.Spec?.TimeZone != newCronJob.Spec?.TimeZone);
        if (!scheduleChanged)
        {
            _queue.Add(key);
            return;
        }
        ICronSchedule schedule;
        try
        {
            schedule = CronParser.ParseStandard(FormatSchedule(newCronJob, warn: false));
        }
        catch (CronParseException e)
        {
            // A user error: nothing to do until the spec changes again.
            _logger.LogDebug("Unparseable schedule for cronjob {Cronjob} {Schedule} {Err}", key, newCronJob.Spec?.Schedule, e.Message);
            _recorder.Event(newCronJob, EventTypes.Warning, "UnParseableCronJobSchedule", $"unparseable schedule for cronjob: {newCronJob.Spec?.Schedule}");
            return;
        }
        _queue.AddAfter(key, ScheduleTimes.UntilNext(newCronJob, schedule, _clock.GetUtcNow(), _localZone));
    }

    private string FormatSchedule(CronJob cronJob, bool warn)
    {
        var schedule = cronJob.Spec?.Schedule ?? "";
        if (schedule.Contains("TZ", StringComparison.Ordinal))
        {
            if (warn)
            {
                _recorder.Event(cronJob, EventTypes.Warning, "UnsupportedSchedule", $"CRON_TZ or TZ used in schedule {GoStrings.Quote(schedule)} is not officially supported, see https://kubernetes.io/docs/concepts/workloads/controllers/cron-jobs/ for more details");
            }
            return schedule;
        }
        return _options.TimeZoneEnabled ? ScheduleTimes.Format(cronJob) : schedule;
    }
}

using Kcm.Api.Batch.V1;
using Kcm.Api.Core.V1;
using Kcm.Api.Meta.V1;
using Kcm.Client;
using Kcm.Client.Errors;
using Kcm.Controllers.Common;
using Kcm.Runtime.Controllers;
using Kcm.Runtime.Events;
using Kcm.Runtime.Informers;
using Kcm.Runtime.Queues;
using Microsoft.Extensions.Logging;

namespace Kcm.Controllers.Jobs;

public sealed record JobControllerOptions
{
    /// <summary>ConcurrentJobSyncs of the JobController config (5; v1.26 has no flag for it).</summary>
    public int Workers { get; init; } = 5;

    /// <summary>Upstream's DefaultJobBackOff and MaxJobBackOff: the queue's per-job back-off after failures.</summary>
    public TimeSpan DefaultBackOff { get; init; } = TimeSpan.FromSeconds(10);

    public TimeSpan MaxBackOff { get; init; } = TimeSpan.FromSeconds(360);

    /// <summary>Upstream's MaxUncountedPods: at most this many pods enter status.uncountedTerminatedPods per sync.</summary>
    public int MaxUncountedPods { get; init; } = 500;

    /// <summary>Upstream's MaxPodCreateDeletePerSync.</summary>
    public int MaxPodCreateDeletePerSync { get; init; } = 500;

    /// <summary>JobReadyPods (beta, on in v1.26): pod updates are batched for a second and status.ready is kept.</summary>
    public bool JobReadyPods { get; init; } = true;

    /// <summary>JobPodFailurePolicy (beta, on in v1.26).</summary>
    public bool JobPodFailurePolicy { get; init; } = true;

    /// <summary>PodDisruptionConditions (beta, on in v1.26): with a pod failure policy only terminal pods count as failed.</summary>
    public bool PodDisruptionConditions { get; init; } = true;

    public TimeSpan PodUpdateBatchPeriod => JobReadyPods ? TimeSpan.FromSeconds(1) : TimeSpan.Zero;
}

/// <summary>Fresh reads and status writes of Jobs (a seam for unit tests).</summary>
public interface IJobClient
{
    Task<Job> GetAsync(string @namespace, string name, CancellationToken cancellationToken);

    Task<Job> UpdateStatusAsync(Job job, CancellationToken cancellationToken);
}

public sealed class ApiJobClient(KubeApiClient client) : IJobClient
{
    public Task<Job> GetAsync(string @namespace, string name, CancellationToken cancellationToken) => client.GetAsync<Job>(@namespace, name, cancellationToken);

    public Task<Job> UpdateStatusAsync(Job job, CancellationToken cancellationToken) => client.UpdateStatusAsync(job, cancellationToken: cancellationToken);
}

/// <summary>A sync saw new pod failures of an unfinished Job: retried with the Job back-off (upstream returns an error).</summary>
public sealed class PodFailuresDetectedException(ObjectKey key) : Exception($"failed pod(s) detected for job key \"{key}\"");

/// <summary>
/// Upstream's job controller (v1.26): runs a Job's pods to completion. Event handlers turn pod and Job events into
/// Job keys (pod updates batched for a second); <see cref="SyncAsync"/> counts pods, creates or deletes them towards
/// parallelism and completions, tracks finished pods with the batch.kubernetes.io/job-tracking finalizer and
/// status.uncountedTerminatedPods, and finishes the Job (Complete, or Failed by backoffLimit, deadline or pod
/// failure policy). A second queue removes the finalizer from pods whose Job is gone or finished.
/// </summary>
public sealed partial class JobController
{
    public const string ControllerName = "job";
    public const string ServiceAccountName = "job-controller";

    private readonly JobControllerOptions _options;
    private readonly IObjectCache<Job> _jobs;
    private readonly IObjectCache<Pod> _pods;
    private readonly IPodControl _podControl;
    private readonly IJobClient _client;
    private readonly IEventRecorder _recorder;
    private readonly RateLimitingQueue<ObjectKey> _queue;
    private readonly RateLimitingQueue<ObjectKey> _orphanQueue;
    private readonly ILogger _logger;
    private readonly TimeProvider _time;
    private readonly JobMetrics _metrics;

    public JobController(ControllerContext context, JobControllerOptions options)
        : this(context, options, context.Informers.InformerFor<Job>(), context.Informers.InformerFor<Pod>())
    {
    }

    private JobController(ControllerContext context, JobControllerOptions options, SharedInformer<Job> jobInformer, SharedInformer<Pod> podInformer)
        : this(
            options,
            jobInformer.Cache,
            podInformer.Cache,
            new PodControl(context.Clients.For(ServiceAccountName), context.Events.NewRecorder(ServiceAccountName), context.Loggers.CreateLogger(typeof(PodControl))),
            new ApiJobClient(context.Clients.For(ServiceAccountName)),
            context.Events.NewRecorder(ServiceAccountName),
            NewQueue(context, "job", options),
            NewQueue(context, "job_orphan_pod", options),
            context.Loggers.CreateLogger("Kcm.Controllers.Jobs"),
            context.Time,
            new JobMetrics(context.Metrics),
            [jobInformer, podInformer])
    {
        jobInformer.AddEventHandler(new ResourceEventHandler<Job>
        {
            Added = (job, _) => Enqueue(ObjectKey.Of(job), immediate: true, TimeSpan.Zero),
            Updated = OnJobUpdated,
            Deleted = (job, _) => OnJobDeleted(job),
        });
        podInformer.AddEventHandler(new ResourceEventHandler<Pod>
        {
            Added = (pod, _) => OnPodAdded(pod),
            Updated = OnPodUpdated,
            Deleted = (pod, _) => OnPodDeleted(pod, final: true),
        });
    }

    /// <summary>Builds the controller from its parts without informers (unit tests feed the caches and call the handlers).</summary>
    internal JobController(
        JobControllerOptions options,
        IObjectCache<Job> jobs,
        IObjectCache<Pod> pods,
        IPodControl podControl,
        IJobClient client,
        IEventRecorder recorder,
        RateLimitingQueue<ObjectKey> queue,
        RateLimitingQueue<ObjectKey> orphanQueue,
        ILogger logger,
        TimeProvider time,
        JobMetrics metrics,
        IReadOnlyList<ISharedInformer>? informers = null)
    {
        _options = options;
        _jobs = jobs;
        _pods = pods;
        _podControl = podControl;
        _client = client;
        _recorder = recorder;
        _queue = queue;
        _orphanQueue = orphanQueue;
        _logger = logger;
        _time = time;
        _metrics = metrics;
        Expectations = new ControllerExpectations(time, logger);
        var policy = RetryPolicy.HandleError((_, error) => $"syncing job: {error.Message}") with
        {
            IsExpected = ex => ex is IgnorableReconcileException or PodFailuresDetectedException,
        };
        Workers = new ControllerWorkers<ObjectKey>(ControllerName, queue, SyncAsync, logger, policy, informers ?? [])
        {
            Description = "job controller",
            CacheSyncName = "job",
        };
        var orphanPolicy = RetryPolicy.HandleError((_, error) => $"Error syncing orphan pod: {error.Message}");
        OrphanWorkers = new ControllerWorkers<ObjectKey>("job_orphan_pod", orphanQueue, SyncOrphanPodAsync, logger, orphanPolicy, informers ?? []);
    }

    public ControllerWorkers<ObjectKey> Workers { get; }

    public ControllerWorkers<ObjectKey> OrphanWorkers { get; }

    internal ControllerExpectations Expectations { get; }

    internal FinalizerExpectations FinalizerExpectations { get; } = new();

    internal RateLimitingQueue<ObjectKey> Queue => _queue;

    internal RateLimitingQueue<ObjectKey> OrphanQueue => _orphanQueue;

    /// <summary>The Job workers plus the one orphan-pod worker upstream runs.</summary>
    public Task RunAsync(int workers, CancellationToken cancellationToken)
        => Task.WhenAll(Workers.RunAsync(workers, cancellationToken), OrphanWorkers.RunAsync(1, cancellationToken));

    private static RateLimitingQueue<ObjectKey> NewQueue(ControllerContext context, string name, JobControllerOptions options)
        => new(new ItemExponentialFailureRateLimiter<ObjectKey>(options.DefaultBackOff, options.MaxBackOff), context.QueueOptions(name));

    // ---- Event routing.

    internal void OnJobUpdated(Job oldJob, Job curJob)
    {
        var key = ObjectKey.Of(curJob);
        Enqueue(key, immediate: true, TimeSpan.Zero);
        // A changed activeDeadlineSeconds of a started Job: look again when the new deadline passes.
        if (curJob.Status?.StartTime is { } start && curJob.Spec?.ActiveDeadlineSeconds is { } deadline
            && oldJob.Spec?.ActiveDeadlineSeconds != deadline)
        {
            var left = TimeSpan.FromSeconds(deadline) - (_time.GetUtcNow() - start);
            _logger.LogTrace("job \"{Key}\" ActiveDeadlineSeconds updated, will rsync after {Seconds} seconds", key, (int)left.TotalSeconds);
            _queue.AddAfter(key, left);
        }
    }

    internal void OnJobDeleted(Job job)
    {
        Enqueue(ObjectKey.Of(job), immediate: true, TimeSpan.Zero);
        // Its pods lose their tracking finalizer through the orphan queue.
        foreach (var pod in _pods.ByIndex(KnownIndexers.ControllerUid, job.Metadata?.Uid ?? ""))
        {
            if (ControllerRefs.ControllerOf(pod.Metadata)?.Uid == job.Metadata?.Uid && JobConditions.HasTrackingFinalizer(pod)) _orphanQueue.Add(ObjectKey.Of(pod));
        }
    }

    internal void OnPodAdded(Pod pod)
    {
        RecordFinishedPodWithTrackingFinalizer(null, pod);
        if (pod.Metadata?.DeletionTimestamp is not null)
        {
            // Seen for the first time already being deleted (e.g. after a restart): not a creation.
            OnPodDeleted(pod, final: false);
            return;
        }
        if (ControllerRefs.ControllerOf(pod.Metadata) is { } controllerRef)
        {
            if (Resolve(pod.Metadata!.Namespace, controllerRef) is not { } job) return;
            var key = ObjectKey.Of(job);
            Expectations.CreationObserved(key);
            Enqueue(key, immediate: true, _options.PodUpdateBatchPeriod);
            return;
        }
        if (JobConditions.HasTrackingFinalizer(pod)) _orphanQueue.Add(ObjectKey.Of(pod));
        foreach (var job in JobsSelecting(pod)) Enqueue(ObjectKey.Of(job), immediate: true, _options.PodUpdateBatchPeriod);
    }

    internal void OnPodUpdated(Pod oldPod, Pod curPod)
    {
        RecordFinishedPodWithTrackingFinalizer(oldPod, curPod);
        if (curPod.Metadata?.ResourceVersion == oldPod.Metadata?.ResourceVersion) return;
        if (curPod.Metadata?.DeletionTimestamp is not null)
        {
            OnPodDeleted(curPod, final: false);
            return;
        }
        // A pod that just failed waits for the Job's back-off, so failures do not cause a burst of replacements.
        var immediate = !(curPod.Status?.Phase == PodReadiness.PhaseFailed && oldPod.Status?.Phase != PodReadiness.PhaseFailed);
        var finalizerRemoved = !JobConditions.HasTrackingFinalizer(curPod);
        var curRef = ControllerRefs.ControllerOf(curPod.Metadata);
        var oldRef = ControllerRefs.ControllerOf(oldPod.Metadata);
        var refChanged = !ControllerRefs.SameControllerRef(curRef, oldRef);
        if (refChanged && oldRef is not null && Resolve(oldPod.Metadata?.Namespace, oldRef) is { } oldJob)
        {
            if (finalizerRemoved) FinalizerExpectations.RemovalObserved(ObjectKey.Of(oldJob), curPod.Metadata?.Uid);
            Enqueue(ObjectKey.Of(oldJob), immediate, _options.PodUpdateBatchPeriod);
        }
        if (curRef is not null)
        {
            if (Resolve(curPod.Metadata?.Namespace, curRef) is not { } job) return;
            if (finalizerRemoved) FinalizerExpectations.RemovalObserved(ObjectKey.Of(job), curPod.Metadata?.Uid);
            Enqueue(ObjectKey.Of(job), immediate, _options.PodUpdateBatchPeriod);
            return;
        }
        if (JobConditions.HasTrackingFinalizer(curPod)) _orphanQueue.Add(ObjectKey.Of(curPod));
        if (refChanged || !OwnerLookup.SameLabels(oldPod.Metadata?.Labels, curPod.Metadata?.Labels))
        {
            foreach (var job in JobsSelecting(curPod)) Enqueue(ObjectKey.Of(job), immediate, _options.PodUpdateBatchPeriod);
        }
    }

    /// <param name="final">The pod is gone (a delete event), not merely being deleted.</param>
    internal void OnPodDeleted(Pod pod, bool final)
    {
        if (final) RecordFinishedPodWithTrackingFinalizer(pod, null);
        var hasFinalizer = JobConditions.HasTrackingFinalizer(pod);
        var controllerRef = ControllerRefs.ControllerOf(pod.Metadata);
        var job = controllerRef is null ? null : Resolve(pod.Metadata?.Namespace, controllerRef);
        if (job is null || JobConditions.IsFinished(job))
        {
            if (hasFinalizer) _orphanQueue.Add(ObjectKey.Of(pod));
            return;
        }
        var key = ObjectKey.Of(job);
        Expectations.DeletionObserved(key);
        // A final delete also means the finalizer is gone, whatever the last known state said.
        if (final || !hasFinalizer) FinalizerExpectations.RemovalObserved(key, pod.Metadata?.Uid);
        Enqueue(key, immediate: true, _options.PodUpdateBatchPeriod);
    }

    /// <summary>Upstream's enqueueControllerDelayed: a non-immediate add waits for the Job's current back-off.</summary>
    private void Enqueue(ObjectKey key, bool immediate, TimeSpan delay)
    {
        if (!immediate && BackOff(key) is { } backOff && backOff > TimeSpan.Zero) delay = backOff;
        // Upstream v1.26 logs every enqueue at V(0).
        _logger.LogInformation("enqueueing job {Key}", key);
        _queue.AddAfter(key, delay);
    }

    // Upstream's getBackoff: DefaultBackOff doubled per requeue so far, capped.
    private TimeSpan? BackOff(ObjectKey key)
    {
        var requeues = _queue.NumRequeues(key);
        if (requeues <= 0) return null;
        var delay = _options.DefaultBackOff * Math.Pow(2, Math.Min(requeues - 1, 30));
        return delay > _options.MaxBackOff ? _options.MaxBackOff : delay;
    }

    private void RecordFinishedPodWithTrackingFinalizer(Pod? oldPod, Pod? newPod)
    {
        var was = IsFinishedWithTrackingFinalizer(oldPod);
        var @is = IsFinishedWithTrackingFinalizer(newPod);
        if (was != @is) _metrics.TerminatedPodsTrackingFinalizer.Inc(@is ? "add" : "delete");
    }

    private static bool IsFinishedWithTrackingFinalizer(Pod? pod)
        => pod is not null && pod.Status?.Phase is PodReadiness.PhaseSucceeded or PodReadiness.PhaseFailed && JobConditions.HasTrackingFinalizer(pod);

    // ---- Orphan pods: the tracking finalizer of pods whose Job is gone or finished.

    internal async Task<ReconcileResult> SyncOrphanPodAsync(ObjectKey key, CancellationToken cancellationToken)
    {
        if (_pods.Get(key) is not { } pod) return ReconcileResult.Done;
        if (ControllerRefs.ControllerOf(pod.Metadata) is { } controllerRef && Resolve(pod.Metadata!.Namespace, controllerRef) is { } job && !JobConditions.IsFinished(job))
        {
            return ReconcileResult.Done; // Its Job still tracks it.
        }
        if (!JobConditions.HasTrackingFinalizer(pod)) return ReconcileResult.Done;
        try
        {
            await _podControl.PatchPodAsync(key.Namespace ?? "", key.Name, RemoveFinalizerPatch, cancellationToken).ConfigureAwait(false);
        }
        catch (NotFoundException)
        {
        }
        return ReconcileResult.Done;
    }

    internal const string RemoveFinalizerPatch = """{"metadata":{"$deleteFromPrimitiveList/finalizers":["batch.kubernetes.io/job-tracking"]}}""";

    // ---- Cache lookups.

    private Job? Resolve(string? @namespace, OwnerReference controllerRef)
        => OwnerLookup.ResolveControllerRef(_jobs, Job.Resource, @namespace, controllerRef);

    private List<Job> JobsSelecting(Pod pod)
    {
        var jobs = OwnerLookup.OwnersSelecting(_jobs, pod.Metadata?.Namespace, pod.Metadata?.Labels, j => Kcm.Api.Selectors.LabelSelector.FromApi(j.Spec?.Selector));
        if (jobs.Count > 1)
        {
            var labels = string.Join(" ", pod.Metadata!.Labels!.OrderBy(l => l.Key, StringComparer.Ordinal).Select(l => $"{l.Key}:{l.Value}"));
            _logger.LogError("{Message}", $"user error! more than one job is selecting pods with labels: map[{labels}]");
        }
        return jobs;
    }
}

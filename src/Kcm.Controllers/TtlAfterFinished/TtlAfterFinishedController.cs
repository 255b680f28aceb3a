using Kcm.Api.Batch.V1;
using Kcm.Api.Meta.V1;
using Kcm.Client;
using Kcm.Client.Errors;
using Kcm.Controllers.Jobs;
using Kcm.Runtime.Controllers;
using Kcm.Runtime.Informers;
using Kcm.Runtime.Metrics;
using Kcm.Runtime.Queues;
using Microsoft.Extensions.Logging;

namespace Kcm.Controllers.TtlAfterFinished;

public sealed record TtlAfterFinishedControllerOptions
{
    /// <summary>--concurrent-ttl-after-finished-syncs.</summary>
    public int Workers { get; init; } = 5;
}

/// <summary>Fresh reads and deletions of Jobs (a seam for unit tests).</summary>
public interface ITtlJobClient
{
    Task<Job> GetAsync(string @namespace, string name, CancellationToken cancellationToken);

    Task DeleteAsync(string @namespace, string name, DeleteOptions options, CancellationToken cancellationToken);
}

public sealed class ApiTtlJobClient(KubeApiClient client) : ITtlJobClient
{
    public Task<Job> GetAsync(string @namespace, string name, CancellationToken cancellationToken) => client.GetAsync<Job>(@namespace, name, cancellationToken);

    public Task DeleteAsync(string @namespace, string name, DeleteOptions options, CancellationToken cancellationToken)
        => client.DeleteAsync<Job>(@namespace, name, options, cancellationToken);
}

/// <summary>A finished Job with a TTL whose finish time is unknown (no transition time on its condition).</summary>
public sealed class JobFinishTimeUnknownException(string message) : InvalidOperationException(message);

/// <summary>
/// Upstream's TTL-after-finished controller: a finished Job with spec.ttlSecondsAfterFinished is deleted (foreground,
/// with a UID precondition) that long after its Complete/Failed condition's transition. The decision is made on the
/// cached Job and made again on a fresh read, so a TTL changed meanwhile (or a Job restarted) is respected.
/// </summary>
public sealed class TtlAfterFinishedController
{
    public const string ControllerName = "ttl-after-finished";
    public const string ServiceAccountName = "ttl-after-finished-controller";

    private readonly IObjectCache<Job> _jobs;
    private readonly ITtlJobClient _client;
    private readonly RateLimitingQueue<ObjectKey> _queue;
    private readonly ILogger _logger;
    private readonly TimeProvider _time;
    private readonly Histogram _deletionDuration;

    public TtlAfterFinishedController(ControllerContext context)
        : this(context, context.Informers.InformerFor<Job>())
    {
    }

    private TtlAfterFinishedController(ControllerContext context, SharedInformer<Job> jobInformer)
        : this(jobInformer.Cache, new ApiTtlJobClient(context.Clients.For(ServiceAccountName)), context.NewQueue("ttl_jobs_to_delete"),
            context.Loggers.CreateLogger("Kcm.Controllers.TtlAfterFinished"), context.Time, context.Metrics, [jobInformer])
    {
        jobInformer.AddEventHandler(new ResourceEventHandler<Job>
        {
            Added = (job, _) => OnJob(job),
            Updated = (_, job) => OnJob(job),
        });
    }

    internal TtlAfterFinishedController(IObjectCache<Job> jobs, ITtlJobClient client, RateLimitingQueue<ObjectKey> queue, ILogger logger, TimeProvider time,
        MetricsRegistry metrics, IReadOnlyList<ISharedInformer>? informers = null)
    {
        _jobs = jobs;
        _client = client;
        _queue = queue;
        _logger = logger;
        _time = time;
        _deletionDuration = metrics.Histogram("ttl_after_finished_controller_job_deletion_duration_seconds",
            "[ALPHA] The time it took to delete the job since it became eligible for deletion", Histogram.ExponentialBuckets(0.1, 2, 14));
        var policy = RetryPolicy.HandleError((key, error) => $"error cleaning up Job {key}, will retry: {error.Message}");
        Workers = new ControllerWorkers<ObjectKey>(ControllerName, queue, SyncAsync, logger, policy, informers ?? [])
        {
            Description = "TTL after finished controller",
            CacheSyncName = "TTL after finished",
        };
    }

    public ControllerWorkers<ObjectKey> Workers { get; }

    internal RateLimitingQueue<ObjectKey> Queue => _queue;

    internal Histogram DeletionDuration => _deletionDuration;

    public Task RunAsync(int workers, CancellationToken cancellationToken) => Workers.RunAsync(workers, cancellationToken);

    internal void OnJob(Job job)
    {
        if (job.Metadata?.DeletionTimestamp is null && NeedsCleanup(job)) _queue.Add(ObjectKey.Of(job));
    }

    internal async Task<ReconcileResult> SyncAsync(ObjectKey key, CancellationToken cancellationToken)
    {
        if (_jobs.Get(key) is not { } cached) return ReconcileResult.Done;
        if (Expiry(cached) is not { } cachedExpiry) return ReconcileResult.Done;
        if (cachedExpiry.Left > TimeSpan.Zero) return ReconcileResult.After(cachedExpiry.Left);

        // The cache may be stale (a TTL raised, a Job already replaced): decide again on the server's copy.
        Job fresh;
        try
        {
            fresh = await _client.GetAsync(key.Namespace ?? "", key.Name, cancellationToken).ConfigureAwait(false);
        }
        catch (NotFoundException)
        {
            return ReconcileResult.Done;
        }
        if (Expiry(fresh) is not { } expiry) return ReconcileResult.Done;
        if (expiry.Left > TimeSpan.Zero) return ReconcileResult.After(expiry.Left);
        _logger.LogTrace("Cleaning up Job {Key}", key);
        await _client.DeleteAsync(key.Namespace ?? "", key.Name, new DeleteOptions
        {
            PropagationPolicy = "Foreground",
            Preconditions = new Preconditions { Uid = fresh.Metadata?.Uid },
        }, cancellationToken).ConfigureAwait(false);
        _deletionDuration.Observe((_time.GetUtcNow() - expiry.At).TotalSeconds);
        return ReconcileResult.Done;
    }

    private static bool NeedsCleanup(Job job) => job.Spec?.TtlSecondsAfterFinished is not null && JobConditions.IsFinished(job);

    // When the Job expires and how long until then; null when it is not to be cleaned up.
    private (DateTimeOffset At, TimeSpan Left)? Expiry(Job job)
    {
        if (job.Metadata?.DeletionTimestamp is not null || !NeedsCleanup(job)) return null;
        var finishedAt = JobConditions.FinishTime(job)
            ?? throw new JobFinishTimeUnknownException($"unable to find the time when the Job {job.Metadata?.Namespace}/{job.Metadata?.Name} finished");
        var now = _time.GetUtcNow();
        if (finishedAt > now)
        {
            _logger.LogWarning("{Message}", $"Warning: Found Job {ObjectKey.Of(job)} finished in the future. This is likely due to time skew in the cluster. Job cleanup will be deferred.");
        }
        var at = finishedAt + TimeSpan.FromSeconds(job.Spec!.TtlSecondsAfterFinished!.Value);
        return (at, at - now);
    }
}

using Kcm.Api.Batch.V1;
using Kcm.Api.Meta.V1;
using Kcm.Client.Errors;
using Kcm.Controllers.Common;
using Kcm.Controllers.CronJobs;
using Kcm.Controllers.Tests.Deployments;
using Kcm.Runtime.Controllers;
using Kcm.Runtime.Informers;
using Kcm.Runtime.Metrics;
using Kcm.Runtime.Queues;
using Kcm.Testing;
using Microsoft.Extensions.Logging.Abstractions;
using static Kcm.Controllers.Tests.Common.TestStores;

namespace Kcm.Controllers.Tests.CronJobs;

/// <summary>
/// The controller over in-memory caches that a fake API keeps current (a write is visible to the next sync, as if
/// the informer had already delivered it), a fake clock and a recording event sink.
/// </summary>
internal sealed class CronJobHarness : IDisposable
{
    public const string Namespace = "ns";

    private int _uid;
    private int _resourceVersion;

    public CronJobHarness(DateTimeOffset now, TimeZoneInfo? localZone = null, bool timeZoneEnabled = true)
    {
        Clock = new FakeTimeProvider(now);
        Queue = RateLimitingQueue<ObjectKey>.WithDefaultControllerRateLimiter(new WorkQueueOptions { Name = CronJobController.QueueName, TimeProvider = Clock });
        Controller = new CronJobController(
            new CronJobControllerOptions { LocalTimeZone = localZone ?? TimeZoneInfo.Utc, TimeZoneEnabled = timeZoneEnabled },
            CronJobs,
            Jobs,
            new CronJobApi(this),
            new JobApi(this),
            Events,
            Queue,
            Clock,
            Metrics,
            NullLogger.Instance);
    }

    public FakeTimeProvider Clock { get; }

    public ThreadSafeStore<CronJob> CronJobs { get; } = Store<CronJob>();

    public ThreadSafeStore<Job> Jobs { get; } = Store<Job>();

    public RecordingEventRecorder Events { get; } = new();

    public MetricsRegistry Metrics { get; } = new();

    public RateLimitingQueue<ObjectKey> Queue { get; }

    public CronJobController Controller { get; }

    public List<string> Calls { get; } = [];

    public List<CronJob> StatusUpdates { get; } = [];

    /// <summary>Jobs the API holds but the cache has not seen.</summary>
    public Dictionary<string, Job> ApiOnlyJobs { get; } = [];

    public Func<string, Exception?>? Fail { get; set; }

    public IEnumerable<string> Reasons => Events.Events.Select(e => e.Reason);

    public CronJob AddCronJob(string schedule, DateTimeOffset created, Action<CronJob>? configure = null, string name = "cj")
    {
        var cronJob = new CronJob
        {
            Metadata = new ObjectMeta { Name = name, Namespace = Namespace, Uid = $"uid-{name}", CreationTimestamp = created, ResourceVersion = NextResourceVersion() },
            Spec = new CronJobSpec
            {
                Schedule = schedule,
                ConcurrencyPolicy = "Allow",
                JobTemplate = new JobTemplateSpec
                {
                    Metadata = new ObjectMeta { Labels = new() { ["app"] = "backup" }, Annotations = new() { ["note"] = "nightly" } },
                    Spec = new JobSpec { BackoffLimit = 2, Template = new Kcm.Api.Core.V1.PodTemplateSpec { Spec = new Kcm.Api.Core.V1.PodSpec { RestartPolicy = "Never", Containers = [new() { Name = "c", Image = "busybox" }] } } },
                },
            },
            Status = new CronJobStatus(),
        };
        configure?.Invoke(cronJob);
        CronJobs.Upsert(cronJob);
        return cronJob;
    }

    /// <summary>A Job the CronJob owns; <paramref name="active"/> also lists it in the CronJob's status.</summary>
    public Job AddJob(CronJob owner, string name, DateTimeOffset? started = null, string? finished = null, DateTimeOffset? completed = null, bool active = false)
    {
        var job = new Job
        {
            Metadata = new ObjectMeta
            {
                Name = name,
                Namespace = Namespace,
                Uid = $"uid-{name}",
                ResourceVersion = NextResourceVersion(),
                OwnerReferences = [ControllerRefs.NewControllerRef(owner.Metadata!, CronJob.Resource)],
            },
            Status = new JobStatus
            {
                StartTime = started,
                CompletionTime = completed,
                Conditions = finished is null ? null : [new JobCondition { Type = finished, Status = "True" }],
            },
        };
        Jobs.Upsert(job);
        if (active)
        {
            var current = CronJobs.Get(ObjectKey.Of(owner))!;
            current.Status ??= new CronJobStatus();
            current.Status.Active = [.. current.Status.Active ?? [], CronJobController.ReferenceTo(job)];
        }
        return job;
    }

    public CronJob Current(string name = "cj") => CronJobs.Get(new ObjectKey(Namespace, name))!;

    public Task<ReconcileResult> SyncAsync(string name = "cj") => Controller.SyncAsync(new ObjectKey(Namespace, name), CancellationToken.None);

    public void Dispose() => Queue.ShutDown();

    private string NextResourceVersion() => (++_resourceVersion).ToString(System.Globalization.CultureInfo.InvariantCulture);

    private void Check(string call)
    {
        lock (Calls)
        {
            Calls.Add(call);
        }
        if (Fail?.Invoke(call) is { } e)
        {
            throw e;
        }
    }

    private static NotFoundException NotFound(string name) => new(404, new Status { Reason = "NotFound", Message = $"jobs.batch \"{name}\" not found" });

    private sealed class CronJobApi(CronJobHarness h) : ICronJobControl
    {
        public Task<CronJob> GetAsync(string @namespace, string name, CancellationToken cancellationToken)
        {
            h.Check($"get cronjob {name}");
            return Task.FromResult(KubeObjects.Clone(h.CronJobs.Get(new ObjectKey(@namespace, name)) ?? throw NotFound(name)));
        }

        public Task<CronJob> UpdateStatusAsync(CronJob cronJob, CancellationToken cancellationToken)
        {
            h.Check($"update status {cronJob.Metadata!.Name}");
            var stored = KubeObjects.Clone(cronJob);
            stored.Metadata!.ResourceVersion = h.NextResourceVersion();
            h.StatusUpdates.Add(KubeObjects.Clone(stored));
            h.CronJobs.Upsert(stored);
            return Task.FromResult(stored);
        }
    }

    private sealed class JobApi(CronJobHarness h) : IJobControl
    {
        public Task<Job> GetAsync(string @namespace, string name, CancellationToken cancellationToken)
        {
            h.Check($"get job {name}");
            var job = h.Jobs.Get(new ObjectKey(@namespace, name)) ?? h.ApiOnlyJobs.GetValueOrDefault(name) ?? throw NotFound(name);
            return Task.FromResult(KubeObjects.Clone(job));
        }

        public Task<Job> CreateAsync(string @namespace, Job job, CancellationToken cancellationToken)
        {
            h.Check($"create job {job.Metadata!.Name}");
            if (h.Jobs.Get(new ObjectKey(@namespace, job.Metadata.Name!)) is not null)
            {
                throw new AlreadyExistsException(409, new Status { Reason = "AlreadyExists", Message = $"jobs.batch \"{job.Metadata.Name}\" already exists" });
            }
            var created = KubeObjects.Clone(job);
            created.Metadata!.Namespace = @namespace;
            created.Metadata.Uid = $"uid-created-{++h._uid}";
            created.Metadata.ResourceVersion = h.NextResourceVersion();
            created.Metadata.CreationTimestamp = h.Clock.GetUtcNow();
            h.Jobs.Upsert(created);
            return Task.FromResult(KubeObjects.Clone(created));
        }

        public Task DeleteAsync(string @namespace, string name, CancellationToken cancellationToken)
        {
            h.Check($"delete job {name}");
            if (h.Jobs.Delete(new ObjectKey(@namespace, name)) is null)
            {
                throw NotFound(name);
            }
            return Task.CompletedTask;
        }
    }
}

using System.Collections.Concurrent;
using System.Text.Json.Nodes;
using Kcm.Api;
using Kcm.Api.Batch.V1;
using Kcm.Api.Core.V1;
using Kcm.Api.Meta.V1;
using Kcm.Client.Errors;
using Kcm.Controllers.Common;
using Kcm.Controllers.Jobs;
using Kcm.Controllers.Tests.Deployments;
using Kcm.Runtime.Informers;
using Kcm.Runtime.Metrics;
using Kcm.Runtime.Queues;
using Kcm.Testing;
using Microsoft.Extensions.Logging.Abstractions;
using static Kcm.Controllers.Tests.Common.TestStores;

namespace Kcm.Controllers.Tests.Jobs;

/// <summary>
/// The job controller without a server: caches seeded by hand, a pod control that applies its writes to the pod cache
/// (creations become Pending pods, patches remove the tracking finalizer, deletions set deletionTimestamp) and a Job
/// client that stores status writes in the Job cache, with a fake clock.
/// </summary>
internal sealed class JobHarness : IDisposable
{
    public static readonly DateTimeOffset Start = new(2026, 11, 22, 12, 0, 0, TimeSpan.Zero);

    public JobHarness(JobControllerOptions? options = null)
    {
        Jobs = Store<Job>();
        Pods = Store<Pod>();
        PodControl = new RecordingPodControl(Pods, Time);
        Client = new StoringJobClient(Jobs);
        Queue = new RateLimitingQueue<ObjectKey>(new ItemExponentialFailureRateLimiter<ObjectKey>(TimeSpan.FromSeconds(10), TimeSpan.FromSeconds(360)), new WorkQueueOptions { Name = "job", TimeProvider = Time });
        OrphanQueue = RateLimitingQueue<ObjectKey>.WithDefaultControllerRateLimiter(new WorkQueueOptions { Name = "job_orphan_pod", TimeProvider = Time });
        Metrics = new MetricsRegistry();
        Controller = new JobController(options ?? new JobControllerOptions(), Jobs, Pods, PodControl, Client, Events, Queue, OrphanQueue, NullLogger.Instance, Time, new JobMetrics(Metrics));
    }

    public FakeTimeProvider Time { get; } = new(Start);

    public ThreadSafeStore<Job> Jobs { get; }

    public ThreadSafeStore<Pod> Pods { get; }

    public RecordingPodControl PodControl { get; }

    public StoringJobClient Client { get; }

    public RecordingEventRecorder Events { get; } = new();

    public RateLimitingQueue<ObjectKey> Queue { get; }

    public RateLimitingQueue<ObjectKey> OrphanQueue { get; }

    public MetricsRegistry Metrics { get; }

    public JobController Controller { get; }

    public static ObjectKey Key(string name = "pi") => new("default", name);

    public Job Job(string name = "pi") => Jobs.Get(Key(name))!;

    /// <summary>Syncs, then (unless <paramref name="observe"/> is false) delivers the new pods' add events as the informer would.</summary>
    public async Task SyncAsync(string name = "pi", bool observe = true)
    {
        try
        {
            await Controller.SyncAsync(Key(name), CancellationToken.None);
        }
        finally
        {
            if (observe) ObserveCreations();
        }
    }

    public void ObserveCreations()
    {
        while (_observed < PodControl.Created.Count)
        {
            var created = PodControl.Created.ElementAt(_observed++).Pod;
            Controller.OnPodAdded(Pods.Get(ObjectKey.Of(created)) ?? created);
        }
    }

    private int _observed;

    public static Job NewJob(string name = "pi", int? completions = 1, int parallelism = 1, int backoffLimit = 6, string restartPolicy = "Never", bool tracking = true, Action<JobSpec>? configure = null)
    {
        var job = new Job
        {
            Metadata = new ObjectMeta
            {
                Name = name,
                Namespace = "default",
                Uid = "uid-" + name,
                ResourceVersion = "1",
                Annotations = tracking ? new() { [JobConditions.TrackingFinalizer] = "" } : null,
                CreationTimestamp = Start,
            },
            Spec = new JobSpec
            {
                Completions = completions,
                Parallelism = parallelism,
                BackoffLimit = backoffLimit,
                CompletionMode = "NonIndexed",
                Suspend = false,
                Selector = new LabelSelector { MatchLabels = new() { ["controller-uid"] = "uid-" + name } },
                Template = new PodTemplateSpec
                {
                    Metadata = new ObjectMeta { Labels = new() { ["controller-uid"] = "uid-" + name, ["job-name"] = name } },
                    Spec = new PodSpec { RestartPolicy = restartPolicy, Containers = [new Container { Name = "main", Image = "busybox", Command = ["true"] }] },
                },
            },
        };
        configure?.Invoke(job.Spec);
        return job;
    }

    public void Add(Job job) => Jobs.Upsert(job);

    /// <summary>Every pod of the Job now, by name.</summary>
    public List<Pod> PodsOf(string job = "pi") => [.. Pods.ByIndex(KnownIndexers.ControllerUid, "uid-" + job).OrderBy(p => p.Metadata!.Name, StringComparer.Ordinal)];

    /// <summary>Sets a pod's phase (and a terminated container with the exit code), as the kubelet would, and tells the controller.</summary>
    public Pod Finish(Pod pod, string phase, int exitCode = 0, string? condition = null)
    {
        var old = Pods.Get(ObjectKey.Of(pod))!;
        var updated = KubeObjects.Clone(old);
        updated.Metadata!.ResourceVersion = (int.Parse(old.Metadata!.ResourceVersion ?? "1") + 1).ToString();
        updated.Status = new PodStatus
        {
            Phase = phase,
            ContainerStatuses = [new ContainerStatus { Name = "main", State = new ContainerState { Terminated = new ContainerStateTerminated { ExitCode = exitCode } } }],
            Conditions = condition is null ? null : [new PodCondition { Type = condition, Status = "True" }],
        };
        Pods.Upsert(updated);
        Controller.OnPodUpdated(old, updated);
        return updated;
    }

    public void Dispose()
    {
        Queue.Dispose();
        OrphanQueue.Dispose();
    }
}

/// <summary>Records pod writes and applies them to the pod cache, as the informer would soon show them.</summary>
internal sealed class RecordingPodControl(ThreadSafeStore<Pod> pods, TimeProvider time) : IPodControl
{
    private int _created;

    public ConcurrentQueue<(Pod Pod, string? GenerateName)> Created { get; } = new();

    public ConcurrentQueue<string> Deleted { get; } = new();

    public ConcurrentQueue<(string Name, string Patch)> Patches { get; } = new();

    public Func<string, Exception?>? Fail { get; set; }

    public Task CreatePodAsync(string @namespace, PodTemplateSpec template, ObjectReference controller, OwnerReference controllerRef, CancellationToken cancellationToken)
        => CreatePodAsync(@namespace, template, controller, controllerRef, null, cancellationToken);

    public Task CreatePodAsync(string @namespace, PodTemplateSpec template, ObjectReference controller, OwnerReference controllerRef, string? generateName, CancellationToken cancellationToken)
    {
        if (Fail?.Invoke("create") is { } error) throw error;
        var pod = PodControl.PodFromTemplate(template, controller.Name ?? "", controllerRef);
        var n = Interlocked.Increment(ref _created);
        pod.Metadata!.Name = (generateName ?? pod.Metadata.GenerateName) + $"p{n:D2}";
        pod.Metadata.Namespace = @namespace;
        pod.Metadata.Uid = "pod-uid-" + n;
        pod.Metadata.ResourceVersion = "1";
        pod.Metadata.CreationTimestamp = time.GetUtcNow();
        pod.Status = new PodStatus { Phase = "Pending" };
        Created.Enqueue((pod, generateName));
        pods.Upsert(pod);
        return Task.CompletedTask;
    }

    public Task DeletePodAsync(string @namespace, string podName, ObjectReference controller, CancellationToken cancellationToken)
    {
        if (Fail?.Invoke("delete") is { } error) throw error;
        Deleted.Enqueue(podName);
        if (pods.Get(new ObjectKey(@namespace, podName)) is { } pod)
        {
            var copy = KubeObjects.Clone(pod);
            copy.Metadata!.DeletionTimestamp = time.GetUtcNow();
            pods.Upsert(copy);
        }
        return Task.CompletedTask;
    }

    public Task PatchPodAsync(string @namespace, string podName, string strategicMergePatch, CancellationToken cancellationToken)
    {
        if (Fail?.Invoke("patch") is { } error) throw error;
        Patches.Enqueue((podName, strategicMergePatch));
        if (pods.Get(new ObjectKey(@namespace, podName)) is not { } pod) throw new NotFoundException(404, new Status { Reason = "NotFound" });
        var patch = JsonNode.Parse(strategicMergePatch)!;
        if (patch["metadata"]?["$deleteFromPrimitiveList/finalizers"] is JsonArray removed)
        {
            var copy = KubeObjects.Clone(pod);
            var names = removed.Select(n => n!.GetValue<string>()).ToHashSet();
            copy.Metadata!.Finalizers = copy.Metadata.Finalizers?.Where(f => !names.Contains(f)).ToList();
            pods.Upsert(copy);
        }
        return Task.CompletedTask;
    }
}

/// <summary>Status writes land in the Job cache (a new resourceVersion each); fresh reads come from it.</summary>
internal sealed class StoringJobClient(ThreadSafeStore<Job> jobs) : IJobClient
{
    public ConcurrentQueue<Job> StatusUpdates { get; } = new();

    public Func<Job, Exception?>? Fail { get; set; }

    public Task<Job> GetAsync(string @namespace, string name, CancellationToken cancellationToken)
        => jobs.Get(new ObjectKey(@namespace, name)) is { } job ? Task.FromResult(job) : throw new NotFoundException(404, new Status { Reason = "NotFound" });

    public Task<Job> UpdateStatusAsync(Job job, CancellationToken cancellationToken)
    {
        if (Fail?.Invoke(job) is { } error) throw error;
        var stored = KubeObjects.Clone(job);
        stored.Metadata!.ResourceVersion = (int.Parse(stored.Metadata.ResourceVersion ?? "1") + 1).ToString();
        StatusUpdates.Enqueue(KubeObjects.Clone(stored));
        jobs.Upsert(stored);
        return Task.FromResult(KubeObjects.Clone(stored));
    }
}

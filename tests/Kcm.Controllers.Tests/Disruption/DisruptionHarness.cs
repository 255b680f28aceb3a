using Kcm.Api;
using Kcm.Api.Apps.V1;
using Kcm.Api.Core.V1;
using Kcm.Api.Meta.V1;
using Kcm.Api.Policy.V1;
using Kcm.Client;
using Kcm.Client.Errors;
using Kcm.Controllers.Common;
using Kcm.Controllers.Disruption;
using Kcm.Controllers.Tests.Deployments;
using Kcm.Runtime.Informers;
using Kcm.Runtime.Queues;
using Kcm.Testing;
using Microsoft.Extensions.Logging.Abstractions;
using static Kcm.Controllers.Tests.Common.TestStores;

namespace Kcm.Controllers.Tests.Disruption;

/// <summary>
/// The disruption controller over hand-fed caches, a fake clock and fakes that record writes; a status write is
/// put back into the budget cache, as the informer would after the server accepted it (upstream's pdbStates).
/// </summary>
internal sealed class DisruptionHarness : IDisposable
{
    public const string Ns = "default";
    public static readonly Dictionary<string, string> FooBar = new() { ["foo"] = "bar" };

    public DisruptionHarness()
    {
        var options = (string name) => new WorkQueueOptions { Name = name, TimeProvider = Clock };
        Queues = new DisruptionQueues(
            RateLimitingQueue<ObjectKey>.WithDefaultControllerRateLimiter(options(DisruptionController.QueueName)),
            RateLimitingQueue<ObjectKey>.WithDefaultControllerRateLimiter(options(DisruptionController.RecheckQueueName)),
            RateLimitingQueue<ObjectKey>.WithDefaultControllerRateLimiter(options(DisruptionController.StalePodQueueName)));
        Controller = new DisruptionController(new DisruptionCaches(Budgets, Pods, Rcs, ReplicaSets, Deployments, StatefulSets),
            Scales, Writer, Events, Queues, Clock, NullLogger.Instance);
    }

    public FakeTimeProvider Clock { get; } = new(new DateTimeOffset(2026, 1, 2, 3, 4, 5, TimeSpan.Zero));

    public ThreadSafeStore<PodDisruptionBudget> Budgets { get; } = Store<PodDisruptionBudget>();

    public ThreadSafeStore<Pod> Pods { get; } = Store<Pod>();

    public ThreadSafeStore<ReplicationController> Rcs { get; } = Store<ReplicationController>();

    public ThreadSafeStore<ReplicaSet> ReplicaSets { get; } = Store<ReplicaSet>();

    public ThreadSafeStore<Deployment> Deployments { get; } = Store<Deployment>();

    public ThreadSafeStore<StatefulSet> StatefulSets { get; } = Store<StatefulSet>();

    public FakeScaleClient Scales { get; } = new();

    public FakeDisruptionWriter Writer { get; } = new();

    public RecordingEventRecorder Events { get; } = new();

    public DisruptionQueues Queues { get; }

    public DisruptionController Controller { get; }

    public void Dispose()
    {
        Queues.Budgets.Dispose();
        Queues.Recheck.Dispose();
        Queues.StalePods.Dispose();
    }

    /// <summary>Syncs the budget; a written status lands in the cache.</summary>
    public async Task SyncAsync(string name = "pdb")
    {
        var before = Writer.Statuses.Count;
        await Controller.SyncAsync(new ObjectKey(Ns, name), CancellationToken.None);
        if (Writer.Statuses.Count > before)
        {
            Budgets.Upsert(KubeObjects.Clone(Writer.Statuses[^1]));
        }
    }

    public PodDisruptionBudgetStatus Status(string name = "pdb") => Budgets.Get(new ObjectKey(Ns, name))!.Status ?? new PodDisruptionBudgetStatus();

    /// <summary>upstream's VerifyPdbStatus argument order.</summary>
    public void AssertStatus(int disruptionsAllowed, int currentHealthy, int desiredHealthy, int expectedPods, string name = "pdb")
    {
        var status = Status(name);
        Assert.Equal((disruptionsAllowed, currentHealthy, desiredHealthy, expectedPods),
            (status.DisruptionsAllowed ?? 0, status.CurrentHealthy ?? 0, status.DesiredHealthy ?? 0, status.ExpectedPods ?? 0));
    }

    public PodDisruptionBudget AddBudget(IntOrString? minAvailable = null, IntOrString? maxUnavailable = null, string name = "pdb")
    {
        var pdb = new PodDisruptionBudget
        {
            Metadata = new ObjectMeta { Name = name, Namespace = Ns, Uid = "uid-" + name, Generation = 1, ResourceVersion = "18" },
            Spec = new PodDisruptionBudgetSpec
            {
                MinAvailable = minAvailable,
                MaxUnavailable = maxUnavailable,
                Selector = new LabelSelector { MatchLabels = new Dictionary<string, string>(FooBar) },
            },
        };
        Budgets.Upsert(pdb);
        return pdb;
    }

    public Pod AddPod(string name, bool ready = true, OwnerReference? owner = null, Dictionary<string, string>? labels = null)
    {
        var pod = new Pod
        {
            Metadata = new ObjectMeta
            {
                Name = name,
                Namespace = Ns,
                Uid = "uid-" + name,
                ResourceVersion = "18",
                Labels = new Dictionary<string, string>(labels ?? FooBar),
                OwnerReferences = owner is null ? null : [owner],
            },
            Status = new PodStatus
            {
                Phase = "Running",
                Conditions = ready ? [new PodCondition { Type = "Ready", Status = "True" }] : [],
            },
        };
        Pods.Upsert(pod);
        return pod;
    }

    public static OwnerReference ControllerRef(string apiVersion, string kind, string name, string? uid = null)
        => new() { ApiVersion = apiVersion, Kind = kind, Name = name, Uid = uid ?? "uid-" + name, Controller = true };

    public ReplicaSet AddReplicaSet(string name, int replicas, OwnerReference? owner = null)
    {
        var rs = new ReplicaSet
        {
            Metadata = new ObjectMeta { Name = name, Namespace = Ns, Uid = "uid-" + name, OwnerReferences = owner is null ? null : [owner] },
            Spec = new ReplicaSetSpec { Replicas = replicas, Selector = new LabelSelector { MatchLabels = new Dictionary<string, string>(FooBar) } },
        };
        ReplicaSets.Upsert(rs);
        return rs;
    }

    public static List<ObjectKey> Drain<T>(RateLimitingQueue<T> queue)
        where T : notnull
    {
        var items = new List<ObjectKey>();
        while (queue.TryTake(out var item))
        {
            items.Add((ObjectKey)(object)item);
            queue.Done(item);
        }
        return items;
    }
}

internal sealed class FakeScaleClient : IScaleClient
{
    public Dictionary<(string Group, string Kind), string> Mappings { get; } = [];

    public Dictionary<(string Resource, string Name), ControllerScale> Scales { get; } = [];

    public HashSet<string> ResourcesWithScale { get; } = [];

    public Task<GroupVersionResource> MapAsync(string group, string version, string kind, CancellationToken cancellationToken)
        => Mappings.TryGetValue((group, kind), out var resource)
            ? Task.FromResult(new GroupVersionResource(group, version, resource))
            : Task.FromException<GroupVersionResource>(new NoKindMatchException(kind, group.Length == 0 ? version : $"{group}/{version}"));

    public Task<ControllerScale?> GetScaleAsync(GroupVersionResource resource, string @namespace, string name, CancellationToken cancellationToken)
        => Task.FromResult(Scales.TryGetValue((resource.Resource, name), out var scale) ? scale : (ControllerScale?)null);

    public Task<bool> ImplementsScaleAsync(GroupVersionResource resource, CancellationToken cancellationToken)
        => Task.FromResult(ResourcesWithScale.Contains(resource.Resource));
}

internal sealed class FakeDisruptionWriter : IDisruptionWriter
{
    public List<PodDisruptionBudget> Statuses { get; } = [];

    public List<(Pod Pod, DateTimeOffset Now)> Resets { get; } = [];

    public Exception? StatusError { get; set; }

    public Task UpdateStatusAsync(PodDisruptionBudget pdb, CancellationToken cancellationToken)
    {
        if (StatusError is { } error)
        {
            StatusError = null;
            return Task.FromException(error);
        }
        Statuses.Add(KubeObjects.Clone(pdb));
        return Task.CompletedTask;
    }

    public Task ResetDisruptionTargetAsync(Pod pod, DateTimeOffset now, CancellationToken cancellationToken)
    {
        Resets.Add((pod, now));
        return Task.CompletedTask;
    }

    public static ConflictException Conflict() => new(409, new Status { Reason = "Conflict", Message = "the object has been modified" });
}

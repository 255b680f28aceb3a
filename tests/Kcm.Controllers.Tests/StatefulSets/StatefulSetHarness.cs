using Kcm.Api;
using Kcm.Api.Apps.V1;
using Kcm.Api.Core.V1;
using Kcm.Api.Meta.V1;
using Kcm.Client.Errors;
using Kcm.Controllers.Common;
using Kcm.Controllers.StatefulSets;
using Kcm.Controllers.Tests.Common;
using Kcm.Controllers.Tests.DaemonSets;
using Kcm.Controllers.Tests.Deployments;
using Kcm.Controllers.Tests.ReplicaSets;
using Kcm.Runtime.Informers;
using Kcm.Runtime.Queues;
using Microsoft.Extensions.Logging.Abstractions;
using static Kcm.Controllers.Tests.Common.TestStores;

namespace Kcm.Controllers.Tests.StatefulSets;

/// <summary>A StatefulSet controller over hand-fed caches and a fake API that writes straight back into them.</summary>
internal sealed class StatefulSetHarness : IDisposable
{
    public static readonly DateTimeOffset Now = TestPods.Now;
    public static readonly ObjectKey Key = new("default", "web");

    public StatefulSetHarness(StatefulSetFeatures? features = null)
    {
        Api = new FakeStatefulSetApi(Sets, Pods, Claims);
        Revisions = new FakeRevisionClient(RevisionStore);
        Controller = new StatefulSetController(
            new StatefulSetControllerOptions { Features = features ?? new StatefulSetFeatures() },
            Sets, Pods, Claims, RevisionStore, Api, Revisions, Events, Queue, NullLogger.Instance, Time);
    }

    public ThreadSafeStore<StatefulSet> Sets { get; } = Store<StatefulSet>();
    public ThreadSafeStore<Pod> Pods { get; } = Store<Pod>();
    public ThreadSafeStore<PersistentVolumeClaim> Claims { get; } = Store<PersistentVolumeClaim>();
    public ThreadSafeStore<ControllerRevision> RevisionStore { get; } = Store<ControllerRevision>();
    public FakeStatefulSetApi Api { get; }
    public FakeRevisionClient Revisions { get; }
    public RecordingEventRecorder Events { get; } = new();
    public FixedTime Time { get; } = new(Now);
    public RateLimitingQueue<ObjectKey> Queue { get; } = RateLimitingQueue<ObjectKey>.WithDefaultControllerRateLimiter(new WorkQueueOptions { Name = "statefulset" });
    public StatefulSetController Controller { get; }

    public void Dispose() => Queue.Dispose();

    public Task SyncAsync() => Controller.SyncAsync(Key, CancellationToken.None);

    /// <summary>Syncs until nothing more is written (the set's status is fed back as the informer would).</summary>
    public async Task SyncUntilStableAsync(int maxRounds = 20)
    {
        for (var i = 0; i < maxRounds; i++)
        {
            var writes = Api.Writes;
            await SyncAsync();
            if (Api.Writes == writes)
            {
                return;
            }
        }
        throw new InvalidOperationException("the controller kept writing");
    }

    public StatefulSet Set => Sets.Get(Key)!;

    public StatefulSet AddSet(Action<StatefulSet>? configure = null)
    {
        var set = new StatefulSet
        {
            Metadata = new ObjectMeta { Name = "web", Namespace = "default", Uid = "web-uid", Generation = 1, ResourceVersion = "1" },
            Spec = new StatefulSetSpec
            {
                Replicas = 3,
                ServiceName = "web",
                PodManagementPolicy = StatefulSetNames.OrderedReady,
                RevisionHistoryLimit = 10,
                Selector = new LabelSelector { MatchLabels = new() { ["app"] = "web" } },
                UpdateStrategy = new StatefulSetUpdateStrategy { Type = StatefulSetNames.RollingUpdate, RollingUpdate = new RollingUpdateStatefulSetStrategy { Partition = 0 } },
                Template = new PodTemplateSpec
                {
                    Metadata = new ObjectMeta { Labels = new() { ["app"] = "web" } },
                    Spec = new PodSpec { Containers = [new Container { Name = "c", Image = "nginx:1" }] },
                },
            },
            Status = new StatefulSetStatus(),
        };
        configure?.Invoke(set);
        Sets.Upsert(set);
        return set;
    }

    public static PersistentVolumeClaim ClaimTemplate(string name) => new()
    {
        Metadata = new ObjectMeta { Name = name },
        Spec = new PersistentVolumeClaimSpec { AccessModes = ["ReadWriteOnce"] },
    };

    /// <summary>What a kubelet would do: every created pod becomes Running and Ready (an hour ago).</summary>
    public void MakeAllRunningAndReady()
    {
        foreach (var pod in Pods.List())
        {
            SetPhase(pod.Metadata!.Name!, "Running", ready: true);
        }
    }

    public void SetPhase(string name, string phase, bool ready)
    {
        var pod = KubeObjects.Clone(Pods.Get(new ObjectKey("default", name))!);
        pod.Status = new PodStatus
        {
            Phase = phase,
            Conditions = [new PodCondition { Type = "Ready", Status = ready ? "True" : "False", LastTransitionTime = Now.AddHours(-1) }],
        };
        pod.Metadata!.ResourceVersion = Api.NextResourceVersion();
        Pods.Upsert(pod);
    }

    public List<string> PodNames() => [.. Pods.List().Select(p => p.Metadata!.Name!).Order(StringComparer.Ordinal)];
}

/// <summary>Records every write and applies it to the caches at once (an instantly consistent informer).</summary>
internal sealed class FakeStatefulSetApi(ThreadSafeStore<StatefulSet> sets, ThreadSafeStore<Pod> pods, ThreadSafeStore<PersistentVolumeClaim> claims) : IStatefulSetApi
{
    private int _version = 100;

    public List<string> Calls { get; } = [];

    public int Writes => Calls.Count;

    public List<StatefulSetStatus> StatusUpdates { get; } = [];

    public string NextResourceVersion() => (++_version).ToString(System.Globalization.CultureInfo.InvariantCulture);

    public Task<StatefulSet> GetSetAsync(string? @namespace, string name, CancellationToken cancellationToken)
        => Task.FromResult(KubeObjects.Clone(sets.Get(new ObjectKey(@namespace, name)) ?? throw NotFound("statefulsets.apps", name)));

    public Task<StatefulSet> UpdateSetStatusAsync(StatefulSet set, CancellationToken cancellationToken)
    {
        Calls.Add("update-status");
        StatusUpdates.Add(KubeObjects.Clone(set.Status!));
        var stored = KubeObjects.Clone(set);
        stored.Metadata!.ResourceVersion = NextResourceVersion();
        sets.Upsert(stored);
        return Task.FromResult(stored);
    }

    public Task<Pod> CreatePodAsync(Pod pod, CancellationToken cancellationToken)
    {
        if (pods.Get(ObjectKey.Of(pod)) is not null)
        {
            throw new AlreadyExistsException(409, new Status { Reason = "AlreadyExists", Message = $"pods \"{pod.Metadata!.Name}\" already exists" });
        }
        Calls.Add("create-pod " + pod.Metadata!.Name);
        var created = KubeObjects.Clone(pod);
        created.Metadata!.Uid = "uid-" + pod.Metadata.Name + "-" + NextResourceVersion();
        created.Metadata.ResourceVersion = NextResourceVersion();
        created.Status = new PodStatus { Phase = "Pending" };
        pods.Upsert(created);
        return Task.FromResult(created);
    }

    public Task<Pod> UpdatePodAsync(Pod pod, CancellationToken cancellationToken)
    {
        Calls.Add("update-pod " + pod.Metadata!.Name);
        var stored = KubeObjects.Clone(pod);
        stored.Metadata!.ResourceVersion = NextResourceVersion();
        pods.Upsert(stored);
        return Task.FromResult(stored);
    }

    public Task DeletePodAsync(string? @namespace, string name, CancellationToken cancellationToken)
    {
        Calls.Add("delete-pod " + name);
        var pod = pods.Get(new ObjectKey(@namespace, name)) ?? throw NotFound("pods", name);
        pods.Delete(ObjectKey.Of(pod));
        return Task.CompletedTask;
    }

    public Task PatchPodAsync(string? @namespace, string name, string patch, CancellationToken cancellationToken)
    {
        Calls.Add("patch-pod " + name);
        return Task.CompletedTask;
    }

    public Task<PersistentVolumeClaim> CreateClaimAsync(PersistentVolumeClaim claim, CancellationToken cancellationToken)
    {
        Calls.Add("create-claim " + claim.Metadata!.Name);
        var created = KubeObjects.Clone(claim);
        created.Metadata!.Uid = "uid-" + claim.Metadata.Name;
        created.Metadata.ResourceVersion = NextResourceVersion();
        claims.Upsert(created);
        return Task.FromResult(created);
    }

    public Task<PersistentVolumeClaim> UpdateClaimAsync(PersistentVolumeClaim claim, CancellationToken cancellationToken)
    {
        Calls.Add("update-claim " + claim.Metadata!.Name);
        var stored = KubeObjects.Clone(claim);
        stored.Metadata!.ResourceVersion = NextResourceVersion();
        claims.Upsert(stored);
        return Task.FromResult(stored);
    }

    private static NotFoundException NotFound(string resource, string name)
        => new(404, new Status { Reason = "NotFound", Message = $"{resource} \"{name}\" not found" });
}

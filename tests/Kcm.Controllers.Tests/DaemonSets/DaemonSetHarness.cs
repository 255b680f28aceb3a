using Kcm.Api;
using Kcm.Api.Apps.V1;
using Kcm.Api.Core.V1;
using Kcm.Api.Meta.V1;
using Kcm.Client.Errors;
using Kcm.Controllers.Common;
using Kcm.Controllers.DaemonSets;
using Kcm.Controllers.Tests.Common;
using Kcm.Controllers.Tests.Deployments;
using Kcm.Controllers.Tests.ReplicaSets;
using Kcm.Runtime.Informers;
using Kcm.Runtime.Queues;
using Microsoft.Extensions.Logging.Abstractions;
using static Kcm.Controllers.Tests.Common.TestStores;

namespace Kcm.Controllers.Tests.DaemonSets;

/// <summary>A DaemonSet controller over hand-fed caches, fake writers and a settable clock.</summary>
internal sealed class DaemonSetHarness : IDisposable
{
    public static readonly DateTimeOffset Now = TestPods.Now;
    public static readonly ObjectKey Key = new("default", "ds");

    public DaemonSetHarness()
    {
        Revisions = new FakeRevisionClient(RevisionStore);
        Client = new FakeDaemonSetClient(DaemonSets);
        Controller = new DaemonSetController(
            new DaemonSetControllerOptions(), DaemonSets, RevisionStore, Pods, Nodes, PodControl, Revisions, Client, Events, Queue, NullLogger.Instance, Time);
    }

    public ThreadSafeStore<DaemonSet> DaemonSets { get; } = Store<DaemonSet>();
    public ThreadSafeStore<ControllerRevision> RevisionStore { get; } = Store<ControllerRevision>();
    public ThreadSafeStore<Pod> Pods { get; } = Store<Pod>();
    public ThreadSafeStore<Node> Nodes { get; } = Store<Node>();
    public FakePodControl PodControl { get; } = new();
    public FakeRevisionClient Revisions { get; }
    public FakeDaemonSetClient Client { get; }
    public RecordingEventRecorder Events { get; } = new();
    public FixedTime Time { get; } = new(Now);
    public RateLimitingQueue<ObjectKey> Queue { get; } = RateLimitingQueue<ObjectKey>.WithDefaultControllerRateLimiter(new WorkQueueOptions { Name = "daemonset" });
    public DaemonSetController Controller { get; }

    public void Dispose() => Queue.Dispose();

    public Task SyncAsync() => Controller.SyncAsync(Key, CancellationToken.None);

    public static DaemonSet NewDaemonSet(Action<DaemonSet>? configure = null)
    {
        var ds = new DaemonSet
        {
            Metadata = new ObjectMeta { Name = "ds", Namespace = "default", Uid = "ds-uid", Generation = 1, ResourceVersion = "1" },
            Spec = new DaemonSetSpec
            {
                Selector = new LabelSelector { MatchLabels = new() { ["app"] = "d" } },
                Template = new PodTemplateSpec
                {
                    Metadata = new ObjectMeta { Labels = new() { ["app"] = "d" } },
                    Spec = new PodSpec { Containers = [new Container { Name = "c", Image = "img:1" }] },
                },
                UpdateStrategy = new DaemonSetUpdateStrategy { Type = "RollingUpdate", RollingUpdate = new RollingUpdateDaemonSet { MaxUnavailable = IntOrString.FromInt(1), MaxSurge = IntOrString.FromInt(0) } },
                RevisionHistoryLimit = 10,
            },
            Status = new DaemonSetStatus(),
        };
        configure?.Invoke(ds);
        return ds;
    }

    public static Node NewNode(string name, Dictionary<string, string>? labels = null, params Taint[] taints) => new()
    {
        Metadata = new ObjectMeta { Name = name, Labels = labels ?? new() { ["kubernetes.io/hostname"] = name }, ResourceVersion = "1" },
        Spec = new NodeSpec { Taints = taints.Length > 0 ? [.. taints] : null },
        Status = new NodeStatus { Conditions = [new NodeCondition { Type = "Ready", Status = "True" }] },
    };

    public void AddNodes(params string[] names)
    {
        foreach (var name in names)
        {
            Nodes.Upsert(NewNode(name));
        }
    }

    /// <summary>A daemon pod owned by the DaemonSet, bound to the node, with the given hash label.</summary>
    public Pod AddPod(string name, string node, string hash, bool ready = true, DateTimeOffset? readySince = null, string phase = "Running", DateTimeOffset? created = null)
    {
        var pod = TestPods.Pod(name, phase, node, ready ? readySince ?? Now.AddHours(-1) : null, created,
            labels: new() { ["app"] = "d", [DaemonSetNames.UniqueLabelKey] = hash });
        pod.Metadata!.OwnerReferences = [new OwnerReference { ApiVersion = "apps/v1", Kind = "DaemonSet", Name = "ds", Uid = "ds-uid", Controller = true, BlockOwnerDeletion = true }];
        Pods.Upsert(pod);
        return pod;
    }

    /// <summary>The hash of the DaemonSet's current revision (after a sync created it).</summary>
    public string CurrentHash()
    {
        var ds = DaemonSets.Get(Key)!;
        var current = RevisionStore.List().Single(r => ControllerHistory.Matches(ds.Spec!.Template, r));
        return current.Metadata!.Labels![DaemonSetNames.UniqueLabelKey];
    }

    /// <summary>Feeds the fakes' creations back as informer events (pods get a name and their target node).</summary>
    public void ObserveCreatedPods()
    {
        var i = Pods.Count;
        while (PodControl.Created.TryDequeue(out var created))
        {
            var pod = PodControl_ToPod(created.Template, created.ControllerRef, $"ds-new-{i++}");
            Pods.Upsert(pod);
            Controller.OnPodAdded(pod);
        }
    }

    public void ObserveDeletedPods()
    {
        while (PodControl.Deleted.TryDequeue(out var name))
        {
            var pod = Pods.Get(new ObjectKey("default", name))!;
            Pods.Delete(ObjectKey.Of(pod));
            Controller.OnPodDeleted(pod);
        }
    }

    private static Pod PodControl_ToPod(PodTemplateSpec template, OwnerReference controllerRef, string name)
    {
        var pod = Kcm.Controllers.Common.PodControl.PodFromTemplate(template, "ds", controllerRef);
        pod.Metadata!.Name = name;
        pod.Metadata.Namespace = "default";
        pod.Metadata.Uid = "uid-" + name;
        pod.Metadata.CreationTimestamp = Now;
        pod.Metadata.ResourceVersion = "1";
        pod.Spec!.NodeName = DaemonSetUtil.TargetNodeName(pod);
        pod.Status = new PodStatus { Phase = "Pending" };
        return pod;
    }
}

internal sealed class FakeRevisionClient(ThreadSafeStore<ControllerRevision> store) : IControllerRevisionClient
{
    private int _uid;

    public List<string> Created { get; } = [];
    public List<string> Deleted { get; } = [];
    public List<ControllerRevision> Updated { get; } = [];

    public Task<ControllerRevision> CreateAsync(string? @namespace, ControllerRevision revision, CancellationToken cancellationToken)
    {
        var copy = KubeObjects.Clone(revision);
        copy.Metadata!.Namespace = @namespace;
        if (store.Get(ObjectKey.Of(copy)) is not null)
        {
            throw new AlreadyExistsException(409, new Status { Reason = "AlreadyExists", Message = $"controllerrevisions.apps \"{copy.Metadata.Name}\" already exists" });
        }
        copy.Metadata.Uid = $"rev-uid-{++_uid}";
        copy.Metadata.CreationTimestamp = DaemonSetHarness.Now;
        copy.Metadata.ResourceVersion = "1";
        store.Upsert(copy);
        Created.Add(copy.Metadata.Name!);
        return Task.FromResult(copy);
    }

    public Task<ControllerRevision> GetAsync(string? @namespace, string name, CancellationToken cancellationToken)
        => Task.FromResult(store.Get(new ObjectKey(@namespace, name)) ?? throw new NotFoundException(404, new Status { Reason = "NotFound" }));

    public Task<ControllerRevision> UpdateAsync(ControllerRevision revision, CancellationToken cancellationToken)
    {
        store.Upsert(revision);
        Updated.Add(revision);
        return Task.FromResult(revision);
    }

    public Task DeleteAsync(string? @namespace, string name, CancellationToken cancellationToken)
    {
        if (store.Get(new ObjectKey(@namespace, name)) is { } r)
        {
            store.Delete(ObjectKey.Of(r));
        }
        Deleted.Add(name);
        return Task.CompletedTask;
    }

    public Task PatchAsync(string? @namespace, string name, string patch, CancellationToken cancellationToken) => Task.CompletedTask;
}

internal sealed class FakeDaemonSetClient(ThreadSafeStore<DaemonSet> store) : IDaemonSetClient
{
    public List<DaemonSet> StatusUpdates { get; } = [];

    public Task<DaemonSet> GetAsync(string? @namespace, string name, CancellationToken cancellationToken)
        => Task.FromResult(KubeObjects.Clone(store.Get(new ObjectKey(@namespace, name)) ?? throw new NotFoundException(404, new Status { Reason = "NotFound" })));

    public Task<DaemonSet> UpdateStatusAsync(DaemonSet ds, CancellationToken cancellationToken)
    {
        var copy = KubeObjects.Clone(ds);
        StatusUpdates.Add(copy);
        store.Upsert(copy);
        return Task.FromResult(copy);
    }
}

using Kcm.Api;
using Kcm.Api.Apps.V1;
using Kcm.Api.Core.V1;
using Kcm.Api.Meta.V1;
using Kcm.Controllers.Common;
using Kcm.Controllers.Deployments;
using Kcm.Runtime.Informers;
using Kcm.Runtime.Queues;
using Kcm.Testing;
using Microsoft.Extensions.Logging.Abstractions;
using DeploymentObject = Kcm.Api.Apps.V1.Deployment;
using static Kcm.Controllers.Tests.Common.TestStores;

namespace Kcm.Controllers.Tests.Deployments;

/// <summary>
/// A deployment controller over seeded caches and an in-memory API (<see cref="FakeDeploymentApi"/>): no server,
/// no informers, a fake clock. Without a ReplicaSet controller around, the tests play its part by writing
/// ReplicaSet status; <see cref="SyncAsync"/> runs one reconcile.
/// </summary>
internal sealed class DeploymentHarness : IDisposable
{
    public const string Ns = "default";

    public static readonly DateTimeOffset Start = new(2026, 11, 22, 12, 0, 0, TimeSpan.Zero);

    public DeploymentHarness()
    {
        Deployments = Store<DeploymentObject>();
        ReplicaSets = Store<ReplicaSet>();
        Pods = Store<Pod>();
        Api = new FakeDeploymentApi(Deployments, ReplicaSets, Time);
        Queue = RateLimitingQueue<ObjectKey>.WithDefaultControllerRateLimiter(new WorkQueueOptions { Name = DeploymentController.QueueName, TimeProvider = Time });
        Controller = new DeploymentController(Deployments, ReplicaSets, Pods, Api, Api, Recorder, Queue, NullLogger.Instance, Time);
    }

    public FakeTimeProvider Time { get; } = new(Start);

    public ThreadSafeStore<DeploymentObject> Deployments { get; }

    public ThreadSafeStore<ReplicaSet> ReplicaSets { get; }

    public ThreadSafeStore<Pod> Pods { get; }

    public FakeDeploymentApi Api { get; }

    public RecordingEventRecorder Recorder { get; } = new();

    public RateLimitingQueue<ObjectKey> Queue { get; }

    public DeploymentController Controller { get; }

    public static DeploymentObject NewDeployment(string name, int replicas, string image, string strategy = "RollingUpdate", object? maxSurge = null, object? maxUnavailable = null)
    {
        var d = new DeploymentObject
        {
            Metadata = new ObjectMeta { Name = name },
            Spec = new DeploymentSpec
            {
                Replicas = replicas,
                Selector = new LabelSelector { MatchLabels = new() { ["app"] = name } },
                Template = Template(name, image),
                Strategy = new DeploymentStrategy { Type = strategy },
            },
        };
        if (strategy == "RollingUpdate" && (maxSurge is not null || maxUnavailable is not null))
        {
            d.Spec.Strategy.RollingUpdate = new RollingUpdateDeployment { MaxSurge = ToIntOrString(maxSurge), MaxUnavailable = ToIntOrString(maxUnavailable) };
        }
        return d;
    }

    private static IntOrString? ToIntOrString(object? value) => value switch
    {
        int i => IntOrString.FromInt(i),
        string s => IntOrString.FromString(s),
        _ => (IntOrString?)null,
    };

    public static PodTemplateSpec Template(string app, string image) => new()
    {
        Metadata = new ObjectMeta { Labels = new() { ["app"] = app } },
        Spec = new PodSpec { Containers = [new Container { Name = "main", Image = image }] },
    };

    /// <summary>Stores the Deployment with the API server's defaults (apps/v1 SetDefaults_Deployment).</summary>
    public DeploymentObject Create(DeploymentObject d)
    {
        d = KubeObjects.Clone(d);
        d.Metadata!.Namespace = Ns;
        var spec = d.Spec!;
        spec.Replicas ??= 1;
        spec.Strategy ??= new DeploymentStrategy();
        spec.Strategy.Type ??= "RollingUpdate";
        if (spec.Strategy.Type == "RollingUpdate")
        {
            spec.Strategy.RollingUpdate ??= new RollingUpdateDeployment();
            spec.Strategy.RollingUpdate.MaxSurge ??= IntOrString.FromString("25%");
            spec.Strategy.RollingUpdate.MaxUnavailable ??= IntOrString.FromString("25%");
        }
        spec.RevisionHistoryLimit ??= 10;
        spec.ProgressDeadlineSeconds ??= 600;
        return Api.Store(Deployments, d, create: true);
    }

    public DeploymentObject Get(string name) => KubeObjects.Clone(Deployments.Get(new ObjectKey(Ns, name))!);

    /// <summary>A user's change of the Deployment's spec or metadata; a spec change bumps the generation.</summary>
    public DeploymentObject Update(string name, Action<DeploymentObject> change)
    {
        var d = Get(name);
        var before = KubeJson.Serialize(d.Spec);
        change(d);
        if (KubeJson.Serialize(d.Spec) != before)
        {
            d.Metadata!.Generation++;
        }
        return Api.Store(Deployments, d, create: false);
    }

    /// <summary>A ReplicaSet (or pod) made by someone else, e.g. an orphan or a name squatter.</summary>
    public ReplicaSet AddReplicaSet(ReplicaSet rs)
    {
        rs.Metadata!.Namespace = Ns;
        return Api.Store(ReplicaSets, rs, create: true);
    }

    public Pod AddPod(Pod pod)
    {
        pod.Metadata!.Namespace = Ns;
        return Api.Store(Pods, pod, create: true);
    }

    public void UpdatePod(Pod pod) => Api.Store(Pods, pod, create: false);

    /// <summary>The namespace's ReplicaSets, oldest first.</summary>
    public List<ReplicaSet> ReplicaSetsNow()
    {
        var list = ReplicaSets.List().Select(KubeObjects.Clone).ToList();
        list.Sort(ReplicaSetOrder.ByCreationTimestamp);
        return list;
    }

    public static string ImageOf(ReplicaSet rs) => rs.Spec?.Template?.Spec?.Containers?[0].Image ?? "";

    public static int SpecReplicas(ReplicaSet rs) => rs.Spec?.Replicas ?? 0;

    /// <summary>Plays the ReplicaSet controller: the given counts in status, observedGeneration current.</summary>
    public void SetStatus(string rsName, int replicas, int available)
    {
        var rs = KubeObjects.Clone(ReplicaSets.Get(new ObjectKey(Ns, rsName))!);
        rs.Status = new ReplicaSetStatus
        {
            Replicas = replicas,
            FullyLabeledReplicas = replicas,
            ReadyReplicas = available,
            AvailableReplicas = available,
            ObservedGeneration = rs.Metadata?.Generation,
        };
        Api.Store(ReplicaSets, rs, create: false);
    }

    /// <summary>Every ReplicaSet's pods exist and are available, as many as its spec asks for.</summary>
    public void MakeAllAvailable()
    {
        foreach (var rs in ReplicaSetsNow())
        {
            SetStatus(rs.Metadata!.Name!, SpecReplicas(rs), SpecReplicas(rs));
        }
    }

    /// <summary>
    /// One reconcile. A conflict is what upstream's sync also meets when it writes status twice (the second write
    /// carries the old resourceVersion); the worker retries, so the tests' next sync plays the retry.
    /// </summary>
    public async Task SyncAsync(string name)
    {
        try
        {
            await Controller.SyncAsync(new ObjectKey(Ns, name), CancellationToken.None);
        }
        catch (Kcm.Client.Errors.ConflictException)
        {
        }
    }

    public void Dispose() => Queue.Dispose();
}

using Kcm.Api.Apps.V1;
using Kcm.Api.Core.V1;
using Kcm.Client;
using Kcm.Client.Errors;
using Kcm.Controllers.Common;
using Kcm.Runtime.Controllers;
using Kcm.Runtime.Events;
using Kcm.Runtime.Informers;
using Kcm.Runtime.Queues;
using Microsoft.Extensions.Logging;
using Labels = Kcm.Api.Selectors.LabelSelector;

namespace Kcm.Controllers.Deployments;

public sealed record DeploymentControllerOptions
{
    /// <summary>--concurrent-deployment-syncs.</summary>
    public int Workers { get; init; } = 5;
}

/// <summary>
/// Upstream's deployment controller (pkg/controller/deployment, v1.26): rolls a Deployment's pod template out
/// through ReplicaSets named "&lt;deployment&gt;-&lt;pod-template-hash&gt;" with the RollingUpdate or Recreate
/// strategy, scales them proportionally, keeps revisions and a bounded history, honours pause and the
/// deprecated rollback annotation, and reports status and the Progressing/Available conditions.
/// </summary>
public sealed partial class DeploymentController
{
    public const string ControllerName = "deployment";
    public const string ComponentName = "deployment-controller";
    public const string QueueName = "deployment";

    /// <summary>Upstream's maxRetries: with 5ms·2^n backoff a failing Deployment is dropped after about 82 s of retries.</summary>
    public const int MaxRetries = 15;

    /// <summary>
    /// Upstream's handleErr: a terminating namespace ends the key's work; other failures drop it after
    /// <see cref="MaxRetries"/>, each retry logged at V(2) only (conflicts on stale status writes are routine).
    /// </summary>
    public static RetryPolicy RetryPolicy { get; } = RetryPolicy.DropAfter(MaxRetries, "deployment") with
    {
        IsFinal = ApiErrors.IsNamespaceTerminating,
        IsExpected = _ => true,
        LogFailure = (logger, key, error, dropping) =>
        {
            if (!dropping)
            {
                logger.LogDebug("Error syncing deployment {Deployment} {Err}", key, error.Message);
                return;
            }
            logger.LogError("{Message}", error.Message); // utilruntime.HandleError(err)
            logger.LogDebug("Dropping deployment out of the queue {Deployment} {Err}", key, error.Message);
        },
    };

    private readonly IReplicaSetControl _rsControl;
    private readonly IDeploymentClient _dClient;
    private readonly IEventRecorder _recorder;
    private readonly IObjectCache<Kcm.Api.Apps.V1.Deployment> _deployments;
    private readonly IObjectCache<ReplicaSet> _replicaSets;
    private readonly IObjectCache<Pod> _pods;
    private readonly RateLimitingQueue<ObjectKey> _queue;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly int _workerCount = new DeploymentControllerOptions().Workers;

    public DeploymentController(ControllerContext context, DeploymentControllerOptions? options = null)
        : this(context, options ?? new DeploymentControllerOptions(),
            context.Informers.InformerFor<Kcm.Api.Apps.V1.Deployment>(), context.Informers.InformerFor<ReplicaSet>(), context.Informers.InformerFor<Pod>())
    {
    }

    private DeploymentController(ControllerContext context, DeploymentControllerOptions options,
        SharedInformer<Kcm.Api.Apps.V1.Deployment> deployments, SharedInformer<ReplicaSet> replicaSets, SharedInformer<Pod> pods)
        : this(
            deployments.Cache,
            replicaSets.Cache,
            pods.Cache,
            new ApiReplicaSetControl(context.Clients.For(ComponentName)),
            new ApiDeploymentClient(context.Clients.For(ComponentName)),
            context.Events.NewRecorder(ComponentName),
            context.NewQueue(QueueName),
            context.Loggers.CreateLogger<DeploymentController>(),
            context.Time,
            [deployments, replicaSets, pods])
    {
        _workerCount = options.Workers;
        deployments.AddEventHandler(new ResourceEventHandler<Kcm.Api.Apps.V1.Deployment>
        {
            Added = (d, _) => Enqueue(d),
            Updated = (_, d) => Enqueue(d),
            Deleted = (d, _) => Enqueue(d),
        });
        replicaSets.AddEventHandler(new ResourceEventHandler<ReplicaSet>
        {
            Added = (rs, _) => OnReplicaSetAdded(rs),
            Updated = OnReplicaSetUpdated,
            Deleted = (rs, _) => OnReplicaSetDeleted(rs),
        });
        pods.AddEventHandler(new ResourceEventHandler<Pod> { Deleted = (pod, _) => OnPodDeleted(pod) });
    }

    /// <summary>Builds the controller from its parts without informers (unit tests seed the caches and call sync and the handlers).</summary>
    internal DeploymentController(
        IObjectCache<Kcm.Api.Apps.V1.Deployment> deployments,
        IObjectCache<ReplicaSet> replicaSets,
        IObjectCache<Pod> pods,
        IReplicaSetControl rsControl,
        IDeploymentClient dClient,
        IEventRecorder recorder,
        RateLimitingQueue<ObjectKey> queue,
        ILogger logger,
        TimeProvider time,
        IReadOnlyList<ISharedInformer>? informers = null)
    {
        _deployments = deployments;
        _replicaSets = replicaSets;
        _pods = pods;
        _rsControl = rsControl;
        _dClient = dClient;
        _recorder = recorder;
        _queue = queue;
        _logger = logger;
        _time = time;
        WorkerLoop = new ControllerWorkers<ObjectKey>(ControllerName, queue, SyncAsync, logger, RetryPolicy, informers) { CacheSyncName = "deployment" };
    }

    internal ControllerWorkers<ObjectKey> WorkerLoop { get; }

    internal RateLimitingQueue<ObjectKey> Queue => _queue;

    public async Task RunAsync(CancellationToken cancellationToken)
    {
        _logger.LogInformation("Starting controller {controller}", ControllerName);
        try
        {
            await WorkerLoop.RunAsync(_workerCount, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            _logger.LogInformation("Shutting down controller {controller}", ControllerName);
        }
    }

    internal void Enqueue(Kcm.Api.Apps.V1.Deployment d) => _queue.Add(ObjectKey.Of(d));

    // ---- event handlers: they only turn events into deployment keys ----

    internal void OnReplicaSetAdded(ReplicaSet rs)
    {
        if (rs.Metadata?.DeletionTimestamp is not null)
        {
            // On a restart a ReplicaSet may already be pending deletion: treat it as deleted.
            OnReplicaSetDeleted(rs);
            return;
        }
        if (ControllerRefOf(rs) is { } controllerRef)
        {
            if (ResolveControllerRef(rs.Metadata?.Namespace, controllerRef) is { } owner)
            {
                Enqueue(owner);
            }
            return;
        }
        // An orphan: wake every Deployment that might adopt it.
        foreach (var d in DeploymentsForReplicaSet(rs))
        {
            Enqueue(d);
        }
    }

    internal void OnReplicaSetUpdated(ReplicaSet oldRS, ReplicaSet curRS)
    {
        if (curRS.Metadata?.ResourceVersion == oldRS.Metadata?.ResourceVersion)
        {
            return; // A resync: nothing changed.
        }
        var curRef = ControllerRefOf(curRS);
        var oldRef = ControllerRefOf(oldRS);
        var controllerRefChanged = curRef?.Uid != oldRef?.Uid || curRef?.Name != oldRef?.Name || curRef?.Kind != oldRef?.Kind;
        if (controllerRefChanged && oldRef is not null && ResolveControllerRef(oldRS.Metadata?.Namespace, oldRef) is { } oldOwner)
        {
            Enqueue(oldOwner); // The old owner should notice it lost a ReplicaSet.
        }
        if (curRef is not null)
        {
            if (ResolveControllerRef(curRS.Metadata?.Namespace, curRef) is { } owner)
            {
                Enqueue(owner);
            }
            return;
        }
        var labelsChanged = !OwnerLookup.SameLabels(curRS.Metadata?.Labels, oldRS.Metadata?.Labels);
        if (labelsChanged || controllerRefChanged)
        {
            foreach (var d in DeploymentsForReplicaSet(curRS))
            {
                Enqueue(d);
            }
        }
    }

    internal void OnReplicaSetDeleted(ReplicaSet rs)
    {
        if (ControllerRefOf(rs) is { } controllerRef && ResolveControllerRef(rs.Metadata?.Namespace, controllerRef) is { } owner)
        {
            Enqueue(owner);
        }
    }

    /// <summary>A Recreate rollout waits for the old pods to be gone: look again once a Deployment has no pods left.</summary>
    internal void OnPodDeleted(Pod pod)
    {
        var d = DeploymentForPod(pod);
        if (d?.Spec?.Strategy?.Type != DeploymentNames.RecreateStrategy)
        {
            return;
        }
        var owned = _replicaSets.ByIndex(KnownIndexers.ControllerUid, d.Metadata?.Uid ?? "");
        if (PodMapForDeployment(d, owned).Values.Sum(p => p.Count) == 0)
        {
            Enqueue(d);
        }
    }

    private Kcm.Api.Apps.V1.Deployment? DeploymentForPod(Pod pod)
    {
        var podRef = pod.Metadata?.OwnerReferences?.FirstOrDefault(r => r.Controller == true);
        if (podRef is null || podRef.Kind != "ReplicaSet" || podRef.Name is null)
        {
            return null;
        }
        var rs = _replicaSets.Get(new ObjectKey(pod.Metadata?.Namespace, podRef.Name));
        if (rs is null || rs.Metadata?.Uid != podRef.Uid)
        {
            return null;
        }
        return ControllerRefOf(rs) is { } rsRef ? ResolveControllerRef(rs.Metadata?.Namespace, rsRef) : null;
    }

    private static Kcm.Api.Meta.V1.OwnerReference? ControllerRefOf(ReplicaSet rs) => ControllerRefs.ControllerOf(rs.Metadata);

    /// <summary>The Deployment a controller reference names, if it is still that object (same uid).</summary>
    private Kcm.Api.Apps.V1.Deployment? ResolveControllerRef(string? ns, Kcm.Api.Meta.V1.OwnerReference controllerRef)
        => OwnerLookup.ResolveControllerRef(_deployments, Kcm.Api.Apps.V1.Deployment.Resource, ns, controllerRef);

    /// <summary>Deployments whose (non-empty, valid) selector matches the ReplicaSet's labels (GetDeploymentsForReplicaSet).</summary>
    private List<Kcm.Api.Apps.V1.Deployment> DeploymentsForReplicaSet(ReplicaSet rs)
    {
        var result = OwnerLookup.OwnersSelecting(_deployments, rs.Metadata?.Namespace, rs.Metadata?.Labels, d => Labels.FromApi(d.Spec?.Selector));
        if (result.Count > 1)
        {
            _logger.LogTrace("user error! more than one deployment is selecting replica set {ReplicaSet} {Labels} {Deployment}",
                ObjectKey.Of(rs), rs.Metadata!.Labels, ObjectKey.Of(result[0]));
        }
        return result;
    }

    // ---- sync ----

    /// <summary>syncDeployment: reconciles one Deployment from the caches (writes go through the seams).</summary>
    internal async Task<ReconcileResult> SyncAsync(ObjectKey key, CancellationToken cancellationToken)
    {
        var started = _time.GetTimestamp();
        _logger.LogTrace("Started syncing deployment {Deployment} {StartTime}", key, _time.GetUtcNow());
        try
        {
            await SyncDeploymentAsync(key, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            _logger.LogTrace("Finished syncing deployment {Deployment} {Duration}", key, _time.GetElapsedTime(started));
        }
        return ReconcileResult.Done;
    }

    private async Task SyncDeploymentAsync(ObjectKey key, CancellationToken cancellationToken)
    {
        var cached = _deployments.Get(key);
        if (cached is null)
        {
            _logger.LogDebug("Deployment has been deleted {deployment}", key);
            return;
        }
        var d = KubeObjects.Clone(cached);
        d.Spec ??= new DeploymentSpec();
        d.Status ??= new DeploymentStatus();

        if (d.Spec.Selector is { MatchLabels: null, MatchExpressions: null })
        {
            _recorder.Event(d, EventTypes.Warning, "SelectingAll", "This deployment is selecting all pods. A non-empty selector is required.");
            if ((d.Status.ObservedGeneration ?? 0) < (d.Metadata?.Generation ?? 0))
            {
                d.Status.ObservedGeneration = d.Metadata?.Generation;
                await UpdateStatusAsync(d, cancellationToken).ConfigureAwait(false);
            }
            return;
        }

        var rsList = await ReplicaSetsForDeploymentAsync(d, cancellationToken).ConfigureAwait(false);
        // The pod map is only for Recreate (are old pods still running?); upstream builds it first too.
        var podMap = PodMapForDeployment(d, rsList);

        if (d.Metadata?.DeletionTimestamp is not null)
        {
            await SyncStatusOnlyAsync(d, rsList, cancellationToken).ConfigureAwait(false);
            return;
        }

        // Add or remove the paused/resumed Progressing condition first so the timeout estimate is right.
        await CheckPausedConditionsAsync(d, cancellationToken).ConfigureAwait(false);

        if (d.Spec.Paused == true)
        {
            await SyncScalingAsync(d, rsList, cancellationToken).ConfigureAwait(false);
            return;
        }

        // The deprecated rollback annotation (kept for old clients); rollbacks today re-apply an old template.
        if (RollbackTo(d) is not null)
        {
            await RollbackAsync(d, rsList, cancellationToken).ConfigureAwait(false);
            return;
        }

        if (await IsScalingEventAsync(d, rsList, cancellationToken).ConfigureAwait(false))
        {
            await SyncScalingAsync(d, rsList, cancellationToken).ConfigureAwait(false);
            return;
        }

        switch (d.Spec.Strategy?.Type)
        {
            case DeploymentNames.RecreateStrategy:
                await RolloutRecreateAsync(d, rsList, podMap, cancellationToken).ConfigureAwait(false);
                break;
            case DeploymentNames.RollingUpdateStrategy:
                await RolloutRollingAsync(d, rsList, cancellationToken).ConfigureAwait(false);
                break;
            default:
                throw new UnsupportedDeploymentStrategyException(d.Spec.Strategy?.Type);
        }
    }

    /// <summary>
    /// getReplicaSetsForDeployment: the ReplicaSets this Deployment owns, after adopting matching orphans and
    /// releasing owned ones that no longer match.
    /// </summary>
    private async Task<List<ReplicaSet>> ReplicaSetsForDeploymentAsync(Kcm.Api.Apps.V1.Deployment d, CancellationToken cancellationToken)
    {
        // Owned ones and the namespace's orphans: ReplicaSets of other controllers are never claimed.
        var all = _replicaSets.ByIndex(KnownIndexers.ControllerUid, d.Metadata?.Uid ?? "")
            .Concat(_replicaSets.ByIndex(KnownIndexers.ControllerUid, KnownIndexers.OrphanKey(d.Metadata?.Namespace))).ToList();
        Labels? selector;
        try
        {
            // A missing selector selects nothing (labels.Nothing); an empty one was handled as SelectingAll.
            selector = Labels.FromApi(d.Spec?.Selector);
        }
        catch (Kcm.Api.Selectors.SelectorParseException e)
        {
            throw new InvalidDeploymentSelectorException($"deployment {d.Metadata?.Namespace}/{d.Metadata?.Name} has invalid label selector: {e.Message}", e);
        }
        var metadata = d.Metadata!;
        var canAdopt = OwnerLookup.CanAdopt(metadata, Kcm.Api.Apps.V1.Deployment.Resource, ct => _dClient.GetAsync(metadata.Namespace, metadata.Name!, ct));
        var manager = new ControllerRefManager(metadata, Kcm.Api.Apps.V1.Deployment.Resource, selector ?? Labels.Everything, canAdopt, _logger);
        return await manager.ClaimAsync(all, selector is null ? _ => false : null,
            (rs, patch, ct) => _rsControl.PatchAsync(rs.Metadata!.Namespace, rs.Metadata.Name!, patch, ct),
            cancellationToken).ConfigureAwait(false);
    }

    /// <summary>getPodMapForDeployment: the Deployment's pods grouped by the uid of the owned ReplicaSet controlling them.</summary>
    private Dictionary<string, List<Pod>> PodMapForDeployment(Kcm.Api.Apps.V1.Deployment d, IEnumerable<ReplicaSet> rsList)
    {
        var map = new Dictionary<string, List<Pod>>();
        foreach (var rs in rsList)
        {
            if (rs.Metadata?.Uid is { } uid)
            {
                map[uid] = [];
            }
        }
        Labels? selector;
        try
        {
            selector = Labels.FromApi(d.Spec?.Selector);
        }
        catch (Kcm.Api.Selectors.SelectorParseException)
        {
            return map;
        }
        if (selector is null)
        {
            return map;
        }
        // Pods matching the Deployment's selector that one of its ReplicaSets controls, found by controller uid.
        foreach (var (rsUid, pods) in map)
        {
            foreach (var pod in _pods.ByIndex(KnownIndexers.ControllerUid, rsUid))
            {
                if (pod.Metadata?.Namespace == d.Metadata?.Namespace && selector.Matches(pod.Metadata?.Labels))
                {
                    pods.Add(pod);
                }
            }
        }
        return map;
    }

    /// <summary>
    /// Writes the deployment's status. As upstream, the answer is dropped: a second write in the same sync (the rollout
    /// status after "NewReplicaSetCreated") carries the old resourceVersion and conflicts, and the next sync computes
    /// progress against the status actually stored, which decides whether the Progressing reason changes.
    /// </summary>
    private async Task UpdateStatusAsync(Kcm.Api.Apps.V1.Deployment d, CancellationToken cancellationToken)
        => await _dClient.UpdateStatusAsync(d, cancellationToken).ConfigureAwait(false);

    /// <summary>Requeues after a delay, as upstream's enqueueAfter (used for the progress-deadline check).</summary>
    private void EnqueueAfter(Kcm.Api.Apps.V1.Deployment d, TimeSpan delay) => _queue.AddAfter(ObjectKey.Of(d), delay);

    private void EnqueueRateLimited(Kcm.Api.Apps.V1.Deployment d) => _queue.AddRateLimited(ObjectKey.Of(d));
}

/// <summary>The Deployment's selector cannot be parsed.</summary>
public sealed class InvalidDeploymentSelectorException(string message, Exception inner) : InvalidOperationException(message, inner);

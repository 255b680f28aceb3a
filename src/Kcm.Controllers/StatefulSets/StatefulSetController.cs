using Kcm.Api.Apps.V1;
using Kcm.Api.Codecs;
using Kcm.Api.Core.V1;
using Kcm.Api.Meta.V1;
using Kcm.Api.Selectors;
using Kcm.Controllers.Common;
using Kcm.Runtime.Controllers;
using Kcm.Runtime.Events;
using Kcm.Runtime.Informers;
using Kcm.Runtime.Queues;
using Microsoft.Extensions.Logging;
using LabelSelector = Kcm.Api.Selectors.LabelSelector;

namespace Kcm.Controllers.StatefulSets;

public sealed record StatefulSetControllerOptions
{
    /// <summary>--concurrent-statefulset-syncs.</summary>
    public int Workers { get; init; } = 5;

    public StatefulSetFeatures Features { get; init; } = new();
}

/// <summary>
/// Upstream's StatefulSetController: members named &lt;set&gt;-&lt;ordinal&gt; with stable hostnames and claims from
/// the volumeClaimTemplates, created in order (each after its predecessors are Running and Ready, unless pod
/// management is Parallel) and removed from the highest ordinal down; RollingUpdate (with partition) or OnDelete
/// updates; the template history as ControllerRevisions; status written only when it changed. Like upstream v1.26
/// it keeps no expectations: member names are fixed, so a stale cache can only cause an AlreadyExists retry.
/// </summary>
public sealed partial class StatefulSetController
{
    public const string ControllerName = "statefulset";
    public const string Component = "statefulset-controller";
    public const string ServiceAccount = "statefulset-controller";

    private readonly StatefulSetControllerOptions _options;
    private readonly StatefulSetFeatures _features;
    private readonly IObjectCache<StatefulSet> _sets;
    private readonly IObjectCache<Pod> _pods;
    private readonly IObjectCache<ControllerRevision> _revisions;
    private readonly IStatefulSetApi _api;
    private readonly IControllerRevisionClient _revisionClient;
    private readonly StatefulPodControl _podControl;
    private readonly IEventRecorder _events;
    private readonly RateLimitingQueue<ObjectKey> _queue;
    private readonly ILogger _logger;
    private readonly TimeProvider _time;
    private readonly OwnedObjectEvents<StatefulSet> _owned;

    public StatefulSetController(ControllerContext context, StatefulSetControllerOptions options)
        : this(context, options, context.Informers.InformerFor<StatefulSet>(), context.Informers.InformerFor<Pod>(),
            context.Informers.InformerFor<PersistentVolumeClaim>(), context.Informers.InformerFor<ControllerRevision>())
    {
    }

    private StatefulSetController(
        ControllerContext context, StatefulSetControllerOptions options, SharedInformer<StatefulSet> setInformer,
        SharedInformer<Pod> podInformer, SharedInformer<PersistentVolumeClaim> claimInformer, SharedInformer<ControllerRevision> revisionInformer)
        : this(
            options,
            setInformer.Cache,
            podInformer.Cache,
            claimInformer.Cache,
            revisionInformer.Cache,
            new ApiStatefulSetApi(context.Clients.For(ServiceAccount)),
            new ApiControllerRevisionClient(context.Clients.For(ServiceAccount)),
            context.Events.NewRecorder(Component),
            context.NewQueue(ControllerName),
            context.Loggers.CreateLogger(typeof(StatefulSetController)),
            context.Time,
            [podInformer, setInformer, claimInformer, revisionInformer])
    {
        setInformer.AddEventHandler(new ResourceEventHandler<StatefulSet>
        {
            Added = (set, _) => Enqueue(set),
            Updated = OnSetUpdated,
            Deleted = (set, _) => Enqueue(set),
        });
        podInformer.AddEventHandler(new ResourceEventHandler<Pod>
        {
            Added = (pod, _) => OnPodAdded(pod),
            Updated = OnPodUpdated,
            Deleted = (pod, _) => OnPodDeleted(pod),
        });
        // Claims and revisions are only read from their caches; upstream registers no handlers for them.
    }

    /// <summary>Builds the controller from its parts without informers (unit tests feed the caches and call the handlers).</summary>
    internal StatefulSetController(
        StatefulSetControllerOptions options,
        IObjectCache<StatefulSet> sets,
        IObjectCache<Pod> pods,
        IObjectCache<PersistentVolumeClaim> claims,
        IObjectCache<ControllerRevision> revisions,
        IStatefulSetApi api,
        IControllerRevisionClient revisionClient,
        IEventRecorder events,
        RateLimitingQueue<ObjectKey> queue,
        ILogger logger,
        TimeProvider time,
        IReadOnlyList<ISharedInformer>? informers = null)
    {
        _options = options;
        _features = options.Features;
        _sets = sets;
        _pods = pods;
        _revisions = revisions;
        _api = api;
        _revisionClient = revisionClient;
        _events = events;
        _queue = queue;
        _logger = logger;
        _time = time;
        _owned = new OwnedObjectEvents<StatefulSet>(sets, Kind, s => LabelSelector.FromApi(s.Spec?.Selector), (metadata, matches) =>
            logger.LogError("{Message}", "user error: more than one StatefulSet is selecting pods with labels: map["
                + string.Join(" ", metadata.Labels!.OrderBy(l => l.Key, StringComparer.Ordinal).Select(l => $"{l.Key}:{l.Value}"))
                + "]. Sets: [" + string.Join(" ", matches.Select(s => s.Metadata?.Name)) + "]"));
        _podControl = new StatefulPodControl(api, pods, claims, events, options.Features, time, logger);
        var policy = RetryPolicy.HandleError((key, error) => $"error syncing StatefulSet {key}, requeuing: {error.Message}");
        Workers = new ControllerWorkers<ObjectKey>(ControllerName, queue, SyncAsync, logger, policy, informers ?? [])
        {
            CacheSyncName = "stateful set",
        };
    }

    public ControllerWorkers<ObjectKey> Workers { get; }

    internal RateLimitingQueue<ObjectKey> Queue => _queue;

    private static Kcm.Api.ResourceInfo Kind => StatefulSet.Resource;

    public async Task RunAsync(CancellationToken cancellationToken)
    {
        // Upstream's two lines name it differently.
        _logger.LogInformation("Starting stateful set controller");
        try
        {
            await Workers.RunAsync(_options.Workers, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            _logger.LogInformation("Shutting down statefulset controller");
        }
    }

    // ---- Event routing: handlers only turn events into keys.

    private void Enqueue(StatefulSet set) => _queue.Add(ObjectKey.Of(set));

    internal void OnSetUpdated(StatefulSet oldSet, StatefulSet curSet)
    {
        if ((oldSet.Status?.Replicas ?? 0) != (curSet.Status?.Replicas ?? 0))
        {
            _logger.LogTrace("{Message}", $"Observed updated replica count for StatefulSet: {curSet.Metadata?.Name}, {oldSet.Status?.Replicas ?? 0}->{curSet.Status?.Replicas ?? 0}");
        }
        Enqueue(curSet);
    }

    internal void OnPodAdded(Pod pod)
    {
        if (pod.Metadata?.DeletionTimestamp is not null)
        {
            // Seen for the first time already being deleted (e.g. after a restart): not a creation.
            OnPodDeleted(pod);
            return;
        }
        _owned.Added(pod.Metadata, set =>
        {
            _logger.LogTrace("Pod {Pod} created", pod.Metadata?.Name);
            Enqueue(set);
        }, Enqueue);
    }

    internal void OnPodUpdated(Pod oldPod, Pod curPod)
    {
        if (curPod.Metadata?.ResourceVersion == oldPod.Metadata?.ResourceVersion)
        {
            return; // A resync.
        }
        _owned.Updated(oldPod.Metadata, curPod.Metadata, set =>
        {
            Enqueue(set);
            var minReadySeconds = set.Spec?.MinReadySeconds ?? 0;
            if (!PodReadiness.IsPodReady(oldPod) && PodReadiness.IsPodReady(curPod) && minReadySeconds > 0)
            {
                // Availability is not an event of its own: look again after minReadySeconds (plus a second of skew).
                _logger.LogDebug("{Message}", $"StatefulSet {set.Metadata?.Name} will be enqueued after {minReadySeconds}s for availability check");
                _queue.AddAfter(ObjectKey.Of(set), TimeSpan.FromSeconds(minReadySeconds) + TimeSpan.FromSeconds(1));
            }
        }, Enqueue);
    }

    internal void OnPodDeleted(Pod pod)
    {
        if (_owned.Owner(pod.Metadata) is { } set)
        {
            _logger.LogTrace("Pod {Pod} deleted", ObjectKey.Of(pod));
            Enqueue(set);
        }
    }

    // ---- The sync: claim revisions and pods, then run the control loop.

    /// <summary>Upstream's sync: reads only the caches (plus one fresh read before adopting).</summary>
    internal async Task<ReconcileResult> SyncAsync(ObjectKey key, CancellationToken cancellationToken)
    {
        var started = _time.GetTimestamp();
        try
        {
            if (_sets.Get(key) is not { } set)
            {
                _logger.LogInformation("StatefulSet has been deleted {StatefulSet}", key);
                return ReconcileResult.Done;
            }
            LabelSelector? selector;
            try
            {
                selector = LabelSelector.FromApi(set.Spec?.Selector);
            }
            catch (SelectorParseException ex)
            {
                // Not transient: retrying cannot help until the set changes.
                _logger.LogError("{Message}", $"error converting StatefulSet {key} selector: {ex.Message}");
                return ReconcileResult.Done;
            }
            if (selector is null)
            {
                _logger.LogError("StatefulSet {StatefulSet} has no selector", key);
                return ReconcileResult.Done;
            }
            var canAdopt = CanAdopt(set);
            await AdoptOrphanRevisionsAsync(set, selector, canAdopt, cancellationToken).ConfigureAwait(false);
            var pods = await ClaimPodsAsync(set, selector, canAdopt, cancellationToken).ConfigureAwait(false);

            var status = await UpdateStatefulSetAsync(set, pods, cancellationToken).ConfigureAwait(false);
            // One more sync for the clock skew of availability (upstream's last line of defence).
            var minReadySeconds = set.Spec?.MinReadySeconds ?? 0;
            if (minReadySeconds > 0 && status is not null && status.AvailableReplicas != StatefulSetUtil.Replicas(set))
            {
                _queue.AddAfter(key, TimeSpan.FromSeconds(minReadySeconds));
            }
            return ReconcileResult.Done;
        }
        finally
        {
            if (_logger.IsEnabled(LogLevel.Trace))
            {
                _logger.LogTrace("Finished syncing statefulset \"{Key}\" ({Duration})", key, GoDuration.Format(_time.GetElapsedTime(started)));
            }
        }
    }

    /// <summary>getPodsForStatefulSet: the namespace's pods named as members that we own or may adopt (releasing ours that stopped matching).</summary>
    private Task<List<Pod>> ClaimPodsAsync(StatefulSet set, LabelSelector selector, Func<CancellationToken, Task> canAdopt, CancellationToken cancellationToken)
    {
        var metadata = set.Metadata!;
        // Pods controlled by others are never claimed, so ours and the orphans are all candidates there are.
        var candidates = _pods.ByIndex(KnownIndexers.ControllerUid, metadata.Uid ?? "")
            .Concat(_pods.ByIndex(KnownIndexers.ControllerUid, KnownIndexers.OrphanKey(metadata.Namespace)))
            .ToList();
        var manager = new ControllerRefManager(metadata, Kind, selector, canAdopt, _logger);
        return manager.ClaimAsync(candidates, pod => StatefulSetUtil.IsMemberOf(set, pod),
            (pod, patch, ct) => _api.PatchPodAsync(pod.Metadata!.Namespace, pod.Metadata.Name!, patch, ct), cancellationToken);
    }

    /// <summary>ListRevisions: the namespace's revisions the selector matches that are ours or nobody's.</summary>
    private List<ControllerRevision> ListRevisions(StatefulSet set, LabelSelector selector)
        => _revisions.ByIndex(KnownIndexers.Namespace, set.Metadata?.Namespace ?? "")
            .Where(r => selector.Matches(r.Metadata?.Labels)
                        && (ControllerRefs.ControllerOf(r.Metadata) is not { } owner || owner.Uid == set.Metadata?.Uid))
            .ToList();

    /// <summary>adoptOrphanRevisions: matching revisions without a controller become ours, once a fresh read allows it.</summary>
    private async Task AdoptOrphanRevisionsAsync(StatefulSet set, LabelSelector selector, Func<CancellationToken, Task> canAdopt, CancellationToken cancellationToken)
    {
        var orphans = ListRevisions(set, selector).Where(r => ControllerRefs.ControllerOf(r.Metadata) is null).ToList();
        if (orphans.Count == 0)
        {
            return;
        }
        try
        {
            await canAdopt(cancellationToken).ConfigureAwait(false);
        }
        catch (AdoptionRefusedException ex)
        {
            throw new AdoptionRefusedException($"can't adopt ControllerRevisions: {ex.Message}", ex);
        }
        foreach (var revision in orphans)
        {
            await _revisionClient.PatchAsync(revision.Metadata!.Namespace, revision.Metadata.Name!,
                ControllerRefManager.AdoptPatch(set.Metadata!, Kind, revision.Metadata.Uid ?? ""), cancellationToken).ConfigureAwait(false);
        }
    }

    // One fresh read per sync at most, shared by the revision and pod claims.
    private Func<CancellationToken, Task> CanAdopt(StatefulSet set)
    {
        var check = OwnerLookup.CanAdopt(set.Metadata!, Kind, ct => _api.GetSetAsync(set.Metadata!.Namespace, set.Metadata.Name ?? "", ct));
        var gate = new Lock();
        Task? once = null;
        return ct =>
        {
            lock (gate)
            {
                return once ??= check(ct);
            }
        };
    }

    private ObjectReference EventTarget(StatefulSet set) => ControllerRefs.ReferenceTo(set.Metadata!, Kind);
}

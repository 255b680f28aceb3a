using System.Runtime.ExceptionServices;
using Kcm.Api;
using Kcm.Api.Codecs;
using Kcm.Api.Apps.V1;
using Kcm.Api.Core.V1;
using Kcm.Api.Meta.V1;
using Kcm.Api.Selectors;
using Kcm.Client;
using Kcm.Client.Errors;
using Kcm.Controllers.Common;
using Kcm.Runtime.Controllers;
using Kcm.Runtime.Informers;
using Kcm.Runtime.Queues;
using Microsoft.Extensions.Logging;
using LabelSelector = Kcm.Api.Selectors.LabelSelector;

namespace Kcm.Controllers.ReplicaSets;

public sealed record ReplicaSetControllerOptions
{
    /// <summary>Upstream's BurstReplicas: at most this many pods are created or deleted per sync.</summary>
    public const int DefaultBurstReplicas = 500;

    public int BurstReplicas { get; init; } = DefaultBurstReplicas;

    public PodRankingFeatures Ranking { get; init; } = new();

    /// <summary>--concurrent-replicaset-syncs / --concurrent_rc_syncs.</summary>
    public int Workers { get; init; } = 5;
}

/// <summary>Reads and writes the managed objects through the API (a seam for unit tests).</summary>
public interface IReplicaSetClient<T>
{
    /// <summary>A fresh (uncached) read.</summary>
    Task<T> GetAsync(string @namespace, string name, CancellationToken cancellationToken);

    Task<T> UpdateStatusAsync(T obj, CancellationToken cancellationToken);
}

public sealed class ApiReplicaSetClient<T>(KubeApiClient client) : IReplicaSetClient<T>
    where T : class, IResource
{
    public Task<T> GetAsync(string @namespace, string name, CancellationToken cancellationToken) => client.GetAsync<T>(@namespace, name, cancellationToken);

    public Task<T> UpdateStatusAsync(T obj, CancellationToken cancellationToken) => client.UpdateStatusAsync(obj, cancellationToken: cancellationToken);
}

/// <summary>The two registrations of the shared implementation, as upstream's NewReplicaSetController and NewReplicationManager.</summary>
public static class ReplicaSetControllers
{
    public static ReplicaSetController<ReplicaSet> NewReplicaSetController(ControllerContext context, ReplicaSetControllerOptions? options = null)
        => new(context, ReplicaSetKind.Instance, options ?? new ReplicaSetControllerOptions());

    public static ReplicaSetController<ReplicationController> NewReplicationManager(ControllerContext context, ReplicaSetControllerOptions? options = null)
        => new(context, ReplicationControllerKind.Instance, options ?? new ReplicaSetControllerOptions());
}

/// <summary>
/// Upstream's ReplicaSetController, for ReplicaSets and ReplicationControllers alike: keeps the number of active
/// pods a replica set owns at spec.replicas. Pods are claimed by selector and controller reference (adopting
/// orphans, releasing pods that stopped matching); missing pods are created in slow-start batches, surplus pods
/// are deleted in upstream's ranking order; expectations stop a sync from acting again until the informer has
/// seen the results of the last one, so a slow cache never causes duplicates. Status is written through the
/// status subresource only when it changed.
/// </summary>
public sealed class ReplicaSetController<T>
    where T : class, IListableResource
{
    private readonly IReplicaSetKind<T> _kind;
    private readonly ReplicaSetControllerOptions _options;
    private readonly IObjectCache<T> _owners;
    private readonly IObjectCache<Pod> _pods;
    private readonly IPodControl _podControl;
    private readonly IReplicaSetClient<T> _client;
    private readonly RateLimitingQueue<ObjectKey> _queue;
    private readonly ILogger _logger;
    private readonly TimeProvider _time;
    private readonly IReadOnlyList<ISharedInformer> _informers;

    public ReplicaSetController(ControllerContext context, IReplicaSetKind<T> kind, ReplicaSetControllerOptions options)
        : this(context, kind, options, context.Informers.InformerFor<T>(), context.Informers.InformerFor<Pod>())
    {
    }

    private ReplicaSetController(ControllerContext context, IReplicaSetKind<T> kind, ReplicaSetControllerOptions options, SharedInformer<T> ownerInformer, SharedInformer<Pod> podInformer)
        : this(
            kind,
            options,
            ownerInformer.Cache,
            podInformer.Cache,
            new PodControl(context.Clients.For(kind.Component), context.Events.NewRecorder(kind.Component), context.Loggers.CreateLogger(typeof(PodControl))),
            new ApiReplicaSetClient<T>(context.Clients.For(kind.Component)),
            context.NewQueue(kind.QueueName),
            context.Loggers.CreateLogger($"Kcm.Controllers.ReplicaSets.{kind.ControllerName}"),
            context.Time,
            [ownerInformer, podInformer])
    {
        ownerInformer.AddEventHandler(new ResourceEventHandler<T>
        {
            Added = (owner, _) => OnOwnerAdded(owner),
            Updated = OnOwnerUpdated,
            Deleted = (owner, _) => OnOwnerDeleted(owner),
        });
        podInformer.AddEventHandler(new ResourceEventHandler<Pod>
        {
            Added = (pod, _) => OnPodAdded(pod),
            Updated = OnPodUpdated,
            Deleted = (pod, _) => OnPodDeleted(pod),
        });
    }

    /// <summary>Builds the controller from its parts without informers (unit tests feed the caches and call the handlers).</summary>
    internal ReplicaSetController(
        IReplicaSetKind<T> kind,
        ReplicaSetControllerOptions options,
        IObjectCache<T> owners,
        IObjectCache<Pod> pods,
        IPodControl podControl,
        IReplicaSetClient<T> client,
        RateLimitingQueue<ObjectKey> queue,
        ILogger logger,
        TimeProvider time,
        IReadOnlyList<ISharedInformer>? informers = null)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(options.BurstReplicas);
        _kind = kind;
        _options = options;
        _owners = owners;
        _pods = pods;
        _podControl = podControl;
        _client = client;
        _queue = queue;
        _logger = logger;
        _time = time;
        _informers = informers ?? [];
        Expectations = new UidTrackingExpectations(new ControllerExpectations(time, logger), logger);
        // Upstream's processNextWorkItem: utilruntime.HandleError(fmt.Errorf("sync %q failed with %v", key, err)).
        var policy = RetryPolicy.HandleError((key, error) => $"sync \"{key}\" failed with {error.Message}");
        Workers = new ControllerWorkers<ObjectKey>(kind.ControllerName, queue, SyncAsync, logger, policy, _informers)
        {
            Description = $"{kind.ControllerName} controller",
            CacheSyncName = OwnerKind.Kind,
        };
    }

    public ControllerWorkers<ObjectKey> Workers { get; }

    internal UidTrackingExpectations Expectations { get; }

    internal RateLimitingQueue<ObjectKey> Queue => _queue;

    private static ResourceInfo OwnerKind => T.Resource;

    public Task RunAsync(int workers, CancellationToken cancellationToken) => Workers.RunAsync(workers, cancellationToken);

    // ---- Event routing: handlers only turn events into keys (and observe expectations).

    internal void OnOwnerAdded(T owner)
    {
        _logger.LogTrace("Adding {Kind} {Key}", OwnerKind.Kind, ObjectKey.Of(owner)); // V(4) "Adding %s %s/%s"
        _queue.Add(ObjectKey.Of(owner));
    }

    internal void OnOwnerUpdated(T oldOwner, T newOwner)
    {
        if (oldOwner.Metadata?.Uid != newOwner.Metadata?.Uid)
        {
            OnOwnerDeleted(oldOwner); // Deleted and recreated under the same name between two watch events.
        }
        if (_kind.Replicas(oldOwner) != _kind.Replicas(newOwner))
        {
            _logger.LogTrace("{Kind} {Key} updated: desired pod count {Old} -> {New}", OwnerKind.Kind, ObjectKey.Of(newOwner), _kind.Replicas(oldOwner), _kind.Replicas(newOwner));
        }
        // Sync on every update, not only spec changes: a resync then retries owners whose creations failed.
        _queue.Add(ObjectKey.Of(newOwner));
    }

    internal void OnOwnerDeleted(T owner)
    {
        var key = ObjectKey.Of(owner);
        _logger.LogTrace("Deleting {Kind} \"{Key}\"", OwnerKind.Kind, key);
        // A new owner with the same name must start clean.
        Expectations.DeleteExpectations(key);
        _queue.Add(key);
    }

    internal void OnPodAdded(Pod pod)
    {
        if (pod.Metadata?.DeletionTimestamp is not null)
        {
            // Seen for the first time already being deleted (e.g. after a restart): not a creation.
            OnPodDeleted(pod);
            return;
        }
        if (ControllerRefs.ControllerOf(pod.Metadata) is { } controllerRef)
        {
            if (ResolveControllerRef(pod.Metadata!.Namespace, controllerRef) is not { } owner)
            {
                return;
            }
            var key = ObjectKey.Of(owner);
            _logger.LogTrace("Pod {Pod} created", ObjectKey.Of(pod));
            Expectations.CreationObserved(key);
            _queue.Add(key);
            return;
        }
        // An orphan: wake every matching owner so one may adopt it. No owner waits for an orphan's creation.
        foreach (var owner in OwnersSelecting(pod))
        {
            _logger.LogTrace("Orphan pod {Pod} created", ObjectKey.Of(pod));
            _queue.Add(ObjectKey.Of(owner));
        }
    }

    internal void OnPodUpdated(Pod oldPod, Pod curPod)
    {
        if (curPod.Metadata?.ResourceVersion == oldPod.Metadata?.ResourceVersion)
        {
            return; // A resync: nothing changed.
        }
        var labelsChanged = !OwnerLookup.SameLabels(oldPod.Metadata?.Labels, curPod.Metadata?.Labels);
        if (curPod.Metadata?.DeletionTimestamp is not null)
        {
            // Graceful deletion started: the owner should replace the pod now, not when the kubelet finally removes it.
            OnPodDeleted(curPod);
            if (labelsChanged)
            {
                OnPodDeleted(oldPod);
            }
            return;
        }

        var curRef = ControllerRefs.ControllerOf(curPod.Metadata);
        var oldRef = ControllerRefs.ControllerOf(oldPod.Metadata);
        var refChanged = !ControllerRefs.SameControllerRef(oldRef, curRef);
        if (refChanged && oldRef is not null && ResolveControllerRef(oldPod.Metadata?.Namespace, oldRef) is { } oldOwner)
        {
            _queue.Add(ObjectKey.Of(oldOwner));
        }

        if (curRef is not null)
        {
            if (ResolveControllerRef(curPod.Metadata?.Namespace, curRef) is not { } owner)
            {
                return;
            }
            var key = ObjectKey.Of(owner);
            _queue.Add(key);
            // Availability is not an event of its own: look again once the pod has been ready for minReadySeconds
            // (plus a second against timer skew).
            var minReadySeconds = _kind.MinReadySeconds(owner);
            if (!PodReadiness.IsPodReady(oldPod) && PodReadiness.IsPodReady(curPod) && minReadySeconds > 0)
            {
                _logger.LogDebug("{Kind} \"{Name}\" will be enqueued after {Seconds}s for availability check", OwnerKind.Kind, owner.Metadata?.Name, minReadySeconds);
                _queue.AddAfter(key, TimeSpan.FromSeconds(minReadySeconds) + TimeSpan.FromSeconds(1));
            }
            return;
        }

        // An orphan: if its labels or owner changed, a matching owner may want it now.
        if (labelsChanged || refChanged)
        {
            foreach (var owner in OwnersSelecting(curPod))
            {
                _queue.Add(ObjectKey.Of(owner));
            }
        }
    }

    internal void OnPodDeleted(Pod pod)
    {
        if (ControllerRefs.ControllerOf(pod.Metadata) is not { } controllerRef)
        {
            return; // Nobody cares about an orphan's deletion.
        }
        if (ResolveControllerRef(pod.Metadata!.Namespace, controllerRef) is not { } owner)
        {
            return;
        }
        var key = ObjectKey.Of(owner);
        _logger.LogTrace("Pod {Pod} deleted (deletionTimestamp {DeletionTimestamp})", ObjectKey.Of(pod), pod.Metadata.DeletionTimestamp);
        Expectations.DeletionObserved(key, PodKey(pod));
        _queue.Add(key);
    }

    // ---- Sync.

    /// <summary>Upstream's syncReplicaSet: reads only the caches, acts only when expectations are satisfied.</summary>
    internal async Task<ReconcileResult> SyncAsync(ObjectKey key, CancellationToken cancellationToken)
    {
        var started = _time.GetTimestamp();
        try
        {
            return await SyncCoreAsync(key, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            if (_logger.IsEnabled(LogLevel.Trace))
            {
                _logger.LogTrace("Finished syncing {Kind} \"{Key}\" ({Duration})", OwnerKind.Kind, key, GoDuration.Format(_time.GetElapsedTime(started)));
            }
        }
    }

    private async Task<ReconcileResult> SyncCoreAsync(ObjectKey key, CancellationToken cancellationToken)
    {
        if (_owners.Get(key) is not { } owner)
        {
            _logger.LogTrace("{Kind} {Key} has been deleted", OwnerKind.Kind, key);
            Expectations.DeleteExpectations(key);
            return ReconcileResult.Done;
        }
        var needsSync = Expectations.SatisfiedExpectations(key);
        LabelSelector? selector;
        try
        {
            selector = _kind.Selector(owner);
        }
        catch (SelectorParseException ex)
        {
            // Retrying cannot fix the object; its next update will bring it back.
            _logger.LogError("{Message}", $"error converting pod selector to selector for rs {key}: {ex.Message}");
            return ReconcileResult.Done;
        }

        // The pods we control (a pod that stopped matching still carries our controller reference and must be
        // released) and the namespace's orphans we may adopt; pods of other controllers are never claimed.
        var candidates = _pods.ByIndex(KnownIndexers.ControllerUid, owner.Metadata?.Uid ?? "")
            .Concat(_pods.ByIndex(KnownIndexers.ControllerUid, KnownIndexers.OrphanKey(key.Namespace)));
        var active = PodReadiness.FilterActivePods(candidates);
        var claimed = await ClaimPodsAsync(owner, selector, active, cancellationToken).ConfigureAwait(false);

        Exception? manageError = null;
        if (needsSync && owner.Metadata?.DeletionTimestamp is null)
        {
            try
            {
                await ManageReplicasAsync(claimed, owner, key, cancellationToken).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
            {
                manageError = ex;
            }
        }

        var current = _kind.Status(owner);
        var next = ReplicaStatusCalculator.Calculate(
            current, _kind.Replicas(owner), _kind.MinReadySeconds(owner), _kind.TemplateLabels(owner), claimed, manageError, _time.GetUtcNow());
        var updated = await UpdateStatusAsync(owner, next, cancellationToken).ConfigureAwait(false);

        if (manageError is not null)
        {
            // The status (with ReplicaFailure) is written; the error makes the worker retry with backoff.
            ExceptionDispatchInfo.Throw(manageError);
        }
        // A last line of defence against clock skew: look again once minReadySeconds have passed.
        var updatedStatus = _kind.Status(updated);
        var minReadySeconds = _kind.MinReadySeconds(updated);
        var desired = _kind.Replicas(updated);
        if (minReadySeconds > 0 && updatedStatus.ReadyReplicas == desired && updatedStatus.AvailableReplicas != desired)
        {
            return ReconcileResult.After(TimeSpan.FromSeconds(minReadySeconds));
        }
        return ReconcileResult.Done;
    }

    /// <summary>Claims by selector; a null selector matches nothing, so every owned pod is released.</summary>
    private Task<List<Pod>> ClaimPodsAsync(T owner, LabelSelector? selector, IReadOnlyList<Pod> pods, CancellationToken cancellationToken)
    {
        var metadata = owner.Metadata!;
        var canAdopt = OwnerLookup.CanAdopt(metadata, OwnerKind, ct => _client.GetAsync(metadata.Namespace ?? "", metadata.Name ?? "", ct));
        var manager = new ControllerRefManager(metadata, OwnerKind, selector ?? LabelSelector.Everything, canAdopt, _logger);
        return manager.ClaimPodsAsync(pods, _podControl, cancellationToken, selector is null ? _ => false : null);
    }

    /// <summary>Upstream's manageReplicas: creates or deletes at most BurstReplicas pods towards spec.replicas.</summary>
    private async Task ManageReplicasAsync(IReadOnlyList<Pod> pods, T owner, ObjectKey key, CancellationToken cancellationToken)
    {
        var desired = _kind.Replicas(owner);
        var diff = pods.Count - desired;
        var metadata = owner.Metadata!;
        var eventTarget = ControllerRefs.ReferenceTo(metadata, OwnerKind);
        if (diff < 0)
        {
            var toCreate = Math.Min(-diff, _options.BurstReplicas);
            // Expect them all before the first request: their watch events may arrive before the calls return.
            Expectations.ExpectCreations(key, toCreate);
            _logger.LogDebug("Too few replicas {ReplicaSet} {Need} {Creating}", key, desired, toCreate);
            var template = _kind.Template(owner);
            var controllerRef = ControllerRefs.NewControllerRef(metadata, OwnerKind);
            var result = await SlowStartBatch.RunAsync(toCreate, SlowStartBatch.InitialBatchSize, async ct =>
            {
                try
                {
                    await _podControl.CreatePodAsync(metadata.Namespace ?? "", template, eventTarget, controllerRef, ct).ConfigureAwait(false);
                }
                catch (KubeApiException ex) when (ApiErrors.IsNamespaceTerminating(ex))
                {
                    // Every creation fails while the namespace is deleted; nothing to do.
                }
            }, cancellationToken).ConfigureAwait(false);

            // Pods never attempted will not be observed: stop expecting them; the next sync retries.
            var skipped = toCreate - result.Successes;
            if (skipped > 0)
            {
                _logger.LogDebug("{Message}", $"Slow-start failure. Skipping creation of {skipped} pods, decrementing expectations for {OwnerKind.Kind} {key}");
                for (var i = 0; i < skipped; i++)
                {
                    Expectations.CreationObserved(key);
                }
            }
            if (result.FirstError is { } error)
            {
                throw error;
            }
        }
        else if (diff > 0)
        {
            var toDelete = Math.Min(diff, _options.BurstReplicas);
            _logger.LogDebug("Too many replicas {ReplicaSet} {Need} {Deleting}", key, desired, toDelete);
            var victims = PodsToDelete(pods, RelatedPods(owner), toDelete);
            // Remember exactly which pods, so a graceful deletion seen as an update and later as a delete counts once.
            Expectations.ExpectDeletions(key, victims.Select(PodKey).ToList());
            var deletions = victims.Select(pod => Task.Run(async () =>
            {
                try
                {
                    await _podControl.DeletePodAsync(metadata.Namespace ?? "", pod.Metadata!.Name!, eventTarget, cancellationToken).ConfigureAwait(false);
                    return null;
                }
                catch (Exception ex)
                {
                    // This deletion will not be observed.
                    Expectations.DeletionObserved(key, PodKey(pod));
                    if (ex is NotFoundException)
                    {
                        return null;
                    }
                    _logger.LogDebug("{Message}", $"Failed to delete {PodKey(pod)}, decremented expectations for {OwnerKind.Kind} {key}");
                    return ex;
                }
            }, CancellationToken.None)).ToList();
            var errors = await Task.WhenAll(deletions).ConfigureAwait(false);
            // They are likely all the same; the first is enough.
            if (errors.FirstOrDefault(e => e is not null) is { } first)
            {
                throw first;
            }
        }
    }

    /// <summary>The first <paramref name="count"/> pods in deletion order; no ranking when all of them go.</summary>
    internal IReadOnlyList<Pod> PodsToDelete(IReadOnlyList<Pod> pods, IReadOnlyList<Pod> relatedPods, int count)
    {
        if (count >= pods.Count)
        {
            return pods;
        }
        var ranks = RanksByRelatedPodsOnSameNode(pods, relatedPods);
        return new ActivePodsWithRanks(_time.GetUtcNow(), _options.Ranking).Sort(pods, ranks).Take(count).ToList();
    }

    /// <summary>Each pod's rank: how many active related pods run on its node (upstream's getPodsRankedByRelatedPodsOnSameNode).</summary>
    internal static IReadOnlyList<int> RanksByRelatedPodsOnSameNode(IReadOnlyList<Pod> podsToRank, IReadOnlyList<Pod> relatedPods)
    {
        var podsOnNode = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var pod in relatedPods.Where(PodReadiness.IsPodActive))
        {
            var node = pod.Spec?.NodeName ?? "";
            podsOnNode[node] = podsOnNode.GetValueOrDefault(node) + 1;
        }
        return podsToRank.Select(p => podsOnNode.GetValueOrDefault(p.Spec?.NodeName ?? "")).ToList();
    }

    /// <summary>Pods selected by any replica set with the same controller as this one (e.g. all of a Deployment's).</summary>
    private List<Pod> RelatedPods(T owner)
    {
        var related = new List<Pod>();
        if (ControllerRefs.ControllerOf(owner.Metadata) is not { Uid: { } controllerUid })
        {
            return related; // A standalone replica set: only its own pods, ranked equally.
        }
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var sibling in _owners.ByIndex(KnownIndexers.ControllerUid, controllerUid))
        {
            if (ControllerRefs.ControllerOf(sibling.Metadata)?.Uid != controllerUid)
            {
                continue;
            }
            LabelSelector? selector;
            try
            {
                selector = _kind.Selector(sibling);
            }
            catch (SelectorParseException)
            {
                continue; // An invalid selector matches no pods.
            }
            if (selector is null)
            {
                continue;
            }
            foreach (var pod in _pods.ByIndex(KnownIndexers.Namespace, sibling.Metadata?.Namespace ?? ""))
            {
                if (selector.Matches(pod.Metadata?.Labels) && seen.Add(pod.Metadata?.Uid ?? PodKey(pod).ToString()))
                {
                    related.Add(pod);
                }
            }
        }
        return related;
    }

    /// <summary>Upstream's updateReplicaSetStatus: skips a no-op write; one GET-and-retry after a failed update.</summary>
    private async Task<T> UpdateStatusAsync(T owner, ReplicaStatus next, CancellationToken cancellationToken)
    {
        var generation = owner.Metadata?.Generation ?? 0;
        if (ReplicaStatusCalculator.IsSteadyState(_kind.Status(owner), next, generation))
        {
            return owner;
        }
        // Record the generation acted on, so a retry cannot claim a spec it never saw.
        next = next with { ObservedGeneration = generation };
        const int statusUpdateRetries = 1;
        var target = owner;
        for (var attempt = 0; ; attempt++)
        {
            var before = _kind.Status(target);
            if (_logger.IsEnabled(LogLevel.Trace))
            {
                // Upstream builds this V(4) line with Sprintf; rs.Kind is empty on informer objects, as here.
                _logger.LogTrace("{Message}", $"Updating status for : {ObjectKey.Of(target)}, replicas {before.Replicas}->{next.Replicas} (need {_kind.Replicas(target)}), "
                    + $"fullyLabeledReplicas {before.FullyLabeledReplicas}->{next.FullyLabeledReplicas}, readyReplicas {before.ReadyReplicas}->{next.ReadyReplicas}, "
                    + $"availableReplicas {before.AvailableReplicas}->{next.AvailableReplicas}, sequence No: {before.ObservedGeneration}->{next.ObservedGeneration}");
            }
            try
            {
                return await _client.UpdateStatusAsync(_kind.WithStatus(target, next), cancellationToken).ConfigureAwait(false);
            }
            catch (KubeApiException) when (attempt < statusUpdateRetries)
            {
                // Fetch the latest version for the retry; a failing GET is the more interesting error.
                var metadata = owner.Metadata!;
                target = await _client.GetAsync(metadata.Namespace ?? "", metadata.Name ?? "", cancellationToken).ConfigureAwait(false);
            }
        }
    }

    // ---- Cache lookups.

    private T? ResolveControllerRef(string? @namespace, OwnerReference controllerRef)
        => OwnerLookup.ResolveControllerRef(_owners, OwnerKind, @namespace, controllerRef);

    /// <summary>Owners in the pod's namespace whose (non-empty, valid) selector matches the pod's labels.</summary>
    private List<T> OwnersSelecting(Pod pod)
    {
        var matches = OwnerLookup.OwnersSelecting(_owners, pod.Metadata?.Namespace, pod.Metadata?.Labels, _kind.Selector);
        if (matches.Count > 1)
        {
            // Controller references keep this safe, but it is still a user error.
            var labels = string.Join(" ", pod.Metadata!.Labels!.OrderBy(l => l.Key, StringComparer.Ordinal).Select(l => $"{l.Key}:{l.Value}"));
            _logger.LogError("{Message}", $"user error! more than one {OwnerKind.Kind} is selecting pods with labels: map[{labels}]");
        }
        return matches;
    }

    internal static ObjectKey PodKey(Pod pod) => new(pod.Metadata?.Namespace, pod.Metadata?.Name ?? "");
}

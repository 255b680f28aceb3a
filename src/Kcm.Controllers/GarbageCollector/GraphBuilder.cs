using System.Collections.Concurrent;
using Kcm.Api;
using Kcm.Api.Core.V1;
using Kcm.Api.Meta.V1;
using Kcm.Client;
using Kcm.Runtime.Controllers;
using Kcm.Runtime.Events;
using Kcm.Runtime.Informers;
using Kcm.Runtime.Queues;
using Kcm.Controllers.Common;
using Microsoft.Extensions.Logging;

namespace Kcm.Controllers.GarbageCollector;

internal enum GraphEventType
{
    Add,
    Update,
    Delete,
}

/// <summary>A change seen by a monitor (or a "virtual" delete the collector inferred from the API).</summary>
internal sealed record GraphEvent(GraphEventType Type, string ApiVersion, string Kind, ObservedMetadata Object, ObservedMetadata? OldObject, bool Virtual = false)
{
    public ObjectIdentity Identity => new(ApiVersion, Kind, Object.Namespace, Object.Name, Object.Uid);
}

/// <summary>
/// Upstream's GraphBuilder: one metadata-only informer ("monitor") per deletable resource feeds a single queue of
/// changes; one thread applies them to the uid → node graph and decides which nodes the collector must look at
/// (attemptToDelete) and which owners need their dependents orphaned (attemptToOrphan).
/// </summary>
public sealed class GraphBuilder : IDisposable
{
    private readonly ILogger _logger;
    private readonly IEventRecorder _recorder;
    private readonly TimeProvider _time;
    private readonly ConcurrentDictionary<string, GraphNode> _uidToNode = new(StringComparer.Ordinal);
    private readonly ResourceMonitors<Monitor> _monitors = new();
    private readonly SharedInformerFactory _informers;
    private readonly SharedMetadataInformers _metadataInformers;

    internal GraphBuilder(ControllerContext context, IEventRecorder recorder, RateLimitingQueue<GraphNode> attemptToDelete, RateLimitingQueue<GraphNode> attemptToOrphan, AbsentOwnerCache absentOwners)
    {
        _logger = context.Loggers.CreateLogger<GraphBuilder>();
        _recorder = recorder;
        _time = context.Time;
        _informers = context.Informers;
        _metadataInformers = context.MetadataInformers;
        AttemptToDelete = attemptToDelete;
        AttemptToOrphan = attemptToOrphan;
        AbsentOwners = absentOwners;
        GraphChanges = RateLimitingQueue<GraphEvent>.WithDefaultControllerRateLimiter(context.QueueOptions("garbage_collector_graph_changes"));
    }

    internal RateLimitingQueue<GraphEvent> GraphChanges { get; }

    internal RateLimitingQueue<GraphNode> AttemptToDelete { get; }

    internal RateLimitingQueue<GraphNode> AttemptToOrphan { get; }

    internal AbsentOwnerCache AbsentOwners { get; }

    public int NodeCount => _uidToNode.Count;

    public GraphNode? GetNode(string uid) => _uidToNode.TryGetValue(uid, out var node) ? node : null;

    /// <summary>The resources currently monitored.</summary>
    public IReadOnlyList<GroupVersionResource> MonitoredResources => _monitors.Resources;

    /// <summary>
    /// Makes the monitors match <paramref name="resources"/>: new ones are created (and started if the monitors
    /// run), ones no longer listed are stopped. Upstream syncMonitors + startMonitors.
    /// </summary>
    public void SyncMonitors(IEnumerable<DiscoveredResource> resources)
    {
        var (added, kept, removed) = _monitors.Sync(resources, NewMonitor);
        _logger.LogTrace("{Message}", $"synced monitors; added {added}, kept {kept}, removed {removed}");
    }

    /// <summary>
    /// The monitor of one resource: a handler on the controllers' typed informer when one watches it already, else
    /// on the shared metadata-only informer (as upstream's ObjectOrMetadataInformerFactory hands out one or the other).
    /// </summary>
    private Monitor NewMonitor(DiscoveredResource discovered)
    {
        var resource = discovered.Resource;
        return _informers.StartedInformerFor(resource.Group, resource.Version, resource.Resource) is { } shared
            ? new Monitor(shared, discovered.ApiVersion, discovered.Kind, this)
            : new Monitor(_metadataInformers.Lease(discovered), discovered.ApiVersion, discovered.Kind, this);
    }

    /// <summary>The kinds whose monitor is a handler on a typed informer the controllers run.</summary>
    internal IReadOnlyList<string> SharedMonitorKinds => [.. _monitors.Monitors.Where(m => m.IsShared).Select(m => m.Kind)];

    /// <summary>Starts every monitor not yet running; later-added monitors start at once.</summary>
    public void StartMonitors(CancellationToken cancellationToken) => _monitors.Start(cancellationToken);

    /// <summary>True when every monitor has delivered its initial list (upstream IsSynced).</summary>
    public bool IsSynced() => _monitors.IsSynced();

    public async Task<bool> WaitForSyncAsync(TimeSpan pollInterval, CancellationToken cancellationToken)
    {
        while (!IsSynced())
        {
            try
            {
                await Task.Delay(pollInterval, _time, cancellationToken).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                return false;
            }
        }
        return true;
    }

    /// <summary>Stops every monitor and waits for their informers to finish.</summary>
    public Task StopMonitorsAsync() => _monitors.StopAsync();

    /// <summary>Applies graph changes on one worker until the token is cancelled.</summary>
    public async Task RunAsync(CancellationToken cancellationToken)
    {
        _logger.LogInformation("GraphBuilder running");
        try
        {
            await new ControllerWorkers<GraphEvent>("garbagecollector graph builder", GraphChanges, (change, _) =>
            {
                ProcessGraphChange(change);
                return Task.FromResult(ReconcileResult.Done);
            }, _logger).RunAsync(1, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            _logger.LogInformation("GraphBuilder stopping");
        }
    }

    /// <summary>
    /// Tells the graph an object is gone after the API said so (the informer may never report it). As upstream, the
    /// event names the group version as parsed, so a virtual owner referred to as "/v1" is not matched by it and stays.
    /// </summary>
    internal void EnqueueVirtualDeleteEvent(ObjectIdentity identity)
        => GraphChanges.Add(new GraphEvent(GraphEventType.Delete, ResourceMapper.CanonicalApiVersion(identity.ApiVersion), identity.Kind, new ObservedMetadata(identity.Namespace, identity.Name, identity.Uid, null, [], false, []), null, Virtual: true));

    internal void ProcessGraphChange(GraphEvent change)
    {
        var obj = change.Object;
        if (obj.Uid.Length == 0)
        {
            return;
        }
        var found = _uidToNode.TryGetValue(obj.Uid, out var existing);
        if (found && !change.Virtual && !existing!.IsObserved)
        {
            // The first real sighting of an object that was only known as somebody's owner.
            var observed = change.Identity;
            if (observed != existing.Identity)
            {
                // Dependents that named this owner with other coordinates (or from another namespace) may be wrong.
                var (_, potentiallyInvalid) = PartitionDependents(existing.Dependents(), observed);
                foreach (var dependent in potentiallyInvalid)
                {
                    if (observed.IsNamespaced && dependent.Identity.Namespace != observed.Namespace)
                    {
                        _logger.LogDebug("{Message}", $"node {dependent.Identity} references an owner {observed} but does not match namespaces");
                        ReportInvalidNamespaceOwnerRef(dependent, observed.Uid);
                    }
                    AttemptToDelete.Add(dependent);
                }
                _logger.LogDebug("{Message}", $"replacing virtual node {existing.Identity} with observed node {observed}");
                existing = existing.CloneWithIdentity(observed);
                _uidToNode[obj.Uid] = existing;
            }
            existing.MarkObserved();
        }

        switch (change.Type)
        {
            case GraphEventType.Add or GraphEventType.Update when !found:
            {
                var node = new GraphNode(change.Identity, obj.Owners, isVirtual: false, beingDeleted: obj.BeingDeleted, deletingDependents: obj.BeingDeleted && obj.HasForegroundFinalizer);
                InsertNode(node);
                // An add may already carry a deletion (the informer merged the events), so check transitions too.
                ProcessTransitions(change.OldObject, obj, node);
                break;
            }
            case GraphEventType.Add or GraphEventType.Update:
            {
                var (added, removed, changed) = ReferencesDiffs(existing!.Owners, obj.Owners);
                if (added.Count > 0 || removed.Count > 0 || changed.Count > 0)
                {
                    // Dropping a blocking reference may unblock an owner deleting in the foreground.
                    AddUnblockedOwnersToDeleteQueue(removed, changed);
                    existing.Owners = obj.Owners;
                    AddDependentToOwners(existing, added);
                    RemoveDependentFromOwners(existing, removed);
                }
                if (obj.BeingDeleted)
                {
                    existing.MarkBeingDeleted();
                }
                ProcessTransitions(change.OldObject, obj, existing);
                break;
            }
            case GraphEventType.Delete:
                if (!found)
                {
                    _logger.LogTrace("item {Uid} doesn't exist in the graph, this shouldn't happen", obj.Uid);
                    return;
                }
                ProcessDelete(change, existing!);
                break;
        }
    }

    private void ProcessDelete(GraphEvent change, GraphNode existing)
    {
        var removeExisting = true;
        if (change.Virtual)
        {
            var deleted = change.Identity;
            if (!existing.IsObserved)
            {
                // We are not sure of a virtual node's coordinates: keep it while some dependents name it differently.
                var (matching, nonMatching) = PartitionDependents(existing.Dependents(), deleted);
                if (nonMatching.Count > 0)
                {
                    removeExisting = false;
                    if (matching.Count > 0)
                    {
                        AbsentOwners.Add(deleted);
                        foreach (var dependent in matching)
                        {
                            AttemptToDelete.Add(dependent);
                        }
                    }
                    if (existing.Identity == deleted && AlternateOwnerIdentity(nonMatching, deleted) is { } replacement)
                    {
                        var replacementNode = existing.CloneWithIdentity(replacement);
                        _uidToNode[replacementNode.Identity.Uid] = replacementNode;
                        AttemptToDelete.AddRateLimited(replacementNode);
                    }
                }
            }
            else if (existing.Identity != deleted)
            {
                // A real node is never removed on a virtual delete of other coordinates.
                removeExisting = false;
                var (matching, _) = PartitionDependents(existing.Dependents(), deleted);
                if (matching.Count > 0)
                {
                    AbsentOwners.Add(deleted);
                    foreach (var dependent in matching)
                    {
                        AttemptToDelete.Add(dependent);
                    }
                }
            }
        }
        if (!removeExisting)
        {
            return;
        }
        RemoveNode(existing);
        var dependents = existing.Dependents();
        if (dependents.Count > 0)
        {
            AbsentOwners.Add(change.Identity);
        }
        foreach (var dependent in dependents)
        {
            AttemptToDelete.Add(dependent);
        }
        foreach (var owner in existing.Owners)
        {
            // An owner deleting in the foreground may have been waiting for this dependent.
            if (_uidToNode.TryGetValue(owner.Uid, out var ownerNode) && ownerNode.IsDeletingDependents)
            {
                AttemptToDelete.Add(ownerNode);
            }
        }
    }

    private void InsertNode(GraphNode node)
    {
        _uidToNode[node.Identity.Uid] = node;
        AddDependentToOwners(node, node.Owners);
    }

    private void RemoveNode(GraphNode node)
    {
        _uidToNode.TryRemove(new KeyValuePair<string, GraphNode>(node.Identity.Uid, node));
        foreach (var owner in node.Owners)
        {
            if (_uidToNode.TryGetValue(owner.Uid, out var ownerNode))
            {
                ownerNode.RemoveDependent(node);
            }
        }
    }

    private void AddDependentToOwners(GraphNode node, IReadOnlyList<OwnerRef> owners)
    {
        var potentiallyInvalid = false;
        foreach (var owner in owners)
        {
            if (!_uidToNode.TryGetValue(owner.Uid, out var ownerNode))
            {
                // An owner not seen yet: a virtual node, verified against the API by the collector.
                ownerNode = new GraphNode(ObjectIdentity.OfOwner(owner, node.Identity.Namespace), [], isVirtual: true);
                _logger.LogTrace("add virtual item {Identity}", ownerNode.Identity);
                _uidToNode[owner.Uid] = ownerNode;
                ownerNode.AddDependent(node);
                AttemptToDelete.Add(ownerNode);
                continue;
            }
            ownerNode.AddDependent(node);
            if (potentiallyInvalid)
            {
                continue;
            }
            var ownerNamespaced = ownerNode.Identity.IsNamespaced;
            if (ownerNamespaced && ownerNode.Identity.Namespace != node.Identity.Namespace)
            {
                if (ownerNode.IsObserved)
                {
                    // Cluster-scoped owners may be named from anywhere; a namespaced one only from its own namespace.
                    _logger.LogDebug("{Message}", $"node {node.Identity} references an owner {ownerNode.Identity} but does not match namespaces");
                    ReportInvalidNamespaceOwnerRef(node, owner.Uid);
                }
                potentiallyInvalid = true;
            }
            else if (!ownerNode.Identity.MatchesCoordinates(owner))
            {
                if (ownerNode.IsObserved)
                {
                    _logger.LogDebug("{Message}", $"node {node.Identity} references an owner {ownerNode.Identity} with coordinates that do not match the observed identity");
                }
                potentiallyInvalid = true;
            }
            else if (!ownerNamespaced && ownerNode.Identity.Namespace != node.Identity.Namespace && !ownerNode.IsObserved)
            {
                // A virtual cluster-scoped owner named from a namespace might really be a missing namespaced object.
                potentiallyInvalid = true;
            }
        }
        if (potentiallyInvalid)
        {
            AttemptToDelete.Add(node);
        }
    }

    private void RemoveDependentFromOwners(GraphNode node, IReadOnlyList<OwnerRef> owners)
    {
        foreach (var owner in owners)
        {
            if (_uidToNode.TryGetValue(owner.Uid, out var ownerNode))
            {
                ownerNode.RemoveDependent(node);
            }
        }
    }

    private void ProcessTransitions(ObservedMetadata? old, ObservedMetadata current, GraphNode node)
    {
        if (StartsWaitingForDependents(old, current, ObservedMetadata.OrphanFinalizer))
        {
            _logger.LogTrace("add an item to the attemptToOrphan: {Item}", node.Identity);
            AttemptToOrphan.Add(node);
            return;
        }
        if (StartsWaitingForDependents(old, current, ObservedMetadata.ForegroundFinalizer))
        {
            _logger.LogDebug("{Message}", $"add {node.Identity} to the attemptToDelete, because it's waiting for its dependents to be deleted");
            node.MarkDeletingDependents();
            foreach (var dependent in node.Dependents())
            {
                AttemptToDelete.Add(dependent);
            }
            AttemptToDelete.Add(node);
        }
    }

    private static bool StartsWaitingForDependents(ObservedMetadata? old, ObservedMetadata current, string finalizer)
    {
        if (!current.BeingDeleted || !current.Finalizers.Contains(finalizer))
        {
            return false;
        }
        return old is null || !old.BeingDeleted || !old.Finalizers.Contains(finalizer);
    }

    /// <summary>Owners whose blocking reference was removed or turned non-blocking get another look (upstream addUnblockedOwnersToDeleteQueue).</summary>
    private void AddUnblockedOwnersToDeleteQueue(IReadOnlyList<OwnerRef> removed, IReadOnlyList<(OwnerRef Old, OwnerRef New)> changed)
    {
        foreach (var reference in removed)
        {
            if (reference.Blocks)
            {
                EnqueueIfDeletingDependents(reference.Uid);
            }
        }
        foreach (var (oldRef, newRef) in changed)
        {
            if (oldRef.Blocks && !newRef.Blocks)
            {
                EnqueueIfDeletingDependents(newRef.Uid);
            }
        }
    }

    private void EnqueueIfDeletingDependents(string ownerUid)
    {
        if (!_uidToNode.TryGetValue(ownerUid, out var owner))
        {
            _logger.LogTrace("cannot find owner {Uid}", ownerUid);
            return;
        }
        if (owner.IsDeletingDependents)
        {
            AttemptToDelete.Add(owner);
        }
    }

    internal static (List<OwnerRef> Added, List<OwnerRef> Removed, List<(OwnerRef Old, OwnerRef New)> Changed) ReferencesDiffs(IReadOnlyList<OwnerRef> old, IReadOnlyList<OwnerRef> current)
    {
        var oldByUid = new Dictionary<string, OwnerRef>(StringComparer.Ordinal);
        foreach (var reference in old)
        {
            oldByUid[reference.Uid] = reference;
        }
        var added = new List<OwnerRef>();
        var changed = new List<(OwnerRef, OwnerRef)>();
        foreach (var reference in current)
        {
            if (oldByUid.Remove(reference.Uid, out var previous))
            {
                if (previous != reference)
                {
                    changed.Add((previous, reference));
                }
            }
            else
            {
                added.Add(reference);
            }
        }
        return (added, [.. oldByUid.Values], changed);
    }

    /// <summary>Splits dependents into those whose reference matches <paramref name="owner"/> exactly and those that disagree.</summary>
    internal static (List<GraphNode> Matching, List<GraphNode> NonMatching) PartitionDependents(IReadOnlyList<GraphNode> dependents, ObjectIdentity owner)
    {
        var matching = new List<GraphNode>();
        var nonMatching = new List<GraphNode>();
        foreach (var dependent in dependents)
        {
            var foundMatch = false;
            var foundMismatch = false;
            if (owner.IsNamespaced && owner.Namespace != dependent.Identity.Namespace)
            {
                foundMismatch = true;
            }
            else
            {
                foreach (var reference in dependent.Owners)
                {
                    if (reference.Uid != owner.Uid)
                    {
                        continue;
                    }
                    if (owner.MatchesCoordinates(reference))
                    {
                        foundMatch = true;
                    }
                    else
                    {
                        foundMismatch = true;
                    }
                }
            }
            if (foundMatch)
            {
                matching.Add(dependent);
            }
            if (foundMismatch)
            {
                nonMatching.Add(dependent);
            }
        }
        return (matching, nonMatching);
    }

    /// <summary>Another way dependents refer to a verified-absent owner, chosen deterministically (sorted, the one after the absent identity).</summary>
    internal static ObjectIdentity? AlternateOwnerIdentity(IReadOnlyList<GraphNode> dependents, ObjectIdentity absent)
    {
        var candidates = new SortedDictionary<string, ObjectIdentity>(StringComparer.Ordinal);
        foreach (var dependent in dependents)
        {
            foreach (var reference in dependent.Owners.Where(r => r.Uid == absent.Uid))
            {
                var candidate = ObjectIdentity.OfOwner(reference, absent.IsNamespaced || dependent.Identity.IsNamespaced ? dependent.Identity.Namespace : null);
                if (candidate != absent)
                {
                    candidates.TryAdd(candidate.ToString(), candidate);
                }
            }
        }
        if (candidates.Count == 0)
        {
            return null;
        }
        var absentKey = absent.ToString();
        return candidates.FirstOrDefault(c => string.CompareOrdinal(c.Key, absentKey) > 0).Value ?? candidates.First().Value;
    }

    private void ReportInvalidNamespaceOwnerRef(GraphNode node, string invalidOwnerUid)
    {
        var invalid = node.Owners.FirstOrDefault(o => o.Uid == invalidOwnerUid);
        if (invalid is null)
        {
            return;
        }
        var reference = new ObjectReference
        {
            Kind = node.Identity.Kind,
            ApiVersion = node.Identity.ApiVersion,
            Namespace = node.Identity.Namespace,
            Name = node.Identity.Name,
            Uid = node.Identity.Uid,
        };
        var invalidIdentity = ObjectIdentity.OfOwner(invalid, node.Identity.Namespace);
        _recorder.Event(reference, EventTypes.Warning, "OwnerRefInvalidNamespace", $"ownerRef {invalidIdentity} does not exist in namespace \"{node.Identity.Namespace}\"");
    }

    public void Dispose()
    {
        _ = StopMonitorsAsync();
        GraphChanges.Dispose();
    }

    /// <summary>
    /// Whether an update can change the graph: other owners, another uid under the same name (a relist after a
    /// re-create), or a deletion in progress (being-deleted marks, orphan and foreground transitions). Any other update, a
    /// lease renewal or a status write, is a no-op in <see cref="ProcessGraphChange"/>: such updates are dropped before
    /// they are queued (upstream's handler queues them, with a TODO to skip them), so the graph worker is not woken
    /// about 100 times a second by a 1,000-node cluster's leases. An observed node stays observed, so skipping them
    /// never misses a first sighting.
    /// </summary>
    internal static bool UpdateChangesGraph(ObservedMetadata old, ObservedMetadata current)
        => old.Uid != current.Uid || old.BeingDeleted || current.BeingDeleted || !old.Owners.SequenceEqual(current.Owners);

    /// <summary>The same test on a typed object's metadata, without building the graph's view of it.</summary>
    internal static bool UpdateChangesGraph(ObjectMeta? old, ObjectMeta? current)
    {
        if (old?.Uid != current?.Uid || old?.DeletionTimestamp is not null || current?.DeletionTimestamp is not null)
        {
            return true;
        }
        var (oldOwners, currentOwners) = (old?.OwnerReferences, current?.OwnerReferences);
        if ((oldOwners?.Count ?? 0) != (currentOwners?.Count ?? 0))
        {
            return true;
        }
        for (var i = 0; i < (oldOwners?.Count ?? 0); i++)
        {
            var (a, b) = (oldOwners![i], currentOwners![i]);
            if (a.Uid != b.Uid || a.Name != b.Name || a.Kind != b.Kind || a.ApiVersion != b.ApiVersion
                || a.Controller != b.Controller || a.BlockOwnerDeletion != b.BlockOwnerDeletion)
            {
                return true;
            }
        }
        return false;
    }

    /// <summary>One resource's informer and the handler turning its notifications into graph changes.</summary>
    private sealed class Monitor : IResourceEventHandler<ObservedMetadata>, IUpdateFilter<ObservedMetadata>, IResourceMonitor
    {
        private readonly MetadataInformerLease? _lease;
        private readonly IObjectInformer? _shared;
        private readonly IEventHandlerRegistration? _registration;
        private readonly string _apiVersion;
        private readonly string _kind;
        private readonly GraphBuilder _builder;

        /// <summary>A monitor on a shared metadata-only informer, which runs while any monitor leases it.</summary>
        public Monitor(MetadataInformerLease lease, string apiVersion, string kind, GraphBuilder builder)
        {
            _lease = lease;
            _apiVersion = string.Intern(apiVersion);
            _kind = string.Intern(kind);
            _builder = builder;
            lease.AddEventHandler(this, TimeSpan.Zero);
        }

        /// <summary>A monitor on a typed informer the factory runs: it only adds and removes its handler.</summary>
        public Monitor(IObjectInformer shared, string apiVersion, string kind, GraphBuilder builder)
        {
            _shared = shared;
            _apiVersion = string.Intern(apiVersion);
            _kind = string.Intern(kind);
            _builder = builder;
            _registration = shared.AddEventHandler(new Projection(this), TimeSpan.Zero);
        }

        public bool HasSynced => _lease?.HasSynced ?? (_shared!.HasSynced && _registration!.HasSynced);

        public bool IsShared => _shared is not null;

        public string Kind => _kind;

        public void Start(CancellationToken cancellationToken) => _lease?.Start(cancellationToken);

        public Task StopAsync()
        {
            if (_lease is not null)
            {
                return _lease.ReleaseAsync();
            }
            _shared!.RemoveEventHandler(_registration!);
            return Task.CompletedTask;
        }

        public void OnAdd(ObservedMetadata obj, bool isInInitialList)
            => _builder.GraphChanges.Add(new GraphEvent(GraphEventType.Add, _apiVersion, _kind, obj, null));

        public bool WantsUpdate(ObservedMetadata oldObj, ObservedMetadata newObj) => UpdateChangesGraph(oldObj, newObj);

        public void OnUpdate(ObservedMetadata oldObj, ObservedMetadata newObj)
            => _builder.GraphChanges.Add(new GraphEvent(GraphEventType.Update, _apiVersion, _kind, newObj, oldObj));

        public void OnDelete(ObservedMetadata obj, bool finalStateUnknown)
            => _builder.GraphChanges.Add(new GraphEvent(GraphEventType.Delete, _apiVersion, _kind, obj, null));

        /// <summary>Typed objects read down to the metadata the graph keeps.</summary>
        private sealed class Projection(Monitor monitor) : IResourceEventHandler<IKubernetesObject>, IUpdateFilter<IKubernetesObject>
        {
            public bool WantsUpdate(IKubernetesObject oldObj, IKubernetesObject newObj) => UpdateChangesGraph(oldObj.Metadata, newObj.Metadata);

            public void OnAdd(IKubernetesObject obj, bool isInInitialList) => monitor.OnAdd(ObservedMetadata.Of(obj.Metadata), isInInitialList);

            public void OnUpdate(IKubernetesObject oldObj, IKubernetesObject newObj) => monitor.OnUpdate(ObservedMetadata.Of(oldObj.Metadata), ObservedMetadata.Of(newObj.Metadata));

            public void OnDelete(IKubernetesObject obj, bool finalStateUnknown) => monitor.OnDelete(ObservedMetadata.Of(obj.Metadata), finalStateUnknown);
        }
    }
}

/// <summary>Upstream's ReferenceCache: a bounded LRU of owners verified absent, so siblings skip the API lookup.</summary>
public sealed class AbsentOwnerCache(int capacity = 500)
{
    private readonly object _lock = new();
    private readonly LinkedList<ObjectIdentity> _order = new();
    private readonly Dictionary<ObjectIdentity, LinkedListNode<ObjectIdentity>> _entries = [];

    public void Add(ObjectIdentity identity)
    {
        lock (_lock)
        {
            if (_entries.TryGetValue(identity, out var existing))
            {
                _order.Remove(existing);
                _order.AddFirst(existing);
                return;
            }
            _entries[identity] = _order.AddFirst(identity);
            if (_entries.Count > capacity)
            {
                var oldest = _order.Last!;
                _order.RemoveLast();
                _entries.Remove(oldest.Value);
            }
        }
    }

    public bool Has(ObjectIdentity identity)
    {
        lock (_lock)
        {
            if (!_entries.TryGetValue(identity, out var existing))
            {
                return false;
            }
            _order.Remove(existing);
            _order.AddFirst(existing);
            return true;
        }
    }
}

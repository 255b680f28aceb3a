using System.Text.Json.Nodes;
using Kcm.Api.Meta.V1;
using Kcm.Client;
using Kcm.Client.Errors;
using Kcm.Runtime.Controllers;
using Kcm.Runtime.Informers;
using Kcm.Runtime.Queues;
using Microsoft.Extensions.Logging;
using Kcm.Controllers.Common;

namespace Kcm.Controllers.GarbageCollector;

public sealed record GarbageCollectorOptions
{
    /// <summary>How often discovery is re-read so resources added later (e.g. custom resources) get monitors.</summary>
    public TimeSpan ResourceResyncPeriod { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>Resources never monitored (upstream DefaultIgnoredResources: events).</summary>
    public IReadOnlySet<(string Group, string Resource)> IgnoredResources { get; init; } = DefaultIgnoredResources;

    public static IReadOnlySet<(string Group, string Resource)> DefaultIgnoredResources { get; } = new HashSet<(string, string)>
    {
        ("", "events"),
        ("events.k8s.io", "events"),
    };
}

/// <summary>
/// Upstream's garbage collector: a graph of owners and dependents built from every deletable resource, and workers
/// that delete dependents whose owners are all gone (verified against the API), finish foreground deletions once
/// the blocking dependents are gone, and orphan dependents of owners deleted with the orphan policy.
/// </summary>
public sealed partial class GarbageCollector : IDisposable
{
    public const string ControllerName = "garbagecollector";
    public const string ServiceAccountName = "generic-garbage-collector";

    private static readonly TimeSpan[] ConflictBackoff = [TimeSpan.FromMilliseconds(10), TimeSpan.FromMilliseconds(50), TimeSpan.FromMilliseconds(250)];

    private readonly Kcm.Runtime.Metrics.Counter _syncErrors;
    private readonly KubeApiClient _client;
    private readonly GarbageCollectorOptions _options;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly RateLimitingQueue<GraphNode> _attemptToDelete;
    private readonly RateLimitingQueue<GraphNode> _attemptToOrphan;
    private readonly AbsentOwnerCache _absentOwners = new();
    private volatile ResourceMapper _mapper = ResourceMapper.Empty;
    private HashSet<GroupVersionResource> _monitored = [];

    public GarbageCollector(ControllerContext context, GarbageCollectorOptions? options = null)
    {
        _options = options ?? new GarbageCollectorOptions();
        // Twice --kube-api-qps, as upstream's: each deletion takes a lookup and a delete.
        _client = context.Clients.For(ServiceAccountName, qpsScale: 2);
        _time = context.Time;
        _logger = context.Loggers.CreateLogger<GarbageCollector>();
        _attemptToDelete = RateLimitingQueue<GraphNode>.WithDefaultControllerRateLimiter(context.QueueOptions("garbage_collector_attempt_to_delete"));
        _attemptToOrphan = RateLimitingQueue<GraphNode>.WithDefaultControllerRateLimiter(context.QueueOptions("garbage_collector_attempt_to_orphan"));
        Graph = new GraphBuilder(context, context.Events.NewRecorder("garbage-collector-controller"), _attemptToDelete, _attemptToOrphan, _absentOwners);
        _syncErrors = context.Metrics.Counter("garbagecollector_controller_resources_sync_error_total", "[ALPHA] Number of garbage collector resources sync errors");
    }

    public GraphBuilder Graph { get; }

    /// <summary>
    /// Discovers the deletable resources (retrying until discovery answers), starts the monitors and the graph
    /// builder, waits for the initial lists, then runs <paramref name="workers"/> delete and orphan workers and
    /// re-reads discovery every <see cref="GarbageCollectorOptions.ResourceResyncPeriod"/>.
    /// </summary>
    public async Task RunAsync(int workers, CancellationToken cancellationToken)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(workers);
        _logger.LogInformation("Starting garbage collector controller");
        using var stopQueues = cancellationToken.Register(() =>
        {
            _attemptToDelete.ShutDown();
            _attemptToOrphan.ShutDown();
        });
        var running = new List<Task>();
        try
        {
            while (!await ResyncAsync(cancellationToken).ConfigureAwait(false))
            {
                await Task.Delay(_options.ResourceResyncPeriod, _time, cancellationToken).ConfigureAwait(false);
            }
            Graph.StartMonitors(cancellationToken);
            running.Add(Task.Run(() => Graph.RunAsync(cancellationToken), CancellationToken.None));
            _logger.LogInformation("Waiting for caches to sync for {Name}", "garbage collector");
            if (!await Graph.WaitForSyncAsync(TimeSpan.FromMilliseconds(100), cancellationToken).ConfigureAwait(false))
            {
                return;
            }
            _logger.LogInformation("Caches are synced for {Name}", "garbage collector");
            _logger.LogInformation("Garbage collector: all resource monitors have synced. Proceeding to collect garbage");
            _logger.LogDebug("synced garbage collector");
            // Both retry forever, as upstream's attemptToDelete/attemptToOrphan workers.
            running.Add(new ControllerWorkers<GraphNode>("garbagecollector attempt to delete", _attemptToDelete, AttemptToDeleteWorkerAsync, _logger).RunAsync(workers, cancellationToken));
            running.Add(new ControllerWorkers<GraphNode>("garbagecollector attempt to orphan", _attemptToOrphan, OrphanWorkerAsync, _logger).RunAsync(workers, cancellationToken));
            while (!cancellationToken.IsCancellationRequested)
            {
                await Task.Delay(_options.ResourceResyncPeriod, _time, cancellationToken).ConfigureAwait(false);
                await ResyncAsync(cancellationToken).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
        }
        finally
        {
            _attemptToDelete.ShutDown();
            _attemptToOrphan.ShutDown();
            Graph.GraphChanges.ShutDown();
            await Task.WhenAll(running).ConfigureAwait(false);
            await Graph.StopMonitorsAsync().ConfigureAwait(false);
            _logger.LogInformation("Shutting down garbage collector controller");
        }
    }

    /// <summary>
    /// Upstream GetDeletableResources + Sync: re-reads discovery, refreshes the kind → resource mapping and, when the
    /// set of list/watch/delete resources changed, the monitors. False when discovery gave nothing usable.
    /// </summary>
    public async Task<bool> ResyncAsync(CancellationToken cancellationToken)
    {
        ServerResources discovered;
        try
        {
            discovered = await ServerResources.DiscoverAsync(_client.Discovery, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            _logger.LogWarning("failed to discover preferred resources: {Error}", ex.Message);
            _syncErrors.Inc();
            return false;
        }
        if (discovered.Failure is { } failure)
        {
            // Partial discovery still yields usable resources (upstream logs and goes on).
            _logger.LogWarning("failed to discover some groups: {Error}", failure.Message);
        }
        var deletable = discovered.Preferred
            .Where(r => r.Supports("delete", "list", "watch") && !_options.IgnoredResources.Contains((r.Resource.Group, r.Resource.Resource)))
            .ToList();
        if (deletable.Count == 0)
        {
            _logger.LogDebug("no resources reported by discovery, skipping garbage collector sync");
            _syncErrors.Inc();
            return false;
        }
        _mapper = new ResourceMapper(discovered.Resources);
        var resources = deletable.Select(r => r.Resource).ToHashSet();
        if (resources.SetEquals(_monitored))
        {
            _logger.LogTrace("no resource updates from discovery, skipping garbage collector sync");
            return true;
        }
        if (_logger.IsEnabled(LogLevel.Debug))
        {
            _logger.LogDebug("{Message}", $"syncing garbage collector with updated resources from discovery (attempt 1): {DiscoveryDiff.Print(_monitored, resources)}");
        }
        Graph.SyncMonitors(deletable);
        _monitored = resources;
        return true;
    }

    /// <summary>Upstream attemptToDeleteWorker; Retry when the node must be looked at again.</summary>
    internal async Task<ReconcileResult> AttemptToDeleteWorkerAsync(GraphNode node, CancellationToken cancellationToken)
    {
        if (!node.IsObserved)
        {
            var current = Graph.GetNode(node.Identity.Uid);
            if (current is null)
            {
                _logger.LogTrace("item no longer in the graph, skipping attemptToDeleteItem: {Item}", node.Identity);
                return ReconcileResult.Done;
            }
            if (current.IsObserved)
            {
                _logger.LogTrace("item no longer virtual in the graph, skipping attemptToDeleteItem on virtual node: {Item}", node.Identity);
                return ReconcileResult.Done;
            }
        }
        try
        {
            if (await AttemptToDeleteItemAsync(node, cancellationToken).ConfigureAwait(false) == DeleteOutcome.EnqueuedVirtualDelete)
            {
                return ReconcileResult.Done; // The graph builder finishes the job.
            }
        }
        catch (NamespacedOwnerOfClusterScopedObjectException)
        {
            return ReconcileResult.Done; // Retrying cannot fix a cluster-scoped object naming a namespaced owner.
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            return ReconcileResult.Done;
        }
        catch (RestMappingException ex)
        {
            // Possibly a kind discovery will know after its next resync, possibly a bad reference: retry either way,
            // quietly (upstream logs it at V(5) only, since it cannot tell the two apart).
            _logger.LogTrace("error syncing item {Item}: {Error}", node.Identity, ex.Message);
            return ReconcileResult.Retry;
        }
        catch (Exception ex) when (ex is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            _logger.LogError("{Message}", $"error syncing item {node}: {ex.Message}");
            return ReconcileResult.Retry;
        }
        if (!node.IsObserved)
        {
            // Requeue until an informer shows it or a virtual delete removes it (issue 56121).
            _logger.LogTrace("item hasn't been observed via informer yet: {Item}", node.Identity);
            return ReconcileResult.Retry;
        }
        return ReconcileResult.Done;
    }

    internal enum DeleteOutcome
    {
        Done,
        EnqueuedVirtualDelete,
    }

    /// <summary>
    /// Upstream attemptToDeleteItem: reads the live object; if it is gone (or another uid) the node is removed from
    /// the graph; an owner deleting in the foreground is finished or its blocking dependents queued; otherwise the
    /// object is deleted when none of its owners still exists.
    /// </summary>
    internal async Task<DeleteOutcome> AttemptToDeleteItemAsync(GraphNode item, CancellationToken cancellationToken)
    {
        _logger.LogDebug("Processing object {Object} {ObjectUID} {Kind} {Virtual}", new ObjectKey(item.Identity.Namespace, item.Identity.Name), item.Identity.Uid, item.Identity.Kind, !item.IsObserved);
        if (item.IsBeingDeleted && !item.IsDeletingDependents)
        {
            // Deletion is a one-way trip: wait for the final delete, then its dependents get processed.
            _logger.LogTrace("processing item {Item} returned at once, because its DeletionTimestamp is non-nil", item.Identity);
            return DeleteOutcome.Done;
        }
        var latest = await GetObjectAsync(item.Identity, cancellationToken).ConfigureAwait(false);
        if (latest is null)
        {
            _logger.LogTrace("item {Item} not found, generating a virtual delete event", item.Identity);
            Graph.EnqueueVirtualDeleteEvent(item.Identity);
            return DeleteOutcome.EnqueuedVirtualDelete;
        }
        var meta = ObservedMetadata.Of(latest);
        if (meta.Uid != item.Identity.Uid)
        {
            _logger.LogTrace("UID doesn't match, item {Item} not found, generating a virtual delete event", item.Identity);
            Graph.EnqueueVirtualDeleteEvent(item.Identity);
            return DeleteOutcome.EnqueuedVirtualDelete;
        }
        if (item.IsDeletingDependents)
        {
            await ProcessDeletingDependentsItemAsync(item, cancellationToken).ConfigureAwait(false);
            return DeleteOutcome.Done;
        }
        if (meta.Owners.Count == 0)
        {
            _logger.LogDebug("{Message}", $"object {item.Identity}'s doesn't have an owner, continue on next item");
            return DeleteOutcome.Done;
        }

        var (solid, dangling, waiting) = await ClassifyReferencesAsync(item, meta.Owners, cancellationToken).ConfigureAwait(false);
        _logger.LogTrace("classify item {Item}'s references: solid {Solid}, dangling {Dangling}, waitingForDependentsDeletion {Waiting}", item.Identity, solid.Count, dangling.Count, waiting.Count);
        if (solid.Count > 0)
        {
            if (_logger.IsEnabled(LogLevel.Debug))
            {
                _logger.LogDebug("{Message}", $"object {GoSyntax(item.Identity)} has at least one existing owner: {GoSyntax(solid)}, will not garbage collect");
            }
            if (dangling.Count == 0 && waiting.Count == 0)
            {
                return DeleteOutcome.Done;
            }
            // Waiting owners must lose the reference too, or they stay stuck with their foreground finalizer.
            var remove = dangling.Concat(waiting).Select(o => o.Uid).ToHashSet(StringComparer.Ordinal);
            if (_logger.IsEnabled(LogLevel.Debug))
            {
                _logger.LogDebug("{Message}", $"remove dangling references {GoSyntax(dangling)} and waiting references {GoSyntax(waiting)} for object {item.Identity}");
            }
            await ModifyOwnerReferencesAsync(item.Identity, refs => RemoveOwnerReferences(refs, remove), cancellationToken).ConfigureAwait(false);
            return DeleteOutcome.Done;
        }
        if (waiting.Count > 0 && item.DependentsCount > 0)
        {
            foreach (var dependent in item.Dependents())
            {
                if (dependent.IsDeletingDependents)
                {
                    // Owner and dependent both wait on each other: make this item's references non-blocking to break a cycle.
                    _logger.LogDebug("{Message}", $"processing object {item.Identity}, some of its owners and its dependent [{dependent.Identity}] have FinalizerDeletingDependents, to prevent potential cycle, its ownerReferences are going to be modified to be non-blocking, then the object is going to be deleted with Foreground");
                    await ModifyOwnerReferencesAsync(item.Identity, UnblockOwnerReferences, cancellationToken).ConfigureAwait(false);
                    break;
                }
            }
            _logger.LogDebug("{Message}", $"at least one owner of object {item.Identity} has FinalizerDeletingDependents, and the object itself has dependents, so it is going to be deleted in Foreground");
            return await DeleteObjectAsync(item, meta, "Foreground", cancellationToken).ConfigureAwait(false);
        }
        // No owner left: honour a policy the object already carries, else delete in the background.
        var policy = meta.HasOrphanFinalizer ? "Orphan" : meta.HasForegroundFinalizer ? "Foreground" : "Background";
        _logger.LogDebug("Deleting object {Object} {ObjectUID} {Kind} {PropagationPolicy}", new ObjectKey(item.Identity.Namespace, item.Identity.Name), item.Identity.Uid, item.Identity.Kind, policy);
        return await DeleteObjectAsync(item, meta, policy, cancellationToken).ConfigureAwait(false);
    }

    private async Task<DeleteOutcome> DeleteObjectAsync(GraphNode item, ObservedMetadata latest, string policy, CancellationToken cancellationToken)
    {
        try
        {
            await DeleteObjectAsync(item.Identity, latest.ResourceVersion, latest.Owners, policy, cancellationToken).ConfigureAwait(false);
            return DeleteOutcome.Done;
        }
        catch (NotFoundException)
        {
            Graph.EnqueueVirtualDeleteEvent(item.Identity);
            return DeleteOutcome.EnqueuedVirtualDelete;
        }
    }

    private async Task ProcessDeletingDependentsItemAsync(GraphNode item, CancellationToken cancellationToken)
    {
        var blocking = item.BlockingDependents();
        if (blocking.Count == 0)
        {
            _logger.LogDebug("remove DeleteDependents finalizer for item {Item}", item.Identity);
            await RemoveFinalizerAsync(item, ObservedMetadata.ForegroundFinalizer, cancellationToken).ConfigureAwait(false);
            return;
        }
        foreach (var dependent in blocking)
        {
            if (!dependent.IsDeletingDependents)
            {
                _logger.LogDebug("{Message}", $"adding {dependent.Identity} to attemptToDelete, because its owner {item.Identity} is deletingDependents");
                _attemptToDelete.Add(dependent);
            }
        }
    }

    /// <summary>Upstream classifyReferences: solid (owner exists, not deleting its dependents), dangling (absent), waiting (foreground-deleting owner).</summary>
    private async Task<(List<OwnerRef> Solid, List<OwnerRef> Dangling, List<OwnerRef> Waiting)> ClassifyReferencesAsync(GraphNode item, IReadOnlyList<OwnerRef> references, CancellationToken cancellationToken)
    {
        var solid = new List<OwnerRef>();
        var dangling = new List<OwnerRef>();
        var waiting = new List<OwnerRef>();
        foreach (var reference in references)
        {
            var (isDangling, owner) = await IsDanglingAsync(reference, item, cancellationToken).ConfigureAwait(false);
            if (isDangling)
            {
                dangling.Add(reference);
            }
            else if (owner!.BeingDeleted && owner.HasForegroundFinalizer)
            {
                waiting.Add(reference);
            }
            else
            {
                solid.Add(reference);
            }
        }
        return (solid, dangling, waiting);
    }

    /// <summary>
    /// Upstream isDangling: whether the referenced owner is absent, looked up live (owner references are local to
    /// the dependent's namespace, or cluster-scoped) with verified absences remembered in the absent-owner cache.
    /// </summary>
    private async Task<(bool Dangling, ObservedMetadata? Owner)> IsDanglingAsync(OwnerRef reference, GraphNode item, CancellationToken cancellationToken)
    {
        var clusterKey = ObjectIdentity.OfOwner(reference, null);
        if (_absentOwners.Has(clusterKey))
        {
            _logger.LogTrace("according to the absentOwnerCache, item {Item}'s owner {Owner} does not exist", item.Identity, reference.Uid);
            return (true, null);
        }
        var namespacedKey = clusterKey.WithNamespace(item.Identity.Namespace);
        if (_absentOwners.Has(namespacedKey))
        {
            _logger.LogTrace("according to the absentOwnerCache, item {Item}'s owner {Owner} does not exist in namespace", item.Identity, reference.Uid);
            return (true, null);
        }
        var resource = _mapper.Find(reference.ApiVersion, reference.Kind);
        var absentKey = resource.Namespaced ? namespacedKey : clusterKey;
        if (!item.Identity.IsNamespaced && resource.Namespaced)
        {
            _logger.LogDebug("{Message}", $"object {item.Identity} is cluster-scoped, but refers to a namespaced owner of type {reference.ApiVersion}/{reference.Kind}");
            throw new NamespacedOwnerOfClusterScopedObjectException();
        }
        JsonObject owner;
        try
        {
            owner = await _client.Dynamic.Resource(resource.Resource, resource.Namespaced)
                .GetMetadataAsync(resource.Namespaced ? item.Identity.Namespace : null, reference.Name, cancellationToken).ConfigureAwait(false);
        }
        catch (NotFoundException)
        {
            _absentOwners.Add(absentKey);
            _logger.LogTrace("item {Item}'s owner {Owner} is not found", item.Identity, reference.Uid);
            return (true, null);
        }
        var ownerMeta = ObservedMetadata.Of(owner);
        if (ownerMeta.Uid != reference.Uid)
        {
            _logger.LogTrace("item {Item}'s owner {Owner} is not found, UID mismatch", item.Identity, reference.Uid);
            _absentOwners.Add(absentKey);
            return (true, null);
        }
        return (false, ownerMeta);
    }

    private async Task<ReconcileResult> OrphanWorkerAsync(GraphNode owner, CancellationToken cancellationToken)
    {
        await AttemptToOrphanAsync(owner, cancellationToken).ConfigureAwait(false);
        return ReconcileResult.Done;
    }

    /// <summary>Upstream attemptToOrphanWorker: drop the owner from every dependent's references, then remove the orphan finalizer.</summary>
    internal async Task AttemptToOrphanAsync(GraphNode owner, CancellationToken cancellationToken)
    {
        var dependents = owner.Dependents();
        var removeOwner = new HashSet<string>(StringComparer.Ordinal) { owner.Identity.Uid };
        var results = await Task.WhenAll(dependents.Select(async dependent =>
        {
            try
            {
                await ModifyOwnerReferencesAsync(dependent.Identity, refs => RemoveOwnerReferences(refs, removeOwner), cancellationToken).ConfigureAwait(false);
                return null;
            }
            catch (NotFoundException)
            {
                return null;
            }
            catch (Exception ex) when (ex is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
            {
                return $"orphaning {dependent.Identity} failed, {ex.Message}";
            }
        })).ConfigureAwait(false);
        var errors = results.OfType<string>().ToList();
        if (errors.Count > 0)
        {
            throw new OrphanDependentsException($"failed to orphan dependents of owner {owner.Identity}, got errors: [{string.Join(", ", errors)}]");
        }
        _logger.LogTrace("successfully updated all dependents of owner {Owner}", owner.Identity);
        await RemoveFinalizerAsync(owner, ObservedMetadata.OrphanFinalizer, cancellationToken).ConfigureAwait(false);
    }

    public void Dispose()
    {
        _attemptToDelete.Dispose();
        _attemptToOrphan.Dispose();
        Graph.Dispose();
    }

    private sealed class NamespacedOwnerOfClusterScopedObjectException() : InvalidOperationException("cluster-scoped objects cannot refer to namespaced owners");

    // Go's %#v of an identity and of owner references, as upstream's V(2) lines print them (pointers shown by value).
    private static string GoSyntax(ObjectIdentity id)
        => $"garbagecollector.objectReference{{OwnerReference:v1.OwnerReference{{APIVersion:\"{id.ApiVersion}\", Kind:\"{id.Kind}\", Name:\"{id.Name}\", UID:\"{id.Uid}\", Controller:(*bool)(nil), BlockOwnerDeletion:(*bool)(nil)}}, Namespace:\"{id.Namespace}\"}}";

    private static string GoSyntax(IEnumerable<OwnerRef> refs)
        => "[]v1.OwnerReference{" + string.Join(", ", refs.Select(r =>
            $"v1.OwnerReference{{APIVersion:\"{r.ApiVersion}\", Kind:\"{r.Kind}\", Name:\"{r.Name}\", UID:\"{r.Uid}\", Controller:{GoBool(r.Controller)}, BlockOwnerDeletion:{GoBool(r.BlockOwnerDeletion)}}}")) + "}";

    private static string GoBool(bool? value) => value is { } b ? $"(*bool)({(b ? "true" : "false")})" : "(*bool)(nil)";
}

/// <summary>Some dependents could not be orphaned; the owner is retried.</summary>
public sealed class OrphanDependentsException(string message) : InvalidOperationException(message);

using Kcm.Api;
using Kcm.Api.Core.V1;
using Kcm.Api.Quota;
using Kcm.Client;
using Kcm.Controllers.Common;
using Kcm.Runtime.Informers;
using Microsoft.Extensions.Logging;

namespace Kcm.Controllers.ResourceQuotas;

/// <summary>
/// Upstream's QuotaMonitor: a cache per quotable resource (namespaced, with create/list/watch/delete, not ignored),
/// kept in step with discovery, that usage is counted from; a deleted object, or an update that frees quota (a pod
/// that finished, a service that stopped being a NodePort or LoadBalancer), is reported so the quotas of its
/// namespace are recomputed at once instead of at the next full resync. Pods, services and claims use the shared
/// typed caches (their usage depends on their spec); every other resource is counted from the metadata-only cache it
/// shares with the garbage collector.
/// </summary>
public sealed class QuotaMonitor
{
    private static readonly GroupResource Pods = new("", "pods");
    private static readonly GroupResource Services = new("", "services");
    private static readonly GroupResource Claims = new("", "persistentvolumeclaims");

    private readonly object _lock = new();
    private readonly Dictionary<GroupResource, Func<bool>> _typed = [];
    private readonly Dictionary<GroupResource, Func<string, IEnumerable<object>>> _typedLists = [];
    private readonly ResourceMonitors<Monitor> _monitors = new();
    private readonly SharedMetadataInformers? _metadataInformers;
    private readonly QuotaRegistry _registry;
    private readonly Action<GroupResource, string> _replenish;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;

    /// <param name="metadataInformers">Where resources without a typed cache are counted from; null counts only those (unit tests).</param>
    public QuotaMonitor(SharedMetadataInformers? metadataInformers, QuotaRegistry registry, Action<GroupResource, string> replenish, TimeProvider time, ILoggerFactory loggers)
    {
        _metadataInformers = metadataInformers;
        _registry = registry;
        _replenish = replenish;
        _time = time;
        _logger = loggers.CreateLogger<QuotaMonitor>();
    }

    /// <summary>
    /// The typed informer the controllers already run for a resource, if any: counted from it rather than from a
    /// metadata cache of its own (upstream's ObjectOrMetadataInformerFactory), so the resource is watched once.
    /// </summary>
    public Func<GroupVersionResource, IObjectInformer?>? SharedInformers { get; init; }

    /// <summary>Uses the shared typed caches for pods, services and claims, with upstream's update filter.</summary>
    public void UseTypedInformers(SharedInformer<Pod> pods, SharedInformer<Service> services, SharedInformer<PersistentVolumeClaim> claims)
    {
        Register(Pods, pods, (old, cur) => PodEvaluator.IsCounted(old, _time.GetUtcNow()) && !PodEvaluator.IsCounted(cur, _time.GetUtcNow()));
        Register(Services, services, (old, cur) => ServiceEvaluator.QuotaServiceType(old) != ServiceEvaluator.QuotaServiceType(cur));
        // RequiresQuotaReplenish only looks at status.allocatedResources, behind a gate that is off in v1.26.
        Register(Claims, claims, (_, _) => false);
    }

    /// <summary>For unit tests: a resource counted from a cache the test fills.</summary>
    internal void UseCache<T>(GroupResource resource, IObjectCache<T> cache, Func<bool> hasSynced)
        where T : class
    {
        lock (_lock)
        {
            _typed[resource] = hasSynced;
            _typedLists[resource] = ns => cache.ByIndex(KnownIndexers.Namespace, ns);
        }
    }

    private void Register<T>(GroupResource resource, SharedInformer<T> informer, Func<T, T, bool> freesQuota)
        where T : class, IListableResource
    {
        UseCache(resource, informer.Cache, () => informer.HasSynced);
        informer.AddEventHandler(new ResourceEventHandler<T>
        {
            Updated = (old, cur) =>
            {
                if (freesQuota(old, cur)) Changed(resource, cur);
            },
            Deleted = (obj, _) => Changed(resource, obj),
        });
    }

    private void Changed(GroupResource resource, object obj)
    {
        var (ns, _) = QuotaEvaluation.Identity(obj);
        _replenish(resource, ns);
    }

    /// <summary>The resources monitored now.</summary>
    public IReadOnlyCollection<GroupVersionResource> Resources => _monitors.Resources;

    /// <summary>The objects of <paramref name="resource"/> in <paramref name="namespace"/>; throws while its cache is missing or unsynced.</summary>
    public IEnumerable<object> List(GroupResource resource, string @namespace)
    {
        lock (_lock)
        {
            if (_typedLists.TryGetValue(resource, out var typed))
            {
                if (!_typed[resource]()) throw new QuotaListException(resource, $"{resource} not yet synced");
                return typed(@namespace);
            }
            var monitor = _monitors.Monitors.FirstOrDefault(m => m.GroupResource == resource)
                ?? throw new QuotaListException(resource, $"no informer found for {resource}");
            if (!monitor.HasSynced) throw new QuotaListException(resource, $"{monitor.Resource} not yet synced");
            if (monitor.Shared is { } shared) return shared.ListNamespace(@namespace);
            return monitor.Lease?.Informer.Cache.ByIndex(KnownIndexers.Namespace, @namespace) ?? [];
        }
    }

    /// <summary>
    /// Upstream SyncMonitors (+ StartMonitors when running): a cache for each resource newly discovered, an object
    /// count evaluator for each that has no evaluator, and the caches of resources gone from discovery stopped.
    /// </summary>
    public void SyncMonitors(IReadOnlyCollection<DiscoveredResource> resources)
    {
        lock (_lock)
        {
            var wanted = resources.Where(r => !QuotaRegistry.IgnoredResources.Contains(new GroupResource(r.Resource.Group, r.Resource.Resource)));
            var (added, kept, removed) = _monitors.Sync(wanted, discovered =>
            {
                var groupResource = new GroupResource(discovered.Resource.Group, discovered.Resource.Resource);
                if (_registry.Get(groupResource) is null)
                {
                    _registry.GetOrAddObjectCount(groupResource);
                    _logger.LogInformation("QuotaMonitor created object count evaluator for {Resource}", groupResource);
                }
                if (_typed.ContainsKey(groupResource))
                {
                    return new Monitor(discovered.Resource, groupResource, (MetadataInformerLease?)null, this);
                }
                if (SharedInformers?.Invoke(discovered.Resource) is { } shared)
                {
                    return new Monitor(discovered.Resource, groupResource, shared, this);
                }
                return _metadataInformers is null ? null : new Monitor(discovered.Resource, groupResource, _metadataInformers.Lease(discovered), this);
            });
            _logger.LogTrace("{Message}", $"quota synced monitors; added {added}, kept {kept}, removed {removed}");
        }
    }

    public void StartMonitors(CancellationToken cancellationToken) => _monitors.Start(cancellationToken);

    /// <summary>Every monitored cache has its initial list (upstream IsSynced).</summary>
    public bool IsSynced()
    {
        // The typed monitors read _typed.
        lock (_lock)
        {
            return _monitors.IsSynced();
        }
    }

    public Task StopMonitorsAsync() => _monitors.StopAsync();

    /// <summary>One monitored resource: a shared metadata cache, a typed informer the controllers run, or (both null) one of the typed caches above.</summary>
    private sealed class Monitor : IResourceMonitor
    {
        private readonly QuotaMonitor _owner;
        private readonly IEventHandlerRegistration? _registration;

        public Monitor(GroupVersionResource resource, GroupResource groupResource, MetadataInformerLease? lease, QuotaMonitor owner)
        {
            Resource = resource;
            GroupResource = groupResource;
            Lease = lease;
            _owner = owner;
            lease?.AddEventHandler(new ResourceEventHandler<ObservedMetadata>
            {
                Deleted = (obj, _) => owner._replenish(groupResource, obj.Namespace ?? ""),
            });
        }

        public Monitor(GroupVersionResource resource, GroupResource groupResource, IObjectInformer shared, QuotaMonitor owner)
        {
            Resource = resource;
            GroupResource = groupResource;
            Shared = shared;
            _owner = owner;
            _registration = shared.AddEventHandler(new ResourceEventHandler<IKubernetesObject>
            {
                Deleted = (obj, _) => owner.Changed(groupResource, obj),
            }, TimeSpan.Zero);
        }

        public GroupVersionResource Resource { get; }

        public GroupResource GroupResource { get; }

        public MetadataInformerLease? Lease { get; }

        public IObjectInformer? Shared { get; }

        public bool HasSynced => Shared is not null ? Shared.HasSynced && _registration!.HasSynced
            : Lease is null ? _owner._typed[GroupResource]() : Lease.HasSynced;

        public void Start(CancellationToken cancellationToken) => Lease?.Start(cancellationToken);

        public Task StopAsync()
        {
            if (Shared is not null) Shared.RemoveEventHandler(_registration!);
            return Lease?.ReleaseAsync() ?? Task.CompletedTask;
        }
    }
}

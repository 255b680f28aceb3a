using Kcm.Client;
using Kcm.Runtime.Informers;
using Microsoft.Extensions.Logging;

namespace Kcm.Controllers.Common;

/// <summary>
/// Metadata-only informers shared by the monitors that read object metadata of resources no typed informer covers
/// (the garbage collector's and the resource quota controller's), as upstream's metadata informer factory: one list
/// and one watch per resource however many monitors read it. Each monitor takes a <see cref="MetadataInformerLease"/>;
/// the informer runs from the first lease's start until the last lease is released, when its resource has left
/// discovery for every monitor, so no monitor keeps watching a resource the others dropped or stops one they read.
/// </summary>
public sealed class SharedMetadataInformers(KubeApiClient client, TimeProvider time, ILoggerFactory loggers)
{
    private readonly object _lock = new();
    private readonly Dictionary<GroupVersionResource, Entry> _entries = [];

    /// <summary>The resources with an informer now (leased by at least one monitor).</summary>
    public IReadOnlyList<GroupVersionResource> Resources
    {
        get
        {
            lock (_lock)
            {
                return [.. _entries.Keys];
            }
        }
    }

    /// <summary>A lease on the informer of <paramref name="discovered"/>, created on the first request.</summary>
    public MetadataInformerLease Lease(DiscoveredResource discovered)
    {
        lock (_lock)
        {
            if (!_entries.TryGetValue(discovered.Resource, out var entry))
            {
                entry = new Entry(NewInformer(discovered));
                _entries[discovered.Resource] = entry;
            }
            entry.Leases++;
            return new MetadataInformerLease(this, discovered.Resource, entry);
        }
    }

    /// <summary>
    /// Caches hold the decoded <see cref="ObservedMetadata"/> rather than JSON trees, indexed by namespace only (the
    /// quota counts per namespace; nothing lists by controller uid).
    /// </summary>
    private SharedIndexInformer<ObservedMetadata> NewInformer(DiscoveredResource discovered)
    {
        var resource = discovered.Resource;
        var listWatcher = new MetadataOnlyListWatcher<ObservedMetadata>(client.Dynamic.Resource(resource, discovered.Namespaced), (obj, _, _) => ObservedMetadata.Of(obj));
        var name = resource.Group.Length == 0 ? resource.Resource : resource.ToString();
        var informer = new SharedIndexInformer<ObservedMetadata>(name, listWatcher, ObservedMetadataAccessor.Instance, new SharedInformerOptions { TimeProvider = time, DefaultIndexers = false }, loggers);
        informer.AddIndexer(KnownIndexers.Namespace, KnownIndexers.ByNamespace(ObservedMetadataAccessor.Instance));
        return informer;
    }

    internal void Start(Entry entry, CancellationToken cancellationToken)
    {
        lock (_lock)
        {
            // The first start runs it; leases released later do not stop it while others remain.
            entry.Run.Start(cancellationToken);
        }
    }

    internal Task Release(GroupVersionResource resource, Entry entry)
    {
        lock (_lock)
        {
            if (--entry.Leases > 0)
            {
                return Task.CompletedTask;
            }
            _entries.Remove(resource);
            return entry.Run.StopAsync();
        }
    }

    internal sealed class Entry(SharedIndexInformer<ObservedMetadata> informer)
    {
        public SharedIndexInformer<ObservedMetadata> Informer { get; } = informer;

        public BackgroundInformer Run { get; } = new(informer);

        public int Leases { get; set; }
    }
}

/// <summary>
/// One monitor's hold on a shared metadata informer: its event handler, and a share in keeping the informer running.
/// Start runs the informer if no other lease has; Release removes the handler and stops the informer with the last lease.
/// </summary>
public sealed class MetadataInformerLease
{
    private readonly SharedMetadataInformers _owner;
    private readonly GroupVersionResource _resource;
    private readonly SharedMetadataInformers.Entry _entry;
    private readonly object _lock = new();
    private IEventHandlerRegistration? _registration;
    private bool _released;

    internal MetadataInformerLease(SharedMetadataInformers owner, GroupVersionResource resource, SharedMetadataInformers.Entry entry)
    {
        _owner = owner;
        _resource = resource;
        _entry = entry;
    }

    public SharedIndexInformer<ObservedMetadata> Informer => _entry.Informer;

    /// <summary>The informer has listed and this lease's handler has seen that list.</summary>
    public bool HasSynced => _entry.Informer.HasSynced && (_registration?.HasSynced ?? true);

    /// <summary>Adds this monitor's handler (one per lease); objects already cached are replayed to it as adds.</summary>
    public void AddEventHandler(IResourceEventHandler<ObservedMetadata> handler, TimeSpan? resyncPeriod = null)
    {
        lock (_lock)
        {
            if (_registration is not null) throw new InvalidOperationException($"the lease on {_resource} already has a handler");
            _registration = _entry.Informer.AddEventHandler(handler, resyncPeriod);
        }
    }

    public void Start(CancellationToken cancellationToken)
    {
        lock (_lock)
        {
            if (!_released) _owner.Start(_entry, cancellationToken);
        }
    }

    /// <summary>Removes the handler; the last lease of the resource stops its informer (awaited here).</summary>
    public Task ReleaseAsync()
    {
        lock (_lock)
        {
            if (_released) return Task.CompletedTask;
            _released = true;
            if (_registration is not null) _entry.Informer.RemoveEventHandler(_registration);
            return _owner.Release(_resource, _entry);
        }
    }
}

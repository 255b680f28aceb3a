using Kcm.Api.Catalog;

namespace Kcm.ApiServer.Storage;

/// <summary>All resource stores, one per group/resource that the catalog says is stored (has list or create).</summary>
public sealed class ObjectStore
{
    private readonly System.Collections.Concurrent.ConcurrentDictionary<(string Group, string Resource), ResourceStore> _stores = new();

    public ObjectStore(int windowSize, int watcherCapacity = 1000)
    {
        // Start above 0 so "0" always means "any" and never a real revision.
        Revisions = new RevisionCounter(1);
        _windowSize = windowSize;
        _watcherCapacity = watcherCapacity;
        foreach (var entry in ApiCatalog.Resources)
        {
            if (entry.IsSubresource || !entry.Verbs.Contains("list")) continue;
            var key = (entry.Group, entry.Name);
            // A resource served in several versions (autoscaling v1/v2) shares one store, as upstream.
            if (!_stores.ContainsKey(key)) _stores[key] = new ResourceStore(entry.Group, entry.Name, Revisions, windowSize, watcherCapacity);
        }
    }

    private readonly int _windowSize;
    private readonly int _watcherCapacity;

    public RevisionCounter Revisions { get; }

    public ResourceStore? Find(string group, string resource) => _stores.TryGetValue((group, resource), out var s) ? s : null;

    /// <summary>The store of a resource that appears at run time (a custom resource), created on first use.</summary>
    public ResourceStore GetOrAdd(string group, string resource)
        => _stores.GetOrAdd((group, resource), k => new ResourceStore(k.Group, k.Resource, Revisions, _windowSize, _watcherCapacity));

    public ResourceStore Namespaces => _stores[("", "namespaces")];

    public void CloseAllWatchers()
    {
        foreach (var s in _stores.Values) s.CloseWatchers();
    }
}

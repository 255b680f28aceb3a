using Kcm.Api.Catalog;

namespace Kcm.ApiServer.Storage;

/// <summary>All resource stores, one per group/resource that the catalog says is stored (has list or create).</summary>
public sealed class ObjectStore
{
    private readonly Dictionary<(string Group, string Resource), ResourceStore> _stores = new();

    public ObjectStore(int windowSize, int watcherCapacity = 1000)
    {
        // Start above 0 so "0" always means "any" and never a real revision.
        Revisions = new RevisionCounter(1);
        foreach (var entry in ApiCatalog.Resources)
        {
            if (entry.IsSubresource || !entry.Verbs.Contains("list")) continue;
            var key = (entry.Group, entry.Name);
            // A resource served in several versions (autoscaling v1/v2) shares one store, as upstream.
            if (!_stores.ContainsKey(key)) _stores[key] = new ResourceStore(entry.Group, entry.Name, Revisions, windowSize, watcherCapacity);
        }
    }

    public RevisionCounter Revisions { get; }

    public ResourceStore? Find(string group, string resource) => _stores.TryGetValue((group, resource), out var s) ? s : null;

    public ResourceStore Namespaces => _stores[("", "namespaces")];

    public void CloseAllWatchers()
    {
        foreach (var s in _stores.Values) s.CloseWatchers();
    }
}

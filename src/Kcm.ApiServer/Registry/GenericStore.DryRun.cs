using Kcm.ApiServer.Endpoints;
using Kcm.ApiServer.Errors;
using Kcm.ApiServer.Storage;

namespace Kcm.ApiServer.Registry;

/// <summary>
/// The only ways a write reaches storage (upstream DryRunnableStorage): with dryRun=All every rule before them has
/// run, and these answer what the write would have produced without storing it or firing a watch event.
/// </summary>
public sealed partial class GenericStore
{
    private static StoredObject CreateInStore(ResourceRequest req, ResourceStore store, StoredObject candidate)
    {
        if (!req.DryRun) return store.Create(candidate);
        if (store.Get(candidate.Key) is not null) throw ApiException.AlreadyExists(store.Group, store.Resource, candidate.Name);
        // A dry-run create answers without a resourceVersion, as nothing was committed.
        return candidate.WithoutResourceVersion();
    }

    /// <summary>Null when <paramref name="current"/> is no longer the stored version.</summary>
    private static StoredObject? UpdateInStore(ResourceRequest req, ResourceStore store, StoredObject current, StoredObject candidate)
    {
        if (!req.DryRun) return store.TryUpdate(current, candidate);
        return IsCurrent(store, current) ? candidate.WithResourceVersion(current.ResourceVersion) : null;
    }

    /// <summary>Null when <paramref name="current"/> is no longer the stored version.</summary>
    private static StoredObject? DeleteFromStore(ResourceRequest req, ResourceStore store, StoredObject current)
    {
        if (!req.DryRun) return store.TryDelete(current);
        return IsCurrent(store, current) ? current : null;
    }

    // A dry-run version carries the stored revision it was computed from.
    private static bool IsCurrent(ResourceStore store, StoredObject o) => store.Get(o.Key)?.ResourceVersion == o.ResourceVersion;
}

using Kcm.Client;

namespace Kcm.Controllers.Common;

/// <summary>
/// Upstream's printDiff (garbage collector and resource quota): "added: [...], removed: [...]", each resource as Go's
/// %+v of a GroupVersionResource (its String(): "apps/v1, Resource=deployments"), sorted as sets.String lists them.
/// </summary>
public static class DiscoveryDiff
{
    public static string Print(IReadOnlySet<GroupVersionResource> oldResources, IReadOnlySet<GroupVersionResource> newResources)
        => $"added: {List(newResources.Where(r => !oldResources.Contains(r)))}, removed: {List(oldResources.Where(r => !newResources.Contains(r)))}";

    private static string List(IEnumerable<GroupVersionResource> resources)
        => "[" + string.Join(" ", resources.Select(r => $"{r.Group}/{r.Version}, Resource={r.Resource}").Order(StringComparer.Ordinal)) + "]";
}

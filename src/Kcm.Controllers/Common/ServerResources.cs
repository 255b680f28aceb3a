using Kcm.Client;
using Kcm.Client.Errors;

namespace Kcm.Controllers.Common;

/// <summary>A top-level resource the server serves (subresources excluded).</summary>
public sealed record DiscoveredResource(GroupVersionResource Resource, string Kind, bool Namespaced, IReadOnlySet<string> Verbs, bool PreferredVersion)
{
    public string ApiVersion => Resource.GroupVersion;

    public bool Supports(params string[] verbs) => verbs.All(Verbs.Contains);
}

/// <summary>Discovery failed for some group versions; the others are still usable (client-go's ErrGroupDiscoveryFailed).</summary>
public sealed class GroupDiscoveryFailedException(IReadOnlyDictionary<string, string> groups)
    : InvalidOperationException($"unable to retrieve the complete list of server APIs: {string.Join(", ", groups.Select(g => $"{g.Key}: {g.Value}").Order(StringComparer.Ordinal))}")
{
    public IReadOnlyDictionary<string, string> Groups { get; } = groups;
}

/// <summary>What discovery found, plus the group versions it could not read.</summary>
public sealed record ServerResources(IReadOnlyList<DiscoveredResource> Resources, IReadOnlyDictionary<string, string> FailedGroupVersions)
{
    public IEnumerable<DiscoveredResource> Preferred => Resources.Where(r => r.PreferredVersion);

    /// <summary>The partial-failure error to report, or null when every group version answered.</summary>
    public GroupDiscoveryFailedException? Failure => FailedGroupVersions.Count == 0 ? null : new GroupDiscoveryFailedException(FailedGroupVersions);

    /// <summary>
    /// Reads /api, /apis and every served group version. A group version that fails is recorded and skipped (as
    /// client-go's ServerGroupsAndResources); failing to read the group lists themselves throws.
    /// </summary>
    public static async Task<ServerResources> DiscoverAsync(DiscoveryClient discovery, CancellationToken cancellationToken)
    {
        var groupVersions = new List<(string GroupVersion, bool Preferred)>();
        var core = await discovery.GetCoreApiVersionsAsync(cancellationToken).ConfigureAwait(false);
        var coreVersions = core.Versions ?? [];
        for (var i = 0; i < coreVersions.Count; i++)
        {
            groupVersions.Add((coreVersions[i], i == 0));
        }
        var groups = await discovery.GetApiGroupsAsync(cancellationToken).ConfigureAwait(false);
        foreach (var group in groups.Groups ?? [])
        {
            var versions = (group.Versions ?? []).Select(v => v.GroupVersion).OfType<string>().ToList();
            var preferred = group.PreferredVersion?.GroupVersion ?? versions.FirstOrDefault();
            groupVersions.AddRange(versions.Select(v => (v, v == preferred)));
        }

        var resources = new List<DiscoveredResource>();
        var failed = new Dictionary<string, string>();
        foreach (var (groupVersion, preferred) in groupVersions)
        {
            Kcm.Api.Meta.V1.APIResourceList list;
            try
            {
                list = await discovery.GetResourcesAsync(groupVersion, cancellationToken).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is KubeApiException or KubeProtocolException or HttpRequestException)
            {
                failed[groupVersion] = ex.Message;
                continue;
            }
            var slash = groupVersion.IndexOf('/', StringComparison.Ordinal);
            var (group, version) = slash < 0 ? ("", groupVersion) : (groupVersion[..slash], groupVersion[(slash + 1)..]);
            foreach (var resource in list.Resources ?? [])
            {
                if (string.IsNullOrEmpty(resource.Name) || resource.Name.Contains('/', StringComparison.Ordinal) || string.IsNullOrEmpty(resource.Kind))
                {
                    continue;
                }
                resources.Add(new DiscoveredResource(
                    new GroupVersionResource(resource.Group ?? group, resource.Version ?? version, resource.Name),
                    resource.Kind,
                    resource.Namespaced ?? false,
                    new HashSet<string>(resource.Verbs ?? [], StringComparer.Ordinal),
                    preferred));
            }
        }
        return new ServerResources(resources, failed);
    }
}

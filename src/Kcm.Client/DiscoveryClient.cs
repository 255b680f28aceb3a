using Kcm.Api;
using Kcm.Api.Meta.V1;

namespace Kcm.Client;

/// <summary>Discovery documents: /version, /api, /apis and /api/v1 or /apis/{group}/{version}.</summary>
public sealed class DiscoveryClient(RestClient rest)
{
    public async Task<Kcm.Api.ServerVersion.Info> GetServerVersionAsync(CancellationToken cancellationToken = default)
        => KubeApiClient.Decode(await rest.SendAsync(HttpMethod.Get, "/version", null, null, cancellationToken).ConfigureAwait(false), KubeJson.TypeInfo<Kcm.Api.ServerVersion.Info>());

    /// <summary>GET /api: the core group's versions.</summary>
    public async Task<APIVersions> GetCoreApiVersionsAsync(CancellationToken cancellationToken = default)
        => KubeApiClient.Decode(await rest.SendAsync(HttpMethod.Get, "/api", null, null, cancellationToken).ConfigureAwait(false), KubeJson.TypeInfo<APIVersions>());

    /// <summary>GET /apis: every named group with its versions and preferred version.</summary>
    public async Task<APIGroupList> GetApiGroupsAsync(CancellationToken cancellationToken = default)
        => KubeApiClient.Decode(await rest.SendAsync(HttpMethod.Get, "/apis", null, null, cancellationToken).ConfigureAwait(false), KubeJson.TypeInfo<APIGroupList>());

    /// <summary>Resources of one group version: "v1" → /api/v1, "apps/v1" → /apis/apps/v1.</summary>
    public async Task<APIResourceList> GetResourcesAsync(string groupVersion, CancellationToken cancellationToken = default)
    {
        var slash = groupVersion.IndexOf('/', StringComparison.Ordinal);
        var path = slash < 0 ? ResourcePath.GroupVersionPath("", groupVersion) : ResourcePath.GroupVersionPath(groupVersion[..slash], groupVersion[(slash + 1)..]);
        return KubeApiClient.Decode(await rest.SendAsync(HttpMethod.Get, path, null, null, cancellationToken).ConfigureAwait(false), KubeJson.TypeInfo<APIResourceList>());
    }

    /// <summary>
    /// Resource lists of every served group version (or only each group's preferred version), like
    /// ServerGroupsAndResources / ServerPreferredResources.
    /// </summary>
    public async Task<IReadOnlyList<APIResourceList>> GetAllResourcesAsync(bool preferredVersionsOnly = false, CancellationToken cancellationToken = default)
    {
        var groupVersions = new List<string>();
        var core = await GetCoreApiVersionsAsync(cancellationToken).ConfigureAwait(false);
        var coreVersions = core.Versions ?? [];
        groupVersions.AddRange(preferredVersionsOnly ? coreVersions.Take(1) : coreVersions);
        var groups = await GetApiGroupsAsync(cancellationToken).ConfigureAwait(false);
        foreach (var group in groups.Groups ?? [])
        {
            if (preferredVersionsOnly && group.PreferredVersion?.GroupVersion is { } preferred)
            {
                groupVersions.Add(preferred);
                continue;
            }
            groupVersions.AddRange((group.Versions ?? []).Select(v => v.GroupVersion).OfType<string>());
        }

        var result = new List<APIResourceList>(groupVersions.Count);
        foreach (var groupVersion in groupVersions)
        {
            result.Add(await GetResourcesAsync(groupVersion, cancellationToken).ConfigureAwait(false));
        }
        return result;
    }
}

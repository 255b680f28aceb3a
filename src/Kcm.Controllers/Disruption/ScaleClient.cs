using System.Collections.Concurrent;
using System.Text.Json.Nodes;
using Kcm.Client;
using Kcm.Client.Errors;

namespace Kcm.Controllers.Disruption;

/// <summary>A controller's identity and desired replicas, as its scale subresource reports them.</summary>
public readonly record struct ControllerScale(string Uid, int Replicas);

/// <summary>Thrown when a kind cannot be mapped to a served resource (meta.NoKindMatchError).</summary>
public sealed class NoKindMatchException(string kind, string groupVersion)
    : InvalidOperationException($"no matches for kind \"{kind}\" in version \"{groupVersion}\"");

/// <summary>Thrown when a controller's resource has no scale subresource.</summary>
public sealed class ScaleNotImplementedException(string groupResource)
    : InvalidOperationException($"{groupResource} does not implement the scale subresource");

/// <summary>What the scale finder needs from the server: a REST mapping, the scale subresource and discovery of it (a seam for unit tests).</summary>
public interface IScaleClient
{
    /// <summary>The resource serving <paramref name="kind"/> in the group version (RESTMapper.RESTMapping); throws <see cref="NoKindMatchException"/>.</summary>
    Task<GroupVersionResource> MapAsync(string group, string version, string kind, CancellationToken cancellationToken);

    /// <summary>The object's scale, or null when the server answers NotFound.</summary>
    Task<ControllerScale?> GetScaleAsync(GroupVersionResource resource, string @namespace, string name, CancellationToken cancellationToken);

    /// <summary>Whether discovery lists a {resource}/scale subresource of a Scale kind client-go's scale client understands.</summary>
    Task<bool> ImplementsScaleAsync(GroupVersionResource resource, CancellationToken cancellationToken);
}

/// <summary>
/// The scale client over the API: mappings come from discovery of the owner's group version, read again whenever a
/// kind is not found there (as the manager's deferred REST mapper does), so newly served kinds map without a restart.
/// </summary>
public sealed class ApiScaleClient(KubeApiClient client) : IScaleClient
{
    // The Scale kinds client-go's scale converter knows.
    private static readonly HashSet<string> ScaleGroupVersions = ["autoscaling/v1", "extensions/v1beta1", "apps/v1beta1", "apps/v1beta2"];

    private readonly ConcurrentDictionary<string, Kcm.Api.Meta.V1.APIResourceList> _discovered = new(StringComparer.Ordinal);

    public async Task<GroupVersionResource> MapAsync(string group, string version, string kind, CancellationToken cancellationToken)
    {
        var groupVersion = group.Length == 0 ? version : $"{group}/{version}";
        if (Find(groupVersion, kind) is { } cached)
        {
            return new GroupVersionResource(group, version, cached);
        }
        await RefreshAsync(groupVersion, cancellationToken).ConfigureAwait(false);
        return Find(groupVersion, kind) is { } found
            ? new GroupVersionResource(group, version, found)
            : throw new NoKindMatchException(kind, groupVersion);
    }

    public async Task<ControllerScale?> GetScaleAsync(GroupVersionResource resource, string @namespace, string name, CancellationToken cancellationToken)
    {
        JsonObject scale;
        try
        {
            scale = await client.Dynamic.Resource(resource, namespaced: true).GetAsync(@namespace, name, "scale", cancellationToken).ConfigureAwait(false);
        }
        catch (NotFoundException)
        {
            return null;
        }
        var uid = scale["metadata"]?["uid"]?.GetValue<string>() ?? "";
        var replicas = scale["spec"]?["replicas"] is JsonValue v && v.TryGetValue<int>(out var r) ? r : 0;
        return new ControllerScale(uid, replicas);
    }

    public async Task<bool> ImplementsScaleAsync(GroupVersionResource resource, CancellationToken cancellationToken)
    {
        var list = await client.Discovery.GetResourcesAsync(resource.GroupVersion, cancellationToken).ConfigureAwait(false);
        var scaleName = resource.Resource + "/scale";
        return (list.Resources ?? []).Any(r => r.Name == scaleName && r.Kind == "Scale"
            && ScaleGroupVersions.Contains(string.IsNullOrEmpty(r.Group) ? r.Version ?? "" : $"{r.Group}/{r.Version}"));
    }

    private string? Find(string groupVersion, string kind)
        => _discovered.TryGetValue(groupVersion, out var list)
            ? list.Resources?.FirstOrDefault(r => r.Kind == kind && r.Name is { Length: > 0 } n && !n.Contains('/', StringComparison.Ordinal))?.Name
            : null;

    private async Task RefreshAsync(string groupVersion, CancellationToken cancellationToken)
    {
        try
        {
            _discovered[groupVersion] = await client.Discovery.GetResourcesAsync(groupVersion, cancellationToken).ConfigureAwait(false);
        }
        catch (NotFoundException)
        {
            // The group version is not served: nothing maps into it.
            _discovered.TryRemove(groupVersion, out _);
        }
    }
}

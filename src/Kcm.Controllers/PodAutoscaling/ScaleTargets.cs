using System.Text.Json.Nodes;
using Kcm.Client;
using Kcm.Controllers.Common;

namespace Kcm.Controllers.PodAutoscaling;

/// <summary>No served resource has this kind in this group (meta.NoKindMatchError).</summary>
public sealed class NoKindMatchException(string kind, string group)
    : InvalidOperationException($"no matches for kind \"{kind}\" in group \"{group}\"");

/// <summary>An apiVersion Go's schema.ParseGroupVersion refuses.</summary>
public sealed class InvalidGroupVersionException(string apiVersion)
    : FormatException($"unexpected GroupVersion string: {apiVersion}");

/// <summary>group + kind → the resources serving it, preferred version first (RESTMapper.RESTMappings).</summary>
public interface IResourceMapper
{
    /// <summary>Throws <see cref="NoKindMatchException"/> when nothing serves the kind.</summary>
    Task<IReadOnlyList<GroupVersionResource>> MapAsync(string group, string kind, CancellationToken cancellationToken);
}

/// <summary>
/// The manager's deferred discovery mapper: discovery is read once and cached, and read again when a kind is not
/// found (and at most every 30 s otherwise), so kinds served later (CRDs) map without a restart.
/// </summary>
public sealed class DiscoveryResourceMapper(KubeApiClient client, TimeProvider time) : IResourceMapper
{
    private static readonly TimeSpan MaxAge = TimeSpan.FromSeconds(30);
    private readonly SemaphoreSlim _refresh = new(1, 1);
    private volatile IReadOnlyList<DiscoveredResource>? _resources;
    private DateTimeOffset _readAt;

    public async Task<IReadOnlyList<GroupVersionResource>> MapAsync(string group, string kind, CancellationToken cancellationToken)
    {
        if (_resources is { } cached && time.GetUtcNow() - _readAt < MaxAge && Find(cached, group, kind) is { Count: > 0 } hit)
        {
            return hit;
        }
        await _refresh.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            var found = await ServerResources.DiscoverAsync(client.Discovery, cancellationToken).ConfigureAwait(false);
            _resources = found.Resources;
            _readAt = time.GetUtcNow();
        }
        finally
        {
            _refresh.Release();
        }
        return Find(_resources!, group, kind) is { Count: > 0 } mapped ? mapped : throw new NoKindMatchException(kind, group);
    }

    private static List<GroupVersionResource> Find(IReadOnlyList<DiscoveredResource> resources, string group, string kind)
        => resources.Where(r => r.Resource.Group == group && (r.Kind == kind || r.Kind.ToLowerInvariant() == kind))
            .OrderByDescending(r => r.PreferredVersion)
            .Select(r => r.Resource)
            .ToList();
}

/// <summary>A target's scale subresource as read: the whole object (written back with only spec.replicas changed).</summary>
public sealed class TargetScale(JsonObject scale)
{
    public JsonObject Object { get; } = scale;

    public int SpecReplicas
    {
        get => Object["spec"]?["replicas"] is JsonValue v && v.TryGetValue<int>(out var r) ? r : 0;
        set => ((Object["spec"] as JsonObject) ?? (JsonObject)(Object["spec"] = new JsonObject()))["replicas"] = value;
    }

    public int StatusReplicas => Object["status"]?["replicas"] is JsonValue v && v.TryGetValue<int>(out var r) ? r : 0;

    public string Selector => Object["status"]?["selector"] is JsonValue v && v.TryGetValue<string>(out var s) ? s : "";
}

/// <summary>GET and PUT of any resource's scale subresource (client-go's scale client), a seam for unit tests.</summary>
public interface IScaleClient
{
    Task<TargetScale> GetAsync(GroupVersionResource resource, string @namespace, string name, CancellationToken cancellationToken);

    Task UpdateAsync(GroupVersionResource resource, string @namespace, string name, TargetScale scale, CancellationToken cancellationToken);
}

public sealed class ApiScaleClient(KubeApiClient client) : IScaleClient
{
    public async Task<TargetScale> GetAsync(GroupVersionResource resource, string @namespace, string name, CancellationToken cancellationToken)
        => new(await client.Dynamic.Resource(resource, namespaced: true).GetAsync(@namespace, name, "scale", cancellationToken).ConfigureAwait(false));

    public async Task UpdateAsync(GroupVersionResource resource, string @namespace, string name, TargetScale scale, CancellationToken cancellationToken)
    {
        var path = ResourcePath.For(resource.Group, resource.Version, resource.Resource, true, @namespace, name, "scale");
        var body = System.Text.Encoding.UTF8.GetBytes(scale.Object.ToJsonString());
        await client.Rest.SendAsync(HttpMethod.Put, path, body, "application/json", cancellationToken).ConfigureAwait(false);
    }
}

internal static class GroupVersions
{
    /// <summary>Go's schema.ParseGroupVersion: "" is empty, "v1" the core group, "g/v" a group version; more slashes are an error.</summary>
    public static (string Group, string Version) Parse(string apiVersion)
    {
        if (apiVersion.Length == 0 || apiVersion == "/") return ("", "");
        var parts = apiVersion.Split('/');
        return parts.Length switch
        {
            1 => ("", parts[0]),
            2 => (parts[0], parts[1]),
            _ => throw new InvalidGroupVersionException(apiVersion),
        };
    }
}

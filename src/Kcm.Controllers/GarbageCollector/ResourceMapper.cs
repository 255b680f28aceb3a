using Kcm.Client;
using Kcm.Controllers.Common;

namespace Kcm.Controllers.GarbageCollector;

/// <summary>An owner reference whose apiVersion/kind discovery does not know (yet): retried, never treated as absent.</summary>
public sealed class RestMappingException(string apiVersion, string kind)
    : InvalidOperationException($"unable to get REST mapping for {apiVersion}/{kind}.")
{
    public string ApiVersion { get; } = apiVersion;

    public string Kind { get; } = kind;
}

/// <summary>apiVersion + kind → resource, from discovery (the collector's REST mapper).</summary>
internal sealed class ResourceMapper
{
    public static readonly ResourceMapper Empty = new([]);

    private readonly Dictionary<(string ApiVersion, string Kind), DiscoveredResource> _exact = [];
    private readonly Dictionary<(string Group, string Kind), DiscoveredResource> _byGroupKind = [];

    public ResourceMapper(IEnumerable<DiscoveredResource> resources)
    {
        foreach (var resource in resources)
        {
            _exact.TryAdd((resource.ApiVersion, resource.Kind), resource);
            if (resource.PreferredVersion || !_byGroupKind.ContainsKey((resource.Resource.Group, resource.Kind)))
            {
                _byGroupKind[(resource.Resource.Group, resource.Kind)] = resource;
            }
        }
    }

    public DiscoveredResource Find(string apiVersion, string kind)
    {
        if (_exact.TryGetValue((apiVersion, kind), out var exact))
        {
            return exact;
        }
        var slash = apiVersion.IndexOf('/', StringComparison.Ordinal);
        var group = slash < 0 ? "" : apiVersion[..slash];
        return _byGroupKind.TryGetValue((group, kind), out var other) ? other : throw new RestMappingException(apiVersion, kind);
    }
}

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

/// <summary>
/// apiVersion + kind → resource, matched as client-go's discovery RESTMapper matches them, since which owner
/// references count as dangling depends on it: the version must be one the server serves (no fallback to another
/// version of the group), the kind must be spelled as discovery spells it or entirely in lower case, "&lt;Kind&gt;List"
/// and "List" map to guessed (nonexistent) resources, and apiVersion is parsed as Go's ParseGroupVersion ("/v1" is
/// the core group).
/// </summary>
internal sealed class ResourceMapper
{
    public static readonly ResourceMapper Empty = new([]);

    private readonly Dictionary<(string Group, string Version, string Kind), DiscoveredResource> _mappings = [];
    private readonly Dictionary<string, List<string>> _versionsByGroup = [];

    public ResourceMapper(IEnumerable<DiscoveredResource> resources)
    {
        // Per group version, in discovery order, as NewDiscoveryRESTMapper adds them: later entries win.
        foreach (var resource in resources)
        {
            var (group, version) = (resource.Resource.Group, resource.Resource.Version);
            _mappings[(group, version, resource.Kind.ToLowerInvariant())] = resource;
            _mappings[(group, version, resource.Kind)] = resource;
            var listKind = resource.Kind + "List";
            _mappings[(group, version, listKind)] = resource with
            {
                Resource = new GroupVersionResource(group, version, listKind.ToLowerInvariant() + "s"),
                Kind = listKind,
            };
            var versions = _versionsByGroup.TryGetValue(group, out var known) ? known : _versionsByGroup[group] = [];
            if (resource.PreferredVersion && !versions.Contains(version)) versions.Insert(0, version);
            else if (!versions.Contains(version)) versions.Add(version);
        }
        foreach (var (group, versions) in _versionsByGroup)
        {
            foreach (var version in versions)
            {
                // Every group version also maps the generic "List" kind, cluster-scoped.
                _mappings[(group, version, "List")] = new DiscoveredResource(new GroupVersionResource(group, version, "lists"), "List", false, new HashSet<string>(), false);
            }
        }
    }

    public DiscoveredResource Find(string apiVersion, string kind)
    {
        var (group, version) = ParseGroupVersion(apiVersion);
        if (version.Length > 0)
        {
            return _mappings.TryGetValue((group, version, kind), out var exact) ? exact : throw new RestMappingException(apiVersion, kind);
        }
        // No version (the API server rejects such references): the group's versions, preferred first.
        foreach (var candidate in _versionsByGroup.GetValueOrDefault(group) ?? [])
        {
            if (_mappings.TryGetValue((group, candidate, kind), out var mapped)) return mapped;
        }
        throw new RestMappingException(apiVersion, kind);
    }

    /// <summary>Go's schema.ParseGroupVersion, with what FromAPIVersionAndKind makes of an unparseable value (no group, no version).</summary>
    internal static (string Group, string Version) ParseGroupVersion(string apiVersion)
    {
        if (apiVersion.Length == 0 || apiVersion == "/") return ("", "");
        var slash = apiVersion.IndexOf('/', StringComparison.Ordinal);
        if (slash < 0) return ("", apiVersion);
        if (apiVersion.IndexOf('/', slash + 1) >= 0) return ("", "");
        return (apiVersion[..slash], apiVersion[(slash + 1)..]);
    }

    /// <summary>apiVersion as upstream's graph names an identity it derived from a parsed group version: "/v1" becomes "v1".</summary>
    internal static string CanonicalApiVersion(string apiVersion)
    {
        var (group, version) = ParseGroupVersion(apiVersion);
        return group.Length > 0 ? $"{group}/{version}" : version;
    }
}

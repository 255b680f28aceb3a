using Kcm.Api.Catalog;
using Kcm.ApiServer.Errors;

namespace Kcm.ApiServer.Endpoints;

/// <summary>A resource URL taken apart as upstream's RequestInfoFactory does.</summary>
public sealed record ResourceRequest(
    string Group,
    string Version,
    string Namespace,
    string Resource,
    string Name,
    string Subresource,
    bool WatchPath,
    ApiResourceEntry Entry,
    ApiResourceEntry? SubresourceEntry)
{
    private static readonly HashSet<string> NamespaceSubresources = ["status", "finalize"];

    /// <summary>Parses /api/v1/... or /apis/g/v/...; returns null when the path is not a resource path of a known group version.</summary>
    public static ResourceRequest? Parse(string[] segments) => Parse(segments, ApiCatalog.Find);

    /// <summary>As <see cref="Parse(string[])"/> with another resource table (custom resources).</summary>
    public static ResourceRequest? Parse(string[] segments, Func<string, string, string, ApiResourceEntry?> find)
    {
        string group, version;
        int rest;
        if (segments.Length >= 3 && segments[0] == "api")
        {
            group = "";
            version = segments[1];
            rest = 2;
        }
        else if (segments.Length >= 4 && segments[0] == "apis")
        {
            group = segments[1];
            version = segments[2];
            rest = 3;
        }
        else
        {
            return null;
        }
        var parts = segments.AsSpan(rest);
        var watchPath = false;
        if (parts.Length > 0 && parts[0] == "watch")
        {
            watchPath = true;
            parts = parts[1..];
        }
        if (parts.Length == 0) return null;
        var ns = "";
        if (parts[0] == "namespaces" && parts.Length > 1)
        {
            if (parts.Length > 2 && !NamespaceSubresources.Contains(parts[2]))
            {
                ns = parts[1];
                parts = parts[2..];
            }
        }
        if (parts.Length > 3) throw ApiException.PathNotFound();
        var resource = parts[0];
        var name = parts.Length > 1 ? parts[1] : "";
        var sub = parts.Length > 2 ? parts[2] : "";
        var entry = find(group, version, resource);
        if (entry is null || entry.IsSubresource) return null;
        if (entry.Namespaced != (ns.Length > 0))
        {
            // Cluster-scoped resources under a namespace, or a named namespaced object without one, have no route.
            if (!entry.Namespaced || name.Length > 0) return null;
        }
        ApiResourceEntry? subEntry = null;
        if (sub.Length > 0)
        {
            subEntry = find(group, version, $"{resource}/{sub}");
            if (subEntry is null) return null;
        }
        return new ResourceRequest(group, version, ns, resource, name, sub, watchPath, entry, subEntry);
    }

    /// <summary>dryRun=All: every step of a write runs but nothing is stored.</summary>
    public bool DryRun { get; init; }

    /// <summary>Who a create, update or patch records in managedFields; null leaves them as the object carries them.</summary>
    public string? FieldManager { get; init; }

    /// <summary>A resource served from a CustomResourceDefinition.</summary>
    public bool Custom { get; init; }

    public string GroupVersion => Group.Length == 0 ? Version : $"{Group}/{Version}";
}

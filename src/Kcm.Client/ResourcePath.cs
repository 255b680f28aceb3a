using Kcm.Api;

namespace Kcm.Client;

/// <summary>REST paths: /api/v1/namespaces/ns/pods/name/status, /apis/apps/v1/deployments, ...</summary>
public static class ResourcePath
{
    public static string For(ResourceInfo resource, string? @namespace, string? name = null, string? subresource = null)
        => For(resource.Group, resource.Version, resource.Plural, resource.Namespaced, @namespace, name, subresource);

    public static string For(string group, string version, string plural, bool namespaced, string? @namespace, string? name = null, string? subresource = null)
    {
        if (!namespaced && !string.IsNullOrEmpty(@namespace))
        {
            throw new ArgumentException($"{plural} is cluster-scoped but namespace \"{@namespace}\" was given", nameof(@namespace));
        }
        if (!string.IsNullOrEmpty(subresource) && string.IsNullOrEmpty(name))
        {
            throw new ArgumentException($"subresource {subresource} needs an object name", nameof(name));
        }
        var path = new System.Text.StringBuilder(GroupVersionPath(group, version));
        if (namespaced && !string.IsNullOrEmpty(@namespace))
        {
            path.Append("/namespaces/").Append(Uri.EscapeDataString(@namespace));
        }
        path.Append('/').Append(plural);
        if (!string.IsNullOrEmpty(name))
        {
            path.Append('/').Append(Uri.EscapeDataString(name));
        }
        if (!string.IsNullOrEmpty(subresource))
        {
            path.Append('/').Append(subresource);
        }
        return path.ToString();
    }

    /// <summary>"/api/v1" for the core group, "/apis/{group}/{version}" otherwise.</summary>
    public static string GroupVersionPath(string group, string version)
        => string.IsNullOrEmpty(group) ? $"/api/{version}" : $"/apis/{group}/{version}";

    internal static void RequireNamespace(bool namespaced, string? @namespace, string plural)
    {
        if (namespaced && string.IsNullOrEmpty(@namespace))
        {
            throw new ArgumentException($"{plural} is namespaced: a namespace is required", nameof(@namespace));
        }
    }
}

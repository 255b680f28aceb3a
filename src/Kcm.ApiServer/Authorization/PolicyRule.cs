using System.Text.Json.Nodes;

namespace Kcm.ApiServer.Authorization;

/// <summary>One rbac/v1 PolicyRule with upstream's matching (pkg/apis/rbac/v1/evaluation_helpers.go).</summary>
public sealed record PolicyRule(
    IReadOnlyList<string> Verbs,
    IReadOnlyList<string> ApiGroups,
    IReadOnlyList<string> Resources,
    IReadOnlyList<string> ResourceNames,
    IReadOnlyList<string> NonResourceUrls)
{
    public static PolicyRule FromJson(JsonNode? node) => new(
        Strings(node?["verbs"]), Strings(node?["apiGroups"]), Strings(node?["resources"]),
        Strings(node?["resourceNames"]), Strings(node?["nonResourceURLs"]));

    public bool Allows(AuthorizationAttributes a)
    {
        if (!a.IsResourceRequest) return VerbMatches(a.Verb) && NonResourceUrlMatches(a.Path);
        var combined = a.Subresource.Length == 0 ? a.Resource : a.Resource + "/" + a.Subresource;
        return VerbMatches(a.Verb) && ApiGroupMatches(a.ApiGroup) && ResourceMatches(combined, a.Subresource) && ResourceNameMatches(a.Name);
    }

    private bool VerbMatches(string verb) => Verbs.Any(v => v == "*" || v == verb);

    private bool ApiGroupMatches(string group) => ApiGroups.Any(g => g == "*" || g == group);

    private bool ResourceMatches(string combined, string subresource)
    {
        foreach (var r in Resources)
        {
            if (r == "*" || r == combined) return true;
            // "*/scale" matches the scale subresource of every resource.
            if (subresource.Length > 0 && r.Length == subresource.Length + 2 && r.StartsWith("*/", StringComparison.Ordinal)
                && r.EndsWith(subresource, StringComparison.Ordinal))
            {
                return true;
            }
        }
        return false;
    }

    private bool ResourceNameMatches(string name) => ResourceNames.Count == 0 || ResourceNames.Contains(name);

    private bool NonResourceUrlMatches(string path)
    {
        foreach (var u in NonResourceUrls)
        {
            if (u == "*" || u == path) return true;
            if (u.EndsWith('*') && path.StartsWith(u.TrimEnd('*'), StringComparison.Ordinal)) return true;
        }
        return false;
    }

    private static IReadOnlyList<string> Strings(JsonNode? node)
        => node is JsonArray a ? a.Select(n => n is JsonValue v && v.TryGetValue<string>(out var s) ? s : "").ToList() : [];
}

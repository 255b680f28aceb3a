namespace Kcm.Api.Catalog;

/// <summary>An API group as discovery lists it (versions newest-preferred first).</summary>
public sealed record ApiGroupEntry(string Name, IReadOnlyList<string> Versions, string PreferredVersion);

/// <summary>
/// One row of an APIResourceList: a resource ("pods") or subresource ("pods/status") served in
/// Group/Version. KindGroup/KindVersion are set when the subresource speaks another group's kind
/// (deployments/scale is autoscaling/v1 Scale).
/// </summary>
public sealed record ApiResourceEntry(
    string Group,
    string Version,
    string Name,
    bool Namespaced,
    string Kind,
    string? KindGroup,
    string? KindVersion,
    IReadOnlyList<string> Verbs,
    IReadOnlyList<string> ShortNames,
    IReadOnlyList<string> Categories,
    string? StorageVersionHash)
{
    public string GroupVersion => Group.Length == 0 ? Version : $"{Group}/{Version}";
    public bool IsSubresource => Name.Contains('/');
    public string Resource => IsSubresource ? Name[..Name.IndexOf('/')] : Name;
    public string? Subresource => IsSubresource ? Name[(Name.IndexOf('/') + 1)..] : null;
}

/// <summary>The built-in API surface of a v1.26 server: groups, resources and the C# type of each kind.</summary>
public static partial class ApiCatalog
{
    public static IReadOnlyList<string> CoreVersions { get; } = ["v1"];

    public static IReadOnlyList<ApiGroupEntry> Groups => GroupsTable;

    public static IReadOnlyList<ApiResourceEntry> Resources => ResourcesTable;

    /// <summary>C# type generated for group/version/kind, or null when the kind is unknown.</summary>
    public static Type? TypeFor(string group, string version, string kind)
        => KindTypes.TryGetValue((group, version, kind), out var t) ? t : null;

    /// <summary>OpenAPI definition name for group/version/kind (the root for strategic-merge-patch schemas).</summary>
    public static string? DefinitionFor(string group, string version, string kind)
        => KindDefinitions.TryGetValue((group, version, kind), out var d) ? d : null;

    public static ApiResourceEntry? Find(string group, string version, string name)
    {
        foreach (var r in ResourcesTable)
        {
            if (r.Group == group && r.Version == version && r.Name == name) return r;
        }
        return null;
    }
}

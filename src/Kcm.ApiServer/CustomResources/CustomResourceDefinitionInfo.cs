using System.Text.Json.Nodes;

namespace Kcm.ApiServer.CustomResources;

/// <summary>The scale subresource of a CRD version: JSON paths (".spec.replicas") into the custom resource.</summary>
public sealed record CustomResourceScale(string SpecReplicasPath, string StatusReplicasPath, string? LabelSelectorPath);

/// <summary>One version of a CRD as the server serves it.</summary>
public sealed record CustomResourceVersion(
    string Group,
    string Name,
    bool Served,
    bool Storage,
    bool HasStatus,
    CustomResourceScale? Scale,
    IReadOnlyList<CustomResourceColumn> Columns,
    CustomResourceDefinitionInfo Definition)
{
    public string GroupVersion => $"{Group}/{Name}";
}

/// <summary>
/// What the server needs from a stored CustomResourceDefinition: its names (the accepted ones serve), scope, versions
/// and the conditions the status controller maintains.
/// </summary>
public sealed class CustomResourceDefinitionInfo
{
    public const string CleanupFinalizer = "customresourcecleanup.apiextensions.k8s.io";

    private CustomResourceDefinitionInfo(JsonObject crd)
    {
        Object = crd;
        Name = crd["metadata"]?["name"]?.GetValue<string>() ?? "";
        Uid = crd["metadata"]?["uid"]?.GetValue<string>() ?? "";
        Terminating = crd["metadata"]?["deletionTimestamp"] is not null;
        var spec = crd["spec"] as JsonObject;
        Group = Text(spec?["group"]);
        Namespaced = Text(spec?["scope"]) == "Namespaced";
        Requested = NamesOf(spec?["names"]);
        Accepted = NamesOf(crd["status"]?["acceptedNames"]);
        var versions = new List<CustomResourceVersion>();
        foreach (var v in spec?["versions"] as JsonArray ?? [])
        {
            if (v is not JsonObject version) continue;
            var subresources = version["subresources"] as JsonObject;
            CustomResourceScale? scale = null;
            if (subresources?["scale"] is JsonObject s)
            {
                scale = new CustomResourceScale(Text(s["specReplicasPath"]), Text(s["statusReplicasPath"]),
                    s["labelSelectorPath"] is { } l ? Text(l) : null);
            }
            var columns = (version["additionalPrinterColumns"] as JsonArray ?? []).OfType<JsonObject>()
                .Select(c => new CustomResourceColumn(Text(c["name"]), Text(c["type"]), Text(c["format"]), c["priority"]?.GetValue<int>() ?? 0, Text(c["jsonPath"])))
                .ToList();
            versions.Add(new CustomResourceVersion(Group, Text(version["name"]), version["served"]?.GetValue<bool>() ?? false,
                version["storage"]?.GetValue<bool>() ?? false, subresources?["status"] is JsonObject, scale, columns, this));
        }
        Versions = versions;
    }

    public static CustomResourceDefinitionInfo Parse(JsonObject crd) => new(crd);

    public JsonObject Object { get; }
    public string Name { get; }
    public string Uid { get; }
    public bool Terminating { get; }
    public string Group { get; }
    public bool Namespaced { get; }
    public CustomResourceNames Requested { get; }
    public CustomResourceNames Accepted { get; }
    public IReadOnlyList<CustomResourceVersion> Versions { get; }

    public CustomResourceVersion? StorageVersion => Versions.FirstOrDefault(v => v.Storage);

    public bool IsEstablished => ConditionStatus("Established") == "True";

    public string? ConditionStatus(string type)
        => (Object["status"]?["conditions"] as JsonArray)?.FirstOrDefault(c => c?["type"]?.GetValue<string>() == type)?["status"]?.GetValue<string>();

    private static string Text(JsonNode? node) => node is JsonValue v && v.TryGetValue<string>(out var s) ? s : "";

    private static CustomResourceNames NamesOf(JsonNode? names) => new(
        Text(names?["plural"]), Text(names?["singular"]), Text(names?["kind"]), Text(names?["listKind"]),
        Strings(names?["shortNames"]), Strings(names?["categories"]));

    private static IReadOnlyList<string> Strings(JsonNode? node)
        => (node as JsonArray)?.Select(Text).Where(s => s.Length > 0).ToList() ?? [];
}

/// <summary>spec.names or status.acceptedNames of a CRD.</summary>
public sealed record CustomResourceNames(
    string Plural, string Singular, string Kind, string ListKind, IReadOnlyList<string> ShortNames, IReadOnlyList<string> Categories)
{
    public bool SameAs(CustomResourceNames other) => Plural == other.Plural && Singular == other.Singular && Kind == other.Kind
        && ListKind == other.ListKind && ShortNames.SequenceEqual(other.ShortNames) && Categories.SequenceEqual(other.Categories);

    public JsonObject ToJson()
    {
        // Field order and omitempty as a v1.26 server writes CustomResourceDefinitionNames.
        var o = new JsonObject { ["plural"] = Plural };
        if (Singular.Length > 0) o["singular"] = Singular;
        if (ShortNames.Count > 0) o["shortNames"] = new JsonArray([.. ShortNames.Select(c => (JsonNode?)JsonValue.Create(c))]);
        o["kind"] = Kind;
        if (ListKind.Length > 0) o["listKind"] = ListKind;
        if (Categories.Count > 0) o["categories"] = new JsonArray([.. Categories.Select(c => (JsonNode?)JsonValue.Create(c))]);
        return o;
    }
}

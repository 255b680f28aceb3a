using Kcm.Api.Schema;

namespace Kcm.Api.Patching;

/// <summary>
/// Where in the schema a JSON object sits: a definition (struct), the values of a map, or unknown
/// territory where strategic merge degrades to plain merge-patch behaviour.
/// </summary>
internal readonly record struct SchemaScope(string? Definition, bool IsMap, string? MapValueDefinition)
{
    public static SchemaScope Of(string? definition) => new(definition, false, null);

    public FieldSchema? Lookup(string key)
    {
        if (IsMap) return MapValueDefinition is null ? null : new FieldSchema(FieldShape.Object, MapValueDefinition);
        if (Definition is null) return null;
        var fields = TypeSchema.Fields(Definition);
        return fields is not null && fields.TryGetValue(key, out var field) ? field : null;
    }

    /// <summary>The scope of a field's object value, or of the elements of a list field.</summary>
    public static SchemaScope Child(FieldSchema? field) => field switch
    {
        null => default,
        { Shape: FieldShape.Map } => new SchemaScope(null, true, field.Ref),
        _ => Of(field.Ref),
    };
}

/// <summary>A field's patch strategy split the way upstream does ("merge,retainKeys").</summary>
internal readonly record struct PatchMeta(string? Strategy, bool RetainKeys, string? MergeKey)
{
    public bool IsMerge => Strategy == "merge";

    public bool IsReplace => Strategy == "replace";

    public static PatchMeta Of(FieldSchema? field, string path)
    {
        if (field?.PatchStrategy is not { Length: > 0 } raw) return new PatchMeta(null, false, field?.PatchMergeKey);
        var parts = raw.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries);
        var retain = parts.Contains("retainKeys");
        var others = parts.Where(p => p != "retainKeys").ToArray();
        if (others.Length > 1)
        {
            throw new PatchException($"strategic merge patch at {PathText.Show(path)}: unexpected patch strategy \"{raw}\"");
        }
        return new PatchMeta(others.FirstOrDefault(), retain, field.PatchMergeKey);
    }
}

internal static class PathText
{
    public static string Show(string path) => path.Length == 0 ? "the document root" : $"\"{path}\"";

    public static string Join(string parent, string key) => parent + "/" + key;
}

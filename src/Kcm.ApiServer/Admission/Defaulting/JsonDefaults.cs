using System.Text.Json.Nodes;

namespace Kcm.ApiServer.Admission.Defaulting;

/// <summary>Small helpers for "fill only when absent" on JSON objects; an explicit null counts as absent, like a nil Go pointer.</summary>
internal static class JsonDefaults
{
    public static void SetIfMissing(JsonObject obj, string key, JsonNode value)
    {
        if (obj[key] is null) obj[key] = value;
    }

    public static void SetIfEmptyString(JsonObject obj, string key, string value)
    {
        if (obj[key] is null || (obj[key] is JsonValue v && v.TryGetValue<string>(out var s) && s.Length == 0)) obj[key] = value;
    }

    public static JsonObject GetOrCreate(JsonObject parent, string key)
    {
        if (parent[key] is JsonObject existing) return existing;
        var created = new JsonObject();
        parent[key] = created;
        return created;
    }

    public static string? Str(JsonNode? node) => node is JsonValue v && v.TryGetValue<string>(out var s) ? s : null;

    public static IEnumerable<JsonObject> Objects(JsonNode? array) =>
        array is JsonArray a ? a.OfType<JsonObject>() : [];
}

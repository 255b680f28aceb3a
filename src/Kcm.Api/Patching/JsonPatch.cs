using System.Text.Json.Nodes;

namespace Kcm.Api.Patching;

/// <summary>RFC 6902 JSON Patch (application/json-patch+json).</summary>
public static class JsonPatch
{
    /// <summary>Applies <paramref name="patch"/> (a JSON array of operations) to a copy of <paramref name="document"/>.</summary>
    public static JsonNode Apply(JsonNode document, JsonNode patch) => throw new NotImplementedException("STUB");
}

using System.Text.Json.Nodes;

namespace Kcm.Api.Patching;

/// <summary>RFC 7386 JSON Merge Patch (application/merge-patch+json).</summary>
public static class MergePatch
{
    public static JsonNode Apply(JsonNode document, JsonNode patch) => throw new NotImplementedException("STUB");

    /// <summary>The merge patch that turns <paramref name="original"/> into <paramref name="modified"/>.</summary>
    public static JsonObject Create(JsonNode original, JsonNode modified) => throw new NotImplementedException("STUB");
}

using System.Text.Json.Nodes;

namespace Kcm.Api.Patching;

/// <summary>
/// Strategic merge patch (application/strategic-merge-patch+json) driven by the generated
/// <see cref="Kcm.Api.Schema.TypeSchema"/>; <c>definition</c> is the OpenAPI definition of the document root.
/// </summary>
public static class StrategicMergePatch
{
    public static JsonNode Apply(JsonNode document, JsonNode patch, string definition) => throw new NotImplementedException("STUB");

    public static JsonObject Create(JsonNode original, JsonNode modified, string definition) => throw new NotImplementedException("STUB");
}

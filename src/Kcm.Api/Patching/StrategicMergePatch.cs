using System.Text.Json.Nodes;

namespace Kcm.Api.Patching;

/// <summary>
/// Strategic merge patch (application/strategic-merge-patch+json) driven by the generated
/// <see cref="Kcm.Api.Schema.TypeSchema"/>; <c>definition</c> is the OpenAPI definition of the document root.
/// Semantics follow k8s.io/apimachinery/pkg/util/strategicpatch as the API server applies it
/// (parallel lists are merged, nulls for absent keys are dropped).
/// </summary>
public static class StrategicMergePatch
{
    internal const string DirectiveMarker = "$patch";
    internal const string RetainKeysDirective = "$retainKeys";
    internal const string DeleteFromPrimitiveListPrefix = "$deleteFromPrimitiveList/";
    internal const string SetElementOrderPrefix = "$setElementOrder/";

    /// <summary>Applies <paramref name="patch"/> to a copy of <paramref name="document"/>; the inputs are not modified.</summary>
    public static JsonNode Apply(JsonNode document, JsonNode patch, string definition)
    {
        ArgumentNullException.ThrowIfNull(document);
        ArgumentNullException.ThrowIfNull(patch);
        if (document is not JsonObject documentObject)
        {
            throw new PatchException("strategic merge patch: the document must be a JSON object");
        }
        if (patch is not JsonObject patchObject)
        {
            throw new PatchException("strategic merge patch: the patch must be a JSON object");
        }
        return StrategicMergeApplier.MergeMap((JsonObject)documentObject.DeepClone(), patchObject, SchemaScope.Of(definition), "");
    }

    /// <summary>
    /// The two-way strategic merge patch that turns <paramref name="original"/> into <paramref name="modified"/>
    /// (upstream CreateTwoWayMergePatch, including its $setElementOrder and $retainKeys directives).
    /// </summary>
    public static JsonObject Create(JsonNode original, JsonNode modified, string definition)
    {
        ArgumentNullException.ThrowIfNull(original);
        ArgumentNullException.ThrowIfNull(modified);
        if (original is not JsonObject originalObject || modified is not JsonObject modifiedObject)
        {
            throw new PatchException("strategic merge patch: both documents must be JSON objects to compute a patch");
        }
        return StrategicMergeDiffer.DiffMaps(originalObject, modifiedObject, SchemaScope.Of(definition), buildRetainKeys: false, "");
    }
}

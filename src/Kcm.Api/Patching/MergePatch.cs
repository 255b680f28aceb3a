using System.Text.Json.Nodes;

namespace Kcm.Api.Patching;

/// <summary>RFC 7386 JSON Merge Patch (application/merge-patch+json).</summary>
public static class MergePatch
{
    /// <summary>Applies <paramref name="patch"/> to a copy of <paramref name="document"/>; the inputs are not modified.</summary>
    public static JsonNode Apply(JsonNode document, JsonNode patch)
    {
        ArgumentNullException.ThrowIfNull(document);
        ArgumentNullException.ThrowIfNull(patch);
        return Merge(document, patch) ?? throw new PatchException("merge patch: the patched document is null");
    }

    private static JsonNode? Merge(JsonNode? target, JsonNode? patch)
    {
        if (patch is not JsonObject patchObject) return JsonTree.Clone(patch);

        var result = target is JsonObject targetObject ? (JsonObject)targetObject.DeepClone() : new JsonObject();
        foreach (var (key, value) in patchObject)
        {
            if (JsonTree.Kind(value) == NodeKind.Null)
            {
                result.Remove(key);
                continue;
            }
            result.TryGetPropertyValue(key, out var existing);
            result[key] = Merge(existing, value);
        }
        return result;
    }

    /// <summary>The merge patch that turns <paramref name="original"/> into <paramref name="modified"/>.</summary>
    public static JsonObject Create(JsonNode original, JsonNode modified)
    {
        ArgumentNullException.ThrowIfNull(original);
        ArgumentNullException.ThrowIfNull(modified);
        if (original is not JsonObject originalObject || modified is not JsonObject modifiedObject)
        {
            throw new PatchException("merge patch: both documents must be JSON objects to compute a merge patch");
        }
        return Diff(originalObject, modifiedObject);
    }

    private static JsonObject Diff(JsonObject original, JsonObject modified)
    {
        var patch = new JsonObject();
        foreach (var (key, value) in original)
        {
            if (!modified.ContainsKey(key)) patch[key] = null;
        }
        foreach (var (key, modifiedValue) in modified)
        {
            if (!original.TryGetPropertyValue(key, out var originalValue))
            {
                patch[key] = JsonTree.Clone(modifiedValue);
                continue;
            }
            if (originalValue is JsonObject o && modifiedValue is JsonObject m)
            {
                var nested = Diff(o, m);
                if (nested.Count > 0) patch[key] = nested;
                continue;
            }
            if (!JsonTree.Equal(originalValue, modifiedValue)) patch[key] = JsonTree.Clone(modifiedValue);
        }
        return patch;
    }
}

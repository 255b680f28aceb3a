using System.Text.Json.Nodes;

namespace Kcm.Api.Patching;

/// <summary>Computes two-way strategic merge patches the way upstream diffMaps does (SetElementOrder on).</summary>
internal static class StrategicMergeDiffer
{
    public static JsonObject DiffMaps(JsonObject original, JsonObject modified, SchemaScope scope, bool buildRetainKeys, string path)
    {
        var patch = new JsonObject();
        var retainKeys = new List<string>();

        foreach (var (key, modifiedValue) in modified)
        {
            if (buildRetainKeys && JsonTree.Kind(modifiedValue) != NodeKind.Null) retainKeys.Add(key);

            if (!original.TryGetPropertyValue(key, out var originalValue))
            {
                patch[key] = JsonTree.Clone(modifiedValue);
                continue;
            }
            if (key == StrategicMergePatch.DirectiveMarker)
            {
                if (!JsonTree.Equal(originalValue, modifiedValue)) patch[key] = JsonTree.Clone(modifiedValue);
                continue;
            }
            if (JsonTree.Kind(originalValue) != JsonTree.Kind(modifiedValue))
            {
                patch[key] = JsonTree.Clone(modifiedValue);
                continue;
            }

            var childPath = PathText.Join(path, key);
            var field = scope.Lookup(key);
            var meta = PatchMeta.Of(field, childPath);
            switch (modifiedValue)
            {
                case JsonObject modifiedObject when meta.IsReplace:
                    if (!JsonTree.Equal(originalValue, modifiedObject)) patch[key] = modifiedObject.DeepClone();
                    break;
                case JsonObject modifiedObject:
                {
                    var nested = DiffMaps((JsonObject)originalValue!, modifiedObject, SchemaScope.Child(field), meta.RetainKeys, childPath);
                    if (nested.Count > 0) patch[key] = nested;
                    break;
                }
                case JsonArray modifiedArray when meta.IsMerge:
                    DiffMergeList(key, (JsonArray)originalValue!, modifiedArray, SchemaScope.Child(field), meta, patch, childPath);
                    break;
                default:
                    if (!JsonTree.Equal(originalValue, modifiedValue)) patch[key] = JsonTree.Clone(modifiedValue);
                    break;
            }
        }

        foreach (var (key, _) in original)
        {
            if (!modified.ContainsKey(key)) patch[key] = null;
        }

        // $retainKeys goes out when something changes or the original holds fields the modified one dropped.
        if (retainKeys.Count > 0 && (patch.Count > 0 || HasFieldMissingFrom(original, modified)))
        {
            var sorted = new JsonArray();
            foreach (var key in retainKeys.Order(StringComparer.Ordinal)) sorted.Add((JsonNode)JsonValue.Create(key));
            patch[StrategicMergePatch.RetainKeysDirective] = sorted;
        }
        return patch;
    }

    private static bool HasFieldMissingFrom(JsonObject original, JsonObject modified)
        => original.Any(p => JsonTree.Kind(p.Value) != NodeKind.Null && !modified.ContainsKey(p.Key));

    private static void DiffMergeList(string key, JsonArray original, JsonArray modified, SchemaScope elementScope, PatchMeta meta, JsonObject patch, string path)
    {
        if (original.Count == 0)
        {
            if (modified.Count > 0) patch[key] = modified.DeepClone();
            return;
        }

        var kind = ListOrder.ElementKind(path, original, modified);
        if (kind == NodeKind.Object)
        {
            DiffListOfMaps(key, original, modified, elementScope, meta, patch, path);
        }
        else
        {
            DiffListOfScalars(key, original, modified, patch);
        }
    }

    private static void DiffListOfMaps(string key, JsonArray original, JsonArray modified, SchemaScope elementScope, PatchMeta meta, JsonObject patch, string path)
    {
        if (string.IsNullOrEmpty(meta.MergeKey))
        {
            throw new PatchException($"strategic merge patch at {PathText.Show(path)}: cannot diff lists of maps without a merge key");
        }
        var mergeKey = meta.MergeKey;
        var originals = original.Select(item => AsKeyedMap(item, mergeKey, path)).ToList();
        var modifieds = modified.Select(item => AsKeyedMap(item, mergeKey, path)).ToList();

        var changes = new JsonArray();
        foreach (var (map, keyValue) in modifieds)
        {
            var match = originals.FirstOrDefault(o => JsonTree.Equal(o.KeyValue, keyValue));
            if (match.Map is null)
            {
                changes.Add((JsonNode?)map.DeepClone());
                continue;
            }
            var nested = DiffMaps(match.Map, map, elementScope, meta.RetainKeys, path);
            if (nested.Count > 0)
            {
                nested[mergeKey] = JsonTree.Clone(keyValue);
                changes.Add((JsonNode?)nested);
            }
        }

        // Deleted items follow the changes, ordered by merge-key text as upstream's sorted walk yields them.
        var deletions = originals
            .Where(o => !modifieds.Any(m => JsonTree.Equal(m.KeyValue, o.KeyValue)))
            .OrderBy(o => JsonTree.ScalarText(o.KeyValue), StringComparer.Ordinal)
            .ToList();
        foreach (var (_, keyValue) in deletions)
        {
            changes.Add((JsonNode?)new JsonObject
            {
                [mergeKey] = JsonTree.Clone(keyValue),
                [StrategicMergePatch.DirectiveMarker] = "delete",
            });
        }

        var orderSame = originals.Count == modifieds.Count
            && originals.Zip(modifieds).All(pair => JsonTree.Equal(pair.First.KeyValue, pair.Second.KeyValue));
        if (changes.Count > 0) patch[key] = changes;
        // An empty order list is left out, as upstream does.
        if (modifieds.Count > 0 && (changes.Count > 0 || !orderSame))
        {
            var order = new JsonArray();
            foreach (var (_, keyValue) in modifieds)
            {
                order.Add((JsonNode?)new JsonObject { [mergeKey] = JsonTree.Clone(keyValue) });
            }
            patch[StrategicMergePatch.SetElementOrderPrefix + key] = order;
        }
    }

    private static (JsonObject Map, JsonNode? KeyValue) AsKeyedMap(JsonNode? item, string mergeKey, string path)
    {
        if (item is not JsonObject map)
        {
            throw new PatchException($"strategic merge patch at {PathText.Show(path)}: expected a map in a list merged by \"{mergeKey}\" but found {JsonTree.Describe(item)}");
        }
        if (!map.TryGetPropertyValue(mergeKey, out var keyValue)) throw StrategicMergeApplier.NoMergeKey(map, mergeKey, path);
        return (map, keyValue);
    }

    private static void DiffListOfScalars(string key, JsonArray original, JsonArray modified, JsonObject patch)
    {
        var additions = new JsonArray();
        foreach (var item in modified)
        {
            if (!original.Any(o => JsonTree.Equal(o, item)) && !additions.Any(a => JsonTree.Equal(a, item))) additions.Add(JsonTree.Clone(item));
        }
        var deletions = original
            .Where(o => !modified.Any(m => JsonTree.Equal(m, o)))
            .DistinctBy(JsonTree.ScalarText)
            .OrderBy(JsonTree.ScalarText, StringComparer.Ordinal)
            .ToList();

        if (additions.Count > 0) patch[key] = additions;
        if (deletions.Count > 0)
        {
            var list = new JsonArray();
            foreach (var item in deletions) list.Add(JsonTree.Clone(item));
            patch[StrategicMergePatch.DeleteFromPrimitiveListPrefix + key] = list;
        }
        if (modified.Count > 0 && (deletions.Count > 0 || !JsonTree.Equal(original, modified)))
        {
            patch[StrategicMergePatch.SetElementOrderPrefix + key] = modified.DeepClone();
        }
    }
}

using System.Text.Json;
using System.Text.Json.Nodes;
using Kcm.Api.Schema;

namespace Kcm.Api.Patching;

/// <summary>Applies a strategic merge patch to a (mutable, already copied) document.</summary>
internal static class StrategicMergeApplier
{
    public static JsonObject MergeMap(JsonObject original, JsonObject patch, SchemaScope scope, string path)
    {
        if (patch.TryGetPropertyValue(StrategicMergePatch.DirectiveMarker, out var directive))
        {
            var kind = directive is JsonValue v && v.GetValueKind() == JsonValueKind.String ? v.GetValue<string>() : null;
            switch (kind)
            {
                case "replace":
                {
                    // The patch body becomes the value; nested directives are still resolved.
                    var body = new JsonObject();
                    foreach (var (key, value) in patch)
                    {
                        if (key != StrategicMergePatch.DirectiveMarker) body[key] = JsonTree.Clone(value);
                    }
                    return MergeMap(new JsonObject(), body, scope, path);
                }
                case "delete":
                    return new JsonObject();
                case "merge":
                    // Explicitly asking for the default; upstream rejects it, we treat it as a no-op.
                    break;
                default:
                    throw new PatchException($"strategic merge patch at {PathText.Show(path)}: unknown patch type {JsonTree.Describe(directive)} in map");
            }
        }

        ApplyRetainKeys(original, patch, path);
        var handled = MergeOrderedLists(original, patch, scope, path);

        List<(string Key, JsonNode? Value)>? deletions = null;
        foreach (var (key, patchValue) in patch)
        {
            if (key == StrategicMergePatch.DirectiveMarker || key == StrategicMergePatch.RetainKeysDirective
                || key.StartsWith(StrategicMergePatch.SetElementOrderPrefix, StringComparison.Ordinal) || handled.Contains(key))
            {
                continue;
            }
            if (key.StartsWith(StrategicMergePatch.DeleteFromPrimitiveListPrefix, StringComparison.Ordinal))
            {
                (deletions ??= []).Add((key[StrategicMergePatch.DeleteFromPrimitiveListPrefix.Length..], patchValue));
                continue;
            }
            if (key.StartsWith('$'))
            {
                throw new PatchException($"strategic merge patch at {PathText.Show(path)}: unknown directive \"{key}\"");
            }

            var childPath = PathText.Join(path, key);
            if (JsonTree.Kind(patchValue) == NodeKind.Null)
            {
                original.Remove(key);
                continue;
            }

            var field = scope.Lookup(key);
            if (!original.TryGetPropertyValue(key, out var originalValue) || JsonTree.Kind(originalValue) != JsonTree.Kind(patchValue))
            {
                original[key] = Fresh(patchValue, field, childPath);
                continue;
            }

            var meta = PatchMeta.Of(field, childPath);
            var mergedValue = patchValue switch
            {
                JsonObject patchObject when meta.IsReplace => Fresh(patchObject, field, childPath),
                JsonObject patchObject => MergeMap((JsonObject)originalValue!, patchObject, SchemaScope.Child(field), childPath),
                JsonArray patchArray when meta.IsMerge => MergeList((JsonArray)originalValue!, patchArray, field!, meta, childPath),
                _ => JsonTree.Clone(patchValue),
            };
            if (!ReferenceEquals(mergedValue, originalValue)) original[key] = mergedValue;
        }

        // Deletions run after additions so a list patched in the same request keeps its merged order.
        if (deletions is not null)
        {
            foreach (var (key, toDelete) in deletions)
            {
                DeleteFromPrimitiveList(original, key, toDelete, PathText.Join(path, key));
            }
        }
        return original;
    }

    /// <summary>A patch value stored where nothing existed: directives inside it are resolved against emptiness.</summary>
    private static JsonNode? Fresh(JsonNode? patchValue, FieldSchema? field, string path) => patchValue switch
    {
        JsonObject patchObject => MergeMap(new JsonObject(), patchObject, SchemaScope.Child(field), path),
        JsonArray patchArray when PatchMeta.Of(field, path).IsMerge => MergeList([], patchArray, field!, PatchMeta.Of(field, path), path),
        _ => JsonTree.Clone(patchValue),
    };

    private static void ApplyRetainKeys(JsonObject original, JsonObject patch, string path)
    {
        if (!patch.TryGetPropertyValue(StrategicMergePatch.RetainKeysDirective, out var retainNode)) return;
        if (retainNode is not JsonArray retainList)
        {
            throw new PatchException($"strategic merge patch at {PathText.Show(path)}: invalid patch format of retainKeys (it must be a list of field names)");
        }
        var retained = new HashSet<string>(StringComparer.Ordinal);
        foreach (var item in retainList)
        {
            retained.Add(JsonTree.ScalarText(item));
        }
        foreach (var (key, value) in patch)
        {
            if (JsonTree.Kind(value) == NodeKind.Null || key.StartsWith('$')) continue;
            if (!retained.Contains(key))
            {
                throw new PatchException($"strategic merge patch at {PathText.Show(path)}: invalid patch format of retainKeys: field \"{key}\" is set in the patch but missing from $retainKeys");
            }
        }
        foreach (var key in original.Select(p => p.Key).Where(k => !retained.Contains(k)).ToList())
        {
            original.Remove(key);
        }
    }

    /// <summary>Handles $setElementOrder/&lt;field&gt; together with the list it orders; returns the list keys it consumed.</summary>
    private static HashSet<string> MergeOrderedLists(JsonObject original, JsonObject patch, SchemaScope scope, string path)
    {
        var handled = new HashSet<string>(StringComparer.Ordinal);
        foreach (var (directiveKey, orderNode) in patch)
        {
            if (!directiveKey.StartsWith(StrategicMergePatch.SetElementOrderPrefix, StringComparison.Ordinal)) continue;
            var key = directiveKey[StrategicMergePatch.SetElementOrderPrefix.Length..];
            var listPath = PathText.Join(path, key);
            if (orderNode is not JsonArray order)
            {
                throw new PatchException($"strategic merge patch at {PathText.Show(listPath)}: invalid patch format of setElementOrder list (it must be a list)");
            }
            var field = scope.Lookup(key);
            var meta = PatchMeta.Of(field, listPath);
            var mergeKey = meta.MergeKey ?? "";

            var originalList = ListOrNull(original, key, listPath);
            var patchList = ListOrNull(patch, key, listPath);
            handled.Add(key);
            if (originalList is null && patchList is null) continue;

            ValidateAgainstOrder(patchList, order, mergeKey, listPath);
            JsonArray merged;
            if (patchList is null) merged = (JsonArray)originalList!.DeepClone();
            else if (originalList is null) merged = (JsonArray)Fresh(patchList, field, listPath)!;
            else if (meta.IsMerge) merged = MergeList(originalList, patchList, field!, meta, listPath);
            else merged = (JsonArray)patchList.DeepClone();

            var orderItems = order.ToList();
            var (inPatch, serverOnly) = Partition(merged, orderItems, mergeKey, listPath);
            var serverOrder = originalList?.ToList() ?? [];
            original[key] = ListOrder.Normalize(inPatch, serverOnly, orderItems, serverOrder, mergeKey);
        }
        return handled;
    }

    private static JsonArray? ListOrNull(JsonObject map, string key, string path)
    {
        if (!map.TryGetPropertyValue(key, out var node) || node is null) return null;
        return node as JsonArray ?? throw new PatchException($"strategic merge patch at {PathText.Show(path)}: expected a list but found {JsonTree.Describe(node)}");
    }

    private static void ValidateAgainstOrder(JsonArray? patchList, JsonArray order, string mergeKey, string path)
    {
        if (patchList is null || patchList.Count == 0 || order.Count == 0) return;
        var items = patchList.Where(item => !(item is JsonObject o && o.ContainsKey(StrategicMergePatch.DirectiveMarker))).ToList();
        int p = 0, s = 0;
        while (p < items.Count && s < order.Count)
        {
            if (ListOrder.SameIdentity(items[p], order[s], mergeKey, path)) p++;
            s++;
        }
        if (p < items.Count)
        {
            throw new PatchException($"strategic merge patch at {PathText.Show(path)}: the order of the patch list {JsonTree.Describe(patchList)} doesn't match the $setElementOrder list {JsonTree.Describe(order)}");
        }
    }

    private static (List<JsonNode?> InList, List<JsonNode?> NotInList) Partition(JsonArray merged, List<JsonNode?> list, string mergeKey, string path)
    {
        var inList = new List<JsonNode?>();
        var notInList = new List<JsonNode?>();
        foreach (var item in merged)
        {
            var found = list.Any(other => ListOrder.SameIdentity(item, other, mergeKey, path));
            (found ? inList : notInList).Add(item);
        }
        return (inList, notInList);
    }

    public static JsonArray MergeList(JsonArray original, JsonArray patch, FieldSchema field, PatchMeta meta, string path)
    {
        if (original.Count == 0 && patch.Count == 0) return [];
        var kind = ListOrder.ElementKind(path, original, patch);

        if (kind != NodeKind.Object)
        {
            // Lists of primitives merge as sets: union, de-duplicated.
            var merged = new List<JsonNode?>();
            foreach (var item in original.Concat(patch))
            {
                if (!merged.Any(existing => JsonTree.Equal(existing, item))) merged.Add(item);
            }
            var patchItems = patch.ToList();
            var inPatch = merged.Where(m => patchItems.Any(p => JsonTree.Equal(m, p))).ToList();
            var serverOnly = merged.Where(m => !patchItems.Any(p => JsonTree.Equal(m, p))).ToList();
            return ListOrder.Normalize(inPatch, serverOnly, patchItems, original.ToList(), "");
        }

        if (string.IsNullOrEmpty(meta.MergeKey))
        {
            throw new PatchException($"strategic merge patch at {PathText.Show(path)}: cannot merge lists without merge key");
        }
        var mergeKey = meta.MergeKey;
        var elementScope = SchemaScope.Child(field);

        // Special elements first: $patch: delete removes matching items, $patch: replace drops the original.
        var working = original.Select(JsonTree.Clone).ToList();
        var plain = new List<JsonObject>();
        var replace = false;
        foreach (var node in patch)
        {
            var element = (JsonObject)node!;
            if (!element.TryGetPropertyValue(StrategicMergePatch.DirectiveMarker, out var directive))
            {
                plain.Add(element);
                continue;
            }
            switch (JsonTree.ScalarText(directive))
            {
                case "delete":
                    if (!element.TryGetPropertyValue(mergeKey, out var keyValue))
                    {
                        throw NoMergeKey(element, mergeKey, path);
                    }
                    working.RemoveAll(item => item is JsonObject o && o.TryGetPropertyValue(mergeKey, out var v) && JsonTree.Equal(v, keyValue));
                    break;
                case "replace":
                    replace = true;
                    break;
                case "merge":
                    throw new PatchException($"strategic merge patch at {PathText.Show(path)}: merging lists cannot yet be specified in the patch");
                default:
                    throw new PatchException($"strategic merge patch at {PathText.Show(path)}: unknown patch type {JsonTree.Describe(directive)} in list element {JsonTree.Describe(element)}");
            }
        }
        if (replace)
        {
            var replaced = new JsonArray();
            foreach (var element in plain)
            {
                replaced.Add((JsonNode?)MergeMap(new JsonObject(), element, elementScope, path));
            }
            return replaced;
        }

        var serverOrder = working.ToList();
        foreach (var element in plain)
        {
            if (!element.TryGetPropertyValue(mergeKey, out var keyValue)) throw NoMergeKey(element, mergeKey, path);
            var index = working.FindIndex(item => item is JsonObject o && o.TryGetPropertyValue(mergeKey, out var v) && JsonTree.Equal(v, keyValue));
            if (index >= 0)
            {
                working[index] = MergeMap((JsonObject)working[index]!, element, elementScope, path);
            }
            else
            {
                working.Add(MergeMap(new JsonObject(), element, elementScope, path));
            }
        }

        var patchOrder = plain.Cast<JsonNode?>().ToList();
        var (patched, untouched) = (new List<JsonNode?>(), new List<JsonNode?>());
        foreach (var item in working)
        {
            var found = patchOrder.Any(p => ListOrder.SameIdentity(item, p, mergeKey, path));
            (found ? patched : untouched).Add(item);
        }
        return ListOrder.Normalize(patched, untouched, patchOrder, serverOrder, mergeKey);
    }

    private static void DeleteFromPrimitiveList(JsonObject original, string key, JsonNode? toDelete, string path)
    {
        if (toDelete is not JsonArray deleteList)
        {
            throw new PatchException($"strategic merge patch at {PathText.Show(path)}: invalid patch format of $deleteFromPrimitiveList (it must be a list)");
        }
        if (!original.TryGetPropertyValue(key, out var existing) || existing is null) return;
        if (existing is not JsonArray list)
        {
            throw new PatchException($"strategic merge patch at {PathText.Show(path)}: $deleteFromPrimitiveList targets a field that is not a list");
        }
        if (list.Concat(deleteList).Any(item => JsonTree.Kind(item) is NodeKind.Object or NodeKind.Array))
        {
            throw new PatchException($"strategic merge patch at {PathText.Show(path)}: $deleteFromPrimitiveList applies only to lists of primitives");
        }
        var kept = new JsonArray();
        foreach (var item in list)
        {
            if (!deleteList.Any(d => JsonTree.Equal(d, item))) kept.Add(JsonTree.Clone(item));
        }
        original[key] = kept;
    }

    internal static PatchException NoMergeKey(JsonObject element, string mergeKey, string path)
        => new($"strategic merge patch at {PathText.Show(path)}: map {JsonTree.Describe(element)} does not contain declared merge key \"{mergeKey}\"");
}

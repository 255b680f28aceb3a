using System.Text.Json.Nodes;

namespace Kcm.Api.Patching;

/// <summary>Upstream's ordering rules for merged lists (normalizeElementOrder / mergeSortedSlice).</summary>
internal static class ListOrder
{
    public static NodeKind ElementKind(string path, params IEnumerable<JsonNode?>[] lists)
    {
        NodeKind? kind = null;
        foreach (var item in lists.SelectMany(l => l))
        {
            var current = JsonTree.Kind(item);
            if (current == NodeKind.Array)
            {
                throw new PatchException($"strategic merge patch at {PathText.Show(path)}: lists of lists are not supported");
            }
            if (kind is null) kind = current;
            else if (kind != current)
            {
                throw new PatchException($"strategic merge patch at {PathText.Show(path)}: list element types are not identical");
            }
        }
        return kind ?? NodeKind.Scalar;
    }

    /// <summary>Same list entry: equal merge-key values for maps, equal values for primitives.</summary>
    public static bool SameIdentity(JsonNode? a, JsonNode? b, string mergeKey, string path)
    {
        if (mergeKey.Length == 0) return JsonTree.Equal(a, b);
        return Identity(a, mergeKey, path) is var ka && Identity(b, mergeKey, path) is var kb && JsonTree.Equal(ka, kb);
    }

    private static JsonNode? Identity(JsonNode? item, string mergeKey, string path)
    {
        if (item is not JsonObject o)
        {
            throw new PatchException($"strategic merge patch at {PathText.Show(path)}: expected a map in a list merged by \"{mergeKey}\" but found {JsonTree.Describe(item)}");
        }
        return o.TryGetPropertyValue(mergeKey, out var v) ? v : throw StrategicMergeApplier.NoMergeKey(o, mergeKey, path);
    }

    private static int IndexIn(List<JsonNode?> list, JsonNode? item, string mergeKey)
    {
        for (var i = 0; i < list.Count; i++)
        {
            if (mergeKey.Length == 0 ? JsonTree.Equal(list[i], item) : JsonTree.Equal(KeyOrNull(list[i], mergeKey), KeyOrNull(item, mergeKey)))
            {
                return i;
            }
        }
        return -1;
    }

    private static JsonNode? KeyOrNull(JsonNode? item, string mergeKey)
        => item is JsonObject o && o.TryGetPropertyValue(mergeKey, out var v) ? v : null;

    /// <summary>
    /// Patch items keep the patch order, server-only items keep the live order, and the two are interleaved
    /// using the live order where both sides know it.
    /// </summary>
    public static JsonArray Normalize(List<JsonNode?> patchItems, List<JsonNode?> serverOnly, List<JsonNode?> patchOrder, List<JsonNode?> serverOrder, string mergeKey)
    {
        var right = StableSortBy(patchItems, patchOrder, mergeKey);
        var left = StableSortBy(serverOnly, serverOrder, mergeKey);
        var result = new JsonArray();
        int i = 0, j = 0;
        while (i < left.Count || j < right.Count)
        {
            JsonNode? next;
            if (i >= left.Count) next = right[j++];
            else if (j >= right.Count) next = left[i++];
            else
            {
                var li = IndexIn(serverOrder, left[i], mergeKey);
                var ri = IndexIn(serverOrder, right[j], mergeKey);
                next = li >= 0 && ri >= 0 && li < ri ? left[i++] : right[j++];
            }
            result.Add(next is null ? null : next.Parent is null ? next : next.DeepClone());
        }
        return result;
    }

    private static List<JsonNode?> StableSortBy(List<JsonNode?> items, List<JsonNode?> order, string mergeKey)
    {
        var indexed = items.Select((item, position) => (item, position, rank: IndexIn(order, item, mergeKey))).ToList();
        // Items missing from the order list keep their relative place after the ordered ones.
        return indexed
            .OrderBy(x => x.rank < 0 ? int.MaxValue : x.rank)
            .ThenBy(x => x.position)
            .Select(x => x.item)
            .ToList();
    }
}

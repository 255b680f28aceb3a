using System.Text.Json.Nodes;
using Kcm.Api.Schema;

namespace Kcm.ApiServer.Apply;

/// <summary>
/// The structured-merge-diff view of a schema position, built from the generated OpenAPI facts the way upstream's
/// schemaconv builds it: list types from x-kubernetes-list-type/-map-keys, else a merge patch strategy (with its merge
/// key) makes an associative list and anything else is atomic; maps and structs are granular unless marked atomic.
/// </summary>
internal sealed record SchemaType(SchemaKind Kind, string? Definition = null, SchemaType? Element = null,
    bool Atomic = false, IReadOnlyList<string>? Keys = null)
{
    public static readonly SchemaType Deduced = new(SchemaKind.Deduced);

    public static SchemaType Root(string definition) => OfDefinition(definition, null);

    public SchemaType FieldType(string key)
    {
        if (Kind == SchemaKind.Map) return Element ?? Deduced;
        if (Kind != SchemaKind.Struct) return Deduced;
        var fields = TypeSchema.Fields(Definition!);
        return fields is not null && fields.TryGetValue(key, out var f) ? Of(f) : Deduced;
    }

    /// <summary>Whether <paramref name="key"/> is a declared field (upstream inserts undeclared map keys as members).</summary>
    public bool IsDeclaredField(string key)
        => Kind == SchemaKind.Struct && TypeSchema.Fields(Definition!) is { } fields && fields.ContainsKey(key);

    private static SchemaType Of(FieldSchema f) => f.Shape switch
    {
        FieldShape.Object => f.Ref is null ? Deduced : OfDefinition(f.Ref, f.MapType),
        FieldShape.Map => new SchemaType(SchemaKind.Map, Element: f.Ref is null ? Deduced : OfDefinition(f.Ref, null), Atomic: f.MapType == "atomic"),
        FieldShape.List => ListOf(f),
        _ => Deduced,
    };

    private static SchemaType OfDefinition(string definition, string? mapType)
    {
        if (TypeSchema.Fields(definition) is null) return Deduced;
        var atomic = mapType == "atomic" || (mapType != "granular" && AtomicDefinitions.Contains(definition));
        return new SchemaType(SchemaKind.Struct, definition, Atomic: atomic);
    }

    private static SchemaType ListOf(FieldSchema f)
    {
        var element = f.Ref is null ? Deduced : OfDefinition(f.Ref, null);
        return f.ListType switch
        {
            "atomic" => new SchemaType(SchemaKind.List, Element: element, Atomic: true),
            "set" => new SchemaType(SchemaKind.List, Element: element, Keys: []),
            "map" => new SchemaType(SchemaKind.List, Element: element, Keys: f.ListMapKeys ?? []),
            _ when f.PatchStrategy is "merge" or "merge,retainKeys" =>
                new SchemaType(SchemaKind.List, Element: element, Keys: f.PatchMergeKey is { } k ? [k] : []),
            _ => new SchemaType(SchemaKind.List, Element: element, Atomic: true),
        };
    }

    /// <summary>Definitions the OpenAPI document marks x-kubernetes-map-type: atomic at definition level (v1.26).</summary>
    private static readonly HashSet<string> AtomicDefinitions =
    [
        "io.k8s.api.autoscaling.v1.CrossVersionObjectReference", "io.k8s.api.core.v1.ConfigMapKeySelector",
        "io.k8s.api.core.v1.EndpointAddress", "io.k8s.api.core.v1.EndpointPort", "io.k8s.api.core.v1.LocalObjectReference",
        "io.k8s.api.core.v1.NodeSelector", "io.k8s.api.core.v1.NodeSelectorTerm", "io.k8s.api.core.v1.ObjectFieldSelector",
        "io.k8s.api.core.v1.ObjectReference", "io.k8s.api.core.v1.ResourceFieldSelector", "io.k8s.api.core.v1.ScopeSelector",
        "io.k8s.api.core.v1.SecretKeySelector", "io.k8s.api.core.v1.SecretReference", "io.k8s.api.core.v1.TopologySelectorTerm",
        "io.k8s.api.core.v1.TypedLocalObjectReference", "io.k8s.api.discovery.v1.EndpointPort", "io.k8s.api.rbac.v1.RoleRef",
        "io.k8s.api.rbac.v1.Subject", "io.k8s.apimachinery.pkg.apis.meta.v1.LabelSelector",
        "io.k8s.apimachinery.pkg.apis.meta.v1.OwnerReference",
    ];

    /// <summary>
    /// List-map key fields with a default in upstream's generated OpenAPI (stripped from the published document); an
    /// element omitting them is keyed with the default, as upstream does.
    /// </summary>
    public JsonNode? KeyDefault(string field) => (Element?.Definition, field) switch
    {
        ("io.k8s.api.core.v1.ContainerPort", "protocol") or ("io.k8s.api.core.v1.ServicePort", "protocol") => JsonValue.Create("TCP"),
        _ => null,
    };
}

internal enum SchemaKind { Struct, Map, List, Deduced }

/// <summary>A typed value could not be walked (a list element without its key, duplicate keys...).</summary>
public sealed class TypedValueException(string message) : Exception(message);

/// <summary>The added, modified and removed paths between two versions of an object (upstream typed.Comparison).</summary>
internal sealed class Comparison
{
    public FieldSet Added { get; } = new();
    public FieldSet Modified { get; } = new();
    public FieldSet Removed { get; } = new();

    public bool IsSame => Added.IsEmpty && Modified.IsEmpty && Removed.IsEmpty;
}

/// <summary>
/// structured-merge-diff's typed operations over JSON objects: ToFieldSet, Merge, Compare and RemoveItems, following
/// sigs.k8s.io/structured-merge-diff/v4/typed. An absent value is a null <see cref="Opt"/>; a JSON null is present.
/// </summary>
internal static class TypedValue
{
    internal readonly record struct Opt(bool Present, JsonNode? Value)
    {
        public static readonly Opt Absent = new(false, null);

        public static Opt Of(JsonNode? v) => new(true, v);
    }

    public static FieldSet ToFieldSet(JsonNode? value, SchemaType type)
    {
        var set = new FieldSet();
        ToFieldSet(value, type, [], set);
        return set;
    }

    private static void ToFieldSet(JsonNode? value, SchemaType type, List<PathElement> path, FieldSet set)
    {
        switch (value)
        {
            case JsonObject obj when type.Kind is SchemaKind.Struct or SchemaKind.Map or SchemaKind.Deduced:
                if (type.Atomic)
                {
                    set.Insert(path);
                    return;
                }
                foreach (var (key, child) in obj)
                {
                    path.Add(PathElement.Field(key));
                    ToFieldSet(child, type.FieldType(key), path, set);
                    if (child is null || (child is JsonObject { Count: 0 }) || !type.IsDeclaredField(key)) set.Insert(path);
                    path.RemoveAt(path.Count - 1);
                }
                return;
            case JsonArray list when type.Kind == SchemaKind.List && !type.Atomic:
                for (var i = 0; i < list.Count; i++)
                {
                    path.Add(ElementOf(type, i, list[i]));
                    ToFieldSet(list[i], type.Element ?? SchemaType.Deduced, path, set);
                    set.Insert(path);
                    path.RemoveAt(path.Count - 1);
                }
                return;
            case null when type.Kind is SchemaKind.Struct or SchemaKind.Map or SchemaKind.List && !type.Atomic:
                return;
            default:
                set.Insert(path);
                return;
        }
    }

    public static JsonObject Merge(JsonObject live, JsonObject config, SchemaType type)
        => (Walk(Opt.Of(live), Opt.Of(config), type, [], null).Value as JsonObject) ?? new JsonObject();

    public static Comparison Compare(JsonObject oldObject, JsonObject newObject, SchemaType type)
    {
        var c = new Comparison();
        Walk(Opt.Of(oldObject), Opt.Of(newObject), type, [], c);
        return c;
    }

    private static Opt Walk(Opt lhs, Opt rhs, SchemaType type, List<PathElement> path, Comparison? cmp, bool presentWhenEmpty = false)
    {
        var l = lhs.Value;
        var r = rhs.Value;
        var isMap = type.Kind is SchemaKind.Struct or SchemaKind.Map or SchemaKind.Deduced
            && (l is JsonObject || r is JsonObject) && (l is null || l is JsonObject) && (r is null || r is JsonObject);
        var isList = type.Kind == SchemaKind.List
            && (l is JsonArray || r is JsonArray) && (l is null || l is JsonArray) && (r is null || r is JsonArray);
        Opt result;
        if (isMap && !type.Atomic && !(Count(l) == 0 && Count(r) == 0))
        {
            result = MergeMaps(l as JsonObject, r as JsonObject, type, path, cmp);
        }
        else if (isList && !type.Atomic && !(Count(l) == 0 && Count(r) == 0))
        {
            result = MergeLists(l as JsonArray, r as JsonArray, type, path, cmp);
        }
        else
        {
            if (cmp is not null)
            {
                if (!lhs.Present) cmp.Added.Insert(path);
                else if (!rhs.Present) cmp.Removed.Insert(path);
                else if (!JsonNode.DeepEquals(l, r)) cmp.Modified.Insert(path);
            }
            return rhs.Present ? Opt.Of(r?.DeepClone()) : Opt.Of(l?.DeepClone());
        }
        if (cmp is not null && !presentWhenEmpty)
        {
            if (!lhs.Present) cmp.Added.Insert(path);
            else if (!rhs.Present) cmp.Removed.Insert(path);
        }
        return result;
    }

    // Go decodes these into non-pointer structs, so upstream's empty object already holds them: never added or removed.
    private static readonly HashSet<string> ValueStructFields = ["metadata", "spec", "status", "template", "strategy", "updateStrategy", "resources"];

    // Required fields have no omitempty in Go, so they are present (null) in the empty object too.
    private static bool PresentWhenEmpty(SchemaType parent, SchemaType field, string key)
        => (field.Kind == SchemaKind.Struct && ValueStructFields.Contains(key))
            || (parent.Kind == SchemaKind.Struct && TypeSchema.Required(parent.Definition!).Contains(key));

    private static int Count(JsonNode? n) => n switch
    {
        JsonObject o => o.Count,
        JsonArray a => a.Count,
        _ => 0,
    };

    private static Opt MergeMaps(JsonObject? lhs, JsonObject? rhs, SchemaType type, List<PathElement> path, Comparison? cmp)
    {
        var output = new JsonObject();
        var keys = new List<string>();
        if (lhs is not null) keys.AddRange(lhs.Select(p => p.Key));
        if (rhs is not null) keys.AddRange(rhs.Select(p => p.Key).Where(k => lhs is null || !lhs.ContainsKey(k)));
        foreach (var key in keys)
        {
            var lv = lhs is not null && lhs.TryGetPropertyValue(key, out var a) ? Opt.Of(a) : Opt.Absent;
            var rv = rhs is not null && rhs.TryGetPropertyValue(key, out var b) ? Opt.Of(b) : Opt.Absent;
            path.Add(PathElement.Field(key));
            var fieldType = type.FieldType(key);
            var child = Walk(lv, rv, fieldType, path, cmp, PresentWhenEmpty(type, fieldType, key));
            path.RemoveAt(path.Count - 1);
            if (child.Present) output[key] = child.Value;
        }
        return output.Count > 0 ? Opt.Of(output) : Opt.Absent;
    }

    /// <summary>Upstream visitListItems: the merged order keeps the right-hand side's order for shared elements.</summary>
    private static Opt MergeLists(JsonArray? lhs, JsonArray? rhs, SchemaType type, List<PathElement> path, Comparison? cmp)
    {
        var (lOrder, lSeen) = Index(type, lhs);
        var (rOrder, rSeen) = Index(type, rhs);
        var shared = new Queue<PathElement>(rOrder.Where(lSeen.ContainsKey));
        PathElement? nextShared = shared.Count > 0 ? shared.Dequeue() : null;
        var output = new JsonArray();
        var elementType = type.Element ?? SchemaType.Deduced;

        void MergeItem(PathElement pe, Opt l, Opt r)
        {
            path.Add(pe);
            var merged = Walk(l, r, elementType, path, cmp);
            path.RemoveAt(path.Count - 1);
            if (merged.Present) output.Add(merged.Value);
        }

        int li = 0, ri = 0;
        while (li < lOrder.Count || ri < rOrder.Count)
        {
            if (li < lOrder.Count && ri < rOrder.Count)
            {
                var pe = lOrder[li];
                if (pe.Equals(rOrder[ri]))
                {
                    MergeItem(pe, Opt.Of(lSeen[pe]), Opt.Of(rSeen[pe]));
                    li++;
                    ri++;
                    nextShared = shared.Count > 0 ? shared.Dequeue() : null;
                    continue;
                }
                if (rSeen.ContainsKey(pe) && nextShared is not null && !nextShared.Equals(pe))
                {
                    li++;
                    continue;
                }
            }
            if (li < lOrder.Count && !rSeen.ContainsKey(lOrder[li]))
            {
                MergeItem(lOrder[li], Opt.Of(lSeen[lOrder[li]]), Opt.Absent);
                li++;
                continue;
            }
            if (ri < rOrder.Count)
            {
                var pe = rOrder[ri];
                MergeItem(pe, lSeen.TryGetValue(pe, out var lv) ? Opt.Of(lv) : Opt.Absent, Opt.Of(rSeen[pe]));
                ri++;
                if (nextShared is not null && nextShared.Equals(pe)) nextShared = shared.Count > 0 ? shared.Dequeue() : null;
            }
        }
        return output.Count > 0 ? Opt.Of(output) : Opt.Absent;
    }

    private static (List<PathElement> Order, Dictionary<PathElement, JsonNode?> Seen) Index(SchemaType type, JsonArray? list)
    {
        var order = new List<PathElement>();
        var seen = new Dictionary<PathElement, JsonNode?>();
        if (list is null) return (order, seen);
        for (var i = 0; i < list.Count; i++)
        {
            var pe = ElementOf(type, i, list[i]);
            if (!seen.TryAdd(pe, list[i])) throw new TypedValueException($"duplicate entries for key {pe.Display()}");
            order.Add(pe);
        }
        return (order, seen);
    }

    private static PathElement ElementOf(SchemaType list, int index, JsonNode? item)
    {
        if (list.Keys is null) return PathElement.OfIndex(index);
        if (list.Keys.Count == 0)
        {
            if (item is JsonObject) throw new TypedValueException($"element {index}: associative list without keys has an element that's a map type");
            if (item is JsonArray) throw new TypedValueException($"element {index}: not supported: associative list with lists as elements");
            if (item is null) throw new TypedValueException($"element {index}: associative list without keys has an element that's an explicit null");
            return PathElement.OfValue(item.DeepClone());
        }
        if (item is not JsonObject obj)
        {
            throw new TypedValueException(item is null
                ? $"element {index}: associative list with keys may not have a null element"
                : $"element {index}: associative list with keys may not have non-map elements");
        }
        var key = new List<KeyValuePair<string, JsonNode?>>();
        foreach (var name in list.Keys)
        {
            if (obj.TryGetPropertyValue(name, out var v)) key.Add(new(name, v?.DeepClone()));
            else if (list.KeyDefault(name) is { } d) key.Add(new(name, d));
            else throw new TypedValueException($"element {index}: associative list with keys has an element that omits key field \"{name}\" (and doesn't have default value)");
        }
        return PathElement.OfKey(key);
    }

    /// <summary>Upstream RemoveItems: drops every member path of <paramref name="toRemove"/> from a copy of the value.</summary>
    public static JsonObject RemoveItems(JsonObject value, FieldSet toRemove, SchemaType type)
        => Remove(value, toRemove, type) as JsonObject ?? new JsonObject();

    private static JsonNode? Remove(JsonNode? value, FieldSet toRemove, SchemaType type)
    {
        switch (value)
        {
            case JsonObject obj when !type.Atomic && type.Kind is SchemaKind.Struct or SchemaKind.Map or SchemaKind.Deduced:
                var map = new JsonObject();
                foreach (var (key, child) in obj)
                {
                    var node = toRemove.Get(PathElement.Field(key));
                    if (node is { IsMember: true }) continue;
                    if (node is not { IsEmpty: false })
                    {
                        map[key] = child?.DeepClone();
                        continue;
                    }
                    // A value left empty by the removal goes away, as upstream turns it into an omitted field.
                    var rest = Remove(child, node, type.FieldType(key));
                    if (!IsEmptyContainer(rest) || IsEmptyContainer(child)) map[key] = rest;
                }
                return map;
            case JsonArray list when !type.Atomic && type.Kind == SchemaKind.List:
                var items = new JsonArray();
                for (var i = 0; i < list.Count; i++)
                {
                    var node = toRemove.Get(ElementOf(type, i, list[i]));
                    if (node is { IsMember: true }) continue;
                    items.Add(node is { IsEmpty: false } ? Remove(list[i], node, type.Element ?? SchemaType.Deduced) : list[i]?.DeepClone());

                }
                return items;
            default:
                return value?.DeepClone();
        }
    }

    private static bool IsEmptyContainer(JsonNode? n) => n is JsonObject { Count: 0 } or JsonArray { Count: 0 };
}

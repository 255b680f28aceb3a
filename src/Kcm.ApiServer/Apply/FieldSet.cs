using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Kcm.ApiServer.Apply;

public enum PathElementKind { Field, Key, Value, Index }

/// <summary>
/// One step of a field path as structured-merge-diff names it: a field name, the key fields of a list-map
/// element, the value of a set element, or a list index. <see cref="Text"/> is its fieldsV1 spelling ("f:name",
/// "k:{...}", "v:...", "i:0"), canonical so it also serves as the identity.
/// </summary>
public sealed class PathElement : IComparable<PathElement>, IEquatable<PathElement>
{
    private PathElement(PathElementKind kind, string text, string? field, IReadOnlyList<KeyValuePair<string, JsonNode?>>? key, JsonNode? value, int index)
    {
        Kind = kind;
        Text = text;
        FieldName = field;
        Key = key;
        Value = value;
        Index = index;
    }

    public PathElementKind Kind { get; }

    public string Text { get; }

    public string? FieldName { get; }

    public IReadOnlyList<KeyValuePair<string, JsonNode?>>? Key { get; }

    public JsonNode? Value { get; }

    public int Index { get; }

    public static PathElement Field(string name) => new(PathElementKind.Field, "f:" + name, name, null, null, 0);

    public static PathElement OfIndex(int index) => new(PathElementKind.Index, "i:" + index.ToString(CultureInfo.InvariantCulture), null, null, null, index);

    public static PathElement OfValue(JsonNode? value) => new(PathElementKind.Value, "v:" + Canonical(value), null, null, value, 0);

    public static PathElement OfKey(IEnumerable<KeyValuePair<string, JsonNode?>> fields)
    {
        var sorted = fields.OrderBy(f => f.Key, StringComparer.Ordinal).ToList();
        var text = new StringBuilder("k:{");
        for (var i = 0; i < sorted.Count; i++)
        {
            if (i > 0) text.Append(',');
            text.Append(StringJson.Quote(sorted[i].Key)).Append(':').Append(Canonical(sorted[i].Value));
        }
        return new PathElement(PathElementKind.Key, text.Append('}').ToString(), null, sorted, null, 0);
    }

    /// <summary>Parses a fieldsV1 key; null for an unknown kind of element (upstream skips those).</summary>
    public static PathElement? Parse(string text)
    {
        if (text.Length < 2 || text[1] != ':') throw new FormatException($"invalid path element \"{text}\"");
        var rest = text[2..];
        switch (text[0])
        {
            case 'f':
                return Field(rest);
            case 'i':
                return OfIndex(int.Parse(rest, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture));
            case 'v':
                return OfValue(JsonNode.Parse(rest));
            case 'k':
                var obj = JsonNode.Parse(rest) as JsonObject ?? throw new FormatException($"invalid key \"{text}\"");
                return OfKey(obj.Select(p => new KeyValuePair<string, JsonNode?>(p.Key, p.Value?.DeepClone())));
            default:
                return null;
        }
    }

    /// <summary>The path element in upstream's Path.String form (".name", "[k=\"v\"]", "[=v]", "[0]").</summary>
    public string Display() => Kind switch
    {
        PathElementKind.Field => "." + FieldName,
        PathElementKind.Key => "[" + string.Join(",", Key!.Select(k => $"{k.Key}={GoString(k.Value)}")) + "]",
        PathElementKind.Value => $"[={GoString(Value)}]",
        _ => $"[{Index}]",
    };

    public int CompareTo(PathElement? other)
    {
        if (other is null) return 1;
        if (Kind != other.Kind) return Kind.CompareTo(other.Kind);
        switch (Kind)
        {
            case PathElementKind.Field:
                return string.CompareOrdinal(FieldName, other.FieldName);
            case PathElementKind.Index:
                return Index.CompareTo(other.Index);
            case PathElementKind.Value:
                return ValueOrder.Compare(Value, other.Value);
            default:
                for (var i = 0; ; i++)
                {
                    if (i >= Key!.Count && i >= other.Key!.Count) return 0;
                    if (i >= Key.Count) return -1;
                    if (i >= other.Key!.Count) return 1;
                    var c = string.CompareOrdinal(Key[i].Key, other.Key[i].Key);
                    if (c != 0) return c;
                    c = ValueOrder.Compare(Key[i].Value, other.Key[i].Value);
                    if (c != 0) return c;
                }
        }
    }

    public bool Equals(PathElement? other) => other is not null && Text == other.Text;

    public override bool Equals(object? obj) => obj is PathElement p && Equals(p);

    public override int GetHashCode() => Text.GetHashCode(StringComparison.Ordinal);

    public override string ToString() => Text;

    internal static string Canonical(JsonNode? value) => value switch
    {
        null => "null",
        JsonObject o => "{" + string.Join(",", o.OrderBy(p => p.Key, StringComparer.Ordinal)
            .Select(p => StringJson.Quote(p.Key) + ":" + Canonical(p.Value))) + "}",
        JsonArray a => "[" + string.Join(",", a.Select(Canonical)) + "]",
        _ => value.ToJsonString(),
    };

    private static string GoString(JsonNode? v) => v switch
    {
        null => "null",
        JsonValue s when s.GetValueKind() == JsonValueKind.String => StringJson.Quote(s.GetValue<string>()),
        JsonArray a => "[" + string.Join(",", a.Select(GoString)) + "]",
        JsonObject o => string.Concat(o.Select(p => $"{p.Key}={GoString(p.Value)}")),
        _ => v.ToJsonString(),
    };
}

/// <summary>structured-merge-diff's value.Compare order: numbers, strings, booleans, lists, maps, null.</summary>
internal static class ValueOrder
{
    public static int Compare(JsonNode? a, JsonNode? b)
    {
        var ra = Rank(a);
        var rb = Rank(b);
        if (ra != rb) return ra.CompareTo(rb);
        switch (ra)
        {
            case 0:
                return a!.GetValue<double>().CompareTo(b!.GetValue<double>());
            case 1:
                return string.CompareOrdinal(a!.GetValue<string>(), b!.GetValue<string>());
            case 2:
                return a!.GetValue<bool>().CompareTo(b!.GetValue<bool>());
            case 3:
                var la = (JsonArray)a!;
                var lb = (JsonArray)b!;
                for (var i = 0; i < Math.Min(la.Count, lb.Count); i++)
                {
                    var c = Compare(la[i], lb[i]);
                    if (c != 0) return c;
                }
                return la.Count.CompareTo(lb.Count);
            case 4:
                return string.CompareOrdinal(PathElement.Canonical(a), PathElement.Canonical(b));
            default:
                return 0;
        }
    }

    private static int Rank(JsonNode? v) => v switch
    {
        null => 5,
        JsonArray => 3,
        JsonObject => 4,
        JsonValue j => j.GetValueKind() switch
        {
            JsonValueKind.Number => 0,
            JsonValueKind.String => 1,
            JsonValueKind.True or JsonValueKind.False => 2,
            _ => 5,
        },
        _ => 5,
    };
}

/// <summary>
/// A set of field paths (structured-merge-diff's fieldpath.Set) as a tree: a node is a member when its own path is
/// in the set, and has children for longer paths. Serializes to and from the fieldsV1 format.
/// </summary>
public sealed class FieldSet
{
    private readonly SortedDictionary<PathElement, FieldSet> _children = new();

    public bool IsMember { get; private set; }

    public IEnumerable<KeyValuePair<PathElement, FieldSet>> Children => _children;

    public bool IsEmpty => _children.Count == 0;

    public void Insert(IReadOnlyList<PathElement> path)
    {
        var node = this;
        foreach (var pe in path) node = node.Child(pe);
        if (path.Count > 0) node.IsMember = true;
    }

    public FieldSet? Get(PathElement pe) => _children.TryGetValue(pe, out var c) ? c : null;

    public bool Has(IReadOnlyList<PathElement> path)
    {
        if (path.Count == 0) return false;
        var node = this;
        foreach (var pe in path)
        {
            node = node.Get(pe);
            if (node is null) return false;
        }
        return node.IsMember;
    }

    private FieldSet Child(PathElement pe)
    {
        if (!_children.TryGetValue(pe, out var c))
        {
            c = new FieldSet();
            _children[pe] = c;
        }
        return c;
    }

    private bool Blank => !IsMember && _children.Count == 0;

    public FieldSet Clone()
    {
        var copy = new FieldSet { IsMember = IsMember };
        foreach (var (pe, c) in _children) copy._children[pe] = c.Clone();
        return copy;
    }

    public FieldSet Union(FieldSet other)
    {
        var result = Clone();
        result.AddAll(other);
        return result;
    }

    private void AddAll(FieldSet other)
    {
        foreach (var (pe, c) in other._children)
        {
            var mine = Child(pe);
            if (c.IsMember) mine.IsMember = true;
            mine.AddAll(c);
        }
    }

    /// <summary>Paths of this set that are not in <paramref name="other"/>.</summary>
    public FieldSet Difference(FieldSet other) => Combine(other, (a, b) => a && !b, recursive: false);

    public FieldSet Intersection(FieldSet other) => Combine(other, (a, b) => a && b, recursive: false);

    /// <summary>Paths of this set that neither are in <paramref name="other"/> nor lie under one of its members.</summary>
    public FieldSet RecursiveDifference(FieldSet other) => Combine(other, (a, b) => a && !b, recursive: true);

    private FieldSet Combine(FieldSet other, Func<bool, bool, bool> keep, bool recursive)
    {
        var result = new FieldSet();
        foreach (var (pe, c) in _children)
        {
            var o = other.Get(pe);
            if (o is null)
            {
                if (keep(true, false)) result._children[pe] = c.Clone();
                continue;
            }
            if (recursive && o.IsMember) continue;
            var sub = c.Combine(o, keep, recursive);
            sub.IsMember = keep(c.IsMember, o.IsMember);
            if (!sub.Blank) result._children[pe] = sub;
        }
        return result;
    }

    /// <summary>Every member path in upstream's iteration order (members before deeper paths of the same element).</summary>
    public IEnumerable<List<PathElement>> Paths()
    {
        foreach (var (pe, c) in _children)
        {
            if (c.IsMember) yield return [pe];
            foreach (var rest in c.Paths()) yield return [pe, .. rest];
        }
    }

    public static string Display(IEnumerable<PathElement> path) => string.Concat(path.Select(p => p.Display()));

    public JsonObject ToFieldsV1()
    {
        var obj = new JsonObject();
        foreach (var (pe, c) in _children)
        {
            var inner = c.ToFieldsV1();
            if (c.IsMember && c._children.Count > 0)
            {
                var withSelf = new JsonObject { ["."] = new JsonObject() };
                foreach (var (k, v) in inner.ToList())
                {
                    inner.Remove(k);
                    withSelf[k] = v;
                }
                inner = withSelf;
            }
            obj[pe.Text] = inner;
        }
        return obj;
    }

    /// <summary>Reads fieldsV1; an empty object below a key makes that path a member, "." marks a node with children.</summary>
    public static FieldSet FromFieldsV1(JsonNode? node)
    {
        var set = new FieldSet();
        if (node is not JsonObject obj) return set;
        foreach (var (key, value) in obj)
        {
            if (key == ".") continue;
            var pe = PathElement.Parse(key);
            if (pe is null) continue;
            var child = FromFieldsV1(value);
            var inner = value as JsonObject;
            child.IsMember = inner is null || inner.Count == 0 || inner.ContainsKey(".");
            set._children[pe] = child;
        }
        return set;
    }
}

using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Kcm.Controllers.Common.GoSpew;

/// <summary>
/// What go-spew writes for Fprintf("%#v", value) with SortKeys and DisableMethods (hashutil.DeepHashObject), for a
/// Go value described by <see cref="GoTypes"/> and held as its JSON form. The JSON is read as a protobuf-decoded
/// Go value would be (upstream's informers decode protobuf): an empty list or map is nil, an absent field is Go's
/// zero value, a present pointer is non-nil. Values whose Go state JSON does not carry (non-zero times, managed
/// fields, quantities beyond int64) raise <see cref="NotSupportedException"/>.
/// </summary>
internal sealed class SpewPrinter
{
    private readonly StringBuilder _out = new();

    // spew's ignoreNextType: set for slice and map elements and behind a pointer, cleared once a value is printed.
    private bool _ignoreNextType;

    public static string Print(string type, JsonNode? value)
    {
        var printer = new SpewPrinter();
        printer.Format(type, value);
        return printer._out.ToString();
    }

    private void Format(string type, JsonNode? value)
    {
        if (type.StartsWith('*'))
        {
            FormatPointer(type, value);
            return;
        }
        if (!_ignoreNextType) _out.Append('(').Append(GoTypes.GoName(type)).Append(')');
        _ignoreNextType = false;

        var underlying = GoTypes.Underlying(type);
        switch (underlying)
        {
            case "string":
                _out.Append(value is null ? "" : Text(value));
                return;
            case "bool":
                _out.Append(value is JsonValue b && b.GetValueKind() == JsonValueKind.True ? "true" : "false");
                return;
            case "int" or "int32" or "int64" or "uint64" or "uint32":
                _out.Append(value is null ? "0" : Integer(value));
                return;
            case "resource.Quantity":
                FormatQuantity(value);
                return;
            case "intstr.IntOrString":
                FormatIntOrString(value);
                return;
            case "meta.Time":
                if (value is not null && Text(value).Length > 0) throw new NotSupportedException("a non-zero time's Go state (wall, ext, location) is not modelled");
                _out.Append("{Time:(time.Time){wall:(uint64)0 ext:(int64)0 loc:(*time.Location)<nil>}}");
                return;
            case "meta.FieldsV1":
                throw new NotSupportedException("managed fields are not modelled");
        }
        if (underlying.StartsWith("[]", StringComparison.Ordinal))
        {
            if (value is not JsonArray { Count: > 0 } items)
            {
                _out.Append("<nil>");
                return;
            }
            _out.Append('[');
            for (var i = 0; i < items.Count; i++)
            {
                if (i > 0) _out.Append(' ');
                _ignoreNextType = true;
                Format(underlying[2..], items[i]);
            }
            _out.Append(']');
            return;
        }
        if (underlying.StartsWith("map[", StringComparison.Ordinal))
        {
            if (value is not JsonObject { Count: > 0 } map)
            {
                _out.Append("<nil>");
                return;
            }
            var close = underlying.IndexOf(']', StringComparison.Ordinal);
            var keyType = underlying[4..close];
            var valueType = underlying[(close + 1)..];
            if (GoTypes.Underlying(keyType) != "string") throw new NotSupportedException($"map keys of type {keyType}");
            _out.Append("map[");
            var first = true;
            // SortKeys orders string keys as Go compares strings: by their UTF-8 bytes.
            foreach (var (key, item) in map.OrderBy(p => Encoding.UTF8.GetBytes(p.Key), ByteOrder.Instance))
            {
                if (!first) _out.Append(' ');
                first = false;
                _ignoreNextType = true;
                Format(keyType, JsonValue.Create(key));
                _out.Append(':');
                _ignoreNextType = true;
                Format(valueType, item);
            }
            _out.Append(']');
            return;
        }
        if (GoTypes.Struct(type) is { } fields)
        {
            FormatStruct(fields, value as JsonObject);
            return;
        }
        throw new NotSupportedException($"Go type {type} is not in the table");
    }

    private void FormatStruct(GoField[] fields, JsonObject? obj)
    {
        _out.Append('{');
        for (var i = 0; i < fields.Length; i++)
        {
            if (i > 0) _out.Append(' ');
            var field = fields[i];
            _out.Append(field.Name).Append(':');
            Format(field.Type, field.Inline ? obj : obj?[field.Json]);
        }
        _out.Append('}');
    }

    private void FormatPointer(string type, JsonNode? value)
    {
        var isNil = value is null;
        if (isNil && _ignoreNextType)
        {
            _out.Append("<nil>");
            return;
        }
        var elem = type[1..];
        if (!_ignoreNextType) _out.Append('(').Append(GoTypes.GoName(type)).Append(')');
        else _out.Append("<*>");
        if (isNil)
        {
            _out.Append("<nil>");
            return;
        }
        _ignoreNextType = true;
        Format(elem, value);
    }

    private void FormatQuantity(JsonNode? value)
    {
        var q = value is null ? new GoQuantity(0, 0, "", "") : GoQuantity.Parse(Text(value));
        _out.Append(CultureInfo.InvariantCulture,
            $"{{i:(resource.int64Amount){{value:(int64){q.Value} scale:(resource.Scale){q.Scale}}} d:(resource.infDecAmount){{Dec:(*inf.Dec)<nil>}} s:(string){q.Cached} Format:(resource.Format){q.Format}}}");
    }

    private void FormatIntOrString(JsonNode? value)
    {
        var (kind, number, text) = value is JsonValue v && v.GetValueKind() == JsonValueKind.String ? (1, "0", v.GetValue<string>()) : (0, value is null ? "0" : Integer(value), "");
        _out.Append(CultureInfo.InvariantCulture, $"{{Type:(intstr.Type){kind} IntVal:(int32){number} StrVal:(string){text}}}");
    }

    private static string Text(JsonNode value)
        => value is JsonValue v && v.GetValueKind() == JsonValueKind.String ? v.GetValue<string>() : value.ToJsonString();

    private static string Integer(JsonNode value)
        => value is JsonValue v && v.GetValueKind() == JsonValueKind.Number && long.TryParse(v.ToJsonString(), NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var n)
            ? n.ToString(CultureInfo.InvariantCulture)
            : throw new NotSupportedException($"not an integer: {value.ToJsonString()}");

    private sealed class ByteOrder : IComparer<byte[]>
    {
        public static ByteOrder Instance { get; } = new();

        public int Compare(byte[]? x, byte[]? y) => x.AsSpan().SequenceCompareTo(y);
    }
}

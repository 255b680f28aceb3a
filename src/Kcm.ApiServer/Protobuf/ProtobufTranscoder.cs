using System.Buffers.Binary;
using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Kcm.Api.Codecs;

namespace Kcm.ApiServer.Protobuf;

/// <summary>
/// Turns a Kubernetes protobuf request body ("k8s\0" + runtime.Unknown envelope) into the JSON object
/// the rest of the server works on, with the JSON names and encodings upstream's types marshal to:
/// Quantity as a string, IntOrString as a number or string, Time as RFC 3339, RawExtension as the
/// embedded JSON, bytes as base64. Zero-valued strings and times are dropped as Go's omitempty would.
/// </summary>
public static class ProtobufTranscoder
{
    public const string MediaType = "application/vnd.kubernetes.protobuf";

    private static ReadOnlySpan<byte> Magic => "k8s\0"u8;

    private const string Meta = "k8s.io.apimachinery.pkg.apis.meta.v1.";
    private const int MaxDepth = 100;
    // Unix seconds of Go's zero time.Time, which marshals as a null timestamp.
    private const long GoZeroTimeSeconds = -62135596800;

    public static JsonObject Decode(ReadOnlySpan<byte> body)
    {
        if (!body.StartsWith(Magic))
        {
            throw new ProtobufDecodeException("provided data does not appear to be a protobuf message, expected prefix [107 56 115 0]");
        }
        string apiVersion = "", kind = "", contentEncoding = "";
        ReadOnlySpan<byte> raw = default;
        var reader = new Reader(body[Magic.Length..]);
        while (reader.Next(out var number, out var wire))
        {
            switch (number)
            {
                case 1 when wire == 2:
                    var typeMeta = new Reader(reader.Bytes());
                    while (typeMeta.Next(out var n, out var w))
                    {
                        if (n == 1 && w == 2) apiVersion = typeMeta.String();
                        else if (n == 2 && w == 2) kind = typeMeta.String();
                        else typeMeta.Skip(w);
                    }
                    break;
                case 2 when wire == 2: raw = reader.Bytes(); break;
                case 3 when wire == 2: contentEncoding = reader.String(); break;
                default: reader.Skip(wire); break;
            }
        }
        if (contentEncoding.Length > 0) throw new ProtobufDecodeException($"unsupported protobuf content encoding \"{contentEncoding}\"");
        if (kind.Length == 0) throw new ProtobufDecodeException("Object 'Kind' is missing in protobuf envelope");
        var message = ProtoSchema.MessageFor(apiVersion, kind)
            ?? throw new ProtobufDecodeException($"no kind \"{kind}\" is registered for version \"{apiVersion}\"");
        var obj = new JsonObject { ["apiVersion"] = apiVersion, ["kind"] = kind };
        foreach (var (name, value) in DecodeFields(raw, message, 0)) obj[name] = value;
        return obj;
    }

    private static JsonNode? DecodeMessage(ReadOnlySpan<byte> bytes, string message, int depth)
    {
        if (depth > MaxDepth) throw new ProtobufDecodeException("protobuf message nested too deeply");
        switch (message)
        {
            case Meta + "Time":
            case Meta + "MicroTime":
                var (seconds, nanos) = ReadTimestamp(bytes);
                // Go's zero time marshals as an empty message (or, from older encoders, as year 1): JSON null.
                if (nanos == 0 && seconds is 0 or GoZeroTimeSeconds) return null;
                var time = DateTimeOffset.FromUnixTimeSeconds(seconds).AddTicks(nanos / 100).UtcDateTime;
                return message.EndsWith("MicroTime", StringComparison.Ordinal)
                    ? time.ToString("yyyy-MM-dd'T'HH:mm:ss.ffffff'Z'", CultureInfo.InvariantCulture)
                    : time.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture);
            case Meta + "Duration":
                return GoDuration.Format(ReadSingleVarint(bytes, 1));
            case "k8s.io.apimachinery.pkg.api.resource.Quantity":
            case "k8s.io.apimachinery.pkg.api.resource.QuantityValue":
                return ReadSingleString(bytes, 1);
            case "k8s.io.apimachinery.pkg.util.intstr.IntOrString":
                return ReadIntOrString(bytes);
            case "k8s.io.apimachinery.pkg.runtime.RawExtension":
            case Meta + "FieldsV1":
                return ParseEmbeddedJson(bytes);
        }
        var fields = ProtoSchema.Fields(message) ?? throw new ProtobufDecodeException($"unknown protobuf message {message}");
        // Named slice types (authentication's ExtraValue, …) are a message with one repeated "items" field; JSON has the bare list.
        if (fields.Count == 1 && fields.TryGetValue(1, out var only) && only.Repeated && only.Name == "items")
        {
            var list = DecodeFields(bytes, message, depth).FirstOrDefault().Value;
            return list ?? new JsonArray();
        }
        var obj = new JsonObject();
        foreach (var (name, value) in DecodeFields(bytes, message, depth)) obj[name] = value;
        return obj;
    }

    private static List<KeyValuePair<string, JsonNode?>> DecodeFields(ReadOnlySpan<byte> bytes, string message, int depth)
    {
        var fields = ProtoSchema.Fields(message) ?? throw new ProtobufDecodeException($"unknown protobuf message {message}");
        var result = new List<KeyValuePair<string, JsonNode?>>();
        var index = new Dictionary<int, int>();
        var reader = new Reader(bytes);
        while (reader.Next(out var number, out var wire))
        {
            if (!fields.TryGetValue(number, out var field) || !ProtoSchema.IsServed(message, field))
            {
                reader.Skip(wire); // As gogo's generated unmarshallers: unknown fields are skipped.
                continue;
            }
            var jsonName = ProtoSchema.JsonName(message, field);
            if (field.Kind == ProtoKind.Map)
            {
                if (wire != 2) throw WrongWireType(message, field);
                var (key, value) = ReadMapEntry(reader.Bytes(), field, depth);
                Slot(result, index, number, jsonName, () => new JsonObject())[key] = value;
                continue;
            }
            if (field.Repeated)
            {
                var array = Slot(result, index, number, jsonName, () => new JsonArray());
                if (wire == 2 && IsPackable(field.Kind))
                {
                    var packed = new Reader(reader.Bytes());
                    while (!packed.AtEnd) array.Add(ReadScalar(ref packed, field, WireTypeOf(field.Kind), message));
                }
                else
                {
                    array.Add(ReadValue(ref reader, field, wire, message, depth));
                }
                continue;
            }
            var single = ReadValue(ref reader, field, wire, message, depth);
            if (single is null || single.GetValueKind() == JsonValueKind.String && single.GetValue<string>().Length == 0
                || message == Meta + "ObjectMeta" && field.Name == "generation" && single.GetValue<long>() == 0)
            {
                Remove(result, index, number);
                continue;
            }
            Set(result, index, number, jsonName, single);
        }
        return result;
    }

    private static JsonNode? ReadValue(ref Reader reader, ProtoField field, int wire, string message, int depth)
    {
        if (field.Kind != ProtoKind.Message) return ReadScalar(ref reader, field, wire, message);
        if (wire != 2) throw WrongWireType(message, field);
        return DecodeMessage(reader.Bytes(), field.Message!, depth + 1);
    }

    private static JsonNode? ReadScalar(ref Reader reader, ProtoField field, int wire, string message)
        => ReadScalar(ref reader, field.Kind, wire) ?? throw WrongWireType(message, field);

    private static JsonNode? ReadScalar(ref Reader reader, ProtoKind kind, int wire)
    {
        if (wire != WireTypeOf(kind)) return null;
        return kind switch
        {
            ProtoKind.String => JsonValue.Create(reader.String()),
            ProtoKind.Bytes => JsonValue.Create(Convert.ToBase64String(reader.Bytes())),
            ProtoKind.Bool => JsonValue.Create(reader.Varint() != 0),
            ProtoKind.Int32 => JsonValue.Create((int)reader.Varint()),
            ProtoKind.Int64 => JsonValue.Create((long)reader.Varint()),
            ProtoKind.UInt32 => JsonValue.Create((uint)reader.Varint()),
            ProtoKind.UInt64 => JsonValue.Create(reader.Varint()),
            ProtoKind.SInt32 => JsonValue.Create((int)ZigZag(reader.Varint())),
            ProtoKind.SInt64 => JsonValue.Create(ZigZag(reader.Varint())),
            ProtoKind.Double => JsonValue.Create(BitConverter.Int64BitsToDouble((long)reader.Fixed64())),
            ProtoKind.Fixed64 => JsonValue.Create(reader.Fixed64()),
            ProtoKind.SFixed64 => JsonValue.Create((long)reader.Fixed64()),
            ProtoKind.Float => JsonValue.Create(BitConverter.Int32BitsToSingle((int)reader.Fixed32())),
            ProtoKind.Fixed32 => JsonValue.Create(reader.Fixed32()),
            ProtoKind.SFixed32 => JsonValue.Create((int)reader.Fixed32()),
            _ => null,
        };
    }

    private static (string Key, JsonNode? Value) ReadMapEntry(ReadOnlySpan<byte> bytes, ProtoField field, int depth)
    {
        string key = "";
        JsonNode? value = field.MapValue == ProtoKind.String ? JsonValue.Create("") : null;
        var entry = new Reader(bytes);
        while (entry.Next(out var number, out var wire))
        {
            if (number == 1)
            {
                key = ReadScalar(ref entry, field.MapKey, wire)?.ToString() ?? throw new ProtobufDecodeException($"bad map key in field {field.Name}");
            }
            else if (number == 2)
            {
                value = field.MapValue == ProtoKind.Message
                    ? (wire == 2 ? DecodeMessage(entry.Bytes(), field.Message!, depth + 1) : throw new ProtobufDecodeException($"bad map value in field {field.Name}"))
                    : ReadScalar(ref entry, field.MapValue, wire) ?? throw new ProtobufDecodeException($"bad map value in field {field.Name}");
            }
            else entry.Skip(wire);
        }
        return (key, value);
    }

    private static (long Seconds, int Nanos) ReadTimestamp(ReadOnlySpan<byte> bytes)
    {
        long seconds = 0;
        int nanos = 0;
        var reader = new Reader(bytes);
        while (reader.Next(out var number, out var wire))
        {
            if (number == 1 && wire == 0) seconds = (long)reader.Varint();
            else if (number == 2 && wire == 0) nanos = (int)reader.Varint();
            else reader.Skip(wire);
        }
        return (seconds, nanos);
    }

    private static long ReadSingleVarint(ReadOnlySpan<byte> bytes, int wanted)
    {
        long value = 0;
        var reader = new Reader(bytes);
        while (reader.Next(out var number, out var wire))
        {
            if (number == wanted && wire == 0) value = (long)reader.Varint();
            else reader.Skip(wire);
        }
        return value;
    }

    private static string ReadSingleString(ReadOnlySpan<byte> bytes, int wanted)
    {
        var value = "";
        var reader = new Reader(bytes);
        while (reader.Next(out var number, out var wire))
        {
            if (number == wanted && wire == 2) value = reader.String();
            else reader.Skip(wire);
        }
        return value;
    }

    private static JsonNode ReadIntOrString(ReadOnlySpan<byte> bytes)
    {
        long type = 0;
        int intVal = 0;
        var strVal = "";
        var reader = new Reader(bytes);
        while (reader.Next(out var number, out var wire))
        {
            if (number == 1 && wire == 0) type = (long)reader.Varint();
            else if (number == 2 && wire == 0) intVal = (int)reader.Varint();
            else if (number == 3 && wire == 2) strVal = reader.String();
            else reader.Skip(wire);
        }
        return type == 1 ? JsonValue.Create(strVal) : JsonValue.Create(intVal);
    }

    private static JsonNode? ParseEmbeddedJson(ReadOnlySpan<byte> bytes)
    {
        var raw = ReadSingleBytes(bytes);
        if (raw.Length == 0) return null;
        try
        {
            return JsonNode.Parse(raw);
        }
        catch (JsonException e)
        {
            throw new ProtobufDecodeException($"embedded object is not JSON: {e.Message}");
        }
    }

    private static byte[] ReadSingleBytes(ReadOnlySpan<byte> bytes)
    {
        byte[] value = [];
        var reader = new Reader(bytes);
        while (reader.Next(out var number, out var wire))
        {
            if (number == 1 && wire == 2) value = reader.Bytes().ToArray();
            else reader.Skip(wire);
        }
        return value;
    }

    private static T Slot<T>(List<KeyValuePair<string, JsonNode?>> result, Dictionary<int, int> index, int number, string name, Func<T> create) where T : JsonNode
    {
        if (index.TryGetValue(number, out var i) && result[i].Value is T existing) return existing;
        var created = create();
        Set(result, index, number, name, created);
        return created;
    }

    private static void Set(List<KeyValuePair<string, JsonNode?>> result, Dictionary<int, int> index, int number, string name, JsonNode value)
    {
        if (index.TryGetValue(number, out var i)) result[i] = new(name, value);
        else
        {
            index[number] = result.Count;
            result.Add(new(name, value));
        }
    }

    private static void Remove(List<KeyValuePair<string, JsonNode?>> result, Dictionary<int, int> index, int number)
    {
        if (!index.Remove(number, out var i)) return;
        result.RemoveAt(i);
        foreach (var key in index.Keys.ToList()) if (index[key] > i) index[key]--;
    }

    private static bool IsPackable(ProtoKind kind) => kind is not (ProtoKind.String or ProtoKind.Bytes or ProtoKind.Message or ProtoKind.Map);

    private static int WireTypeOf(ProtoKind kind) => kind switch
    {
        ProtoKind.String or ProtoKind.Bytes or ProtoKind.Message or ProtoKind.Map => 2,
        ProtoKind.Double or ProtoKind.Fixed64 or ProtoKind.SFixed64 => 1,
        ProtoKind.Float or ProtoKind.Fixed32 or ProtoKind.SFixed32 => 5,
        _ => 0,
    };

    private static long ZigZag(ulong v) => (long)(v >> 1) ^ -(long)(v & 1);

    private static ProtobufDecodeException WrongWireType(string message, ProtoField field)
        => new($"proto: wrong wireType for field {ProtoSchema.DefinitionName(message)}.{field.Name}");

    /// <summary>A forward-only reader of protobuf wire format over a span.</summary>
    private ref struct Reader(ReadOnlySpan<byte> data)
    {
        private readonly ReadOnlySpan<byte> _data = data;
        private int _pos;

        public readonly bool AtEnd => _pos >= _data.Length;

        public bool Next(out int number, out int wire)
        {
            number = wire = 0;
            if (AtEnd) return false;
            var tag = Varint();
            number = (int)(tag >> 3);
            wire = (int)(tag & 7);
            if (number <= 0) throw new ProtobufDecodeException("proto: illegal tag 0");
            return true;
        }

        public ulong Varint()
        {
            ulong result = 0;
            for (var shift = 0; shift < 64; shift += 7)
            {
                if (_pos >= _data.Length) throw new ProtobufDecodeException("unexpected EOF");
                var b = _data[_pos++];
                result |= (ulong)(b & 0x7f) << shift;
                if ((b & 0x80) == 0) return result;
            }
            throw new ProtobufDecodeException("proto: integer overflow");
        }

        public ulong Fixed64()
        {
            if (_pos + 8 > _data.Length) throw new ProtobufDecodeException("unexpected EOF");
            var v = BinaryPrimitives.ReadUInt64LittleEndian(_data[_pos..]);
            _pos += 8;
            return v;
        }

        public uint Fixed32()
        {
            if (_pos + 4 > _data.Length) throw new ProtobufDecodeException("unexpected EOF");
            var v = BinaryPrimitives.ReadUInt32LittleEndian(_data[_pos..]);
            _pos += 4;
            return v;
        }

        public ReadOnlySpan<byte> Bytes()
        {
            var length = Varint();
            if (length > (ulong)(_data.Length - _pos)) throw new ProtobufDecodeException("unexpected EOF");
            var slice = _data.Slice(_pos, (int)length);
            _pos += (int)length;
            return slice;
        }

        public string String()
        {
            try
            {
                return new UTF8Encoding(false, true).GetString(Bytes());
            }
            catch (DecoderFallbackException)
            {
                throw new ProtobufDecodeException("proto: string field contains invalid UTF-8");
            }
        }

        public void Skip(int wire)
        {
            switch (wire)
            {
                case 0: Varint(); break;
                case 1: Fixed64(); break;
                case 2: Bytes(); break;
                case 5: Fixed32(); break;
                default: throw new ProtobufDecodeException($"proto: illegal wireType {wire}");
            }
        }
    }
}

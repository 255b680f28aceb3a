using System.Buffers;
using System.Globalization;
using System.Text;
using System.Text.Json;
using Kcm.Api.Codecs;

namespace Kcm.Api.Protobuf;

/// <summary>
/// Writes a JSON object of a built-in kind as Kubernetes protobuf ("k8s\0" + runtime.Unknown envelope), the inverse
/// of <see cref="ProtobufTranscoder"/>. Lossless or nothing: a JSON field the tables have no number for (an unknown
/// field kept by a typed object, a custom resource) makes <see cref="TryEncode(ReadOnlySpan{byte})"/> return null,
/// and the caller sends JSON instead, so no field is dropped on the way out.
/// </summary>
public static class ProtobufEncoder
{
    private const int MaxDepth = 100;

    /// <summary>The enveloped protobuf of a JSON object carrying apiVersion and kind; null when it cannot be encoded losslessly.</summary>
    public static byte[]? TryEncode(ReadOnlySpan<byte> json)
    {
        var reader = new Utf8JsonReader(json);
        if (!JsonDocument.TryParseValue(ref reader, out var document)) return null;
        using (document)
        {
            return TryEncode(document.RootElement);
        }
    }

    public static byte[]? TryEncode(JsonElement obj)
    {
        var buffer = new ArrayBufferWriter<byte>(1024);
        if (!TryWriteEnveloped(obj, buffer)) return null;
        return buffer.WrittenSpan.ToArray();
    }

    /// <summary>As <see cref="TryEncode(JsonElement)"/>, appending to <paramref name="output"/>; false (and nothing usable written) when it cannot.</summary>
    public static bool TryWriteEnveloped(JsonElement obj, ArrayBufferWriter<byte> output)
    {
        var body = TryEncodeMessage(obj, out var apiVersion, out var kind);
        if (body is null) return false;
        WriteEnvelope(output, apiVersion, kind, body);
        return true;
    }

    /// <summary>"k8s\0" and the runtime.Unknown around a message's bytes.</summary>
    public static void WriteEnvelope(IBufferWriter<byte> output, string apiVersion, string kind, ReadOnlySpan<byte> body)
    {
        output.Write(ProtobufTranscoder.Magic);
        var typeMeta = new ArrayBufferWriter<byte>(64);
        WriteString(typeMeta, 1, apiVersion);
        WriteString(typeMeta, 2, kind);
        WriteBytes(output, 1, typeMeta.WrittenSpan);
        WriteBytes(output, 2, body);
        // runtime.Unknown's contentEncoding and contentType, empty as upstream writes them.
        WriteBytes(output, 3, default);
        WriteBytes(output, 4, default);
    }

    /// <summary>The object's message bytes without the envelope (a list item, a watch event's object); null when not encodable.</summary>
    public static byte[]? TryEncodeMessage(JsonElement obj, out string apiVersion, out string kind)
    {
        apiVersion = kind = "";
        if (obj.ValueKind != JsonValueKind.Object) return null;
        if (obj.TryGetProperty("apiVersion"u8, out var v) && v.ValueKind == JsonValueKind.String) apiVersion = v.GetString()!;
        if (obj.TryGetProperty("kind"u8, out var k) && k.ValueKind == JsonValueKind.String) kind = k.GetString()!;
        if (!ProtobufTranscoder.Supports(apiVersion, kind) || ProtoSchema.MessageFor(apiVersion, kind) is not { } name) return null;
        var encoder = new Encoder();
        var output = new ArrayBufferWriter<byte>(1024);
        return encoder.WriteFields(obj, ProtoSchema.Message(name)!, output, 0, topLevel: true) ? output.WrittenSpan.ToArray() : null;
    }

    public static void WriteTag(IBufferWriter<byte> output, int number, int wire) => WriteVarint(output, (ulong)((number << 3) | wire));

    public static void WriteVarint(IBufferWriter<byte> output, ulong value)
    {
        var span = output.GetSpan(10);
        var i = 0;
        while (value >= 0x80)
        {
            span[i++] = (byte)(value | 0x80);
            value >>= 7;
        }
        span[i++] = (byte)value;
        output.Advance(i);
    }

    public static void WriteBytes(IBufferWriter<byte> output, int number, ReadOnlySpan<byte> bytes)
    {
        WriteTag(output, number, 2);
        WriteVarint(output, (ulong)bytes.Length);
        output.Write(bytes);
    }

    public static void WriteString(IBufferWriter<byte> output, int number, string text)
    {
        WriteTag(output, number, 2);
        var length = Encoding.UTF8.GetByteCount(text);
        WriteVarint(output, (ulong)length);
        var span = output.GetSpan(length);
        Encoding.UTF8.GetBytes(text, span);
        output.Advance(length);
    }

    private sealed class Encoder
    {
        private readonly ScratchBuffers _scratch = new();

        public bool WriteFields(JsonElement obj, ProtoMessage message, ArrayBufferWriter<byte> output, int depth, bool topLevel, bool inlineOnly = false)
        {
            if (depth > MaxDepth) return false;
            List<ProtoFieldInfo>? inlines = null;
            foreach (var property in obj.EnumerateObject())
            {
                if (topLevel && (property.NameEquals("apiVersion"u8) || property.NameEquals("kind"u8))) continue;
                if (message.ByJsonName.TryGetValue(property.Name, out var info))
                {
                    if (!WriteField(info, property.Value, output, depth, message)) return false;
                    continue;
                }
                if (inlineOnly) continue;
                var owner = InlineOwner(message, property.Name);
                if (owner is null) return false;
                inlines ??= [];
                if (!inlines.Contains(owner)) inlines.Add(owner);
            }
            foreach (var inline in inlines ?? [])
            {
                var scratch = new ArrayBufferWriter<byte>(256);
                if (!WriteFields(obj, inline.MessageType!, scratch, depth + 1, topLevel: false, inlineOnly: true)) return false;
                WriteBytes(output, inline.Field.Number, scratch.WrittenSpan);
            }
            return true;
        }

        private static ProtoFieldInfo? InlineOwner(ProtoMessage message, string jsonName)
        {
            foreach (var field in message.InOrder)
            {
                if (field.Inline && field.MessageType is { } inner && inner.ByJsonName.ContainsKey(jsonName)) return field;
            }
            return null;
        }

        private bool WriteField(ProtoFieldInfo info, JsonElement value, ArrayBufferWriter<byte> output, int depth, ProtoMessage parent)
        {
            if (value.ValueKind == JsonValueKind.Null) return true;
            var field = info.Field;
            if (field.Kind == ProtoKind.Map)
            {
                if (value.ValueKind != JsonValueKind.Object) return false;
                foreach (var entry in value.EnumerateObject())
                {
                    var scratch = _scratch.At(depth + 1);
                    if (field.MapKey == ProtoKind.String) WriteString(scratch, 1, entry.Name);
                    else if (long.TryParse(entry.Name, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var key))
                    {
                        WriteTag(scratch, 1, 0);
                        WriteVarint(scratch, (ulong)key);
                    }
                    else return false;
                    // The entry is complete in the scratch buffer before the value's own nested messages reuse deeper ones.
                    var entryBytes = new ArrayBufferWriter<byte>(scratch.WrittenCount + 64);
                    entryBytes.Write(scratch.WrittenSpan);
                    if (entry.Value.ValueKind != JsonValueKind.Null && !WriteValue(2, field.MapValue, info, entry.Value, entryBytes, depth + 1)) return false;
                    WriteBytes(output, field.Number, entryBytes.WrittenSpan);
                }
                return true;
            }
            if (field.Repeated)
            {
                if (value.ValueKind != JsonValueKind.Array) return false;
                foreach (var item in value.EnumerateArray())
                {
                    if (item.ValueKind == JsonValueKind.Null)
                    {
                        if (field.Kind != ProtoKind.Message) return false;
                        WriteBytes(output, field.Number, default);
                        continue;
                    }
                    if (!WriteValue(field.Number, field.Kind, info, item, output, depth)) return false;
                }
                return true;
            }
            return WriteValue(field.Number, field.Kind, info, value, output, depth);
        }

        // info is the field whose value (or map value, or list item) this is; only message kinds read it.
        private bool WriteValue(int number, ProtoKind kind, ProtoFieldInfo? info, JsonElement value, ArrayBufferWriter<byte> output, int depth)
        {
            switch (kind)
            {
                case ProtoKind.String:
                    if (value.ValueKind != JsonValueKind.String) return false;
                    WriteString(output, number, value.GetString()!);
                    return true;
                case ProtoKind.Bytes:
                    if (value.ValueKind != JsonValueKind.String || !value.TryGetBytesFromBase64(out var bytes)) return false;
                    WriteBytes(output, number, bytes);
                    return true;
                case ProtoKind.Bool:
                    if (value.ValueKind is not (JsonValueKind.True or JsonValueKind.False)) return false;
                    WriteTag(output, number, 0);
                    WriteVarint(output, value.ValueKind == JsonValueKind.True ? 1UL : 0UL);
                    return true;
                case ProtoKind.Int32 or ProtoKind.Int64 or ProtoKind.UInt32 or ProtoKind.UInt64 or ProtoKind.SInt32 or ProtoKind.SInt64:
                    if (value.ValueKind != JsonValueKind.Number) return false;
                    ulong varint;
                    if (kind == ProtoKind.UInt64 || kind == ProtoKind.UInt32)
                    {
                        if (!value.TryGetUInt64(out varint)) return false;
                    }
                    else
                    {
                        if (!value.TryGetInt64(out var signed)) return false;
                        varint = kind is ProtoKind.SInt32 or ProtoKind.SInt64 ? (ulong)((signed << 1) ^ (signed >> 63)) : (ulong)signed;
                    }
                    WriteTag(output, number, 0);
                    WriteVarint(output, varint);
                    return true;
                case ProtoKind.Double or ProtoKind.Fixed64 or ProtoKind.SFixed64:
                    if (value.ValueKind != JsonValueKind.Number) return false;
                    WriteTag(output, number, 1);
                    var span8 = output.GetSpan(8);
                    var bits = kind == ProtoKind.Double ? BitConverter.DoubleToInt64Bits(value.GetDouble())
                        : kind == ProtoKind.Fixed64 ? (long)value.GetUInt64() : value.GetInt64();
                    System.Buffers.Binary.BinaryPrimitives.WriteInt64LittleEndian(span8, bits);
                    output.Advance(8);
                    return true;
                case ProtoKind.Float or ProtoKind.Fixed32 or ProtoKind.SFixed32:
                    if (value.ValueKind != JsonValueKind.Number) return false;
                    WriteTag(output, number, 5);
                    var span4 = output.GetSpan(4);
                    var bits32 = kind == ProtoKind.Float ? BitConverter.SingleToInt32Bits(value.GetSingle())
                        : kind == ProtoKind.Fixed32 ? (int)value.GetUInt32() : value.GetInt32();
                    System.Buffers.Binary.BinaryPrimitives.WriteInt32LittleEndian(span4, bits32);
                    output.Advance(4);
                    return true;
                case ProtoKind.Message:
                    var scratch = _scratch.At(depth + 1);
                    if (info is null || !WriteMessage(info, value, scratch, depth + 1)) return false;
                    WriteBytes(output, number, scratch.WrittenSpan);
                    return true;
                default:
                    return false;
            }
        }

        private bool WriteMessage(ProtoFieldInfo info, JsonElement value, ArrayBufferWriter<byte> output, int depth)
        {
            switch (info.Special)
            {
                case ProtoSpecial.Time:
                case ProtoSpecial.MicroTime:
                    if (value.ValueKind != JsonValueKind.String
                        || !DateTimeOffset.TryParse(value.GetString(), CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var time)) return false;
                    var ticks = time.UtcTicks - DateTimeOffset.UnixEpoch.UtcTicks;
                    WriteTag(output, 1, 0);
                    WriteVarint(output, (ulong)Math.DivRem(ticks, TimeSpan.TicksPerSecond, out var rest) - (rest < 0 ? 1UL : 0UL));
                    var nanos = (rest < 0 ? rest + TimeSpan.TicksPerSecond : rest) * 100;
                    if (nanos != 0)
                    {
                        WriteTag(output, 2, 0);
                        WriteVarint(output, (ulong)nanos);
                    }
                    return true;
                case ProtoSpecial.Duration:
                    if (value.ValueKind != JsonValueKind.String || !GoDuration.TryParse(value.GetString()!, out var duration)) return false;
                    WriteTag(output, 1, 0);
                    WriteVarint(output, (ulong)(duration.Ticks * 100));
                    return true;
                case ProtoSpecial.Quantity:
                    if (value.ValueKind == JsonValueKind.String) WriteString(output, 1, value.GetString()!);
                    else if (value.ValueKind == JsonValueKind.Number) WriteString(output, 1, value.GetRawText());
                    else return false;
                    return true;
                case ProtoSpecial.IntOrString:
                    if (value.ValueKind == JsonValueKind.Number && value.TryGetInt32(out var i))
                    {
                        WriteTag(output, 1, 0);
                        WriteVarint(output, 0);
                        WriteTag(output, 2, 0);
                        WriteVarint(output, (ulong)(long)i);
                        return true;
                    }
                    if (value.ValueKind != JsonValueKind.String) return false;
                    WriteTag(output, 1, 0);
                    WriteVarint(output, 1);
                    WriteString(output, 3, value.GetString()!);
                    return true;
                case ProtoSpecial.RawJson:
                    WriteBytes(output, 1, Encoding.UTF8.GetBytes(value.GetRawText()));
                    return true;
            }
            var message = info.MessageType;
            if (message is null) return false;
            if (message.IsNamedSlice)
            {
                if (value.ValueKind != JsonValueKind.Array) return false;
                var item = message.InOrder[0];
                foreach (var element in value.EnumerateArray())
                {
                    if (!WriteValue(1, item.Field.Kind, item, element, output, depth)) return false;
                }
                return true;
            }
            return value.ValueKind == JsonValueKind.Object && WriteFields(value, message, output, depth, topLevel: false);
        }
    }
}

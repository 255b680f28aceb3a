using System.Buffers;
using System.Collections;
using System.Collections.Concurrent;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization.Metadata;
using Kcm.Api.Codecs;

namespace Kcm.Api.Protobuf;

/// <summary>
/// Writes a generated object straight to Kubernetes protobuf, the bytes <see cref="ProtobufEncoder"/> would make of
/// its JSON without writing and parsing the JSON: times at the precision their JSON has, quantities and IntOrStrings
/// as their JSON text. Lossless or nothing, like the encoder: a property without a protobuf number, unknown fields
/// kept by the object, or a value of an unmodelled shape make <see cref="TryWrite"/> return null, and the caller
/// sends what it sent before (the JSON, through the encoder).
/// </summary>
public static class ProtobufObjectWriter
{
    private const int MaxDepth = 100;

    private static readonly ConcurrentDictionary<(ProtoMessage, Type), Plan?> Plans = new();

    /// <summary>The enveloped protobuf of <paramref name="obj"/> as <paramref name="apiVersion"/>/<paramref name="kind"/>; null when not possible.</summary>
    public static byte[]? TryWrite(object obj, string apiVersion, string kind)
    {
        if (!ProtobufTranscoder.Supports(apiVersion, kind) || ProtoSchema.MessageFor(apiVersion, kind) is not { } name) return null;
        if (KubeJson.Context.GetTypeInfo(obj.GetType()) is not { Kind: JsonTypeInfoKind.Object } typeInfo) return null;
        if (PlanFor(ProtoSchema.Message(name)!, typeInfo) is not { } plan) return null;
        var writer = new Writer();
        var body = new ArrayBufferWriter<byte>(1024);
        try
        {
            if (!writer.WriteFields(obj, plan, body, 0, topLevel: true)) return null;
        }
        catch (Exception e) when (e is ArgumentException or InvalidCastException or OverflowException or FormatException)
        {
            return null;
        }
        var output = new ArrayBufferWriter<byte>(body.WrittenCount + 64);
        ProtobufEncoder.WriteEnvelope(output, apiVersion, kind, body.WrittenSpan);
        return output.WrittenSpan.ToArray();
    }

    /// <summary>Each property of a type with the protobuf field it goes to (directly, or inside an inline message).</summary>
    private sealed class Plan(ProtoMessage message, JsonTypeInfo typeInfo, PropertyPlan[] properties, ProtoFieldInfo[] inlines)
    {
        public ProtoMessage Message { get; } = message;

        public JsonTypeInfo TypeInfo { get; } = typeInfo;

        public PropertyPlan[] Properties { get; } = properties;

        public ProtoFieldInfo[] Inlines { get; } = inlines;
    }

    /// <summary>A property and its field; no field means the property has no protobuf form (apiVersion/kind are the envelope's).</summary>
    private sealed class PropertyPlan(JsonPropertyInfo property, ProtoFieldInfo? field, ProtoFieldInfo? inlineOwner, bool isTypeMeta)
    {
        public JsonPropertyInfo Property { get; } = property;

        public ProtoFieldInfo? Field { get; } = field;

        public ProtoFieldInfo? InlineOwner { get; } = inlineOwner;

        public bool IsTypeMeta { get; } = isTypeMeta;

        // The plan for the field's message type (the element's for lists, the value's for maps), made on first use.
        private Plan? _child;
        private Type? _childType;

        public Plan? Child(Type type)
        {
            if (_childType != type)
            {
                _child = Field?.MessageType is { } message && KubeJson.Context.GetTypeInfo(type) is { } typeInfo ? PlanFor(message, typeInfo) : null;
                _childType = type;
            }
            return _child;
        }
    }

    private static Plan? PlanFor(ProtoMessage message, JsonTypeInfo typeInfo)
        => Plans.GetOrAdd((message, typeInfo.Type), static (key, info) => Create(key.Item1, info), typeInfo);

    private static Plan? Create(ProtoMessage message, JsonTypeInfo typeInfo)
    {
        if (typeInfo.Kind != JsonTypeInfoKind.Object || message.IsNamedSlice) return null;
        var properties = new List<PropertyPlan>();
        var inlines = new List<ProtoFieldInfo>();
        foreach (var property in typeInfo.Properties)
        {
            if (property.Get is null) continue;
            if (property.IsExtensionData)
            {
                properties.Add(new PropertyPlan(property, null, null, isTypeMeta: false));
                continue;
            }
            if (message.ByJsonName.TryGetValue(property.Name, out var field))
            {
                properties.Add(new PropertyPlan(property, field, null, isTypeMeta: false));
                continue;
            }
            var owner = message.InOrder.FirstOrDefault(f => f.Inline && f.MessageType is { } inner && inner.ByJsonName.ContainsKey(property.Name));
            if (owner is not null)
            {
                properties.Add(new PropertyPlan(property, owner.MessageType!.ByJsonName[property.Name], owner, isTypeMeta: false));
                if (!inlines.Contains(owner)) inlines.Add(owner);
                continue;
            }
            properties.Add(new PropertyPlan(property, null, null, isTypeMeta: property.Name is "apiVersion" or "kind"));
        }
        return new Plan(message, typeInfo, [.. properties], [.. inlines]);
    }

    private sealed class Writer
    {
        private readonly ScratchBuffers _scratch = new();

        public bool WriteFields(object obj, Plan plan, ArrayBufferWriter<byte> output, int depth, bool topLevel, ProtoFieldInfo? inline = null)
        {
            if (depth > MaxDepth) return false;
            var anyInline = false;
            foreach (var p in plan.Properties)
            {
                if (p.InlineOwner != inline)
                {
                    if (inline is null && p.Property.Get!(obj) is not null) anyInline = true;
                    continue;
                }
                var value = p.Property.Get!(obj);
                if (value is null) continue;
                if (p.Field is null)
                {
                    if (p.Property.IsExtensionData)
                    {
                        // Unknown fields kept by the object go as JSON; the encoder decides what they become.
                        if (value is ICollection { Count: > 0 }) return false;
                        continue;
                    }
                    if (topLevel && p.IsTypeMeta) continue;
                    return false;
                }
                if (!WriteField(p, value, output, depth)) return false;
            }
            if (inline is null && anyInline)
            {
                // An inline struct (Volume's VolumeSource) is written when any of its fields is there, as the encoder does.
                foreach (var owner in plan.Inlines)
                {
                    if (!HasAny(obj, plan, owner)) continue;
                    var scratch = new ArrayBufferWriter<byte>(256);
                    if (!WriteFields(obj, plan, scratch, depth + 1, topLevel: false, owner)) return false;
                    ProtobufEncoder.WriteBytes(output, owner.Field.Number, scratch.WrittenSpan);
                }
            }
            return true;
        }

        private static bool HasAny(object obj, Plan plan, ProtoFieldInfo owner)
        {
            foreach (var p in plan.Properties)
            {
                if (p.InlineOwner == owner && p.Property.Get!(obj) is not null) return true;
            }
            return false;
        }

        private bool WriteField(PropertyPlan p, object value, ArrayBufferWriter<byte> output, int depth)
        {
            var field = p.Field!.Field;
            if (value is DateTimeOffset time && time == default && !field.Repeated && p.Field.Special is ProtoSpecial.Time or ProtoSpecial.MicroTime)
            {
                // The zero time is JSON null: left out.
                return true;
            }
            if (field.Kind == ProtoKind.Map)
            {
                if (value is not IDictionary map || field.MapKey != ProtoKind.String) return false;
                foreach (DictionaryEntry entry in map)
                {
                    if (entry.Key is not string key) return false;
                    var scratch = _scratch.At(depth + 1);
                    ProtobufEncoder.WriteString(scratch, 1, key);
                    // The entry is complete in the scratch buffer before the value's own nested messages reuse deeper ones.
                    var entryBytes = new ArrayBufferWriter<byte>(scratch.WrittenCount + 64);
                    entryBytes.Write(scratch.WrittenSpan);
                    if (entry.Value is not null && !WriteValue(2, field.MapValue, p, entry.Value, entryBytes, depth + 1)) return false;
                    ProtobufEncoder.WriteBytes(output, field.Number, entryBytes.WrittenSpan);
                }
                return true;
            }
            if (field.Repeated)
            {
                if (value is not IList list) return false;
                foreach (var item in list)
                {
                    if (item is null)
                    {
                        if (field.Kind != ProtoKind.Message) return false;
                        ProtobufEncoder.WriteBytes(output, field.Number, default);
                        continue;
                    }
                    if (!WriteValue(field.Number, field.Kind, p, item, output, depth)) return false;
                }
                return true;
            }
            return WriteValue(field.Number, field.Kind, p, value, output, depth);
        }

        private bool WriteValue(int number, ProtoKind kind, PropertyPlan p, object value, ArrayBufferWriter<byte> output, int depth)
        {
            switch (kind)
            {
                case ProtoKind.String:
                    if (value is not string text) return false;
                    ProtobufEncoder.WriteString(output, number, text);
                    return true;
                case ProtoKind.Bytes:
                    if (value is not byte[] bytes) return false;
                    ProtobufEncoder.WriteBytes(output, number, bytes);
                    return true;
                case ProtoKind.Bool:
                    if (value is not bool flag) return false;
                    ProtobufEncoder.WriteTag(output, number, 0);
                    ProtobufEncoder.WriteVarint(output, flag ? 1UL : 0UL);
                    return true;
                case ProtoKind.Int32 or ProtoKind.Int64 or ProtoKind.SInt32 or ProtoKind.SInt64 or ProtoKind.UInt32 or ProtoKind.UInt64:
                    long signed;
                    switch (value)
                    {
                        case int i: signed = i; break;
                        case long l: signed = l; break;
                        default: return false;
                    }
                    if (kind is ProtoKind.UInt32 or ProtoKind.UInt64 && signed < 0) return false;
                    ProtobufEncoder.WriteTag(output, number, 0);
                    ProtobufEncoder.WriteVarint(output, kind is ProtoKind.SInt32 or ProtoKind.SInt64 ? (ulong)((signed << 1) ^ (signed >> 63)) : (ulong)signed);
                    return true;
                case ProtoKind.Double:
                    if (value is not double d) return false;
                    ProtobufEncoder.WriteTag(output, number, 1);
                    System.Buffers.Binary.BinaryPrimitives.WriteInt64LittleEndian(output.GetSpan(8), BitConverter.DoubleToInt64Bits(d));
                    output.Advance(8);
                    return true;
                case ProtoKind.Message:
                    var scratch = _scratch.At(depth + 1);
                    if (!WriteMessage(p, value, scratch, depth + 1)) return false;
                    ProtobufEncoder.WriteBytes(output, number, scratch.WrittenSpan);
                    return true;
                default:
                    return false;
            }
        }

        private bool WriteMessage(PropertyPlan p, object value, ArrayBufferWriter<byte> output, int depth)
        {
            var info = p.Field!;
            switch (info.Special)
            {
                case ProtoSpecial.Time:
                case ProtoSpecial.MicroTime:
                    if (value is not DateTimeOffset time) return false;
                    // The JSON form has seconds (Time) or microseconds (MicroTime); a zero time in a list or map is JSON null.
                    if (time == default) return false;
                    var ticks = time.UtcTicks - DateTimeOffset.UnixEpoch.UtcTicks;
                    ticks -= info.Special == ProtoSpecial.Time ? Mod(ticks, TimeSpan.TicksPerSecond) : Mod(ticks, 10);
                    var seconds = Math.DivRem(ticks, TimeSpan.TicksPerSecond, out var rest) - (rest < 0 ? 1 : 0);
                    ProtobufEncoder.WriteTag(output, 1, 0);
                    ProtobufEncoder.WriteVarint(output, (ulong)seconds);
                    var nanos = (rest < 0 ? rest + TimeSpan.TicksPerSecond : rest) * 100;
                    if (nanos != 0)
                    {
                        ProtobufEncoder.WriteTag(output, 2, 0);
                        ProtobufEncoder.WriteVarint(output, (ulong)nanos);
                    }
                    return true;
                case ProtoSpecial.Duration:
                    if (value is not string text || !GoDuration.TryParse(text, out var duration)) return false;
                    ProtobufEncoder.WriteTag(output, 1, 0);
                    ProtobufEncoder.WriteVarint(output, (ulong)(duration.Ticks * 100));
                    return true;
                case ProtoSpecial.Quantity:
                    if (value is not Quantity quantity) return false;
                    ProtobufEncoder.WriteString(output, 1, quantity.ToString());
                    return true;
                case ProtoSpecial.IntOrString:
                    if (value is not IntOrString intOrString) return false;
                    if (intOrString.StringValue is { } s)
                    {
                        ProtobufEncoder.WriteTag(output, 1, 0);
                        ProtobufEncoder.WriteVarint(output, 1);
                        ProtobufEncoder.WriteString(output, 3, s);
                        return true;
                    }
                    if (intOrString.IntValue is not { } n) return false;
                    ProtobufEncoder.WriteTag(output, 1, 0);
                    ProtobufEncoder.WriteVarint(output, 0);
                    ProtobufEncoder.WriteTag(output, 2, 0);
                    ProtobufEncoder.WriteVarint(output, (ulong)(long)n);
                    return true;
                case ProtoSpecial.RawJson:
                    if (value is not JsonNode node) return false;
                    var json = new ArrayBufferWriter<byte>(256);
                    using (var writer = new Utf8JsonWriter(json, new JsonWriterOptions { Encoder = KubeJson.Options.Encoder }))
                    {
                        node.WriteTo(writer, KubeJson.Options);
                    }
                    ProtobufEncoder.WriteBytes(output, 1, json.WrittenSpan);
                    return true;
            }
            if (info.MessageType is not { } message) return false;
            if (message.IsNamedSlice)
            {
                if (value is not List<string> items) return false;
                foreach (var item in items) ProtobufEncoder.WriteString(output, 1, item);
                return true;
            }
            return p.Child(value.GetType()) is { } child && WriteFields(value, child, output, depth, topLevel: false);
        }

        private static long Mod(long value, long unit)
        {
            var m = value % unit;
            return m < 0 ? m + unit : m;
        }
    }
}

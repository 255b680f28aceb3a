using System.Collections;
using System.Collections.Concurrent;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization.Metadata;
using Kcm.Api.Codecs;

namespace Kcm.Api.Protobuf;

/// <summary>
/// Reads a Kubernetes protobuf object straight into the generated type, through the same type metadata the JSON
/// serializer uses, giving the object that transcoding to JSON and deserializing would give without writing and
/// parsing the JSON. It only takes the direct way when every field present has a typed home: a field the type lacks
/// (which the JSON way keeps as unknown JSON), a value of an unexpected shape or an unmodelled type makes
/// <see cref="TryRead"/> return false, and the caller transcodes instead, so nothing is lost or read differently.
/// </summary>
public static class ProtobufObjectReader
{
    private const int MaxDepth = 100;
    private const string Meta = "k8s.io.apimachinery.pkg.apis.meta.v1.";
    private const int ManagedFieldsNumber = 17;
    // Unix seconds of Go's zero time.Time, which marshals as a null timestamp.
    private const long GoZeroTimeSeconds = -62135596800;

    private static readonly ProtoMessage ObjectMeta = ProtoSchema.Message(Meta + "ObjectMeta")!;
    private static readonly ConcurrentDictionary<(ProtoMessage, Type), Binding?> Bindings = new();

    /// <summary>The enveloped object ("k8s\0" + runtime.Unknown) as an instance of <paramref name="typeInfo"/>'s type.</summary>
    public static bool TryRead(ReadOnlySpan<byte> body, JsonTypeInfo typeInfo, bool omitManagedFields, out object? value)
    {
        value = null;
        if (!ProtobufTranscoder.IsProtobuf(body) || typeInfo.Kind != JsonTypeInfoKind.Object) return false;
        // Nested types come from the default context; the top level does too, so one binding serves every caller.
        if (KubeJson.Context.GetTypeInfo(typeInfo.Type) is not { } own) return false;
        typeInfo = own;
        try
        {
            return TryReadEnveloped(body[ProtobufTranscoder.Magic.Length..], typeInfo, omitManagedFields, out value);
        }
        catch (Exception e) when (e is ProtobufDecodeException or ArgumentException or InvalidCastException or FormatException or OverflowException or JsonException)
        {
            // Malformed input: the transcoding path reports it with its usual message.
            value = null;
            return false;
        }
    }

    private static bool TryReadEnveloped(ReadOnlySpan<byte> body, JsonTypeInfo typeInfo, bool omitManagedFields, out object? value)
    {
        value = null;
        var envelope = UnknownEnvelope.Read(body);
        string apiVersion = envelope.ApiVersion, kind = envelope.Kind;
        var raw = envelope.Raw;
        var hasEncoding = envelope.ContentEncoding.Length > 0;
        if (hasEncoding || kind.Length == 0 || ProtoSchema.MessageFor(apiVersion, kind) is not { } name) return false;
        if (Bind(ProtoSchema.Message(name)!, typeInfo) is not { } binding || binding.ApiVersion is null || binding.Kind is null) return false;
        var obj = typeInfo.CreateObject!();
        binding.ApiVersion.Set!(obj, apiVersion);
        binding.Kind.Set!(obj, kind);
        if (!new Reader(omitManagedFields).ReadInto(obj, binding, raw, 0)) return false;
        value = obj;
        return true;
    }

    /// <summary>A message bound to a type: for each field number, the property (or inline message) it fills.</summary>
    private sealed class Binding(ProtoMessage message, JsonTypeInfo typeInfo)
    {
        public ProtoMessage Message { get; } = message;

        public JsonTypeInfo TypeInfo { get; } = typeInfo;

        public FieldBinding?[] ByNumber { get; } = new FieldBinding?[message.ByNumber.Length];

        public JsonPropertyInfo? ApiVersion { get; set; }

        public JsonPropertyInfo? Kind { get; set; }
    }

    /// <summary>Where one field goes: a settable property, or (inline) more fields of the same object.</summary>
    private sealed class FieldBinding(ProtoFieldInfo info, JsonPropertyInfo? property, Binding? inline)
    {
        public ProtoFieldInfo Info { get; } = info;

        public JsonPropertyInfo? Property { get; } = property;

        public Binding? Inline { get; } = inline;

        /// <summary>The property's type without Nullable.</summary>
        public Type? ValueType { get; } = property is null ? null : Nullable.GetUnderlyingType(property.PropertyType) ?? property.PropertyType;

        // The list or map type info, and the binding of the field's message type (the element's for lists, the
        // value's for maps), each looked up on first use.
        private JsonTypeInfo? _collection;
        private bool _collectionResolved;
        private Binding? _child;
        private bool _childResolved;

        public JsonTypeInfo? Collection
        {
            get
            {
                if (!_collectionResolved)
                {
                    _collection = Property is null ? null : KubeJson.Context.GetTypeInfo(Property.PropertyType);
                    _collectionResolved = true;
                }
                return _collection;
            }
        }

        public Binding? Child(Type type)
        {
            if (!_childResolved)
            {
                _child = Info.MessageType is { } message && KubeJson.Context.GetTypeInfo(type) is { } typeInfo ? Bind(message, typeInfo) : null;
                _childResolved = true;
            }
            return _child is not null && _child.TypeInfo.Type == type ? _child : null;
        }
    }

    private static Binding? Bind(ProtoMessage message, JsonTypeInfo typeInfo)
        => Bindings.GetOrAdd((message, typeInfo.Type), static (key, info) => Create(key.Item1, info), typeInfo);

    private static Binding? Create(ProtoMessage message, JsonTypeInfo typeInfo)
    {
        if (typeInfo.Kind != JsonTypeInfoKind.Object || typeInfo.CreateObject is null || message.IsNamedSlice) return null;
        var properties = new Dictionary<string, JsonPropertyInfo>(StringComparer.Ordinal);
        foreach (var property in typeInfo.Properties)
        {
            if (!property.IsExtensionData) properties[property.Name] = property;
        }
        var binding = new Binding(message, typeInfo)
        {
            ApiVersion = properties.GetValueOrDefault("apiVersion") is { Set: not null } a && a.PropertyType == typeof(string) ? a : null,
            Kind = properties.GetValueOrDefault("kind") is { Set: not null } k && k.PropertyType == typeof(string) ? k : null,
        };
        foreach (var info in message.InOrder)
        {
            if (info.Inline)
            {
                // An embedded struct's fields are the object's own in JSON (Volume's VolumeSource).
                if (info.MessageType is not { } inner || Create(inner, typeInfo) is not { } inline) continue;
                binding.ByNumber[info.Field.Number] = new FieldBinding(info, null, inline);
                continue;
            }
            // No settable property: a field the JSON way would keep as unknown, so the direct way is not taken for it.
            var property = properties.GetValueOrDefault(info.JsonName);
            binding.ByNumber[info.Field.Number] = new FieldBinding(info, property is { Set: not null, Get: not null } ? property : null, null);
        }
        return binding;
    }

    private sealed class Reader(bool omitManagedFields)
    {
        public bool ReadInto(object obj, Binding binding, ReadOnlySpan<byte> bytes, int depth)
        {
            if (depth > MaxDepth) return false;
            var reader = new ProtobufReader(bytes);
            while (reader.Next(out var number, out var wire))
            {
                var field = (uint)number < (uint)binding.ByNumber.Length ? binding.ByNumber[number] : null;
                if (field is null)
                {
                    // Field numbers the tables do not know are skipped, as the transcoder (and gogo) skip them.
                    if (binding.Message.Field(number) is not null) return false;
                    reader.Skip(wire);
                    continue;
                }
                if (omitManagedFields && number == ManagedFieldsNumber && ReferenceEquals(binding.Message, ObjectMeta))
                {
                    reader.Skip(wire);
                    continue;
                }
                var info = field.Info;
                var kind = info.Field.Kind;
                if (wire != ProtobufTranscoder.WireTypeOf(kind) && !(info.Field.Repeated && wire == 2)) return false;
                if (field.Inline is { } inline)
                {
                    if (!ReadInto(obj, inline, reader.Bytes(), depth + 1)) return false;
                    continue;
                }
                if (field.Property is not { } property) return false;
                if (kind == ProtoKind.Map)
                {
                    if (!ReadMapEntry(obj, field, property, reader.Bytes(), depth)) return false;
                }
                else if (info.Field.Repeated)
                {
                    if (!ReadRepeated(obj, field, property, ref reader, wire, depth)) return false;
                }
                else
                {
                    var scalar = 0UL;
                    ReadOnlySpan<byte> value = default;
                    if (wire == 2) value = reader.Bytes();
                    else scalar = ReadScalar(ref reader, wire);
                    if (kind != ProtoKind.Message && info.OmitEmpty && (wire == 2 ? value.IsEmpty : scalar == 0))
                    {
                        // Go's JSON leaves the zero value out; a value given before it stays, as in the JSON.
                        continue;
                    }
                    if (!Convert(field, field.ValueType!, kind, scalar, value, depth, out var converted)) return false;
                    if (converted is Omitted) continue;
                    property.Set!(obj, converted);
                }
            }
            return true;
        }

        private bool ReadRepeated(object obj, FieldBinding field, JsonPropertyInfo property, ref ProtobufReader reader, int wire, int depth)
        {
            var listInfo = field.Collection;
            if (listInfo is not { Kind: JsonTypeInfoKind.Enumerable, ElementType: { } elementType, CreateObject: not null }) return false;
            if (property.Get!(obj) is not IList list)
            {
                if (listInfo.CreateObject() is not IList created) return false;
                list = created;
                property.Set!(obj, list);
            }
            var kind = field.Info.Field.Kind;
            var valueType = Nullable.GetUnderlyingType(elementType) ?? elementType;
            if (wire == 2 && kind is not (ProtoKind.String or ProtoKind.Bytes or ProtoKind.Message))
            {
                // Packed scalars.
                var packed = new ProtobufReader(reader.Bytes());
                var scalarWire = ProtobufTranscoder.WireTypeOf(kind);
                while (!packed.AtEnd)
                {
                    if (!Convert(field, valueType, kind, ReadScalar(ref packed, scalarWire), default, depth, out var item) || item is Omitted) return false;
                    list.Add(item);
                }
                return true;
            }
            var bytes = wire == 2 ? reader.Bytes() : default;
            var scalar = wire == 2 ? 0UL : ReadScalar(ref reader, wire);
            if (!Convert(field, valueType, kind, scalar, bytes, depth, out var element) || element is Omitted) return false;
            list.Add(element);
            return true;
        }

        private bool ReadMapEntry(object obj, FieldBinding field, JsonPropertyInfo property, ReadOnlySpan<byte> entry, int depth)
        {
            var mapInfo = field.Collection;
            if (mapInfo is not { Kind: JsonTypeInfoKind.Dictionary, KeyType: { } keyType, ElementType: { } elementType, CreateObject: not null }
                || keyType != typeof(string) || field.Info.Field.MapKey != ProtoKind.String) return false;
            if (property.Get!(obj) is not IDictionary map)
            {
                if (mapInfo.CreateObject() is not IDictionary created) return false;
                map = created;
                property.Set!(obj, map);
            }
            string? key = null;
            ReadOnlySpan<byte> value = default;
            ulong scalar = 0;
            var valueKind = field.Info.Field.MapValue;
            var reader = new ProtobufReader(entry);
            while (reader.Next(out var number, out var wire))
            {
                if (number == 1 && wire == 2) key = ReadString(reader.Bytes());
                else if (number == 2)
                {
                    if (wire != ProtobufTranscoder.WireTypeOf(valueKind)) return false;
                    if (wire == 2) value = reader.Bytes();
                    else scalar = ReadScalar(ref reader, wire);
                }
                else if (number == 1) return false;
                else reader.Skip(wire);
            }
            var valueType = Nullable.GetUnderlyingType(elementType) ?? elementType;
            if (!Convert(field, valueType, valueKind, scalar, value, depth, out var converted) || converted is Omitted) return false;
            map[key ?? ""] = converted;
            return true;
        }

        // One value of the field as the CLR type the property (or list element, or map value) holds.
        private bool Convert(FieldBinding field, Type type, ProtoKind kind, ulong scalar, ReadOnlySpan<byte> bytes, int depth, out object? value)
        {
            value = null;
            switch (kind)
            {
                case ProtoKind.String:
                    if (type != typeof(string)) return false;
                    value = ReadString(bytes);
                    return true;
                case ProtoKind.Bytes:
                    if (type == typeof(byte[])) value = bytes.ToArray();
                    else if (type == typeof(string)) value = System.Convert.ToBase64String(bytes);
                    else return false;
                    return true;
                case ProtoKind.Bool:
                    if (type != typeof(bool)) return false;
                    value = scalar != 0;
                    return true;
                case ProtoKind.Int32 or ProtoKind.Int64 or ProtoKind.SInt32 or ProtoKind.SInt64 or ProtoKind.SFixed32 or ProtoKind.SFixed64:
                    var signed = kind switch
                    {
                        ProtoKind.Int32 or ProtoKind.SFixed32 => (int)scalar,
                        ProtoKind.SInt32 => (int)ProtobufReader.ZigZag(scalar),
                        ProtoKind.SInt64 => ProtobufReader.ZigZag(scalar),
                        _ => (long)scalar,
                    };
                    return Integer(type, signed, out value);
                case ProtoKind.UInt32 or ProtoKind.Fixed32:
                    return Integer(type, (uint)scalar, out value);
                case ProtoKind.UInt64 or ProtoKind.Fixed64:
                    if (scalar > long.MaxValue) return false;
                    return Integer(type, (long)scalar, out value);
                case ProtoKind.Double:
                    if (type != typeof(double)) return false;
                    value = BitConverter.Int64BitsToDouble((long)scalar);
                    return true;
                case ProtoKind.Message:
                    return Message(field, type, bytes, depth, out value);
                default:
                    return false;
            }
        }

        private static bool Integer(Type type, long v, out object? value)
        {
            value = null;
            if (type == typeof(long)) value = v;
            else if (type == typeof(int) && v is >= int.MinValue and <= int.MaxValue) value = (int)v;
            else if (type == typeof(double)) value = (double)v;
            else return false;
            return true;
        }

        private bool Message(FieldBinding field, Type type, ReadOnlySpan<byte> bytes, int depth, out object? value)
        {
            value = null;
            var info = field.Info;
            switch (info.Special)
            {
                case ProtoSpecial.Time:
                case ProtoSpecial.MicroTime:
                    if (type != typeof(DateTimeOffset)) return false;
                    var (seconds, nanos) = ProtobufReader.Timestamp(bytes);
                    if (nanos == 0 && seconds is 0 or GoZeroTimeSeconds)
                    {
                        // JSON null: left out as a field (a null list element or map value is not read directly).
                        value = Omitted.Instance;
                        return true;
                    }
                    var time = DateTimeOffset.FromUnixTimeSeconds(seconds);
                    // Time is written to the second, MicroTime to the microsecond.
                    if (info.Special == ProtoSpecial.MicroTime) time = time.AddTicks(nanos / 1000 * 10);
                    value = time;
                    return true;
                case ProtoSpecial.Duration:
                    if (type != typeof(string)) return false;
                    value = GoDuration.Format(ProtobufReader.SingleVarint(bytes, 1));
                    return true;
                case ProtoSpecial.Quantity:
                    if (type != typeof(Quantity)) return false;
                    var text = ReadSingleString(bytes);
                    value = Quantity.Parse(text.Length == 0 ? "0" : text.Trim());
                    return true;
                case ProtoSpecial.IntOrString:
                    if (type != typeof(IntOrString)) return false;
                    value = ReadIntOrString(bytes);
                    return true;
                case ProtoSpecial.RawJson:
                    if (!typeof(JsonNode).IsAssignableFrom(type)) return false;
                    var raw = ProtobufReader.SingleBytes(bytes, 1);
                    if (raw.IsEmpty)
                    {
                        value = Omitted.Instance;
                        return true;
                    }
                    var node = JsonNode.Parse(raw);
                    if (node is not null && !type.IsInstanceOfType(node)) return false;
                    value = node;
                    return true;
            }
            if (info.MessageType is not { } message) return false;
            if (message.IsNamedSlice)
            {
                if (type != typeof(List<string>)) return false;
                var items = new List<string>();
                var reader = new ProtobufReader(bytes);
                while (reader.Next(out var number, out var wire))
                {
                    if (number == 1 && wire == 2) items.Add(ReadString(reader.Bytes()));
                    else reader.Skip(wire);
                }
                value = items;
                return true;
            }
            if (field.Child(type) is not { } child) return false;
            var obj = child.TypeInfo.CreateObject!();
            if (!ReadInto(obj, child, bytes, depth + 1)) return false;
            value = obj;
            return true;
        }
    }

    /// <summary>A value the JSON way writes as null where it would be left out: nothing to set.</summary>
    private sealed class Omitted
    {
        public static readonly Omitted Instance = new();
    }

    private static ulong ReadScalar(ref ProtobufReader reader, int wire) => wire switch
    {
        0 => reader.Varint(),
        1 => reader.Fixed64(),
        5 => reader.Fixed32(),
        _ => throw new ProtobufDecodeException($"proto: illegal wireType {wire}"),
    };

    private static string ReadString(ReadOnlySpan<byte> bytes) => ProtobufReader.Utf8(bytes);

    private static string ReadSingleString(ReadOnlySpan<byte> bytes) => ReadString(ProtobufReader.SingleBytes(bytes, 1));

    private static IntOrString ReadIntOrString(ReadOnlySpan<byte> bytes)
        => ProtobufReader.IntOrString(bytes, out var intVal, out var strVal) ? IntOrString.FromString(ReadString(strVal)) : IntOrString.FromInt(intVal);
}

using System.Buffers;
using System.Globalization;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Nodes;
using Kcm.Api.Codecs;

namespace Kcm.Api.Protobuf;

/// <summary>
/// Turns a Kubernetes protobuf object ("k8s\0" + runtime.Unknown envelope) into the JSON upstream's types marshal
/// to: Quantity as a string, IntOrString as a number or string, Time as RFC 3339, RawExtension as the embedded JSON,
/// bytes as base64, inline embedded structs flattened, and the zero value of an omitempty field left out (protobuf
/// always carries it, Go's JSON drops it). JSON is written straight to a <see cref="Utf8JsonWriter"/>, so typed
/// clients deserialize it with their usual JSON code and get the same object as from a JSON response.
/// Field numbers the tables do not know are skipped, as gogo's generated unmarshallers do.
/// </summary>
public static class ProtobufTranscoder
{
    public const string MediaType = "application/vnd.kubernetes.protobuf";

    private const string Meta = "k8s.io.apimachinery.pkg.apis.meta.v1.";
    private const int MaxDepth = 100;
    // Unix seconds of Go's zero time.Time, which marshals as a null timestamp.
    private const long GoZeroTimeSeconds = -62135596800;

    private static readonly JsonWriterOptions WriterOptions = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping, SkipValidation = true };

    internal static ReadOnlySpan<byte> Magic => "k8s\0"u8;

    /// <summary>True when the body starts with the "k8s\0" prefix (JSON never does).</summary>
    public static bool IsProtobuf(ReadOnlySpan<byte> body) => body.StartsWith(Magic);

    /// <summary>Whether objects of this apiVersion/kind have a protobuf form (built-in types; not custom resources).</summary>
    public static bool Supports(string apiVersion, string kind)
    {
        var slash = apiVersion.IndexOf('/');
        var group = slash < 0 ? "" : apiVersion[..slash];
        // A custom resource may reuse a built-in kind name in its own group (apps.example.com Deployment).
        var builtInGroup = group is "" or "apps" or "batch" or "autoscaling" or "policy"
            || group.EndsWith(".k8s.io", StringComparison.Ordinal) && !group.EndsWith(".x-k8s.io", StringComparison.Ordinal);
        return builtInGroup && ProtoSchema.MessageFor(apiVersion, kind) is not null;
    }

    /// <summary>True for "application/vnd.kubernetes.protobuf" with or without parameters.</summary>
    public static bool IsProtobufMediaType(string? contentType)
        => contentType is not null && contentType.StartsWith(MediaType, StringComparison.OrdinalIgnoreCase)
            && (contentType.Length == MediaType.Length || contentType[MediaType.Length] is ';' or ' ');

    /// <summary>
    /// A request body as a v1.26 server reads it: fields that the tables know from newer releases but v1.26 does not
    /// serve are dropped, as a v1.26 server's decoder skips unknown field numbers.
    /// </summary>
    public static JsonObject Decode(ReadOnlySpan<byte> body)
    {
        var buffer = new ArrayBufferWriter<byte>(body.Length * 2 + 64);
        using (var writer = new Utf8JsonWriter(buffer, WriterOptions))
        {
            Guard(writer, body, static (w, b) => WriteEnveloped(w, b, servedOnly: true));
        }
        return (JsonObject)JsonNode.Parse(buffer.WrittenSpan)!;
    }

    /// <summary>
    /// The enveloped object as JSON bytes (apiVersion and kind first, from the envelope). Fields of newer releases
    /// that the tables know are kept, so typed objects carry them as unknown JSON and write them back.
    /// </summary>
    public static byte[] ToJson(ReadOnlySpan<byte> body)
    {
        var buffer = new ArrayBufferWriter<byte>(body.Length * 2 + 64);
        ToJson(body, buffer);
        return buffer.WrittenSpan.ToArray();
    }

    /// <summary>
    /// As <see cref="ToJson(ReadOnlySpan{byte})"/>, appending to <paramref name="output"/> (a reused buffer saves the
    /// copy); with <paramref name="omitManagedFields"/> every metadata.managedFields is left out (an informer drops them).
    /// </summary>
    public static void ToJson(ReadOnlySpan<byte> body, IBufferWriter<byte> output, bool omitManagedFields = false)
    {
        using var writer = new Utf8JsonWriter(output, WriterOptions);
        if (omitManagedFields) Guard(writer, body, static (w, b) => WriteEnveloped(w, b, servedOnly: false, omitManagedFields: true));
        else Guard(writer, body, static (w, b) => WriteEnveloped(w, b, servedOnly: false));
    }

    /// <summary>
    /// A protobuf watch frame (a metav1.WatchEvent without envelope, as the length-delimited stream carries it): its
    /// type, and where in the frame its object lies (an enveloped protobuf object, or JSON for a custom resource).
    /// </summary>
    public static string ReadWatchEvent(ReadOnlySpan<byte> frame, out Range objectRange)
    {
        var type = ReadWatchEventParts(frame, out var raw);
        var start = (int)Unsafe.ByteOffset(ref MemoryMarshal.GetReference(frame), ref MemoryMarshal.GetReference(raw));
        objectRange = start..(start + raw.Length);
        return type;
    }

    private static string ReadWatchEventParts(ReadOnlySpan<byte> frame, out ReadOnlySpan<byte> raw)
    {
        var type = "";
        raw = default;
        var reader = new ProtobufReader(frame);
        while (reader.Next(out var number, out var wire))
        {
            if (number == 1 && wire == 2) type = reader.String();
            else if (number == 2 && wire == 2) raw = ReadRawExtension(reader.Bytes());
            else reader.Skip(wire);
        }
        if (raw.IsEmpty) throw new ProtobufDecodeException($"watch event {type} without an object");
        return type;
    }

    private delegate void SpanAction(Utf8JsonWriter writer, ReadOnlySpan<byte> bytes);

    private static void Guard(Utf8JsonWriter writer, ReadOnlySpan<byte> bytes, SpanAction action)
    {
        try
        {
            action(writer, bytes);
        }
        catch (ArgumentException e)
        {
            throw new ProtobufDecodeException($"proto: invalid string or embedded JSON: {e.Message}");
        }
        catch (JsonException e)
        {
            throw new ProtobufDecodeException($"embedded object is not JSON: {e.Message}");
        }
    }

    private static void WriteEnveloped(Utf8JsonWriter writer, ReadOnlySpan<byte> body, bool servedOnly, bool omitManagedFields = false)
    {
        if (!body.StartsWith(Magic))
        {
            throw new ProtobufDecodeException("provided data does not appear to be a protobuf message, expected prefix [107 56 115 0]");
        }
        var envelope = UnknownEnvelope.Read(body[Magic.Length..]);
        string apiVersion = envelope.ApiVersion, kind = envelope.Kind, contentEncoding = envelope.ContentEncoding;
        var raw = envelope.Raw;
        if (contentEncoding.Length > 0) throw new ProtobufDecodeException($"unsupported protobuf content encoding \"{contentEncoding}\"");
        if (kind.Length == 0) throw new ProtobufDecodeException("Object 'Kind' is missing in protobuf envelope");
        var name = ProtoSchema.MessageFor(apiVersion, kind)
            ?? throw new ProtobufDecodeException($"no kind \"{kind}\" is registered for version \"{apiVersion}\"");
        writer.WriteStartObject();
        writer.WriteString("apiVersion"u8, apiVersion);
        writer.WriteString("kind"u8, kind);
        new Transcoder(writer, servedOnly, omitManagedFields).WriteFields(raw, ProtoSchema.Message(name)!, 0);
        writer.WriteEndObject();
    }

    private static ReadOnlySpan<byte> ReadRawExtension(ReadOnlySpan<byte> bytes)
    {
        ReadOnlySpan<byte> value = default;
        var reader = new ProtobufReader(bytes);
        while (reader.Next(out var number, out var wire))
        {
            if (number == 1 && wire == 2) value = reader.Bytes();
            else reader.Skip(wire);
        }
        return value;
    }

    internal static int WireTypeOf(ProtoKind kind) => kind switch
    {
        ProtoKind.String or ProtoKind.Bytes or ProtoKind.Message or ProtoKind.Map => 2,
        ProtoKind.Double or ProtoKind.Fixed64 or ProtoKind.SFixed64 => 1,
        ProtoKind.Float or ProtoKind.Fixed32 or ProtoKind.SFixed32 => 5,
        _ => 0,
    };

    private static bool IsPackable(ProtoKind kind) => kind is not (ProtoKind.String or ProtoKind.Bytes or ProtoKind.Message or ProtoKind.Map);

    private static ProtobufDecodeException WrongWireType(string message, ProtoField field)
        => new($"proto: wrong wireType for field {ProtoSchema.DefinitionName(message)}.{field.Name}");

    /// <summary>One field occurrence of the message being written: a scalar's value, or where its bytes lie.</summary>
    private readonly record struct Occurrence(int Number, int Wire, int Start, int Length, ulong Scalar);

    // ObjectMeta's managedFields, for leaving them out.
    private static readonly ProtoMessage ObjectMeta = ProtoSchema.Message(Meta + "ObjectMeta")!;
    private const int ManagedFieldsNumber = 17;

    private sealed class Transcoder(Utf8JsonWriter writer, bool servedOnly, bool omitManagedFields)
    {
        // Occurrences of the messages on the current path; each message appends its own and removes them when done.
        private readonly List<Occurrence> _occurrences = [];

        public void WriteFields(ReadOnlySpan<byte> bytes, ProtoMessage message, int depth)
        {
            if (depth > MaxDepth) throw new ProtobufDecodeException("protobuf message nested too deeply");
            var first = _occurrences.Count;
            var reader = new ProtobufReader(bytes);
            while (reader.Next(out var number, out var wire))
            {
                switch (wire)
                {
                    case 0: _occurrences.Add(new(number, 0, 0, 0, reader.Varint())); break;
                    case 1: _occurrences.Add(new(number, 1, 0, 0, reader.Fixed64())); break;
                    case 5: _occurrences.Add(new(number, 5, 0, 0, reader.Fixed32())); break;
                    case 2:
                        var length = reader.Bytes().Length;
                        _occurrences.Add(new(number, 2, reader.Position - length, length, 0));
                        break;
                    default: throw new ProtobufDecodeException($"proto: illegal wireType {wire}");
                }
            }
            var end = _occurrences.Count;
            for (var i = first; i < end; i++)
            {
                var occurrence = _occurrences[i];
                if (occurrence.Number == 0) continue; // already written with an earlier occurrence of its field
                var field = message.Field(occurrence.Number);
                if (field is null || servedOnly && !field.Served) continue;
                if (omitManagedFields && occurrence.Number == ManagedFieldsNumber && ReferenceEquals(message, ObjectMeta)) continue;
                if (field.Field.Kind == ProtoKind.Map || field.Field.Repeated)
                {
                    WriteAll(bytes, message.Name, field, i, end, depth);
                }
                else
                {
                    // A singular field given twice: the last one wins, as in protobuf.
                    var last = i;
                    for (var j = i + 1; j < end; j++)
                    {
                        if (_occurrences[j].Number != occurrence.Number) continue;
                        Consume(last);
                        last = j;
                    }
                    WriteSingle(bytes, message.Name, field, _occurrences[last], depth);
                }
            }
            _occurrences.RemoveRange(first, end - first);
        }

        private void Consume(int index) => CollectionsMarshal.AsSpan(_occurrences)[index] = default;

        private void WriteSingle(ReadOnlySpan<byte> bytes, string message, ProtoFieldInfo info, Occurrence o, int depth)
        {
            var field = info.Field;
            if (o.Wire != WireTypeOf(field.Kind)) throw WrongWireType(message, field);
            var value = o.Wire == 2 ? bytes.Slice(o.Start, o.Length) : default;
            if (field.Kind == ProtoKind.Message)
            {
                if (info.Inline)
                {
                    WriteFields(value, Lookup(info), depth + 1);
                    return;
                }
                var special = info.Special;
                if (special != ProtoSpecial.None)
                {
                    if (IsNullSpecial(special, value)) return;
                    writer.WritePropertyName(info.Name);
                    WriteSpecial(special, value, field.Message!);
                    return;
                }
                writer.WritePropertyName(info.Name);
                WriteMessage(value, Lookup(info), depth + 1);
                return;
            }
            if (info.OmitEmpty && (o.Wire == 2 ? o.Length == 0 : o.Scalar == 0)) return;
            writer.WritePropertyName(info.Name);
            WriteScalar(field.Kind, o, value);
        }

        private void WriteAll(ReadOnlySpan<byte> bytes, string message, ProtoFieldInfo info, int from, int end, int depth)
        {
            var field = info.Field;
            var number = field.Number;
            var isMap = field.Kind == ProtoKind.Map;
            writer.WritePropertyName(info.Name);
            if (isMap) writer.WriteStartObject();
            else writer.WriteStartArray();
            for (var j = from; j < end; j++)
            {
                var o = _occurrences[j];
                if (o.Number != number) continue;
                Consume(j);
                var value = o.Wire == 2 ? bytes.Slice(o.Start, o.Length) : default;
                if (isMap)
                {
                    if (o.Wire != 2) throw WrongWireType(message, field);
                    WriteMapEntry(value, info, depth);
                }
                else if (field.Kind == ProtoKind.Message)
                {
                    if (o.Wire != 2) throw WrongWireType(message, field);
                    WriteValue(value, info, depth + 1);
                }
                else if (o.Wire == 2 && IsPackable(field.Kind))
                {
                    var packed = new ProtobufReader(value);
                    var wire = WireTypeOf(field.Kind);
                    while (!packed.AtEnd)
                    {
                        var scalar = wire switch { 0 => packed.Varint(), 1 => packed.Fixed64(), _ => packed.Fixed32() };
                        WriteScalar(field.Kind, new Occurrence(number, wire, 0, 0, scalar), default);
                    }
                }
                else
                {
                    if (o.Wire != WireTypeOf(field.Kind)) throw WrongWireType(message, field);
                    WriteScalar(field.Kind, o, value);
                }
            }
            if (isMap) writer.WriteEndObject();
            else writer.WriteEndArray();
        }

        private void WriteMapEntry(ReadOnlySpan<byte> entry, ProtoFieldInfo info, int depth)
        {
            var field = info.Field;
            ReadOnlySpan<byte> key = default, value = default;
            var keyText = "";
            ulong scalar = 0;
            var reader = new ProtobufReader(entry);
            while (reader.Next(out var number, out var wire))
            {
                if (number == 1)
                {
                    if (wire == 2 && field.MapKey == ProtoKind.String) key = reader.Bytes();
                    else if (wire == 0) keyText = ((long)reader.Varint()).ToString(CultureInfo.InvariantCulture);
                    else throw new ProtobufDecodeException($"bad map key in field {field.Name}");
                }
                else if (number == 2)
                {
                    if (wire != WireTypeOf(field.MapValue)) throw new ProtobufDecodeException($"bad map value in field {field.Name}");
                    switch (wire)
                    {
                        case 2: value = reader.Bytes(); break;
                        case 0: scalar = reader.Varint(); break;
                        case 1: scalar = reader.Fixed64(); break;
                        default: scalar = reader.Fixed32(); break;
                    }
                }
                else reader.Skip(wire);
            }
            if (keyText.Length > 0) writer.WritePropertyName(keyText);
            else writer.WritePropertyName(key);
            if (field.MapValue == ProtoKind.Message)
            {
                // An absent value is the empty message.
                WriteValue(value, info, depth + 1);
            }
            else
            {
                WriteScalar(field.MapValue, new Occurrence(2, WireTypeOf(field.MapValue), 0, value.Length, scalar), value);
            }
        }

        // A message as an element of a list or a map value: special types write null where a field would be left out.
        private void WriteValue(ReadOnlySpan<byte> value, ProtoFieldInfo info, int depth)
        {
            var special = info.Special;
            if (special == ProtoSpecial.None) WriteMessage(value, Lookup(info), depth);
            else if (IsNullSpecial(special, value)) writer.WriteNullValue();
            else WriteSpecial(special, value, info.Field.Message!);
        }

        private void WriteMessage(ReadOnlySpan<byte> value, ProtoMessage message, int depth)
        {
            if (message.IsNamedSlice)
            {
                // A named slice type's JSON is the bare list (an absent one is an empty list).
                writer.WriteStartArray();
                var reader = new ProtobufReader(value);
                while (reader.Next(out var number, out var wire))
                {
                    if (number == 1 && wire == 2 && message.InOrder[0].Field.Kind == ProtoKind.String) writer.WriteStringValue(reader.Bytes());
                    else reader.Skip(wire);
                }
                writer.WriteEndArray();
                return;
            }
            writer.WriteStartObject();
            WriteFields(value, message, depth);
            writer.WriteEndObject();
        }

        private static ProtoMessage Lookup(ProtoFieldInfo info)
            => info.MessageType ?? throw new ProtobufDecodeException($"unknown protobuf message {info.Field.Message}");

        private static bool IsNullSpecial(ProtoSpecial special, ReadOnlySpan<byte> value)
        {
            switch (special)
            {
                case ProtoSpecial.Time:
                case ProtoSpecial.MicroTime:
                    // Go's zero time marshals as an empty message (or, from older encoders, as year 1): JSON null.
                    var (seconds, nanos) = ProtobufReader.Timestamp(value);
                    return nanos == 0 && seconds is 0 or GoZeroTimeSeconds;
                case ProtoSpecial.RawJson:
                    return ReadRawExtension(value).IsEmpty;
                default:
                    return false;
            }
        }

        private void WriteSpecial(ProtoSpecial special, ReadOnlySpan<byte> value, string message)
        {
            switch (special)
            {
                case ProtoSpecial.Time:
                case ProtoSpecial.MicroTime:
                    var (seconds, nanos) = ProtobufReader.Timestamp(value);
                    var time = DateTimeOffset.FromUnixTimeSeconds(seconds).AddTicks(nanos / 100).UtcDateTime;
                    Span<char> text = stackalloc char[32];
                    time.TryFormat(text, out var written,
                        special == ProtoSpecial.MicroTime ? "yyyy-MM-dd'T'HH:mm:ss.ffffff'Z'" : "yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture);
                    writer.WriteStringValue(text[..written]);
                    break;
                case ProtoSpecial.Duration:
                    writer.WriteStringValue(GoDuration.Format(ProtobufReader.SingleVarint(value, 1)));
                    break;
                case ProtoSpecial.Quantity:
                    var quantity = ProtobufReader.SingleBytes(value, 1);
                    // A zero Quantity marshals as "0".
                    if (quantity.IsEmpty) writer.WriteStringValue("0"u8);
                    else writer.WriteStringValue(quantity);
                    break;
                case ProtoSpecial.IntOrString:
                    WriteIntOrString(value);
                    break;
                case ProtoSpecial.RawJson:
                    writer.WriteRawValue(ReadRawExtension(value));
                    break;
                default:
                    throw new ProtobufDecodeException($"unknown protobuf message {message}");
            }
        }

        private void WriteIntOrString(ReadOnlySpan<byte> bytes)
        {
            if (ProtobufReader.IntOrString(bytes, out var intVal, out var strVal)) writer.WriteStringValue(strVal);
            else writer.WriteNumberValue(intVal);
        }

        private void WriteScalar(ProtoKind kind, Occurrence o, ReadOnlySpan<byte> value)
        {
            var v = o.Scalar;
            switch (kind)
            {
                case ProtoKind.String: writer.WriteStringValue(value); break;
                case ProtoKind.Bytes: writer.WriteBase64StringValue(value); break;
                case ProtoKind.Bool: writer.WriteBooleanValue(v != 0); break;
                case ProtoKind.Int32: writer.WriteNumberValue((int)v); break;
                case ProtoKind.Int64: writer.WriteNumberValue((long)v); break;
                case ProtoKind.UInt32: writer.WriteNumberValue((uint)v); break;
                case ProtoKind.UInt64: writer.WriteNumberValue(v); break;
                case ProtoKind.SInt32: writer.WriteNumberValue((int)ProtobufReader.ZigZag(v)); break;
                case ProtoKind.SInt64: writer.WriteNumberValue(ProtobufReader.ZigZag(v)); break;
                case ProtoKind.Double: writer.WriteNumberValue(BitConverter.Int64BitsToDouble((long)v)); break;
                case ProtoKind.Fixed64: writer.WriteNumberValue(v); break;
                case ProtoKind.SFixed64: writer.WriteNumberValue((long)v); break;
                case ProtoKind.Float: writer.WriteNumberValue(BitConverter.Int32BitsToSingle((int)v)); break;
                case ProtoKind.Fixed32: writer.WriteNumberValue((uint)v); break;
                case ProtoKind.SFixed32: writer.WriteNumberValue((int)v); break;
                default: throw new ProtobufDecodeException($"unsupported protobuf kind {kind}");
            }
        }
    }
}

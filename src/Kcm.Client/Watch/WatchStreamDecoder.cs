using System.Runtime.CompilerServices;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using Kcm.Api;
using Kcm.Api.Protobuf;
using Kcm.Api.Meta.V1;
using Kcm.Client.Errors;

namespace Kcm.Client.Watch;

/// <summary>Decodes a watch response body ({"type":..,"object":..} per frame) into typed events.</summary>
public static class WatchStreamDecoder
{
    /// <summary>Yields ADDED/MODIFIED/DELETED/BOOKMARK events; an ERROR event throws the typed API error (410 → <see cref="GoneException"/>).</summary>
    public static async IAsyncEnumerable<WatchEvent<T>> DecodeAsync<T>(Stream stream, JsonTypeInfo<T> objectType, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        await foreach (var frame in JsonObjectFramer.ReadObjectsAsync(stream, cancellationToken).ConfigureAwait(false))
        {
            yield return DecodeFrame(frame, objectType);
        }
    }

    /// <summary>As above for a watch response in whatever framing its Content-Type names (JSON or length-delimited protobuf).</summary>
    public static IAsyncEnumerable<WatchEvent<T>> DecodeAsync<T>(HttpResponseMessage response, Stream stream, JsonTypeInfo<T> objectType,
        CancellationToken cancellationToken)
        => DecodeAsync(response, stream, objectType, omitManagedFields: false, cancellationToken);

    /// <summary>As above; <paramref name="omitManagedFields"/> leaves metadata.managedFields out of protobuf objects (pass a type info that skips them for JSON).</summary>
    public static async IAsyncEnumerable<WatchEvent<T>> DecodeAsync<T>(HttpResponseMessage response, Stream stream, JsonTypeInfo<T> objectType,
        bool omitManagedFields, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        if (ProtobufTranscoder.IsProtobufMediaType(response.Content.Headers.ContentType?.MediaType))
        {
            var json = new System.Buffers.ArrayBufferWriter<byte>(16 * 1024);
            await foreach (var (type, obj) in ProtobufWatchFramer.ReadEventsAsync(stream, cancellationToken).ConfigureAwait(false))
            {
                yield return DecodeProtobufObject(type, obj, objectType, omitManagedFields, ref json);
            }
            yield break;
        }
        await foreach (var frame in JsonObjectFramer.ReadObjectsAsync(stream, cancellationToken).ConfigureAwait(false))
        {
            yield return DecodeFrame(frame, objectType);
        }
    }

    /// <summary>
    /// One JSON watch event, read in a single pass: when "type" comes first (as servers write it) the object is
    /// deserialized straight from the reader; otherwise its bytes are kept until the type is known.
    /// </summary>
    public static WatchEvent<T> DecodeFrame<T>(ReadOnlyMemory<byte> frame, JsonTypeInfo<T> objectType)
    {
        string? typeText = null;
        var typeKnown = false;
        var type = WatchEventType.Error;
        var objectKind = JsonTokenType.None;
        T? value = default;
        var decoded = false;
        ReadOnlyMemory<byte> objectBytes = default;
        try
        {
            var reader = new Utf8JsonReader(frame.Span);
            if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
            {
                throw new KubeProtocolException("watch stream: event is not a JSON object");
            }
            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                if (reader.ValueTextEquals("type"u8))
                {
                    reader.Read();
                    typeText = reader.TokenType == JsonTokenType.String ? reader.GetString() : null;
                    reader.Skip();
                    typeKnown = WatchEventTypes.TryParse(typeText, out type);
                }
                else if (reader.ValueTextEquals("object"u8))
                {
                    reader.Read();
                    objectKind = reader.TokenType;
                    if (objectKind == JsonTokenType.StartObject && typeKnown && type != WatchEventType.Error)
                    {
                        value = JsonSerializer.Deserialize(ref reader, objectType);
                        decoded = true;
                    }
                    else
                    {
                        var start = (int)reader.TokenStartIndex;
                        reader.Skip();
                        objectBytes = frame[start..(int)reader.BytesConsumed];
                        decoded = false;
                    }
                }
                else
                {
                    reader.Read();
                    reader.Skip();
                }
            }
            if (!typeKnown)
            {
                throw new KubeProtocolException($"watch stream: unknown event type \"{typeText}\"");
            }
            if (objectKind != JsonTokenType.StartObject)
            {
                throw new KubeProtocolException($"watch stream: {typeText} event without an object");
            }
        }
        catch (JsonException ex)
        {
            throw new KubeProtocolException($"watch stream: undecodable event: {ex.Message}", ex);
        }
        return decoded ? Event(type, value) : DecodeObject(typeText, objectBytes, objectType);
    }

    /// <summary>
    /// An event of a protobuf watch: its object read straight into the type when it can be, else transcoded to JSON
    /// (in <paramref name="json"/>, reused from event to event) and read as JSON.
    /// </summary>
    private static WatchEvent<T> DecodeProtobufObject<T>(string typeText, ReadOnlyMemory<byte> obj, JsonTypeInfo<T> objectType, bool omitManagedFields,
        ref System.Buffers.ArrayBufferWriter<byte> json)
    {
        if (typeText is not ("ERROR" or "") && ProtobufObjectReader.TryRead(obj.Span, objectType, omitManagedFields, out var direct) && direct is T typed)
        {
            return DecodeObject(typeText, typed);
        }
        if (!ProtobufTranscoder.IsProtobuf(obj.Span)) return DecodeObject(typeText, obj, objectType);
        // A buffer grown by one huge object is not kept for the rest of a long watch.
        if (json.Capacity > 1024 * 1024) json = new System.Buffers.ArrayBufferWriter<byte>(16 * 1024);
        else json.ResetWrittenCount();
        try
        {
            ProtobufTranscoder.ToJson(obj.Span, json, omitManagedFields);
        }
        catch (ProtobufDecodeException ex)
        {
            throw new KubeProtocolException($"watch stream: undecodable protobuf event: {ex.Message}", ex);
        }
        return DecodeObject(typeText, json.WrittenMemory, objectType);
    }

    private static WatchEvent<T> DecodeObject<T>(string typeText, T value)
        => WatchEventTypes.TryParse(typeText, out var type)
            ? new WatchEvent<T>(type, value)
            : throw new KubeProtocolException($"watch stream: unknown event type \"{typeText}\"");

    /// <summary>An event whose type is already known and whose object is the given JSON (a transcoded protobuf frame).</summary>
    public static WatchEvent<T> DecodeObject<T>(string? typeText, ReadOnlyMemory<byte> objectJson, JsonTypeInfo<T> objectType)
    {
        if (!WatchEventTypes.TryParse(typeText, out var type))
        {
            throw new KubeProtocolException($"watch stream: unknown event type \"{typeText}\"");
        }
        T? value;
        try
        {
            if (type == WatchEventType.Error)
            {
                var status = JsonSerializer.Deserialize(objectJson.Span, KubeJson.TypeInfo<Status>()) ?? new Status();
                throw KubeApiErrors.FromStatus(status);
            }
            value = JsonSerializer.Deserialize(objectJson.Span, objectType);
        }
        catch (JsonException ex)
        {
            throw new KubeProtocolException($"watch stream: undecodable event: {ex.Message}", ex);
        }
        return Event(type, value);
    }

    private static WatchEvent<T> Event<T>(WatchEventType type, T? value)
        => value is null ? throw new KubeProtocolException("watch stream: event object decoded to null") : new WatchEvent<T>(type, value);
}

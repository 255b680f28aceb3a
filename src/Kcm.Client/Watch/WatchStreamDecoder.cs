using System.Runtime.CompilerServices;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using Kcm.Api;
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
    public static async IAsyncEnumerable<WatchEvent<T>> DecodeAsync<T>(HttpResponseMessage response, Stream stream, JsonTypeInfo<T> objectType,
        [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var frames = Kcm.Api.Protobuf.ProtobufTranscoder.IsProtobufMediaType(response.Content.Headers.ContentType?.MediaType)
            ? ProtobufWatchFramer.ReadEventsAsJsonAsync(stream, cancellationToken)
            : JsonObjectFramer.ReadObjectsAsync(stream, cancellationToken);
        await foreach (var frame in frames.ConfigureAwait(false))
        {
            yield return DecodeFrame(frame, objectType);
        }
    }

    public static WatchEvent<T> DecodeFrame<T>(ReadOnlyMemory<byte> frame, JsonTypeInfo<T> objectType)
    {
        WatchEventType type;
        T? value;
        try
        {
            using var document = JsonDocument.Parse(frame);
            var root = document.RootElement;
            var typeText = root.TryGetProperty("type", out var typeElement) && typeElement.ValueKind == JsonValueKind.String ? typeElement.GetString() : null;
            if (!WatchEventTypes.TryParse(typeText, out type))
            {
                throw new KubeProtocolException($"watch stream: unknown event type \"{typeText}\"");
            }
            if (!root.TryGetProperty("object", out var objectElement) || objectElement.ValueKind != JsonValueKind.Object)
            {
                throw new KubeProtocolException($"watch stream: {typeText} event without an object");
            }
            if (type == WatchEventType.Error)
            {
                var status = objectElement.Deserialize(KubeJson.TypeInfo<Status>()) ?? new Status();
                throw KubeApiErrors.FromStatus(status);
            }
            value = objectElement.Deserialize(objectType);
        }
        catch (JsonException ex)
        {
            throw new KubeProtocolException($"watch stream: undecodable event: {ex.Message}", ex);
        }
        return value is null ? throw new KubeProtocolException("watch stream: event object decoded to null") : new WatchEvent<T>(type, value);
    }
}

using System.IO.Pipelines;
using System.Text.Json;
using Kcm.ApiServer.Storage;

namespace Kcm.ApiServer.Endpoints;

/// <summary>
/// Writes objects as meta.k8s.io PartialObjectMetadata (upstream's asPartialObjectMetadata(List)): kind, apiVersion and
/// the object's whole metadata. The metadata bytes are copied out of the stored encoding, never re-serialized, since
/// a metadata watch encodes every event for every watcher.
/// </summary>
public static class PartialObjectMetadataWriter
{
    public static byte[] Encode(StoredObject o, string version) => Encode(o.Json, version);

    /// <summary>Any encoded object (a stored object or a bookmark) cut down to its PartialObjectMetadata.</summary>
    public static byte[] Encode(ReadOnlySpan<byte> objectJson, string version)
    {
        var metadata = MetadataOf(objectJson);
        var prefix = Prefix(version);
        var result = new byte[prefix.Length + metadata.Length + 1];
        prefix.CopyTo(result, 0);
        metadata.CopyTo(result.AsSpan(prefix.Length));
        result[^1] = (byte)'}';
        return result;
    }

    public static void Write(Utf8JsonWriter w, StoredObject o, string version) => w.WriteRawValue(Encode(o, version), skipInputValidation: true);

    /// <summary>A PartialObjectMetadataList of <paramref name="items"/>, streamed to the response body.</summary>
    public static async Task WriteListAsync(PipeWriter pipe, string version, IReadOnlyList<StoredObject> items, string resourceVersion,
        string? continueToken, long? remainingItemCount, CancellationToken cancellationToken)
    {
        var header = ResponseWriter.Render(w =>
        {
            w.WriteStartObject();
            w.WriteString("kind", "PartialObjectMetadataList");
            w.WriteString("apiVersion", "meta.k8s.io/" + version);
            ResponseWriter.WriteListMeta(w, resourceVersion, continueToken, remainingItemCount);
            w.WriteEndObject();
        });
        ResponseWriter.Write(pipe, header.AsSpan(0, header.Length - 1));
        if (items.Count == 0)
        {
            // Upstream builds the list by appending to a nil slice, which Go's JSON encoding writes as null.
            ResponseWriter.Write(pipe, ",\"items\":null}"u8);
            await pipe.FlushAsync(cancellationToken);
            return;
        }
        ResponseWriter.Write(pipe, ",\"items\":["u8);
        var prefix = Prefix(version);
        for (var i = 0; i < items.Count; i++)
        {
            if (i > 0) ResponseWriter.Write(pipe, ","u8);
            ResponseWriter.Write(pipe, prefix);
            ResponseWriter.Write(pipe, MetadataOf(items[i].Json));
            ResponseWriter.Write(pipe, "}"u8);
            if (pipe.UnflushedBytes > 1 << 16) await pipe.FlushAsync(cancellationToken);
        }
        ResponseWriter.Write(pipe, "]}"u8);
        await pipe.FlushAsync(cancellationToken);
    }

    private static byte[] Prefix(string version) => version == "v1beta1" ? V1Beta1Prefix : V1Prefix;

    private static readonly byte[] V1Prefix = "{\"kind\":\"PartialObjectMetadata\",\"apiVersion\":\"meta.k8s.io/v1\",\"metadata\":"u8.ToArray();
    private static readonly byte[] V1Beta1Prefix = "{\"kind\":\"PartialObjectMetadata\",\"apiVersion\":\"meta.k8s.io/v1beta1\",\"metadata\":"u8.ToArray();

    /// <summary>The bytes of the top-level "metadata" member's value, or {} when there is none.</summary>
    internal static ReadOnlySpan<byte> MetadataOf(ReadOnlySpan<byte> objectJson)
    {
        var reader = new Utf8JsonReader(objectJson);
        if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject) return "{}"u8;
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            var isMetadata = reader.ValueTextEquals("metadata"u8);
            reader.Read();
            if (isMetadata && reader.TokenType == JsonTokenType.StartObject)
            {
                var start = (int)reader.TokenStartIndex;
                reader.Skip();
                return objectJson[start..(int)reader.BytesConsumed];
            }
            reader.Skip();
        }
        return "{}"u8;
    }
}

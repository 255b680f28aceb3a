using System.Buffers;
using System.Buffers.Binary;
using System.IO.Pipelines;
using System.Text.Json;
using Kcm.Api.Protobuf;
using Kcm.ApiServer.Storage;
using Microsoft.AspNetCore.Http;

namespace Kcm.ApiServer.Endpoints;

/// <summary>
/// Responses in application/vnd.kubernetes.protobuf for built-in kinds, as upstream's serializer negotiation picks it:
/// when the first alternative of the Accept header this server serves is plain protobuf. Objects, lists, Status errors
/// and watch streams (length-prefixed metav1.WatchEvent frames) are encoded from the JSON the server already has; an
/// object the tables cannot encode losslessly (custom resources) is answered in JSON.
/// </summary>
internal static class ProtobufResponses
{
    public const string WatchContentType = ProtobufTranscoder.MediaType + ";stream=watch";

    public static bool Wanted(HttpContext ctx)
    {
        var accept = ctx.Request.Headers.Accept.ToString();
        if (accept.Length == 0) return false;
        foreach (var range in accept.Split(','))
        {
            var parts = range.Split(';');
            var media = parts[0].Trim().ToLowerInvariant();
            if (media == ProtobufTranscoder.MediaType)
            {
                // Conversions in protobuf (as=PartialObjectMetadata) are not served here: the next alternative answers.
                if (!parts.Skip(1).Any(p => p.Trim().StartsWith("as=", StringComparison.Ordinal))) return true;
                continue;
            }
            if (media is "application/json" or "application/yaml" or "*/*" or "application/*") return false;
        }
        return false;
    }

    /// <summary>Writes the JSON body as protobuf when asked for and possible; false leaves the response to the JSON path.</summary>
    public static async Task<bool> TryWriteAsync(HttpContext ctx, int statusCode, ReadOnlyMemory<byte> json)
    {
        if (!Wanted(ctx) || ProtobufEncoder.TryEncode(json.Span) is not { } proto) return false;
        ctx.Response.StatusCode = statusCode;
        ctx.Response.ContentType = ProtobufTranscoder.MediaType;
        ctx.Response.ContentLength = proto.Length;
        await ctx.Response.Body.WriteAsync(proto, ctx.RequestAborted);
        return true;
    }

    /// <summary>A list as protobuf: the list header (kind, apiVersion, metadata) and every item; false when any part cannot be encoded.</summary>
    public static async Task<bool> TryWriteListAsync(HttpContext ctx, byte[] headerJson, IReadOnlyList<StoredObject> items)
    {
        if (!Wanted(ctx)) return false;
        using var header = JsonDocument.Parse(headerJson);
        var list = ProtobufEncoder.TryEncodeMessage(header.RootElement, out var apiVersion, out var kind);
        if (list is null) return false;
        var body = new ArrayBufferWriter<byte>(list.Length + items.Count * 1024);
        body.Write(list);
        foreach (var item in items)
        {
            using var document = JsonDocument.Parse(item.Json);
            var message = ProtobufEncoder.TryEncodeMessage(document.RootElement, out _, out _);
            if (message is null) return false;
            // Field 2 is "items" in every Kubernetes list message.
            ProtobufEncoder.WriteBytes(body, 2, message);
        }
        var output = new ArrayBufferWriter<byte>(body.WrittenCount + 128);
        ProtobufEncoder.WriteEnvelope(output, apiVersion, kind, body.WrittenSpan);
        ctx.Response.StatusCode = 200;
        ctx.Response.ContentType = ProtobufTranscoder.MediaType;
        ctx.Response.ContentLength = output.WrittenCount;
        await ctx.Response.Body.WriteAsync(output.WrittenMemory, ctx.RequestAborted);
        return true;
    }

    /// <summary>
    /// The object of a watch event: enveloped protobuf, or (for the rare object the tables cannot encode) its JSON,
    /// which a RawExtension can carry too.
    /// </summary>
    public static byte[] EncodeObject(byte[] json) => ProtobufEncoder.TryEncode(json) ?? json;

    /// <summary>One watch frame: a 4-byte big-endian length, then metav1.WatchEvent{type, object: RawExtension{raw}}.</summary>
    public static void WriteEvent(PipeWriter pipe, string type, ReadOnlySpan<byte> obj)
    {
        var rawExtension = new ArrayBufferWriter<byte>(obj.Length + 8);
        ProtobufEncoder.WriteBytes(rawExtension, 1, obj);
        var frame = new ArrayBufferWriter<byte>(rawExtension.WrittenCount + type.Length + 16);
        ProtobufEncoder.WriteString(frame, 1, type);
        ProtobufEncoder.WriteBytes(frame, 2, rawExtension.WrittenSpan);
        var length = pipe.GetSpan(4);
        BinaryPrimitives.WriteInt32BigEndian(length, frame.WrittenCount);
        pipe.Advance(4);
        ResponseWriter.Write(pipe, frame.WrittenSpan);
    }
}

using System.Buffers;
using System.IO.Pipelines;
using System.Text;
using System.Text.Json;
using Kcm.ApiServer.Errors;
using Kcm.ApiServer.Storage;
using Microsoft.AspNetCore.Http;

namespace Kcm.ApiServer.Endpoints;

internal static class ResponseWriter
{
    public const string JsonContentType = "application/json";

    public static async Task WriteJsonAsync(HttpContext ctx, int statusCode, ReadOnlyMemory<byte> json)
    {
        if (await ProtobufResponses.TryWriteAsync(ctx, statusCode, json)) return;
        ctx.Response.StatusCode = statusCode;
        ctx.Response.ContentType = JsonContentType;
        ctx.Response.ContentLength = json.Length;
        await ctx.Response.Body.WriteAsync(json, ctx.RequestAborted);
    }

    public static Task WriteObjectAsync(HttpContext ctx, int statusCode, StoredObject o) => WriteJsonAsync(ctx, statusCode, o.Json);

    public static Task WriteTextAsync(HttpContext ctx, int statusCode, string text)
    {
        ctx.Response.StatusCode = statusCode;
        ctx.Response.ContentType = "text/plain; charset=utf-8";
        var bytes = Encoding.UTF8.GetBytes(text);
        ctx.Response.ContentLength = bytes.Length;
        return ctx.Response.Body.WriteAsync(bytes, ctx.RequestAborted).AsTask();
    }

    public static byte[] Render(Action<Utf8JsonWriter> write)
    {
        var buffer = new ArrayBufferWriter<byte>(256);
        using (var w = new Utf8JsonWriter(buffer, ObjectEncoder.WriterOptions)) write(w);
        return buffer.WrittenSpan.ToArray();
    }

    public static byte[] RenderStatus(ApiException e) => Render(e.WriteStatus);

    /// <summary>A list's ListMeta: resourceVersion (when known), continue and remainingItemCount (when given).</summary>
    public static void WriteListMeta(Utf8JsonWriter w, string resourceVersion, string? continueToken, long? remainingItemCount)
    {
        w.WriteStartObject("metadata");
        if (resourceVersion.Length > 0) w.WriteString("resourceVersion", resourceVersion);
        if (continueToken is not null) w.WriteString("continue", continueToken);
        if (remainingItemCount is { } remaining) w.WriteNumber("remainingItemCount", remaining);
        w.WriteEndObject();
    }

    public static Task WriteErrorAsync(HttpContext ctx, ApiException e)
    {
        if (e.RetryAfterSeconds > 0) ctx.Response.Headers.RetryAfter = e.RetryAfterSeconds.ToString(System.Globalization.CultureInfo.InvariantCulture);
        return WriteJsonAsync(ctx, e.Code, RenderStatus(e));
    }

    public static void Write(PipeWriter pipe, ReadOnlySpan<byte> bytes)
    {
        var span = pipe.GetSpan(bytes.Length);
        bytes.CopyTo(span);
        pipe.Advance(bytes.Length);
    }

    public static void Write(PipeWriter pipe, string ascii)
    {
        var span = pipe.GetSpan(Encoding.UTF8.GetMaxByteCount(ascii.Length));
        var n = Encoding.UTF8.GetBytes(ascii, span);
        pipe.Advance(n);
    }
}

using System.Globalization;
using System.IO.Pipelines;
using Kcm.ApiServer.Errors;
using Kcm.ApiServer.Storage;
using Microsoft.AspNetCore.Http;

namespace Kcm.ApiServer.Endpoints;

/// <summary>
/// Serves a watch as newline-delimited JSON events, flushed one by one, with upstream cacher semantics:
/// filtered watches see DELETED when an object stops matching and ADDED when it starts to.
/// </summary>
public sealed class WatchStreamer(TimeProvider time, TimeSpan bookmarkInterval)
{
    // Upstream picks a random timeout in [minRequestTimeout, 2*minRequestTimeout) when the client sets none.
    private static readonly TimeSpan MinRequestTimeout = TimeSpan.FromMinutes(30);

    // A replay of thousands of objects goes out in chunks of about this size rather than one write per event.
    private const long InitialFlushBytes = 256 * 1024;

    public async Task ServeAsync(HttpContext ctx, ResourceRequest req, ResourceStore store, ObjectFilter filter, ResponseConversion conversion, CancellationToken ct)
    {
        var query = ctx.Request.Query;
        long? fromRv = null;
        var rvText = query["resourceVersion"].ToString();
        if (rvText.Length > 0)
        {
            if (!long.TryParse(rvText, NumberStyles.None, CultureInfo.InvariantCulture, out var rv))
            {
                throw ApiException.BadRequest($"Invalid value: \"{rvText}\": must be a valid resource version");
            }
            fromRv = rv;
        }
        var bookmarks = IsTrue(query["allowWatchBookmarks"]);
        var timeout = long.TryParse(query["timeoutSeconds"], NumberStyles.None, CultureInfo.InvariantCulture, out var seconds) && seconds > 0
            ? TimeSpan.FromSeconds(seconds)
            : MinRequestTimeout + TimeSpan.FromSeconds(Random.Shared.NextDouble() * MinRequestTimeout.TotalSeconds);

        // Built-in kinds stream as length-prefixed protobuf frames when asked for; conversions stay JSON.
        var protobuf = conversion.Kind == ConversionKind.None && ProtobufResponses.Wanted(ctx)
            && Kcm.Api.Protobuf.ProtobufTranscoder.Supports(req.GroupVersion, req.Entry.Kind);
        ctx.Response.StatusCode = 200;
        ctx.Response.ContentType = protobuf ? ProtobufResponses.WatchContentType : ResponseWriter.JsonContentType;
        ctx.Response.Headers.CacheControl = "no-cache, private";
        var pipe = ctx.Response.BodyWriter;
        // kubectl get -w asks for tables: each event then carries a one-row Table of the object. The metadata client
        // asks for PartialObjectMetadata; asking for a PartialObjectMetadataList fails upstream's transform of each
        // single object, which then sends the object unchanged.
        Func<StoredObject, byte[]> encode = req.Custom ? o => CustomResources.CustomResourceObjects.ForRequest(req, o).Json : o => o.Json;
        Func<byte[], byte[]> encodeBookmark = json => json;
        switch (conversion.Kind)
        {
            case ConversionKind.Table:
                var includeObject = query["includeObject"].ToString() == "Object";
                encode = o => Printing.TableWriter.Render(conversion.Version, req.Group, req.Resource, [o],
                    o.ResourceVersion.ToString(CultureInfo.InvariantCulture), null, null, time.GetUtcNow(), includeObject);
                break;
            case ConversionKind.PartialObjectMetadata:
                encode = o => PartialObjectMetadataWriter.Encode(o, conversion.Version);
                encodeBookmark = json => PartialObjectMetadataWriter.Encode(json, conversion.Version);
                break;
        }

        if (protobuf)
        {
            encode = o => ProtobufResponses.EncodeObject(o.Json);
            encodeBookmark = ProtobufResponses.EncodeObject;
        }

        Watcher watcher;
        try
        {
            watcher = store.Watch(fromRv);
        }
        catch (ApiException e)
        {
            // Once the request is accepted, upstream's cacher reports watch errors as a single ERROR event.
            WriteEvent(pipe, "ERROR", protobuf ? ProtobufResponses.EncodeObject(ResponseWriter.RenderStatus(e)) : ResponseWriter.RenderStatus(e), protobuf);
            await pipe.FlushAsync(ct);
            return;
        }

        using (watcher)
        using (var timeoutCts = CancellationTokenSource.CreateLinkedTokenSource(ct))
        {
            timeoutCts.CancelAfter(timeout);
            var token = timeoutCts.Token;
            try
            {
                await ctx.Response.StartAsync(token);
                // Like upstream's watch server, flush only when nothing else is ready to send.
                foreach (var e in watcher.Initial)
                {
                    if (Send(pipe, e, filter, req, encode, encodeBookmark, protobuf) && pipe.CanGetUnflushedBytes && pipe.UnflushedBytes > InitialFlushBytes
                        && (await pipe.FlushAsync(token)).IsCompleted) return;
                }
                if ((await pipe.FlushAsync(token)).IsCompleted) return;
                var reader = watcher.Events;
                var nextBookmark = time.GetUtcNow() + bookmarkInterval;
                Task<bool>? pendingWait = null;
                var unflushed = false;
                while (true)
                {
                    // A gone client or an expired timeout must end the loop here: the wait below may already be
                    // cancelled while its completion is still queued on the thread pool, and looping on it would spin.
                    token.ThrowIfCancellationRequested();
                    if (pendingWait is null && reader.TryRead(out var ev))
                    {
                        // Written events wait for the flush until the channel is drained, even when the events
                        // after them are filtered out.
                        unflushed |= Send(pipe, ev, filter, req, encode, encodeBookmark, protobuf);
                        if (unflushed && !reader.TryPeek(out _))
                        {
                            unflushed = false;
                            if ((await pipe.FlushAsync(token)).IsCompleted) break;
                        }
                        continue;
                    }
                    if (bookmarks && time.GetUtcNow() >= nextBookmark)
                    {
                        store.Bookmark(watcher);
                        nextBookmark = time.GetUtcNow() + bookmarkInterval;
                    }
                    pendingWait ??= reader.WaitToReadAsync(token).AsTask();
                    if (bookmarks && !pendingWait.IsCompleted)
                    {
                        var delay = nextBookmark - time.GetUtcNow();
                        if (delay < TimeSpan.Zero) delay = TimeSpan.Zero;
                        using var delayCts = CancellationTokenSource.CreateLinkedTokenSource(token);
                        var done = await Task.WhenAny(pendingWait, Task.Delay(delay, time, delayCts.Token));
                        await delayCts.CancelAsync();
                        if (done != pendingWait) continue;
                    }
                    var more = await pendingWait;
                    pendingWait = null;
                    if (!more) break; // closed: overflow or server shutdown
                }
            }
            catch (OperationCanceledException)
            {
                // Timeout or client gone: the stream just ends, as upstream.
            }
        }
    }

    private static bool IsTrue(string? value) => value is "true" or "1" or "t" or "T" or "True" or "TRUE";

    private static bool Send(PipeWriter pipe, WatchEvent e, ObjectFilter filter, ResourceRequest req, Func<StoredObject, byte[]> encode,
        Func<byte[], byte[]> encodeBookmark, bool protobuf)
    {
        switch (e.Type)
        {
            case WatchEventType.Bookmark:
                var bookmark = $"{{\"kind\":\"{req.Entry.Kind}\",\"apiVersion\":\"{req.GroupVersion}\",\"metadata\":{{\"resourceVersion\":\"{e.ResourceVersion}\"}}}}";
                WriteEvent(pipe, "BOOKMARK", encodeBookmark(System.Text.Encoding.UTF8.GetBytes(bookmark)), protobuf);
                return true;
            case WatchEventType.Deleted:
                if (e.Previous is not null && !filter.Matches(e.Previous)) return false;
                WriteEvent(pipe, "DELETED", encode(e.Object!), protobuf);
                return true;
        }
        var now = filter.Matches(e.Object!);
        var before = e.Previous is not null && filter.Matches(e.Previous);
        if (now && !before) WriteEvent(pipe, "ADDED", encode(e.Object!), protobuf);
        else if (now) WriteEvent(pipe, "MODIFIED", encode(e.Object!), protobuf);
        else if (before) WriteEvent(pipe, "DELETED", encode(e.Previous!.WithResourceVersion(e.ResourceVersion)), protobuf);
        else return false;
        return true;
    }

    private static void WriteEvent(PipeWriter pipe, string type, ReadOnlySpan<byte> json, bool protobuf)
    {
        if (protobuf)
        {
            ProtobufResponses.WriteEvent(pipe, type, json);
            return;
        }
        ResponseWriter.Write(pipe, "{\"type\":\"");
        ResponseWriter.Write(pipe, type);
        ResponseWriter.Write(pipe, "\",\"object\":"u8);
        ResponseWriter.Write(pipe, json);
        ResponseWriter.Write(pipe, "}\n"u8);
    }
}

using System.Runtime.CompilerServices;
using System.Text.Json.Nodes;
using Kcm.Client;
using Kcm.Client.Errors;
using Kcm.Client.Watch;
using Kcm.Runtime.Informers;

namespace Kcm.Controllers.GarbageCollector;

/// <summary>
/// Lists and watches a resource keeping only the metadata the garbage collector reads (upstream uses the
/// metadata client's PartialObjectMetadata for the same reason): every object is cut down as soon as it is
/// decoded, and lists are read page by page so a large collection is never held whole.
/// </summary>
public sealed class MetadataOnlyListWatcher(DynamicResourceClient client, int pageSize = KubeApiClient.DefaultPageSize) : IListWatcher<JsonObject>
{
    private static readonly string[] KeptMetadata = ["name", "namespace", "uid", "resourceVersion", "ownerReferences", "finalizers", "deletionTimestamp"];

    public async Task<ListResult<JsonObject>> ListAsync(CancellationToken cancellationToken)
    {
        try
        {
            return await ListPagesAsync(pageSize, cancellationToken).ConfigureAwait(false);
        }
        catch (GoneException)
        {
            // The continue token expired between pages: start over with one unpaged list, as client-go's pager does.
            return await ListPagesAsync(null, cancellationToken).ConfigureAwait(false);
        }
    }

    public async IAsyncEnumerable<WatchEvent<JsonObject>> WatchAsync(string resourceVersion, TimeSpan timeout, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var options = new ListOptions { ResourceVersion = resourceVersion, AllowWatchBookmarks = true, TimeoutSeconds = Math.Max(1, (long)timeout.TotalSeconds) };
        await foreach (var watchEvent in client.WatchAsync(null, options, cancellationToken).ConfigureAwait(false))
        {
            yield return watchEvent with { Object = Strip(watchEvent.Object, null, null) };
        }
    }

    /// <summary>apiVersion, kind and the identity/ownership part of metadata; everything else is dropped.</summary>
    public static JsonObject Strip(JsonObject obj, string? apiVersion, string? kind)
    {
        var metadata = new JsonObject();
        if (obj["metadata"] is JsonObject source)
        {
            foreach (var field in KeptMetadata)
            {
                if (source[field] is { } value)
                {
                    source.Remove(field);
                    metadata[field] = value;
                }
            }
        }
        var stripped = new JsonObject
        {
            ["apiVersion"] = Json.String(obj, "apiVersion") ?? apiVersion,
            ["kind"] = Json.String(obj, "kind") ?? kind,
            ["metadata"] = metadata,
        };
        Materialize(stripped);
        return stripped;
    }

    /// <summary>
    /// Parsed nodes build their children lazily on first read, which is not thread-safe; the cache and the
    /// handlers read the same objects from different threads, so build everything once here.
    /// </summary>
    private static void Materialize(JsonNode? node)
    {
        switch (node)
        {
            case JsonObject o:
                foreach (var (_, child) in o)
                {
                    Materialize(child);
                }
                break;
            case JsonArray a:
                foreach (var child in a)
                {
                    Materialize(child);
                }
                break;
        }
    }

    private async Task<ListResult<JsonObject>> ListPagesAsync(int? limit, CancellationToken cancellationToken)
    {
        var items = new List<JsonObject>();
        string? resourceVersion = null;
        string? next = null;
        do
        {
            var page = await client.ListAsync(null, new ListOptions { Limit = limit, Continue = next }, cancellationToken).ConfigureAwait(false);
            resourceVersion ??= Json.String(page["metadata"], "resourceVersion");
            var apiVersion = Json.String(page, "apiVersion");
            var listKind = Json.String(page, "kind");
            var kind = listKind is not null && listKind.EndsWith("List", StringComparison.Ordinal) ? listKind[..^4] : null;
            if (page["items"] is JsonArray array)
            {
                foreach (var item in array)
                {
                    if (item is JsonObject o)
                    {
                        items.Add(Strip(o, apiVersion, kind));
                    }
                }
            }
            next = Json.String(page["metadata"], "continue");
        }
        while (!string.IsNullOrEmpty(next));
        return new ListResult<JsonObject>(items, resourceVersion ?? "");
    }
}

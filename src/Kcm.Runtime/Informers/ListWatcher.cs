using System.Runtime.CompilerServices;
using System.Text.Json.Nodes;
using Kcm.Api;
using Kcm.Client;
using Kcm.Client.Watch;

namespace Kcm.Runtime.Informers;

/// <summary>A complete list (every page joined) and the resourceVersion to watch from.</summary>
public sealed record ListResult<T>(IReadOnlyList<T> Items, string ResourceVersion);

/// <summary>How a reflector reads one resource (client-go's ListerWatcher).</summary>
public interface IListWatcher<T>
{
    Task<ListResult<T>> ListAsync(CancellationToken cancellationToken);

    /// <summary>Events after <paramref name="resourceVersion"/>, bookmarks included; the server ends the watch after <paramref name="timeout"/>.</summary>
    IAsyncEnumerable<WatchEvent<T>> WatchAsync(string resourceVersion, TimeSpan timeout, CancellationToken cancellationToken);
}

/// <summary>Which objects an informer sees: all namespaces or one, optionally narrowed by selectors.</summary>
public sealed record ListWatchScope
{
    public string? Namespace { get; init; }

    public string? LabelSelector { get; init; }

    public string? FieldSelector { get; init; }

    internal ListOptions ToWatchOptions(string resourceVersion, TimeSpan timeout) => new()
    {
        LabelSelector = LabelSelector,
        FieldSelector = FieldSelector,
        ResourceVersion = resourceVersion,
        AllowWatchBookmarks = true,
        TimeoutSeconds = Math.Max(1, (long)timeout.TotalSeconds),
        OmitManagedFields = true,
    };

    internal ListOptions ToListOptions() => new() { LabelSelector = LabelSelector, FieldSelector = FieldSelector, OmitManagedFields = true };
}

public sealed class TypedListWatcher<T>(KubeApiClient client, ListWatchScope? scope = null) : IListWatcher<T>
    where T : class, IListableResource
{
    private readonly ListWatchScope _scope = scope ?? new ListWatchScope();

    public async Task<ListResult<T>> ListAsync(CancellationToken cancellationToken)
    {
        var list = await client.ListAllAsync<T>(_scope.Namespace, _scope.ToListOptions(), cancellationToken).ConfigureAwait(false);
        var items = list.Items ?? [];
        foreach (var item in items) Trim(item);
        return new ListResult<T>(items, list.Metadata?.ResourceVersion ?? "");
    }

    public async IAsyncEnumerable<WatchEvent<T>> WatchAsync(string resourceVersion, TimeSpan timeout, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        await foreach (var e in client.WatchAsync<T>(_scope.Namespace, _scope.ToWatchOptions(resourceVersion, timeout), cancellationToken).ConfigureAwait(false))
        {
            if (e.Object is { } obj) Trim(obj);
            yield return e;
        }
    }

    // As upstream's controller manager trims its informers: no controller reads managedFields, they are often the
    // largest part of an object's metadata, and an update without them leaves the server's copy as it is. The
    // strings that repeat across the cache are shared before anyone else sees the object.
    private static void Trim(T obj)
    {
        if (obj.Metadata is { ManagedFields: not null } metadata) metadata.ManagedFields = null;
        SharedObjectStrings.Dedupe(obj);
    }
}

public sealed class DynamicListWatcher(DynamicResourceClient client, ListWatchScope? scope = null) : IListWatcher<JsonObject>
{
    private readonly ListWatchScope _scope = scope ?? new ListWatchScope();

    public async Task<ListResult<JsonObject>> ListAsync(CancellationToken cancellationToken)
    {
        var list = await client.ListAllAsync(_scope.Namespace, _scope.ToListOptions(), cancellationToken).ConfigureAwait(false);
        var items = new List<JsonObject>();
        if (list["items"] is JsonArray array)
        {
            // List items carry no apiVersion/kind on the wire; fill them in as client-go's unstructured decoding does.
            var apiVersion = JsonObjectMetadataAccessor.StringAt(list, "apiVersion");
            var listKind = JsonObjectMetadataAccessor.StringAt(list, "kind");
            var kind = listKind is not null && listKind.EndsWith("List", StringComparison.Ordinal) ? listKind[..^4] : null;
            var nodes = array.ToList();
            array.Clear(); // Detach: each item becomes a root of its own.
            foreach (var node in nodes)
            {
                if (node is not JsonObject item)
                {
                    continue;
                }
                if (item["apiVersion"] is null && apiVersion is not null)
                {
                    item["apiVersion"] = apiVersion;
                }
                if (item["kind"] is null && kind is not null)
                {
                    item["kind"] = kind;
                }
                items.Add(item);
            }
        }
        return new ListResult<JsonObject>(items, JsonObjectMetadataAccessor.MetadataString(list, "resourceVersion") ?? "");
    }

    public IAsyncEnumerable<WatchEvent<JsonObject>> WatchAsync(string resourceVersion, TimeSpan timeout, CancellationToken cancellationToken)
        => client.WatchAsync(_scope.Namespace, _scope.ToWatchOptions(resourceVersion, timeout), cancellationToken);
}

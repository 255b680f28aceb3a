using System.Runtime.CompilerServices;
using System.Text.Json;
using System.Text.Json.Nodes;
using Kcm.Client;
using Kcm.Client.Errors;
using Kcm.Client.Watch;
using Kcm.Runtime.Informers;

namespace Kcm.Controllers.Common;

/// <summary>
/// Lists and watches a resource keeping only the metadata the garbage collector reads. As upstream's metadata
/// informer, it asks the server for PartialObjectMetadata; a server that answers 406 (an old or aggregated one) is
/// asked for full objects from then on. Either way every object is projected to <typeparamref name="T"/> as soon as
/// it is decoded (given the list's apiVersion and kind, which list items do not carry), and lists are read page by
/// page so a large collection is never held whole.
/// </summary>
public class MetadataOnlyListWatcher<T>(DynamicResourceClient client, Func<JsonObject, string?, string?, T> project, int pageSize = KubeApiClient.DefaultPageSize) : IListWatcher<T>
{
    private volatile bool _serverRefusesMetadata;

    /// <summary>False once the server has refused a PartialObjectMetadata request; full objects are requested instead.</summary>
    public bool RequestsMetadata => !_serverRefusesMetadata;

    public async Task<ListResult<T>> ListAsync(CancellationToken cancellationToken)
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

    public async IAsyncEnumerable<WatchEvent<T>> WatchAsync(string resourceVersion, TimeSpan timeout, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var options = new ListOptions { ResourceVersion = resourceVersion, AllowWatchBookmarks = true, TimeoutSeconds = Math.Max(1, (long)timeout.TotalSeconds) };
        var events = _serverRefusesMetadata ? client.WatchAsync(null, options, cancellationToken) : client.WatchMetadataAsync(null, options, cancellationToken);
        await using var enumerator = events.GetAsyncEnumerator(cancellationToken);
        while (await MoveNextAsync(enumerator).ConfigureAwait(false))
        {
            var watchEvent = enumerator.Current;
            yield return new WatchEvent<T>(watchEvent.Type, project(watchEvent.Object, null, null));
        }
    }

    // A refusal of the watch (its list was accepted) is rethrown: the reflector retries, then with full objects.
    private async ValueTask<bool> MoveNextAsync(IAsyncEnumerator<WatchEvent<JsonObject>> enumerator)
    {
        try
        {
            return await enumerator.MoveNextAsync().ConfigureAwait(false);
        }
        catch (NotAcceptableException)
        {
            _serverRefusesMetadata = true;
            throw;
        }
    }

    private async Task<ListResult<T>> ListPagesAsync(int? limit, CancellationToken cancellationToken)
    {
        var items = new List<T>();
        string? resourceVersion = null;
        string? next = null;
        do
        {
            var page = await ListPageAsync(new ListOptions { Limit = limit, Continue = next }, cancellationToken).ConfigureAwait(false);
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
                        items.Add(project(o, apiVersion, kind));
                    }
                }
            }
            next = Json.String(page["metadata"], "continue");
        }
        while (!string.IsNullOrEmpty(next));
        return new ListResult<T>(items, resourceVersion ?? "");
    }

    private async Task<JsonObject> ListPageAsync(ListOptions options, CancellationToken cancellationToken)
    {
        if (!_serverRefusesMetadata)
        {
            try
            {
                return await client.ListMetadataAsync(null, options, cancellationToken).ConfigureAwait(false);
            }
            catch (NotAcceptableException)
            {
                _serverRefusesMetadata = true;
            }
        }
        return await client.ListAsync(null, options, cancellationToken).ConfigureAwait(false);
    }
}

using System.Runtime.CompilerServices;
using System.Text.Json;
using System.Text.Json.Nodes;
using Kcm.Api;
using Kcm.Api.Meta.V1;
using Kcm.Client.Errors;
using Kcm.Client.Serialization;
using Kcm.Client.Watch;

namespace Kcm.Client;

/// <summary>A resource addressed by group, version and plural name, e.g. ("apps", "v1", "deployments").</summary>
public sealed record GroupVersionResource(string Group, string Version, string Resource)
{
    public string GroupVersion => Group.Length == 0 ? Version : $"{Group}/{Version}";

    public override string ToString() => $"{Resource}.{Version}.{Group}";
}

/// <summary>Untyped access (client-go's dynamic client) for controllers that handle arbitrary resources.</summary>
public sealed class DynamicClient(RestClient rest)
{
    public DynamicResourceClient Resource(GroupVersionResource resource, bool namespaced) => new(rest, resource, namespaced);

    public DynamicResourceClient Resource(string group, string version, string resource, bool namespaced)
        => new(rest, new GroupVersionResource(group, version, resource), namespaced);
}

/// <summary>The verbs on one resource, on System.Text.Json.Nodes objects.</summary>
public sealed class DynamicResourceClient(RestClient rest, GroupVersionResource resource, bool namespaced)
{
    // client-go's metadata client's Accept headers; the protobuf alternative first when the config asks for protobuf.
    private const string MetadataJsonAccept = "application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1,application/json";
    private const string MetadataListJsonAccept = "application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1,application/json";

    private string MetadataAccept => WireFormat.PrefersProtobuf(rest.Config) ? WireFormat.MetadataProtobufAccept : MetadataJsonAccept;

    private string MetadataListAccept => WireFormat.PrefersProtobuf(rest.Config) ? WireFormat.MetadataListProtobufAccept : MetadataListJsonAccept;

    public GroupVersionResource Resource => resource;

    public bool Namespaced => namespaced;

    public async Task<JsonObject> GetAsync(string? @namespace, string name, string? subresource = null, CancellationToken cancellationToken = default)
    {
        var bytes = await rest.SendAsync(HttpMethod.Get, ObjectPath(@namespace, name, subresource), null, null, cancellationToken).ConfigureAwait(false);
        return DecodeObject(bytes);
    }

    /// <summary>
    /// The object as a meta.k8s.io/v1 PartialObjectMetadata: the whole object from a server that cannot convert, and
    /// from one that refuses the conversion (406), which is asked again for the plain object.
    /// </summary>
    public async Task<JsonObject> GetMetadataAsync(string? @namespace, string name, CancellationToken cancellationToken = default)
    {
        byte[] bytes;
        try
        {
            bytes = await rest.SendAsync(HttpMethod.Get, ObjectPath(@namespace, name, null), null, null, MetadataAccept, cancellationToken).ConfigureAwait(false);
        }
        catch (NotAcceptableException)
        {
            return await GetAsync(@namespace, name, null, cancellationToken).ConfigureAwait(false);
        }
        return DecodeObject(bytes);
    }

    /// <summary>One page (the whole list object, with metadata.continue when there is more).</summary>
    public Task<JsonObject> ListAsync(string? @namespace, ListOptions? options = null, CancellationToken cancellationToken = default)
        => ListAsync(@namespace, options, null, cancellationToken);

    /// <summary>
    /// One page as a meta.k8s.io/v1 PartialObjectMetadataList (client-go's metadata client). Like that client it also accepts
    /// plain JSON, which a server that cannot convert answers with the full list; a server that refuses throws
    /// <see cref="NotAcceptableException"/>.
    /// </summary>
    public Task<JsonObject> ListMetadataAsync(string? @namespace, ListOptions? options = null, CancellationToken cancellationToken = default)
        => ListAsync(@namespace, options, MetadataListAccept, cancellationToken);

    private async Task<JsonObject> ListAsync(string? @namespace, ListOptions? options, string? accept, CancellationToken cancellationToken)
    {
        var query = new QueryBuilder();
        (options ?? new ListOptions()).AddTo(query, watch: false);
        var bytes = await rest.SendAsync(HttpMethod.Get, CollectionPath(@namespace) + query, null, null, accept, cancellationToken).ConfigureAwait(false);
        return DecodeObject(bytes);
    }

    /// <summary>Every page joined into one list object; an expired continue token falls back to a full list.</summary>
    public async Task<JsonObject> ListAllAsync(string? @namespace, ListOptions? options = null, CancellationToken cancellationToken = default)
    {
        var pageOptions = (options ?? new ListOptions()) with { Continue = null };
        if (pageOptions.Limit is null or <= 0)
        {
            pageOptions = pageOptions with { Limit = KubeApiClient.DefaultPageSize };
        }
        var first = await ListAsync(@namespace, pageOptions, cancellationToken).ConfigureAwait(false);
        if (first["items"] is not JsonArray items)
        {
            items = [];
            first["items"] = items;
        }
        var next = ContinueOf(first);
        while (!string.IsNullOrEmpty(next))
        {
            JsonObject page;
            try
            {
                page = await ListAsync(@namespace, pageOptions with { Continue = next, ResourceVersion = null, ResourceVersionMatch = null }, cancellationToken).ConfigureAwait(false);
            }
            catch (GoneException)
            {
                return await ListAsync(@namespace, pageOptions with { Limit = null }, cancellationToken).ConfigureAwait(false);
            }
            if (page["items"] is JsonArray pageItems)
            {
                // Nodes belong to one parent: detach before moving them over.
                var moved = pageItems.ToList();
                pageItems.Clear();
                foreach (var item in moved)
                {
                    items.Add(item);
                }
            }
            next = ContinueOf(page);
        }
        if (first["metadata"] is JsonObject metadata)
        {
            metadata.Remove("continue");
            metadata.Remove("remainingItemCount");
        }
        return first;
    }

    public async Task<JsonObject> CreateAsync(JsonObject obj, string? @namespace = null, WriteOptions? options = null, CancellationToken cancellationToken = default)
    {
        var ns = Empty(@namespace) ?? Empty(MetadataString(obj, "namespace"));
        RequireNamespace(ns);
        var query = new QueryBuilder();
        options?.AddTo(query);
        var bytes = await rest.SendAsync(HttpMethod.Post, CollectionPath(ns) + query, JsonBytes.Write(obj), "application/json", cancellationToken).ConfigureAwait(false);
        return DecodeObject(bytes);
    }

    public Task<JsonObject> UpdateAsync(JsonObject obj, WriteOptions? options = null, CancellationToken cancellationToken = default)
        => PutAsync(obj, null, options, cancellationToken);

    public Task<JsonObject> UpdateStatusAsync(JsonObject obj, WriteOptions? options = null, CancellationToken cancellationToken = default)
        => PutAsync(obj, "status", options, cancellationToken);

    public async Task<JsonObject> PatchAsync(string? @namespace, string name, PatchType type, string patch, string? subresource = null, WriteOptions? options = null, CancellationToken cancellationToken = default)
    {
        var query = new QueryBuilder();
        options?.AddTo(query);
        var bytes = await rest.SendAsync(HttpMethod.Patch, ObjectPath(@namespace, name, subresource) + query, System.Text.Encoding.UTF8.GetBytes(patch), PatchTypes.ContentType(type), cancellationToken).ConfigureAwait(false);
        return DecodeObject(bytes);
    }

    public async Task DeleteAsync(string? @namespace, string name, DeleteOptions? options = null, CancellationToken cancellationToken = default)
        => await rest.SendAsync(HttpMethod.Delete, ObjectPath(@namespace, name, null), KubeApiClient.EncodeDeleteOptions(options), "application/json", cancellationToken).ConfigureAwait(false);

    public async Task DeleteCollectionAsync(string? @namespace, ListOptions? listOptions = null, DeleteOptions? options = null, CancellationToken cancellationToken = default)
    {
        var query = new QueryBuilder();
        (listOptions ?? new ListOptions()).AddTo(query, watch: false);
        await rest.SendAsync(HttpMethod.Delete, CollectionPath(@namespace) + query, KubeApiClient.EncodeDeleteOptions(options), "application/json", cancellationToken).ConfigureAwait(false);
    }

    public IAsyncEnumerable<WatchEvent<JsonObject>> WatchAsync(string? @namespace, ListOptions? options = null, CancellationToken cancellationToken = default)
        => WatchAsync(@namespace, options, null, cancellationToken);

    /// <summary>A watch whose event objects are meta.k8s.io/v1 PartialObjectMetadata (full objects from a server that cannot convert).</summary>
    public IAsyncEnumerable<WatchEvent<JsonObject>> WatchMetadataAsync(string? @namespace, ListOptions? options = null, CancellationToken cancellationToken = default)
        => WatchAsync(@namespace, options, MetadataAccept, cancellationToken);

    private async IAsyncEnumerable<WatchEvent<JsonObject>> WatchAsync(string? @namespace, ListOptions? options, string? accept, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        options ??= new ListOptions();
        var query = new QueryBuilder();
        options.AddTo(query, watch: true);
        using var response = await rest.SendStreamingAsync(HttpMethod.Get, CollectionPath(@namespace) + query, accept, cancellationToken).ConfigureAwait(false);
        await using var stream = await response.Content.ReadAsStreamAsync(cancellationToken).ConfigureAwait(false);
        // A JSON event's tree is built lazily, so managedFields are only left out of transcoded protobuf.
        await foreach (var watchEvent in WatchStreamDecoder.DecodeAsync(response, stream, KubeJson.TypeInfo<JsonObject>(), options.OmitManagedFields, cancellationToken).ConfigureAwait(false))
        {
            yield return watchEvent;
        }
    }

    private async Task<JsonObject> PutAsync(JsonObject obj, string? subresource, WriteOptions? options, CancellationToken cancellationToken)
    {
        var name = MetadataString(obj, "name");
        if (string.IsNullOrEmpty(name))
        {
            throw new ArgumentException($"the {resource.Resource} object has no metadata.name", nameof(obj));
        }
        var query = new QueryBuilder();
        options?.AddTo(query);
        var bytes = await rest.SendAsync(HttpMethod.Put, ObjectPath(MetadataString(obj, "namespace"), name, subresource) + query, JsonBytes.Write(obj), "application/json", cancellationToken).ConfigureAwait(false);
        return DecodeObject(bytes);
    }

    private string CollectionPath(string? @namespace)
        => ResourcePath.For(resource.Group, resource.Version, resource.Resource, namespaced, namespaced ? Empty(@namespace) : null);

    private string ObjectPath(string? @namespace, string name, string? subresource)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        var ns = namespaced ? Empty(@namespace) : null;
        RequireNamespace(ns);
        return ResourcePath.For(resource.Group, resource.Version, resource.Resource, namespaced, ns, name, subresource);
    }

    private void RequireNamespace(string? ns) => ResourcePath.RequireNamespace(namespaced, ns, resource.Resource);

    private static string? MetadataString(JsonObject obj, string field)
        => obj["metadata"] is JsonObject metadata && metadata[field] is JsonValue value && value.TryGetValue<string>(out var text) ? text : null;

    private static string? ContinueOf(JsonObject list) => MetadataString(list, "continue");

    private static string? Empty(string? value) => string.IsNullOrEmpty(value) ? null : value;

    private static JsonObject DecodeObject(byte[] bytes)
    {
        try
        {
            return JsonNode.Parse(WireFormat.AsJson(bytes)) as JsonObject ?? throw new KubeProtocolException("response body is not a JSON object");
        }
        catch (JsonException ex)
        {
            throw new KubeProtocolException($"undecodable response: {ex.Message}", ex);
        }
    }
}

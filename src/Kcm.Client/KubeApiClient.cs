using System.Runtime.CompilerServices;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization.Metadata;
using Kcm.Api;
using Kcm.Api.Authentication.V1;
using Kcm.Api.Autoscaling.V1;
using Kcm.Api.Certificates.V1;
using Kcm.Api.Core.V1;
using Kcm.Api.Meta.V1;
using Kcm.Api.Policy.V1;
using Kcm.Client.Config;
using Kcm.Client.Errors;
using Kcm.Client.Serialization;
using Kcm.Client.Watch;

namespace Kcm.Client;

/// <summary>
/// Typed access to any generated kind: <c>T.Resource</c> picks the REST path, <c>T.ListType</c> the list type.
/// An empty namespace counts as none, and it is ignored for cluster-scoped kinds; namespaced kinds need one except for
/// list, watch and deletecollection, where none means all namespaces.
/// </summary>
public sealed class KubeApiClient : IDisposable
{
    /// <summary>client-go's pager default page size.</summary>
    public const int DefaultPageSize = 500;

    public KubeApiClient(ClientConfig config, KubeClientOptions? options = null)
        : this(new RestClient(config, options))
    {
    }

    public KubeApiClient(RestClient rest)
    {
        Rest = rest;
        Dynamic = new DynamicClient(rest);
        Discovery = new DiscoveryClient(rest);
    }

    /// <summary>Client for a kubeconfig file (optionally another context, or --master overriding the server).</summary>
    public static KubeApiClient FromKubeconfig(string path, string? context = null, string? masterUrl = null, KubeClientOptions? options = null)
        => new(KubeconfigLoader.LoadFromFile(path, context, masterUrl), options);

    public RestClient Rest { get; }

    public ClientConfig Config => Rest.Config;

    public DynamicClient Dynamic { get; }

    public DiscoveryClient Discovery { get; }

    public async Task<T> GetAsync<T>(string? @namespace, string name, CancellationToken cancellationToken = default)
        where T : class, IResource
    {
        var path = ObjectPath<T>(@namespace, name, null);
        var bytes = await Rest.SendAsync(HttpMethod.Get, path, null, null, Accept<T>(), cancellationToken).ConfigureAwait(false);
        return Decode(bytes, KubeJson.TypeInfo<T>());
    }

    /// <summary>One page (or everything, without a limit). A null namespace lists across all namespaces.</summary>
    public async Task<IKubernetesList<T>> ListAsync<T>(string? @namespace, ListOptions? options = null, CancellationToken cancellationToken = default)
        where T : class, IListableResource
    {
        options ??= new ListOptions();
        var query = new QueryBuilder();
        options.AddTo(query, watch: false);
        var path = CollectionPath<T>(@namespace) + query;
        var bytes = await Rest.SendAsync(HttpMethod.Get, path, null, null, Accept<T>(), cancellationToken).ConfigureAwait(false);
        object? list;
        try
        {
            list = options.OmitManagedFields
                ? WireFormat.Deserialize(bytes, KubeJsonTrimmed.TypeInfo(T.ListType), omitManagedFields: true)
                : WireFormat.Deserialize(bytes, KubeJson.TypeInfo(T.ListType));
        }
        catch (JsonException ex)
        {
            throw new KubeProtocolException($"GET {path}: undecodable {T.ListType.Name}: {ex.Message}", ex);
        }
        return list as IKubernetesList<T> ?? throw new KubeProtocolException($"GET {path}: empty or unexpected list body");
    }

    /// <summary>
    /// Every item, following <c>continue</c> tokens page by page (client-go's pager). If a continue token
    /// expires (410) the pager falls back to one full list, as upstream does.
    /// </summary>
    public async Task<IKubernetesList<T>> ListAllAsync<T>(string? @namespace, ListOptions? options = null, CancellationToken cancellationToken = default)
        where T : class, IListableResource
    {
        var pageOptions = (options ?? new ListOptions()) with { Continue = null };
        if (pageOptions.Limit is null or <= 0)
        {
            pageOptions = pageOptions with { Limit = DefaultPageSize };
        }
        var first = await ListAsync<T>(@namespace, pageOptions, cancellationToken).ConfigureAwait(false);
        var items = first.Items ?? [];
        var current = first;
        while (!string.IsNullOrEmpty(current.Metadata?.Continue))
        {
            try
            {
                // Later pages must not repeat resourceVersion: the continue token pins the snapshot.
                current = await ListAsync<T>(@namespace, pageOptions with { Continue = current.Metadata.Continue, ResourceVersion = null, ResourceVersionMatch = null }, cancellationToken).ConfigureAwait(false);
            }
            catch (GoneException)
            {
                return await ListAsync<T>(@namespace, pageOptions with { Limit = null }, cancellationToken).ConfigureAwait(false);
            }
            items.AddRange(current.Items ?? []);
        }
        first.Items = items;
        first.Metadata ??= new ListMeta();
        first.Metadata.Continue = null;
        first.Metadata.RemainingItemCount = null;
        return first;
    }

    /// <summary>Creates in <paramref name="namespace"/>, or in the object's metadata.namespace when null.</summary>
    public async Task<T> CreateAsync<T>(T obj, string? @namespace = null, WriteOptions? options = null, CancellationToken cancellationToken = default)
        where T : class, IResource
    {
        var ns = NullIfEmpty(@namespace) ?? NullIfEmpty(obj.Metadata?.Namespace);
        if (T.Resource.Namespaced)
        {
            ResourcePath.RequireNamespace(true, ns, T.Resource.Plural);
        }
        var query = new QueryBuilder();
        options?.AddTo(query);
        var path = ResourcePath.For(T.Resource, T.Resource.Namespaced ? ns : null) + query;
        return await SendObjectAsync(HttpMethod.Post, path, obj, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>PUT of the whole object, addressed by its metadata; a stale resourceVersion gives <see cref="ConflictException"/>.</summary>
    public Task<T> UpdateAsync<T>(T obj, WriteOptions? options = null, CancellationToken cancellationToken = default)
        where T : class, IResource
        => PutAsync(obj, null, options, cancellationToken);

    public Task<T> UpdateStatusAsync<T>(T obj, WriteOptions? options = null, CancellationToken cancellationToken = default)
        where T : class, IResource
        => PutAsync(obj, "status", options, cancellationToken);

    /// <summary>PATCH with the given patch document (JSON text, or YAML/JSON for apply).</summary>
    public async Task<T> PatchAsync<T>(string? @namespace, string name, PatchType type, string patch, string? subresource = null, WriteOptions? options = null, CancellationToken cancellationToken = default)
        where T : class, IResource
    {
        if (type == PatchType.Apply && string.IsNullOrEmpty(options?.FieldManager))
        {
            throw new ArgumentException("server-side apply needs WriteOptions.FieldManager", nameof(options));
        }
        var query = new QueryBuilder();
        options?.AddTo(query);
        var path = ObjectPath<T>(@namespace, name, subresource) + query;
        var bytes = await Rest.SendAsync(HttpMethod.Patch, path, System.Text.Encoding.UTF8.GetBytes(patch), PatchTypes.ContentType(type), Accept<T>(), cancellationToken).ConfigureAwait(false);
        return Decode(bytes, KubeJson.TypeInfo<T>());
    }

    /// <summary>DELETE with DeleteOptions as the JSON body, like client-go.</summary>
    public async Task DeleteAsync<T>(string? @namespace, string name, DeleteOptions? options = null, CancellationToken cancellationToken = default)
        where T : class, IResource
    {
        var path = ObjectPath<T>(@namespace, name, null);
        await Rest.SendAsync(HttpMethod.Delete, path, EncodeDeleteOptions(options), "application/json", cancellationToken).ConfigureAwait(false);
    }

    public async Task DeleteCollectionAsync<T>(string? @namespace, ListOptions? listOptions = null, DeleteOptions? options = null, CancellationToken cancellationToken = default)
        where T : class, IResource
    {
        var query = new QueryBuilder();
        (listOptions ?? new ListOptions()).AddTo(query, watch: false);
        var path = CollectionPath<T>(@namespace) + query;
        await Rest.SendAsync(HttpMethod.Delete, path, EncodeDeleteOptions(options), "application/json", cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Streams events until the server closes the watch (timeoutSeconds) or the token is cancelled.
    /// An ERROR event throws its typed error, e.g. <see cref="GoneException"/> when the resourceVersion expired.
    /// </summary>
    public async IAsyncEnumerable<WatchEvent<T>> WatchAsync<T>(string? @namespace, ListOptions? options = null, [EnumeratorCancellation] CancellationToken cancellationToken = default)
        where T : class, IResource
    {
        options ??= new ListOptions();
        var query = new QueryBuilder();
        options.AddTo(query, watch: true);
        var path = CollectionPath<T>(@namespace) + query;
        using var response = await Rest.SendStreamingAsync(HttpMethod.Get, path, Accept<T>(), cancellationToken).ConfigureAwait(false);
        await using var stream = await response.Content.ReadAsStreamAsync(cancellationToken).ConfigureAwait(false);
        var typeInfo = options.OmitManagedFields ? KubeJsonTrimmed.TypeInfo<T>() : KubeJson.TypeInfo<T>();
        await foreach (var watchEvent in WatchStreamDecoder.DecodeAsync(response, stream, typeInfo, options.OmitManagedFields, cancellationToken).ConfigureAwait(false))
        {
            yield return watchEvent;
        }
    }

    // ---- subresources ----

    public async Task<TResult> GetSubresourceAsync<T, TResult>(string? @namespace, string name, string subresource, CancellationToken cancellationToken = default)
        where T : class, IResource
        where TResult : class
    {
        var bytes = await Rest.SendAsync(HttpMethod.Get, ObjectPath<T>(@namespace, name, subresource), null, null, cancellationToken).ConfigureAwait(false);
        return Decode(bytes, KubeJson.TypeInfo<TResult>());
    }

    /// <summary>PUT to a subresource (status, scale, approval).</summary>
    public async Task<TBody> ReplaceSubresourceAsync<T, TBody>(string? @namespace, string name, string subresource, TBody body, WriteOptions? options = null, CancellationToken cancellationToken = default)
        where T : class, IResource
        where TBody : class
    {
        var query = new QueryBuilder();
        options?.AddTo(query);
        var path = ObjectPath<T>(@namespace, name, subresource) + query;
        var bytes = await Rest.SendAsync(HttpMethod.Put, path, KubeJson.Serialize(body), "application/json", cancellationToken).ConfigureAwait(false);
        return Decode(bytes, KubeJson.TypeInfo<TBody>());
    }

    /// <summary>POST to a subresource (token, eviction, binding); returns the decoded response body.</summary>
    public async Task<TResult> CreateSubresourceAsync<T, TBody, TResult>(string? @namespace, string name, string subresource, TBody body, WriteOptions? options = null, CancellationToken cancellationToken = default)
        where T : class, IResource
        where TBody : class
        where TResult : class
    {
        var query = new QueryBuilder();
        options?.AddTo(query);
        var path = ObjectPath<T>(@namespace, name, subresource) + query;
        var bytes = await Rest.SendAsync(HttpMethod.Post, path, KubeJson.Serialize(body), "application/json", cancellationToken).ConfigureAwait(false);
        return Decode(bytes, KubeJson.TypeInfo<TResult>());
    }

    public Task<Scale> GetScaleAsync<T>(string? @namespace, string name, CancellationToken cancellationToken = default)
        where T : class, IResource
        => GetSubresourceAsync<T, Scale>(@namespace, name, "scale", cancellationToken);

    public Task<Scale> UpdateScaleAsync<T>(string? @namespace, string name, Scale scale, WriteOptions? options = null, CancellationToken cancellationToken = default)
        where T : class, IResource
    {
        scale.ApiVersion ??= "autoscaling/v1";
        scale.Kind ??= "Scale";
        return ReplaceSubresourceAsync<T, Scale>(@namespace, name, "scale", scale, options, cancellationToken);
    }

    /// <summary>PUT certificatesigningrequests/{name}/approval with the request's Approved/Denied conditions.</summary>
    public Task<CertificateSigningRequest> UpdateApprovalAsync(CertificateSigningRequest csr, WriteOptions? options = null, CancellationToken cancellationToken = default)
    {
        SetTypeMeta(csr);
        var name = csr.Metadata?.Name ?? throw new ArgumentException("the CertificateSigningRequest has no metadata.name", nameof(csr));
        return ReplaceSubresourceAsync<CertificateSigningRequest, CertificateSigningRequest>(null, name, "approval", csr, options, cancellationToken);
    }

    /// <summary>POST serviceaccounts/{name}/token.</summary>
    public Task<TokenRequest> CreateTokenAsync(string @namespace, string serviceAccountName, TokenRequest request, WriteOptions? options = null, CancellationToken cancellationToken = default)
    {
        request.ApiVersion ??= "authentication.k8s.io/v1";
        request.Kind ??= "TokenRequest";
        return CreateSubresourceAsync<ServiceAccount, TokenRequest, TokenRequest>(@namespace, serviceAccountName, "token", request, options, cancellationToken);
    }

    /// <summary>POST pods/{name}/eviction; 429 means a PodDisruptionBudget blocks it for now.</summary>
    public async Task EvictAsync(Eviction eviction, WriteOptions? options = null, CancellationToken cancellationToken = default)
    {
        eviction.ApiVersion ??= "policy/v1";
        eviction.Kind ??= "Eviction";
        var name = eviction.Metadata?.Name ?? throw new ArgumentException("the Eviction has no metadata.name", nameof(eviction));
        await CreateSubresourceAsync<Pod, Eviction, JsonObject>(eviction.Metadata.Namespace, name, "eviction", eviction, options, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>POST pods/{name}/binding (binding.metadata names the pod).</summary>
    public async Task BindAsync(Binding binding, WriteOptions? options = null, CancellationToken cancellationToken = default)
    {
        binding.ApiVersion ??= "v1";
        binding.Kind ??= "Binding";
        var name = binding.Metadata?.Name ?? throw new ArgumentException("the Binding has no metadata.name", nameof(binding));
        await CreateSubresourceAsync<Pod, Binding, JsonObject>(binding.Metadata.Namespace, name, "binding", binding, options, cancellationToken).ConfigureAwait(false);
    }

    private async Task<T> PutAsync<T>(T obj, string? subresource, WriteOptions? options, CancellationToken cancellationToken)
        where T : class, IResource
    {
        var name = obj.Metadata?.Name;
        if (string.IsNullOrEmpty(name))
        {
            throw new ArgumentException($"the {T.Resource.Kind} has no metadata.name", nameof(obj));
        }
        var query = new QueryBuilder();
        options?.AddTo(query);
        var path = ObjectPath<T>(obj.Metadata!.Namespace, name, subresource) + query;
        return await SendObjectAsync(HttpMethod.Put, path, obj, cancellationToken).ConfigureAwait(false);
    }

    private async Task<T> SendObjectAsync<T>(HttpMethod method, string path, T obj, CancellationToken cancellationToken)
        where T : class, IResource
    {
        // client-go writes built-in kinds in the configured content type (protobuf); the answer comes back in it too.
        var (body, contentType) = WireFormat.EncodeObject(Config, obj, T.Resource, () => EncodeWithTypeMeta(obj));
        var bytes = await Rest.SendAsync(method, path, body, contentType, Accept<T>(), cancellationToken).ConfigureAwait(false);
        return Decode(bytes, KubeJson.TypeInfo<T>());
    }

    /// <summary>Serializes with apiVersion/kind filled in from <c>T.Resource</c> when missing, without mutating the caller's object.</summary>
    internal static byte[] EncodeWithTypeMeta<T>(T obj)
        where T : class, IResource
    {
        var apiVersionMissing = obj.ApiVersion is null;
        var kindMissing = obj.Kind is null;
        if (obj.ApiVersion is not "" && obj.Kind is not "")
        {
            // The usual case: straight to bytes, with absent (null, so unwritten) type fields put in front.
            var json = KubeJson.Serialize(obj);
            return apiVersionMissing || kindMissing
                ? PrependTypeMeta(json, apiVersionMissing ? T.Resource.ApiVersion : null, kindMissing ? T.Resource.Kind : null)
                : json;
        }
        if (KubeJson.ToNode(obj) is not JsonObject node)
        {
            throw new ArgumentException($"{typeof(T).Name} did not serialize to a JSON object", nameof(obj));
        }
        if (string.IsNullOrEmpty(node["apiVersion"]?.GetValue<string>()))
        {
            node["apiVersion"] = T.Resource.ApiVersion;
        }
        if (string.IsNullOrEmpty(node["kind"]?.GetValue<string>()))
        {
            node["kind"] = T.Resource.Kind;
        }
        return JsonBytes.Write(node);
    }

    // {"a":1} → {"apiVersion":"v1","kind":"Pod","a":1}; the serializer never writes a null string, so neither key is there yet.
    private static byte[] PrependTypeMeta(byte[] json, string? apiVersion, string? kind)
    {
        if (json.Length < 2 || json[0] != (byte)'{')
        {
            throw new KubeProtocolException("an API object did not serialize to a JSON object");
        }
        var buffer = new System.Buffers.ArrayBufferWriter<byte>(json.Length + 96);
        using (var writer = new Utf8JsonWriter(buffer))
        {
            writer.WriteStartObject();
            if (apiVersion is not null) writer.WriteString("apiVersion"u8, apiVersion);
            if (kind is not null) writer.WriteString("kind"u8, kind);
            writer.Flush();
        }
        var rest = json.AsSpan(1);
        var empty = rest.TrimStart(" \t\r\n"u8) is [(byte)'}', ..];
        var result = new byte[buffer.WrittenCount + (empty ? 0 : 1) + rest.Length];
        buffer.WrittenSpan.CopyTo(result);
        var at = buffer.WrittenCount;
        if (!empty) result[at++] = (byte)',';
        rest.CopyTo(result.AsSpan(at));
        return result;
    }

    internal static byte[] EncodeDeleteOptions(DeleteOptions? options) => KubeJson.Serialize(options ?? new DeleteOptions());

    private static void SetTypeMeta<T>(T obj)
        where T : class, IResource
    {
        obj.ApiVersion ??= T.Resource.ApiVersion;
        obj.Kind ??= T.Resource.Kind;
    }

    private static string CollectionPath<T>(string? @namespace)
        where T : IResource
        => ResourcePath.For(T.Resource, T.Resource.Namespaced ? NullIfEmpty(@namespace) : null);

    private static string ObjectPath<T>(string? @namespace, string name, string? subresource)
        where T : IResource
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        var ns = T.Resource.Namespaced ? NullIfEmpty(@namespace) : null;
        ResourcePath.RequireNamespace(T.Resource.Namespaced, ns, T.Resource.Plural);
        return ResourcePath.For(T.Resource, ns, name, subresource);
    }

    private string? Accept<T>()
        where T : IResource
        => WireFormat.Accept(Config, T.Resource.ApiVersion, T.Resource.Kind);

    internal static TResult Decode<TResult>(byte[] bytes, JsonTypeInfo<TResult> typeInfo)
    {
        try
        {
            return WireFormat.Deserialize(bytes, typeInfo) ?? throw new KubeProtocolException($"empty {typeof(TResult).Name} response");
        }
        catch (JsonException ex)
        {
            throw new KubeProtocolException($"undecodable {typeof(TResult).Name} response: {ex.Message}", ex);
        }
    }

    private static string? NullIfEmpty(string? value) => string.IsNullOrEmpty(value) ? null : value;

    public void Dispose() => Rest.Dispose();
}

internal static class JsonBytes
{
    public static byte[] Write(JsonNode node)
    {
        var buffer = new System.Buffers.ArrayBufferWriter<byte>();
        using (var writer = new Utf8JsonWriter(buffer))
        {
            node.WriteTo(writer);
        }
        return buffer.WrittenSpan.ToArray();
    }
}

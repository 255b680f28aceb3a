using System.Net;
using System.Text.Json.Nodes;
using Kcm.Testing;
using static Kcm.ApiServer.Tests.Http;

namespace Kcm.ApiServer.Tests;

/// <summary>The Accept headers of client-go's metadata client (the garbage collector's and namespace controller's informers).</summary>
[Collection(ServerCollection.Name)]
public sealed class PartialObjectMetadataTests(ApiServerFixture fixture)
{
    private const string AsObject = "application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1";
    private const string AsList = "application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1";

    private readonly HttpClient _client = fixture.HttpClient;

    [Fact(Timeout = 30000)]
    public async Task Get_AcceptPartialObjectMetadata_WholeMetadataWithoutData()
    {
        var ns = await CreateNamespaceAsync(_client);
        await CreateConfigMapAsync(ns, "cm");

        var (code, body) = await GetAsync(_client, $"/api/v1/namespaces/{ns}/configmaps/cm", AsObject + ",application/json");

        Assert.Equal(HttpStatusCode.OK, code);
        Assert.Equal("PartialObjectMetadata", Str(body!["kind"]));
        Assert.Equal("meta.k8s.io/v1", Str(body["apiVersion"]));
        Assert.Null(body["data"]);
        var (_, full) = await GetAsync(_client, $"/api/v1/namespaces/{ns}/configmaps/cm");
        Assert.Equal(full!["metadata"]!.ToJsonString(), body["metadata"]!.ToJsonString());
        Assert.Equal("yes", Str(body["metadata"]!["labels"]!["keep"]));
    }

    [Fact(Timeout = 30000)]
    public async Task Get_AcceptV1Beta1_ApiVersionV1Beta1()
    {
        var ns = await CreateNamespaceAsync(_client);
        await CreateConfigMapAsync(ns, "cm");

        var (code, body) = await GetAsync(_client, $"/api/v1/namespaces/{ns}/configmaps/cm", "application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1beta1");

        Assert.Equal(HttpStatusCode.OK, code);
        Assert.Equal("meta.k8s.io/v1beta1", Str(body!["apiVersion"]));
        Assert.Equal("cm", Str(body["metadata"]!["name"]));
    }

    [Fact(Timeout = 30000)]
    public async Task List_AcceptPartialObjectMetadataList_PagedItemsOfMetadata()
    {
        var ns = await CreateNamespaceAsync(_client);
        await CreateConfigMapAsync(ns, "a");
        await CreateConfigMapAsync(ns, "b");

        var (code, first) = await GetAsync(_client, $"/api/v1/namespaces/{ns}/configmaps?limit=1", AsList + ",application/json");

        Assert.Equal(HttpStatusCode.OK, code);
        Assert.Equal("PartialObjectMetadataList", Str(first!["kind"]));
        Assert.Equal("meta.k8s.io/v1", Str(first["apiVersion"]));
        Assert.NotEmpty(Str(first["metadata"]!["resourceVersion"]));
        Assert.Equal(1, first["metadata"]!["remainingItemCount"]!.GetValue<long>());
        var item = Assert.Single(first["items"]!.AsArray())!;
        Assert.Equal("PartialObjectMetadata", Str(item["kind"]));
        Assert.Equal("meta.k8s.io/v1", Str(item["apiVersion"]));
        Assert.Equal("a", Str(item["metadata"]!["name"]));
        Assert.Null(item["data"]);

        var next = Uri.EscapeDataString(Str(first["metadata"]!["continue"]));
        var (_, second) = await GetAsync(_client, $"/api/v1/namespaces/{ns}/configmaps?limit=1&continue={next}", AsList);
        Assert.Equal("b", Str(Assert.Single(second!["items"]!.AsArray())!["metadata"]!["name"]));
        Assert.Null(second["metadata"]!["continue"]);
    }

    [Fact(Timeout = 30000)]
    public async Task List_AcceptPartialObjectMetadata_406NotAcceptable()
    {
        var ns = await CreateNamespaceAsync(_client);

        var (code, status) = await GetAsync(_client, $"/api/v1/namespaces/{ns}/configmaps", AsObject + ",application/json");

        Assert.Equal(HttpStatusCode.NotAcceptable, code);
        Assert.Equal("NotAcceptable", Str(status!["reason"]));
        Assert.Equal(406, status["code"]!.GetValue<int>());
        Assert.Contains("you requested PartialObjectMetadata, but the requested object is a list", Str(status["message"]));
    }

    [Fact(Timeout = 30000)]
    public async Task Get_AcceptPartialObjectMetadataList_406NotAcceptable()
    {
        var ns = await CreateNamespaceAsync(_client);
        await CreateConfigMapAsync(ns, "cm");

        var (code, status) = await GetAsync(_client, $"/api/v1/namespaces/{ns}/configmaps/cm", AsList);

        Assert.Equal(HttpStatusCode.NotAcceptable, code);
        Assert.Contains("you requested PartialObjectMetadataList, but the requested object is not a list", Str(status!["message"]));
    }

    [Fact(Timeout = 30000)]
    public async Task Get_AcceptOnlyUnsupportedConversions_406NotAcceptable()
    {
        var ns = await CreateNamespaceAsync(_client);
        await CreateConfigMapAsync(ns, "cm");

        var (code, status) = await GetAsync(_client, $"/api/v1/namespaces/{ns}/configmaps/cm",
            "application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v2, application/json;as=Deployment;g=apps;v=v1");

        Assert.Equal(HttpStatusCode.NotAcceptable, code);
        Assert.Equal("NotAcceptable", Str(status!["reason"]));
    }

    [Theory(Timeout = 30000)]
    [InlineData("application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v2," + AsObject, "PartialObjectMetadata")]
    [InlineData("application/json," + AsObject, "ConfigMap")]
    [InlineData("application/json;as=Table;g=meta.k8s.io;v=v1," + AsObject, "Table")]
    public async Task Get_SeveralAlternatives_FirstSupportedOneAnswers(string accept, string expectedKind)
    {
        var ns = await CreateNamespaceAsync(_client);
        await CreateConfigMapAsync(ns, "cm");

        var (code, body) = await GetAsync(_client, $"/api/v1/namespaces/{ns}/configmaps/cm", accept);

        Assert.Equal(HttpStatusCode.OK, code);
        Assert.Equal(expectedKind, Str(body!["kind"]));
    }

    [EmbeddedDiffersFact("does not serve PartialObjectMetadata as protobuf; it skips to the next (JSON) alternative", Timeout = 30000)]
    public async Task Get_ProtobufPartialObjectMetadataFirst_AnsweredInProtobuf()
    {
        var ns = await CreateNamespaceAsync(_client);
        await CreateConfigMapAsync(ns, "cm");
        using var request = new HttpRequestMessage(HttpMethod.Get, $"/api/v1/namespaces/{ns}/configmaps/cm");
        request.Headers.TryAddWithoutValidation("Accept", "application/vnd.kubernetes.protobuf;as=PartialObjectMetadata;g=meta.k8s.io;v=v1," + AsObject + ",application/json");

        using var response = await _client.SendAsync(request);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("application/vnd.kubernetes.protobuf", response.Content.Headers.ContentType!.MediaType);
        Assert.Equal("k8s\0"u8.ToArray(), (await response.Content.ReadAsByteArrayAsync())[..4]);
    }

    [Fact(Timeout = 30000)]
    public async Task Watch_AcceptPartialObjectMetadata_EveryEventCarriesMetadataOnly()
    {
        var ns = await CreateNamespaceAsync(_client);
        var rv = Str((await CreateConfigMapAsync(ns, "cm"))["metadata"]!["resourceVersion"]);
        var watch = ReadWatchAsync(_client, $"/api/v1/namespaces/{ns}/configmaps?watch=true&resourceVersion={rv}", 2, TimeSpan.FromSeconds(10), AsObject + ",application/json");
        var (_, current) = await GetAsync(_client, $"/api/v1/namespaces/{ns}/configmaps/cm");
        current!["data"]!["extra"] = "1";
        await PutAsync(_client, $"/api/v1/namespaces/{ns}/configmaps/cm", current);
        await DeleteAsync(_client, $"/api/v1/namespaces/{ns}/configmaps/cm");

        var events = await watch;

        Assert.Equal(["MODIFIED", "DELETED"], events.Select(e => Str(e["type"])));
        foreach (var e in events)
        {
            var obj = e["object"]!;
            Assert.Equal("PartialObjectMetadata", Str(obj["kind"]));
            Assert.Equal("meta.k8s.io/v1", Str(obj["apiVersion"]));
            Assert.Equal("cm", Str(obj["metadata"]!["name"]));
            Assert.NotEmpty(Str(obj["metadata"]!["uid"]));
            Assert.Null(obj["data"]);
        }
    }

    [EmbeddedOnlyFact("waits for a bookmark, which the fixture's server sends every 200 ms (a real apiserver about once a minute)", Timeout = 30000)]
    public async Task Watch_AcceptPartialObjectMetadataWithBookmarks_InitialAddedAndBookmarkAsMetadata()
    {
        var ns = await CreateNamespaceAsync(_client);
        await CreateConfigMapAsync(ns, "cm");

        var events = await ReadWatchAsync(_client, $"/api/v1/namespaces/{ns}/configmaps?watch=true&allowWatchBookmarks=true&resourceVersion=0",
            2, TimeSpan.FromSeconds(10), AsObject);

        Assert.Equal(["ADDED", "BOOKMARK"], events.Select(e => Str(e["type"])));
        Assert.Equal("cm", Str(events[0]["object"]!["metadata"]!["name"]));
        Assert.Null(events[0]["object"]!["data"]);
        var bookmark = events[1]["object"]!;
        Assert.Equal("PartialObjectMetadata", Str(bookmark["kind"]));
        Assert.NotEmpty(Str(bookmark["metadata"]!["resourceVersion"]));
    }

    [Fact(Timeout = 30000)]
    public async Task Create_AcceptPartialObjectMetadata_ResponseIsMetadataAndObjectStoredWhole()
    {
        var ns = await CreateNamespaceAsync(_client);

        var (code, body) = await SendAsync(_client, HttpMethod.Post, $"/api/v1/namespaces/{ns}/configmaps",
            ConfigMapJson("cm"), accept: AsObject);

        Assert.Equal(HttpStatusCode.Created, code);
        Assert.Equal("PartialObjectMetadata", Str(body!["kind"]));
        Assert.Null(body["data"]);
        var (_, stored) = await GetAsync(_client, $"/api/v1/namespaces/{ns}/configmaps/cm");
        Assert.Equal("v", Str(stored!["data"]!["k"]));
    }

    private static string ConfigMapJson(string name)
        => "{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{\"name\":\"" + name + "\",\"labels\":{\"keep\":\"yes\"}},\"data\":{\"k\":\"v\"}}";

    private async Task<JsonNode> CreateConfigMapAsync(string ns, string name)
    {
        var (code, body) = await PostAsync(_client, $"/api/v1/namespaces/{ns}/configmaps", ConfigMapJson(name));
        Assert.Equal(HttpStatusCode.Created, code);
        return body!;
    }
}

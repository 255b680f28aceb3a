using System.Net;
using Kcm.Testing;
using static Kcm.ApiServer.Tests.Http;

namespace Kcm.ApiServer.Tests;

[Collection(ServerCollection.Name)]
public sealed class DiscoveryTests(ApiServerFixture fixture)
{
    private readonly HttpClient _client = fixture.HttpClient;

    [Fact(Timeout = 30000)]
    public async Task Api_Get_ListsV1WithServerAddress()
    {
        var (code, body) = await GetAsync(_client, "/api");
        Assert.Equal(HttpStatusCode.OK, code);
        Assert.Equal("APIVersions", Str(body!["kind"]));
        Assert.Equal(["v1"], body["versions"]!.AsArray().Select(Str));
        var address = Assert.Single(body["serverAddressByClientCIDRs"]!.AsArray())!;
        Assert.Equal("0.0.0.0/0", Str(address["clientCIDR"]));
        // The advertise address: the bind address for the embedded server, the host's address for a real one.
        Assert.EndsWith(":" + fixture.Url.Port, Str(address["serverAddress"]));
    }

    [Fact(Timeout = 30000)]
    public async Task CoreV1_Get_MatchesReferenceEntries()
    {
        var (code, body) = await GetAsync(_client, "/api/v1");
        Assert.Equal(HttpStatusCode.OK, code);
        Assert.Equal("APIResourceList", Str(body!["kind"]));
        Assert.Null(body["apiVersion"]);
        Assert.Equal("v1", Str(body["groupVersion"]));
        var resources = body["resources"]!.AsArray();
        Assert.Equal(Canon("""{"name":"bindings","singularName":"","namespaced":true,"kind":"Binding","verbs":["create"]}"""), resources[0]!.ToJsonString());
        var pods = resources.Single(r => Str(r!["name"]) == "pods")!;
        Assert.Equal(Canon("""{"name":"pods","singularName":"","namespaced":true,"kind":"Pod","verbs":["create","delete","deletecollection","get","list","patch","update","watch"],"shortNames":["po"],"categories":["all"],"storageVersionHash":"xPOwRZ+Yhw8="}"""),
            pods.ToJsonString());
        var eviction = resources.Single(r => Str(r!["name"]) == "pods/eviction")!;
        Assert.Equal(Canon("""{"name":"pods/eviction","singularName":"","namespaced":true,"group":"policy","version":"v1","kind":"Eviction","verbs":["create"]}"""),
            eviction.ToJsonString());
    }

    [Fact(Timeout = 30000)]
    public async Task AppsV1_Get_HasScaleSubresourceWithAutoscalingKind()
    {
        var (code, body) = await GetAsync(_client, "/apis/apps/v1");
        Assert.Equal(HttpStatusCode.OK, code);
        Assert.Equal("v1", Str(body!["apiVersion"]));
        Assert.Equal("apps/v1", Str(body["groupVersion"]));
        var scale = body["resources"]!.AsArray().Single(r => Str(r!["name"]) == "deployments/scale")!;
        Assert.Equal(Canon("""{"name":"deployments/scale","singularName":"","namespaced":true,"group":"autoscaling","version":"v1","kind":"Scale","verbs":["get","patch","update"]}"""),
            scale.ToJsonString());
    }

    [Fact(Timeout = 30000)]
    public async Task Apis_Get_ListsGroupsWithPreferredVersions()
    {
        var (code, body) = await GetAsync(_client, "/apis");
        Assert.Equal(HttpStatusCode.OK, code);
        Assert.Equal("APIGroupList", Str(body!["kind"]));
        Assert.Equal("v1", Str(body["apiVersion"]));
        var autoscaling = body["groups"]!.AsArray().Single(g => Str(g!["name"]) == "autoscaling")!;
        Assert.Equal(Canon("""{"name":"autoscaling","versions":[{"groupVersion":"autoscaling/v2","version":"v2"},{"groupVersion":"autoscaling/v1","version":"v1"}],"preferredVersion":{"groupVersion":"autoscaling/v2","version":"v2"}}"""),
            autoscaling.ToJsonString());
        Assert.Equal("apiregistration.k8s.io", Str(body["groups"]![0]!["name"]));
    }

    [Fact(Timeout = 30000)]
    public async Task ApiGroup_Get_ReturnsApiGroup()
    {
        var (code, body) = await GetAsync(_client, "/apis/apps");
        Assert.Equal(HttpStatusCode.OK, code);
        Assert.Equal(Canon("""{"kind":"APIGroup","apiVersion":"v1","name":"apps","versions":[{"groupVersion":"apps/v1","version":"v1"}],"preferredVersion":{"groupVersion":"apps/v1","version":"v1"}}"""),
            body!.ToJsonString());
    }

    [Fact(Timeout = 30000)]
    public async Task Version_Get_ReportsV1263()
    {
        var (code, body) = await GetAsync(_client, "/version");
        Assert.Equal(HttpStatusCode.OK, code);
        Assert.Equal("1", Str(body!["major"]));
        Assert.Equal("26", Str(body["minor"]));
        Assert.Equal("v1.26.3", Str(body["gitVersion"]));
        Assert.Equal("gc", Str(body["compiler"]));
    }

    [Theory(Timeout = 30000)]
    [InlineData("/healthz")]
    [InlineData("/livez")]
    [InlineData("/readyz")]
    public async Task Health_Get_Ok(string path)
    {
        using var response = await _client.GetAsync(path);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("ok", await response.Content.ReadAsStringAsync());
    }

    [EmbeddedDiffersFact("answers a path under an unknown API group with a NotFound Status instead of the plain-text mux 404", Timeout = 30000)]
    public async Task UnknownGroupPath_Get_PlainTextNotFound()
    {
        using var response = await _client.GetAsync("/apis/nope.example.com/v1/things");
        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        Assert.Equal("404 page not found\n", await response.Content.ReadAsStringAsync());
    }

    [Fact(Timeout = 30000)]
    public async Task SystemNamespaces_Get_ExistAndActive()
    {
        foreach (var name in new[] { "default", "kube-system", "kube-public", "kube-node-lease" })
        {
            var (code, ns) = await GetAsync(_client, $"/api/v1/namespaces/{name}");
            Assert.Equal(HttpStatusCode.OK, code);
            Assert.Equal("Active", Str(ns!["status"]!["phase"]));
            Assert.Equal("kubernetes", Str(ns["spec"]!["finalizers"]![0]));
            Assert.Equal(name, Str(ns["metadata"]!["labels"]!["kubernetes.io/metadata.name"]));
        }
    }
}

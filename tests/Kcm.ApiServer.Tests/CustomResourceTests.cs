using System.Net;
using System.Text.Json.Nodes;
using Kcm.Testing;
using static Kcm.ApiServer.Tests.Http;

namespace Kcm.ApiServer.Tests;

/// <summary>CustomResourceDefinitions on the test server (embedded or real): lifecycle, serving in two versions, subresources, deletion.</summary>
[Collection(ServerCollection.Name)]
public sealed class CustomResourceTests(ApiServerFixture fixture)
{
    private readonly HttpClient _client = fixture.HttpClient;

    // A group of its own per test: CRDs are cluster-scoped and the real test cluster outlives a run.
    private readonly string _group = "g" + Guid.NewGuid().ToString("N")[..10] + ".example.com";

    private string CrdPath => $"/apis/apiextensions.k8s.io/v1/customresourcedefinitions/widgets.{_group}";

    private async Task CreateCrdAsync()
    {
        var (code, body) = await PostAsync(_client, "/apis/apiextensions.k8s.io/v1/customresourcedefinitions", $$$$"""
            {"metadata":{"name":"widgets.{{{{_group}}}}"},"spec":{"group":"{{{{_group}}}}","scope":"Namespaced","names":{"plural":"widgets","kind":"Widget"},
             "versions":[
              {"name":"v1","served":true,"storage":true,"subresources":{"status":{},"scale":{"specReplicasPath":".spec.replicas","statusReplicasPath":".status.replicas"}},
               "schema":{"openAPIV3Schema":{"type":"object","x-kubernetes-preserve-unknown-fields":true}}},
              {"name":"v2beta1","served":true,"storage":false,"schema":{"openAPIV3Schema":{"type":"object","x-kubernetes-preserve-unknown-fields":true}}}]}}
            """);
        Assert.True(code == HttpStatusCode.Created, body?.ToJsonString());
        Assert.Equal("WidgetList", Str(body!["spec"]!["names"]!["listKind"]));
        Assert.Equal("[\"v1\"]", body["status"]!["storedVersions"]!.ToJsonString());
        await Eventually.TrueAsync("the CRD to be Established", async () =>
        {
            var (_, crd) = await GetAsync(_client, CrdPath);
            return (crd?["status"]?["conditions"] as JsonArray)?.Any(c => Str(c?["type"]) == "Established" && Str(c?["status"]) == "True") == true;
        });
    }

    [Fact(Timeout = 60_000)]
    public async Task CustomResource_ServedVersionsAndSubresources_BehaveAsUpstream()
    {
        await CreateCrdAsync();
        try
        {
            var ns = await CreateNamespaceAsync(_client);
            var v1 = $"/apis/{_group}/v1/namespaces/{ns}/widgets";
            var (code, created) = await PostAsync(_client, v1, $$$$"""{"apiVersion":"{{{{_group}}}}/v1","kind":"Widget","metadata":{"name":"a"},"spec":{"replicas":2},"status":{"replicas":7}}""");
            Assert.Equal(HttpStatusCode.Created, code);
            Assert.Null(created!["status"]);
            Assert.Equal(1, created["metadata"]!["generation"]!.GetValue<long>());

            var (_, inBeta) = await GetAsync(_client, $"/apis/{_group}/v2beta1/namespaces/{ns}/widgets/a");
            Assert.Equal($"{_group}/v2beta1", Str(inBeta!["apiVersion"]));
            var (_, list) = await GetAsync(_client, v1);
            Assert.Equal("WidgetList", Str(list!["kind"]));
            Assert.Equal("Widget", Str(list["items"]![0]!["kind"]));

            var (_, status) = await SendAsync(_client, HttpMethod.Patch, v1 + "/a/status", """{"spec":{"replicas":9},"status":{"replicas":3}}""", "application/merge-patch+json");
            Assert.Equal(2, status!["spec"]!["replicas"]!.GetValue<int>());
            Assert.Equal(1, status["metadata"]!["generation"]!.GetValue<long>());

            var (scaleCode, scale) = await PutAsync(_client, v1 + "/a/scale", JsonNode.Parse("""{"apiVersion":"autoscaling/v1","kind":"Scale","metadata":{"name":"a"},"spec":{"replicas":5}}""")!);
            Assert.True(scaleCode == HttpStatusCode.OK, scale?.ToJsonString());
            Assert.Equal(3, scale!["status"]!["replicas"]!.GetValue<int>());
            var (_, scaled) = await GetAsync(_client, v1 + "/a");
            Assert.Equal(5, scaled!["spec"]!["replicas"]!.GetValue<int>());
            Assert.Equal(2, scaled["metadata"]!["generation"]!.GetValue<long>());

            var (badField, error) = await GetAsync(_client, v1 + "?fieldSelector=spec.replicas%3D5");
            Assert.Equal(HttpStatusCode.BadRequest, badField);
            Assert.Equal("field label not supported: spec.replicas", Str(error!["message"]));
        }
        finally
        {
            await DeleteAsync(_client, CrdPath);
        }
    }

    [Fact(Timeout = 60_000)]
    public async Task Watch_InOtherServedVersion_EventsCarryThatApiVersion()
    {
        await CreateCrdAsync();
        try
        {
            var ns = await CreateNamespaceAsync(_client);
            // Watching from the list's resourceVersion replays both events, whenever the watch starts.
            var (_, list) = await GetAsync(_client, $"/apis/{_group}/v1/namespaces/{ns}/widgets");
            var rv = Str(list!["metadata"]!["resourceVersion"]);
            await PostAsync(_client, $"/apis/{_group}/v1/namespaces/{ns}/widgets", $$$$"""{"apiVersion":"{{{{_group}}}}/v1","kind":"Widget","metadata":{"name":"w"}}""");
            await DeleteAsync(_client, $"/apis/{_group}/v1/namespaces/{ns}/widgets/w");
            var events = await ReadWatchAsync(_client, $"/apis/{_group}/v2beta1/namespaces/{ns}/widgets?watch=1&resourceVersion={rv}", 2, TimeSpan.FromSeconds(30));
            Assert.Equal(new[] { "ADDED", "DELETED" }, events.Select(e => Str(e["type"])).ToArray());
            Assert.All(events, e => Assert.Equal($"{_group}/v2beta1", Str(e["object"]!["apiVersion"])));
        }
        finally
        {
            await DeleteAsync(_client, CrdPath);
        }
    }

    [Fact(Timeout = 60_000)]
    public async Task DeleteCrd_WithInstances_TerminatesDeletesInstancesThenGoes()
    {
        await CreateCrdAsync();
        var ns = await CreateNamespaceAsync(_client);
        var v1 = $"/apis/{_group}/v1/namespaces/{ns}/widgets";
        await PostAsync(_client, v1, $$$$"""{"apiVersion":"{{{{_group}}}}/v1","kind":"Widget","metadata":{"name":"a"}}""");

        var (code, marked) = await DeleteAsync(_client, CrdPath);

        Assert.Equal(HttpStatusCode.OK, code);
        Assert.Equal("[\"customresourcecleanup.apiextensions.k8s.io\"]", marked!["metadata"]!["finalizers"]!.ToJsonString());
        Assert.Contains(marked["status"]!["conditions"]!.AsArray(), c => Str(c?["type"]) == "Terminating" && Str(c?["status"]) == "True");
        await Eventually.TrueAsync("the CRD to go", async () => (await GetAsync(_client, CrdPath)).Code == HttpStatusCode.NotFound);
        Assert.Equal(HttpStatusCode.NotFound, (await GetAsync(_client, v1 + "/a")).Code);
        // kube-apiserver's discovery controller drops the group from its own queue, a moment after the CRD goes.
        await Eventually.TrueAsync("the group to leave discovery", async () => (await GetAsync(_client, $"/apis/{_group}")).Code == HttpStatusCode.NotFound);
    }
}

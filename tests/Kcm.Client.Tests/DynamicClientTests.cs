using System.Net;
using System.Text.Json.Nodes;
using Kcm.Client.Tests.Support;

namespace Kcm.Client.Tests;

public sealed class DynamicClientTests
{
    [Fact(Timeout = 10000)]
    public async Task ListAllAsync_Pages_JoinsItemsIntoOneListObject()
    {
        var handler = new StubHandler()
            .Respond(HttpStatusCode.OK, """{"kind":"DeploymentList","metadata":{"continue":"c1"},"items":[{"metadata":{"name":"a"}}]}""")
            .Respond(HttpStatusCode.OK, """{"kind":"DeploymentList","metadata":{},"items":[{"metadata":{"name":"b"}}]}""");
        using var client = TestClients.Create(handler);
        var deployments = client.Dynamic.Resource("apps", "v1", "deployments", namespaced: true);

        var list = await deployments.ListAllAsync("ns");

        Assert.Equal(["a", "b"], list["items"]!.AsArray().Select(i => (string?)i!["metadata"]!["name"]));
        Assert.Null(list["metadata"]!["continue"]);
        Assert.Equal("/apis/apps/v1/namespaces/ns/deployments", handler.Requests[1].Uri.AbsolutePath);
        Assert.Equal("?limit=500&continue=c1", handler.Requests[1].Uri.Query);
    }

    [Fact(Timeout = 10000)]
    public async Task Verbs_CoreResource_UseObjectMetadataForPaths()
    {
        var handler = new StubHandler { Fallback = _ => StubHandler.Response(HttpStatusCode.OK, """{"metadata":{"name":"s"}}""") };
        using var client = TestClients.Create(handler);
        var secrets = client.Dynamic.Resource(new GroupVersionResource("", "v1", "secrets"), namespaced: true);
        var obj = new JsonObject { ["apiVersion"] = "v1", ["kind"] = "Secret", ["metadata"] = new JsonObject { ["name"] = "s", ["namespace"] = "ns" } };

        await secrets.CreateAsync(obj);
        await secrets.UpdateAsync(obj);
        await secrets.GetAsync("ns", "s");
        await secrets.PatchAsync("ns", "s", PatchType.Merge, """{"metadata":{"finalizers":null}}""");
        await secrets.DeleteAsync("ns", "s");
        await client.Dynamic.Resource("", "v1", "namespaces", namespaced: false).UpdateAsync(
            new JsonObject { ["metadata"] = new JsonObject { ["name"] = "ns" } }, cancellationToken: CancellationToken.None);

        Assert.Equal(
            [
                "POST /api/v1/namespaces/ns/secrets",
                "PUT /api/v1/namespaces/ns/secrets/s",
                "GET /api/v1/namespaces/ns/secrets/s",
                "PATCH /api/v1/namespaces/ns/secrets/s",
                "DELETE /api/v1/namespaces/ns/secrets/s",
                "PUT /api/v1/namespaces/ns",
            ],
            handler.Requests.Select(r => $"{r.Method} {r.Uri.AbsolutePath}"));
    }

    [Fact(Timeout = 10000)]
    public async Task WatchAsync_Stream_YieldsJsonObjects()
    {
        var handler = new StubHandler().Respond(HttpStatusCode.OK, """{"type":"ADDED","object":{"kind":"Widget","metadata":{"name":"w"}}}""");
        using var client = TestClients.Create(handler);
        var events = new List<Kcm.Client.Watch.WatchEvent<JsonObject>>();

        await foreach (var e in client.Dynamic.Resource("example.com", "v1", "widgets", true).WatchAsync(null))
        {
            events.Add(e);
        }

        Assert.Equal("w", (string?)Assert.Single(events).Object["metadata"]!["name"]);
        Assert.Equal("/apis/example.com/v1/widgets", handler.Requests[0].Uri.AbsolutePath);
    }

    [Fact(Timeout = 10000)]
    public async Task Discovery_AllResources_ReadsCoreAndGroupVersions()
    {
        var handler = new StubHandler()
            .Respond(HttpStatusCode.OK, """{"kind":"APIVersions","versions":["v1"]}""")
            .Respond(HttpStatusCode.OK, """{"kind":"APIGroupList","groups":[{"name":"apps","versions":[{"groupVersion":"apps/v1","version":"v1"}],"preferredVersion":{"groupVersion":"apps/v1","version":"v1"}}]}""")
            .Respond(HttpStatusCode.OK, """{"kind":"APIResourceList","groupVersion":"v1","resources":[{"name":"pods","namespaced":true,"kind":"Pod","verbs":["get"]}]}""")
            .Respond(HttpStatusCode.OK, """{"kind":"APIResourceList","groupVersion":"apps/v1","resources":[{"name":"deployments","namespaced":true,"kind":"Deployment","verbs":["get"]}]}""");
        using var client = TestClients.Create(handler);

        var lists = await client.Discovery.GetAllResourcesAsync();

        Assert.Equal(["v1", "apps/v1"], lists.Select(l => l.GroupVersion));
        Assert.Equal(["/api", "/apis", "/api/v1", "/apis/apps/v1"], handler.Requests.Select(r => r.Uri.AbsolutePath));
    }

    [Fact(Timeout = 10000)]
    public async Task GetMetadataAsync_ServerRefusesConversion_AsksAgainForThePlainObject()
    {
        var handler = new StubHandler()
            .Respond(HttpStatusCode.NotAcceptable, """{"kind":"Status","apiVersion":"v1","status":"Failure","reason":"NotAcceptable","code":406}""")
            .Respond(HttpStatusCode.OK, """{"kind":"Widget","metadata":{"name":"w","uid":"u1"},"spec":{"size":3}}""");
        using var client = TestClients.Create(handler);

        var widget = await client.Dynamic.Resource("example.com", "v1", "widgets", namespaced: true).GetMetadataAsync("ns", "w");

        Assert.Equal("u1", (string?)widget["metadata"]!["uid"]);
        Assert.Contains("as=PartialObjectMetadata", handler.Requests[0].Headers["Accept"]);
        Assert.DoesNotContain("as=PartialObjectMetadata", handler.Requests[1].Headers.GetValueOrDefault("Accept") ?? "");
        Assert.Equal(2, handler.Requests.Count);
    }
}

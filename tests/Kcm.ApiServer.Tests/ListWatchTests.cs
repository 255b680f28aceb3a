using System.Net;
using System.Text.Json.Nodes;
using Kcm.Testing;
using static Kcm.ApiServer.Tests.Http;

namespace Kcm.ApiServer.Tests;

[Collection(ServerCollection.Name)]
public sealed class ListWatchTests(ApiServerFixture fixture)
{
    private readonly HttpClient _client = fixture.HttpClient;

    private async Task<string> NamespaceWithConfigMapsAsync(int count)
    {
        var ns = await CreateNamespaceAsync(_client);
        for (var i = 0; i < count; i++)
        {
            var (code, _) = await PostAsync(_client, $"/api/v1/namespaces/{ns}/configmaps",
                "{\"metadata\":{\"name\":\"cm-" + (i.ToString("D2")) + "\",\"labels\":{\"parity\":\"" + ((i % 2 == 0 ? "even" : "odd")) + "\"}}}");
            Assert.Equal(HttpStatusCode.Created, code);
        }
        return ns;
    }

    [Fact(Timeout = 30000)]
    public async Task List_Items_SortedWithoutTypeMeta()
    {
        var ns = await NamespaceWithConfigMapsAsync(3);
        var (code, list) = await GetAsync(_client, $"/api/v1/namespaces/{ns}/configmaps");
        Assert.Equal(HttpStatusCode.OK, code);
        Assert.Equal("ConfigMapList", Str(list!["kind"]));
        Assert.Equal("v1", Str(list["apiVersion"]));
        Assert.True(long.Parse(Str(list["metadata"]!["resourceVersion"])) > 0);
        var items = list["items"]!.AsArray();
        Assert.Equal(["cm-00", "cm-01", "cm-02"], items.Select(i => Str(i!["metadata"]!["name"])));
        Assert.All(items, i => Assert.Null(i!["kind"]));
        Assert.All(items, i => Assert.Null(i!["apiVersion"]));
    }

    [Fact(Timeout = 30000)]
    public async Task List_LimitAndContinue_PagesThroughAll()
    {
        var ns = await NamespaceWithConfigMapsAsync(5);
        var (_, page1) = await GetAsync(_client, $"/api/v1/namespaces/{ns}/configmaps?limit=2");
        Assert.Equal(2, page1!["items"]!.AsArray().Count);
        Assert.Equal(3, page1["metadata"]!["remainingItemCount"]!.GetValue<long>());
        var token = Str(page1["metadata"]!["continue"]);
        Assert.NotEmpty(token);

        // A write between pages must not show up: continuation is a consistent snapshot.
        await PostAsync(_client, $"/api/v1/namespaces/{ns}/configmaps", """{"metadata":{"name":"cm-03a"}}""");

        var names = page1["items"]!.AsArray().Select(i => Str(i!["metadata"]!["name"])).ToList();
        while (token.Length > 0)
        {
            var (code, page) = await GetAsync(_client, $"/api/v1/namespaces/{ns}/configmaps?limit=2&continue={Uri.EscapeDataString(token)}");
            Assert.Equal(HttpStatusCode.OK, code);
            Assert.Equal(Str(page1["metadata"]!["resourceVersion"]), Str(page!["metadata"]!["resourceVersion"]));
            names.AddRange(page["items"]!.AsArray().Select(i => Str(i!["metadata"]!["name"])));
            token = Str(page["metadata"]!["continue"]);
        }
        Assert.Equal(["cm-00", "cm-01", "cm-02", "cm-03", "cm-04"], names);
    }

    [Fact(Timeout = 30000)]
    public async Task List_BadContinue_BadRequest()
    {
        var (code, body) = await GetAsync(_client, "/api/v1/namespaces/default/configmaps?limit=1&continue=gYGB");
        Assert.Equal(HttpStatusCode.BadRequest, code);
        Assert.Equal("BadRequest", Str(body!["reason"]));
        Assert.Equal("invalid continue token: continue key is not valid: invalid character '\\u0081' looking for beginning of value", Str(body["message"]));
    }

    [Fact(Timeout = 30000)]
    public async Task List_LabelSelector_Filters()
    {
        var ns = await NamespaceWithConfigMapsAsync(4);
        var (code, list) = await GetAsync(_client, $"/api/v1/namespaces/{ns}/configmaps?labelSelector=parity%3Deven");
        Assert.Equal(HttpStatusCode.OK, code);
        Assert.Equal(["cm-00", "cm-02"], list!["items"]!.AsArray().Select(i => Str(i!["metadata"]!["name"])));
    }

    [Fact(Timeout = 30000)]
    public async Task List_FieldSelector_FiltersPodsByNodeName()
    {
        var ns = await CreateNamespaceAsync(_client);
        await PostAsync(_client, $"/api/v1/namespaces/{ns}/pods", """{"metadata":{"name":"a"},"spec":{"nodeName":"n1","containers":[{"name":"c","image":"x"}]}}""");
        await PostAsync(_client, $"/api/v1/namespaces/{ns}/pods", """{"metadata":{"name":"b"},"spec":{"nodeName":"n2","containers":[{"name":"c","image":"x"}]}}""");
        var (code, list) = await GetAsync(_client, $"/api/v1/namespaces/{ns}/pods?fieldSelector=spec.nodeName%3Dn2");
        Assert.Equal(HttpStatusCode.OK, code);
        Assert.Equal(["b"], list!["items"]!.AsArray().Select(i => Str(i!["metadata"]!["name"])));
        var (_, byName) = await GetAsync(_client, $"/api/v1/pods?fieldSelector=metadata.name%3Da,metadata.namespace%3D{ns}");
        Assert.Equal(["a"], byName!["items"]!.AsArray().Select(i => Str(i!["metadata"]!["name"])));
    }

    [Fact(Timeout = 30000)]
    public async Task List_UnsupportedFieldLabel_BadRequest()
    {
        var (code, body) = await GetAsync(_client, "/api/v1/pods?fieldSelector=spec.bogus%3Dx");
        Assert.Equal(HttpStatusCode.BadRequest, code);
        Assert.Equal("field label not supported: spec.bogus", Str(body!["message"]));
    }

    [Fact(Timeout = 30000)]
    public async Task Watch_FromResourceVersion_ReplaysLaterEvents()
    {
        var ns = await CreateNamespaceAsync(_client);
        var (_, list) = await GetAsync(_client, $"/api/v1/namespaces/{ns}/configmaps");
        var rv = Str(list!["metadata"]!["resourceVersion"]);
        await PostAsync(_client, $"/api/v1/namespaces/{ns}/configmaps", """{"metadata":{"name":"a"}}""");
        await SendAsync(_client, HttpMethod.Patch, $"/api/v1/namespaces/{ns}/configmaps/a", """{"data":{"x":"y"}}""", "application/merge-patch+json");
        await DeleteAsync(_client, $"/api/v1/namespaces/{ns}/configmaps/a");

        var events = await ReadWatchAsync(_client, $"/api/v1/namespaces/{ns}/configmaps?watch=true&resourceVersion={rv}", 3, TimeSpan.FromSeconds(10));
        Assert.Equal(["ADDED", "MODIFIED", "DELETED"], events.Select(e => Str(e["type"])));
        Assert.All(events, e => Assert.Equal("ConfigMap", Str(e["object"]!["kind"])));
        var rvs = events.Select(e => long.Parse(Str(e["object"]!["metadata"]!["resourceVersion"]))).ToList();
        Assert.Equal(rvs.Order(), rvs);
    }

    [Fact(Timeout = 30000)]
    public async Task Watch_Live_ReceivesNewObjectsOnLegacyPath()
    {
        var ns = await CreateNamespaceAsync(_client);
        var watch = ReadWatchAsync(_client, $"/api/v1/watch/namespaces/{ns}/configmaps?resourceVersion=0", 2, TimeSpan.FromSeconds(10));
        await Task.Delay(300);
        await PostAsync(_client, $"/api/v1/namespaces/{ns}/configmaps", """{"metadata":{"name":"one"}}""");
        await PostAsync(_client, $"/api/v1/namespaces/{ns}/configmaps", """{"metadata":{"name":"two"}}""");
        var events = await watch;
        Assert.Equal(["one", "two"], events.Select(e => Str(e["object"]!["metadata"]!["name"])));
    }

    [EmbeddedOnlyFact("needs the fixture's 50-event watch window; a real apiserver keeps minutes of history", Timeout = 30000)]
    public async Task Watch_TooOldResourceVersion_ErrorEvent410()
    {
        // The fixture retains 50 events per resource; push well past that.
        var ns = await CreateNamespaceAsync(_client);
        var (_, first) = await PostAsync(_client, $"/api/v1/namespaces/{ns}/secrets", """{"metadata":{"name":"s0"}}""");
        var oldRv = Str(first!["metadata"]!["resourceVersion"]);
        for (var i = 1; i < 60; i++) await PostAsync(_client, $"/api/v1/namespaces/{ns}/secrets", "{\"metadata\":{\"name\":\"s" + (i) + "\"}}");
        var events = await ReadWatchAsync(_client, $"/api/v1/namespaces/{ns}/secrets?watch=1&resourceVersion={oldRv}", 1, TimeSpan.FromSeconds(10));
        var error = Assert.Single(events);
        Assert.Equal("ERROR", Str(error["type"]));
        var status = error["object"]!;
        Assert.Equal("Expired", Str(status["reason"]));
        Assert.Equal(410, status["code"]!.GetValue<int>());
        Assert.Matches($"^too old resource version: {oldRv} \\([0-9]+\\)$", Str(status["message"]));

        var (listCode, _) = await GetAsync(_client, $"/api/v1/namespaces/{ns}/secrets?limit=1");
        Assert.Equal(HttpStatusCode.OK, listCode);
    }

    [EmbeddedOnlyFact("needs the fixture's 50-event window; a real apiserver's continue tokens live until etcd compacts (5 minutes)", Timeout = 30000)]
    public async Task List_ContinueOlderThanWindow_Expired()
    {
        var ns = await CreateNamespaceAsync(_client);
        for (var i = 0; i < 3; i++) await PostAsync(_client, $"/api/v1/namespaces/{ns}/services", "{\"metadata\":{\"name\":\"s" + (i) + "\"},\"spec\":{\"ports\":[{\"port\":80}]}}");
        var (_, page) = await GetAsync(_client, $"/api/v1/namespaces/{ns}/services?limit=1");
        var token = Str(page!["metadata"]!["continue"]);
        for (var i = 3; i < 60; i++) await PostAsync(_client, $"/api/v1/namespaces/{ns}/services", "{\"metadata\":{\"name\":\"s" + (i) + "\"},\"spec\":{\"ports\":[{\"port\":80}]}}");
        var (code, body) = await GetAsync(_client, $"/api/v1/namespaces/{ns}/services?limit=1&continue={Uri.EscapeDataString(token)}");
        Assert.Equal(HttpStatusCode.Gone, code);
        Assert.Equal("Expired", Str(body!["reason"]));
        Assert.NotEmpty(Str(body["metadata"]!["continue"]));
    }

    [EmbeddedOnlyFact("waits for a bookmark, which the fixture's server sends every 200 ms (a real apiserver about once a minute)", Timeout = 30000)]
    public async Task Watch_Bookmarks_SentPeriodically()
    {
        var ns = await CreateNamespaceAsync(_client);
        var events = await ReadWatchAsync(_client, $"/api/v1/namespaces/{ns}/configmaps?watch=true&allowWatchBookmarks=true&resourceVersion=0", 1, TimeSpan.FromSeconds(10));
        var bookmark = Assert.Single(events);
        Assert.Equal("BOOKMARK", Str(bookmark["type"]));
        Assert.Equal("ConfigMap", Str(bookmark["object"]!["kind"]));
        Assert.True(long.Parse(Str(bookmark["object"]!["metadata"]!["resourceVersion"])) > 0);
    }

    [Fact(Timeout = 30000)]
    public async Task Watch_TimeoutSeconds_EndsStream()
    {
        var ns = await CreateNamespaceAsync(_client);
        var started = DateTime.UtcNow;
        var events = await ReadWatchAsync(_client, $"/api/v1/namespaces/{ns}/configmaps?watch=true&timeoutSeconds=1", 100, TimeSpan.FromSeconds(10));
        Assert.Empty(events);
        Assert.True(DateTime.UtcNow - started < TimeSpan.FromSeconds(8));
    }

    [Fact(Timeout = 30000)]
    public async Task Watch_LabelSelector_DeletedWhenStopsMatching()
    {
        var ns = await CreateNamespaceAsync(_client);
        // From a version before the create, not from "now": a watch the loaded server has not yet set up when the first
        // patch lands would start from a state where c no longer matches and never see the first two events.
        var (_, list) = await GetAsync(_client, $"/api/v1/namespaces/{ns}/configmaps");
        var rv = Str(list!["metadata"]!["resourceVersion"]);
        await PostAsync(_client, $"/api/v1/namespaces/{ns}/configmaps", """{"metadata":{"name":"c","labels":{"sel":"yes"}}}""");
        var watch = ReadWatchAsync(_client, $"/api/v1/namespaces/{ns}/configmaps?watch=true&labelSelector=sel%3Dyes&resourceVersion={rv}", 3, TimeSpan.FromSeconds(10));
        await SendAsync(_client, HttpMethod.Patch, $"/api/v1/namespaces/{ns}/configmaps/c", """{"metadata":{"labels":{"sel":"no"}}}""", "application/merge-patch+json");
        await SendAsync(_client, HttpMethod.Patch, $"/api/v1/namespaces/{ns}/configmaps/c", """{"metadata":{"labels":{"sel":"yes"}}}""", "application/merge-patch+json");
        var events = await watch;
        Assert.Equal(["ADDED", "DELETED", "ADDED"], events.Select(e => Str(e["type"])));
    }

    [Fact(Timeout = 30000)]
    public async Task Watch_MatchingEventFollowedOnlyByFilteredOnes_DeliveredWithoutWaitingForMore()
    {
        var ns = await CreateNamespaceAsync(_client);
        var (_, list) = await GetAsync(_client, $"/api/v1/namespaces/{ns}/configmaps");
        var rv = Str(list!["metadata"]!["resourceVersion"]);
        var watch = ReadWatchAsync(_client, $"/api/v1/namespaces/{ns}/configmaps?watch=true&labelSelector=sel%3Dyes&resourceVersion={rv}", 1, TimeSpan.FromSeconds(10));
        await Task.Delay(300);

        // One object the watch selects amid a burst it filters out: it must not wait in an unflushed buffer for a
        // later event the watch selects (none comes).
        await Task.WhenAll(Enumerable.Range(0, 41).Select(i => PostAsync(_client, $"/api/v1/namespaces/{ns}/configmaps", i == 20
            ? """{"metadata":{"name":"wanted","labels":{"sel":"yes"}}}"""
            : "{\"metadata\":{\"name\":\"other-" + i + "\",\"labels\":{\"sel\":\"no\"}}}")));

        var events = await watch;
        Assert.Equal("wanted", Str(Assert.Single(events)["object"]!["metadata"]!["name"]));
    }
}

using System.Net;
using System.Text.Json.Nodes;
using Kcm.Testing;
using static Kcm.ApiServer.Tests.Http;

namespace Kcm.ApiServer.Tests;

[Collection(ServerCollection.Name)]
public sealed class DeletionTests(ApiServerFixture fixture)
{
    private readonly HttpClient _client = fixture.HttpClient;

    private static string[] Finalizers(JsonNode? obj)
        => obj?["metadata"]?["finalizers"]?.AsArray().Select(f => Str(f)).ToArray() ?? [];

    [Fact(Timeout = 30000)]
    public async Task Delete_WithFinalizer_MarksUntilLastFinalizerRemoved()
    {
        var ns = await CreateNamespaceAsync(_client);
        var (_, created) = await PostAsync(_client, $"/api/v1/namespaces/{ns}/configmaps",
            """{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"cm","finalizers":["example.com/hold"]}}""");
        var rv = Str(created!["metadata"]!["resourceVersion"]);
        var watch = ReadWatchAsync(_client, $"/api/v1/namespaces/{ns}/configmaps?watch=true&resourceVersion={rv}", 2, TimeSpan.FromSeconds(10));

        var (code, marked) = await DeleteAsync(_client, $"/api/v1/namespaces/{ns}/configmaps/cm");
        Assert.Equal(HttpStatusCode.OK, code);
        Assert.Equal("ConfigMap", Str(marked!["kind"]));
        Assert.Matches("^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z$", Str(marked["metadata"]!["deletionTimestamp"]));
        Assert.Equal(0, marked["metadata"]!["deletionGracePeriodSeconds"]!.GetValue<long>());
        Assert.True(long.Parse(Str(marked["metadata"]!["resourceVersion"])) > long.Parse(rv));

        marked["metadata"]!["finalizers"] = new JsonArray("example.com/hold", "example.com/new");
        var (addCode, _) = await PutAsync(_client, $"/api/v1/namespaces/{ns}/configmaps/cm", marked);
        Assert.Equal(HttpStatusCode.UnprocessableEntity, addCode);

        marked["metadata"]!["deletionTimestamp"] = null;
        marked["metadata"]!.AsObject().Remove("finalizers");
        var (putCode, _) = await PutAsync(_client, $"/api/v1/namespaces/{ns}/configmaps/cm", marked);
        Assert.Equal(HttpStatusCode.OK, putCode);
        var (getCode, _) = await GetAsync(_client, $"/api/v1/namespaces/{ns}/configmaps/cm");
        Assert.Equal(HttpStatusCode.NotFound, getCode);

        var events = await watch;
        Assert.Equal(["MODIFIED", "DELETED"], events.Select(e => Str(e["type"])).ToArray());
        Assert.NotNull(events[0]["object"]!["metadata"]!["deletionTimestamp"]);
    }

    [Fact(Timeout = 30000)]
    public async Task Delete_Foreground_AddsFinalizerAndKeepsObject()
    {
        var ns = await CreateNamespaceAsync(_client);
        await PostAsync(_client, $"/api/v1/namespaces/{ns}/configmaps", """{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"cm"}}""");
        var (code, obj) = await DeleteAsync(_client, $"/api/v1/namespaces/{ns}/configmaps/cm",
            """{"kind":"DeleteOptions","apiVersion":"v1","propagationPolicy":"Foreground"}""");
        Assert.Equal(HttpStatusCode.OK, code);
        Assert.Equal(["foregroundDeletion"], Finalizers(obj));
        Assert.NotNull(obj!["metadata"]!["deletionTimestamp"]);

        // A second delete with another policy swaps the GC finalizer.
        var (_, again) = await DeleteAsync(_client, $"/api/v1/namespaces/{ns}/configmaps/cm?propagationPolicy=Orphan");
        Assert.Equal(["orphan"], Finalizers(again));
        var (getCode, _) = await GetAsync(_client, $"/api/v1/namespaces/{ns}/configmaps/cm");
        Assert.Equal(HttpStatusCode.OK, getCode);
    }

    [Fact(Timeout = 30000)]
    public async Task Delete_OrphanDependentsTrue_AddsOrphanFinalizer()
    {
        var ns = await CreateNamespaceAsync(_client);
        await PostAsync(_client, $"/api/v1/namespaces/{ns}/configmaps", """{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"cm"}}""");
        var (code, obj) = await DeleteAsync(_client, $"/api/v1/namespaces/{ns}/configmaps/cm", """{"orphanDependents":true}""");
        Assert.True(code == HttpStatusCode.OK, obj?.ToJsonString());
        Assert.Equal(["orphan"], Finalizers(obj));
    }

    [Fact(Timeout = 30000)]
    public async Task Delete_BackgroundWithoutFinalizers_RemovesAtOnce()
    {
        var ns = await CreateNamespaceAsync(_client);
        await PostAsync(_client, $"/api/v1/namespaces/{ns}/configmaps", """{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"cm"}}""");
        var (code, status) = await DeleteAsync(_client, $"/api/v1/namespaces/{ns}/configmaps/cm", """{"propagationPolicy":"Background"}""");
        Assert.Equal(HttpStatusCode.OK, code);
        Assert.Equal("Success", Str(status!["status"]));
        var (getCode, _) = await GetAsync(_client, $"/api/v1/namespaces/{ns}/configmaps/cm");
        Assert.Equal(HttpStatusCode.NotFound, getCode);
    }

    private static string Pod(string name, string? nodeName, int? grace = null)
    {
        var node = nodeName is null ? "" : $",\"nodeName\":\"{nodeName}\"";
        var period = grace is null ? "" : $",\"terminationGracePeriodSeconds\":{grace}";
        return $"{{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"metadata\":{{\"name\":\"{name}\"}},\"spec\":{{\"containers\":[{{\"name\":\"c\",\"image\":\"busybox\"}}]{node}{period}}}}}";
    }

    [Fact(Timeout = 30000)]
    public async Task DeletePod_Scheduled_IsGracefulUntilGracePeriodZero()
    {
        var ns = await CreateNamespaceAsync(_client);
        var (createCode, _) = await PostAsync(_client, $"/api/v1/namespaces/{ns}/pods", Pod("p", "node-a", 45));
        Assert.Equal(HttpStatusCode.Created, createCode);
        var before = DateTimeOffset.UtcNow;
        var (code, pod) = await DeleteAsync(_client, $"/api/v1/namespaces/{ns}/pods/p");
        Assert.Equal(HttpStatusCode.OK, code);
        Assert.Equal(45, pod!["metadata"]!["deletionGracePeriodSeconds"]!.GetValue<long>());
        var deadline = DateTimeOffset.Parse(Str(pod["metadata"]!["deletionTimestamp"]), System.Globalization.CultureInfo.InvariantCulture);
        Assert.InRange(deadline, before.AddSeconds(43), before.AddSeconds(50));
        var (stillCode, _) = await GetAsync(_client, $"/api/v1/namespaces/{ns}/pods/p");
        Assert.Equal(HttpStatusCode.OK, stillCode);

        var (zeroCode, _) = await DeleteAsync(_client, $"/api/v1/namespaces/{ns}/pods/p", """{"gracePeriodSeconds":0}""");
        Assert.Equal(HttpStatusCode.OK, zeroCode);
        var (goneCode, _) = await GetAsync(_client, $"/api/v1/namespaces/{ns}/pods/p");
        Assert.Equal(HttpStatusCode.NotFound, goneCode);
    }

    [Fact(Timeout = 30000)]
    public async Task DeletePod_ScheduledDefaultGrace_Uses30Seconds()
    {
        var ns = await CreateNamespaceAsync(_client);
        await PostAsync(_client, $"/api/v1/namespaces/{ns}/pods", Pod("p", "node-a"));
        var (_, pod) = await DeleteAsync(_client, $"/api/v1/namespaces/{ns}/pods/p");
        Assert.Equal(30, pod!["metadata"]!["deletionGracePeriodSeconds"]!.GetValue<long>());
    }

    [Fact(Timeout = 30000)]
    public async Task DeletePod_Unscheduled_RemovedAtOnce()
    {
        var ns = await CreateNamespaceAsync(_client);
        await PostAsync(_client, $"/api/v1/namespaces/{ns}/pods", Pod("p", null, 45));
        var (code, _) = await DeleteAsync(_client, $"/api/v1/namespaces/{ns}/pods/p");
        Assert.Equal(HttpStatusCode.OK, code);
        var (goneCode, _) = await GetAsync(_client, $"/api/v1/namespaces/{ns}/pods/p");
        Assert.Equal(HttpStatusCode.NotFound, goneCode);
    }

    [Fact(Timeout = 30000)]
    public async Task DeletePod_ScheduledWithGraceZero_RemovedAtOnce()
    {
        var ns = await CreateNamespaceAsync(_client);
        await PostAsync(_client, $"/api/v1/namespaces/{ns}/pods", Pod("p", "node-a"));
        var (code, _) = await DeleteAsync(_client, $"/api/v1/namespaces/{ns}/pods/p?gracePeriodSeconds=0");
        Assert.Equal(HttpStatusCode.OK, code);
        var (goneCode, _) = await GetAsync(_client, $"/api/v1/namespaces/{ns}/pods/p");
        Assert.Equal(HttpStatusCode.NotFound, goneCode);
    }

    [Fact(Timeout = 30000)]
    public async Task DeleteNamespace_Terminating_RefusesCreateUntilFinalized()
    {
        var ns = await CreateNamespaceAsync(_client);
        var (code, marked) = await DeleteAsync(_client, $"/api/v1/namespaces/{ns}");
        Assert.Equal(HttpStatusCode.OK, code);
        Assert.Equal("Terminating", Str(marked!["status"]!["phase"]));
        Assert.NotNull(marked["metadata"]!["deletionTimestamp"]);
        Assert.Equal(["kubernetes"], marked["spec"]!["finalizers"]!.AsArray().Select(f => Str(f)).ToArray());

        var (createCode, refused) = await PostAsync(_client, $"/api/v1/namespaces/{ns}/configmaps",
            """{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"late"}}""");
        Assert.Equal(HttpStatusCode.Forbidden, createCode);
        Assert.Equal("Forbidden", Str(refused!["reason"]));
        Assert.Equal($"configmaps \"late\" is forbidden: unable to create new content in namespace {ns} because it is being terminated", Str(refused["message"]));
        Assert.Equal("NamespaceTerminating", Str(refused["details"]!["causes"]![0]!["reason"]));

        var (_, current) = await GetAsync(_client, $"/api/v1/namespaces/{ns}");
        current!["spec"]!["finalizers"] = new JsonArray();
        var (finalizeCode, _) = await PutAsync(_client, $"/api/v1/namespaces/{ns}/finalize", current);
        Assert.Equal(HttpStatusCode.OK, finalizeCode);
        var (goneCode, _) = await GetAsync(_client, $"/api/v1/namespaces/{ns}");
        Assert.Equal(HttpStatusCode.NotFound, goneCode);
    }

    [EmbeddedDiffersFact("answers a second delete of a terminating namespace with 409 Conflict", Timeout = 30000)]
    public async Task DeleteNamespace_AlreadyTerminating_ReturnsItUnchanged()
    {
        var ns = await CreateNamespaceAsync(_client);
        var (_, marked) = await DeleteAsync(_client, $"/api/v1/namespaces/{ns}");

        var (code, again) = await DeleteAsync(_client, $"/api/v1/namespaces/{ns}");

        Assert.Equal(HttpStatusCode.OK, code);
        Assert.Equal("Namespace", Str(again!["kind"]));
        Assert.Equal("Terminating", Str(again["status"]!["phase"]));
        Assert.Equal(Str(marked!["metadata"]!["resourceVersion"]), Str(again["metadata"]!["resourceVersion"]));
    }

    [Fact(Timeout = 30000)]
    public async Task DeleteCollection_AppliesPerObjectSemantics()
    {
        var ns = await CreateNamespaceAsync(_client);
        await PostAsync(_client, $"/api/v1/namespaces/{ns}/configmaps", """{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"held","finalizers":["example.com/hold"]}}""");
        await PostAsync(_client, $"/api/v1/namespaces/{ns}/configmaps", """{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"free"}}""");
        var (code, _) = await DeleteAsync(_client, $"/api/v1/namespaces/{ns}/configmaps");
        Assert.Equal(HttpStatusCode.OK, code);
        var (heldCode, held) = await GetAsync(_client, $"/api/v1/namespaces/{ns}/configmaps/held");
        Assert.Equal(HttpStatusCode.OK, heldCode);
        Assert.NotNull(held!["metadata"]!["deletionTimestamp"]);
        var (freeCode, _) = await GetAsync(_client, $"/api/v1/namespaces/{ns}/configmaps/free");
        Assert.Equal(HttpStatusCode.NotFound, freeCode);
    }

    [Fact(Timeout = 30000)]
    public async Task Delete_StaleUidPrecondition_Conflicts()
    {
        var ns = await CreateNamespaceAsync(_client);
        await PostAsync(_client, $"/api/v1/namespaces/{ns}/configmaps", """{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"cm","finalizers":["example.com/hold"]}}""");
        var (code, _) = await DeleteAsync(_client, $"/api/v1/namespaces/{ns}/configmaps/cm", """{"preconditions":{"uid":"nope"}}""");
        Assert.Equal(HttpStatusCode.Conflict, code);
    }
}

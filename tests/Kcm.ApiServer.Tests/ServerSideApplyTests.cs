using System.Net;
using System.Text.Json.Nodes;
using static Kcm.ApiServer.Tests.Http;

namespace Kcm.ApiServer.Tests;

/// <summary>
/// Server-side apply and managedFields over HTTP, asserted against what a v1.26 kube-apiserver answers: the
/// fieldsV1 shapes, the conflict Status, field removal and ownership transfer.
/// </summary>
[Collection(ServerCollection.Name)]
public sealed class ServerSideApplyTests(ApiServerFixture fixture)
{
    private readonly HttpClient _client = fixture.HttpClient;

    private const string ApplyType = "application/apply-patch+yaml";

    private const string Deployment = """
        {"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"web","labels":{"app":"web"}},
         "spec":{"replicas":2,"selector":{"matchLabels":{"app":"web"}},
          "template":{"metadata":{"labels":{"app":"web"}},"spec":{"containers":[
           {"name":"nginx","image":"nginx:1","ports":[{"containerPort":80}],"env":[{"name":"A","value":"1"}]}]}}}}
        """;

    private Task<(HttpStatusCode Code, JsonNode? Body)> ApplyAsync(string path, string body, string manager, bool force = false, string extra = "")
        => SendAsync(_client, HttpMethod.Patch, $"{path}?fieldManager={manager}{(force ? "&force=true" : "")}{extra}", body, ApplyType);

    private static JsonArray ManagedFields(JsonNode obj) => obj["metadata"]!["managedFields"]!.AsArray();

    private static JsonNode Entry(JsonNode obj, string manager) => ManagedFields(obj).Single(e => Str(e!["manager"]) == manager)!;

    [Fact(Timeout = 30000)]
    public async Task Apply_ObjectAbsent_CreatesWithUpstreamApplyEntry()
    {
        var ns = await CreateNamespaceAsync(_client);
        var (code, created) = await ApplyAsync($"/apis/apps/v1/namespaces/{ns}/deployments/web", Deployment, "deployer");

        Assert.Equal(HttpStatusCode.Created, code);
        var entry = Assert.Single(ManagedFields(created!))!;
        Assert.Equal("deployer", Str(entry["manager"]));
        Assert.Equal("Apply", Str(entry["operation"]));
        Assert.Equal("apps/v1", Str(entry["apiVersion"]));
        Assert.Equal("FieldsV1", Str(entry["fieldsType"]));
        Assert.Matches("^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z$", Str(entry["time"]));
        // As a v1.26 server records it: the atomic selector as a leaf, list-map elements keyed (the port's
        // protocol key from its default), and no ownership of the metadata the server sets.
        Assert.Equal(Canon("""
            {"f:metadata":{"f:labels":{"f:app":{}}},"f:spec":{"f:replicas":{},"f:selector":{},"f:template":{
             "f:metadata":{"f:labels":{"f:app":{}}},"f:spec":{"f:containers":{"k:{\"name\":\"nginx\"}":{".":{},
             "f:env":{"k:{\"name\":\"A\"}":{".":{},"f:name":{},"f:value":{}}},"f:image":{},"f:name":{},
             "f:ports":{"k:{\"containerPort\":80,\"protocol\":\"TCP\"}":{".":{},"f:containerPort":{}}}}}}}}}
            """), entry["fieldsV1"]!.ToJsonString());
        Assert.Equal(2, (int?)created!["spec"]!["replicas"]);
        Assert.Equal("TCP", Str(created["spec"]!["template"]!["spec"]!["containers"]![0]!["ports"]![0]!["protocol"]));
    }

    [Fact(Timeout = 30000)]
    public async Task Apply_FieldDroppedFromConfig_RemovedUnlessAnotherManagerOwnsIt()
    {
        var ns = await CreateNamespaceAsync(_client);
        var path = $"/api/v1/namespaces/{ns}/configmaps/settings";
        await ApplyAsync(path, """{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"settings","labels":{"a":"1","b":"2"}},"data":{"x":"1","y":"2"}}""", "one");
        // Another manager writes y too (same value: shared ownership, no conflict) and its own z.
        var (sharedCode, _) = await ApplyAsync(path, """{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"settings"},"data":{"y":"2","z":"3"}}""", "two");
        Assert.Equal(HttpStatusCode.OK, sharedCode);

        var (code, applied) = await ApplyAsync(path, """{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"settings","labels":{"a":"1"}},"data":{"x":"1"}}""", "one");

        Assert.Equal(HttpStatusCode.OK, code);
        Assert.Equal(Canon("""{"x":"1","y":"2","z":"3"}"""), applied!["data"]!.ToJsonString());
        Assert.Equal(Canon("""{"a":"1"}"""), applied["metadata"]!["labels"]!.ToJsonString());
        Assert.Equal(Canon("""{"f:data":{"f:x":{}},"f:metadata":{"f:labels":{"f:a":{}}}}"""), Entry(applied, "one")["fieldsV1"]!.ToJsonString());
        Assert.Equal(Canon("""{"f:data":{"f:y":{},"f:z":{}}}"""), Entry(applied, "two")["fieldsV1"]!.ToJsonString());
    }

    [Fact(Timeout = 30000)]
    public async Task Apply_FieldOwnedByOthers_ConflictsUnlessForced()
    {
        var ns = await CreateNamespaceAsync(_client);
        var path = $"/api/v1/namespaces/{ns}/configmaps/owned";
        await ApplyAsync(path, """{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"owned"},"data":{"a":"1"}}""", "m1");
        var (_, patched) = await SendAsync(_client, HttpMethod.Patch, $"{path}?fieldManager=m3", """{"data":{"b":"4"}}""", "application/merge-patch+json");
        Assert.Equal(Canon("""{"f:data":{"f:b":{}}}"""), Entry(patched!, "m3")["fieldsV1"]!.ToJsonString());
        Assert.Equal("Update", Str(Entry(patched!, "m3")["operation"]));
        const string config = """{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"owned"},"data":{"a":"2","b":"3"}}""";

        var (code, status) = await ApplyAsync(path, config, "m2");

        Assert.Equal(HttpStatusCode.Conflict, code);
        Assert.Equal("Conflict", Str(status!["reason"]));
        // kube-apiserver lists the managers in Go map order (random between runs): either order is upstream's.
        const string m1 = "conflicts with \"m1\":\n- .data.a", m3 = "conflicts with \"m3\" using v1:\n- .data.b";
        Assert.Contains(Str(status["message"]), new[] { $"Apply failed with 2 conflicts: {m1}\n{m3}", $"Apply failed with 2 conflicts: {m3}\n{m1}" });
        var causes = status["details"]!["causes"]!.AsArray().OrderBy(c => Str(c!["field"]), StringComparer.Ordinal).Select(c => c!.ToJsonString());
        Assert.Equal(Canon("""
            [{"reason":"FieldManagerConflict","message":"conflict with \"m1\"","field":".data.a"},
             {"reason":"FieldManagerConflict","message":"conflict with \"m3\" using v1","field":".data.b"}]
            """), "[" + string.Join(",", causes) + "]");

        var (forcedCode, forced) = await ApplyAsync(path, config, "m2", force: true);

        Assert.Equal(HttpStatusCode.OK, forcedCode);
        Assert.Equal(Canon("""{"a":"2","b":"3"}"""), forced!["data"]!.ToJsonString());
        Assert.Equal(["m2"], ManagedFields(forced).Select(e => Str(e!["manager"])));
    }

    [Fact(Timeout = 30000)]
    public async Task Apply_WithoutFieldManagerOrWithForceOnMergePatch_Invalid()
    {
        var ns = await CreateNamespaceAsync(_client);
        var path = $"/api/v1/namespaces/{ns}/configmaps/c";
        var (code, body) = await SendAsync(_client, HttpMethod.Patch, path, "{}", ApplyType);
        Assert.Equal(HttpStatusCode.UnprocessableEntity, code);
        Assert.Equal("PatchOptions.meta.k8s.io \"\" is invalid: fieldManager: Required value: is required for apply patch", Str(body!["message"]));

        var (forceCode, forceBody) = await SendAsync(_client, HttpMethod.Patch, $"{path}?force=true", "{}", "application/merge-patch+json");
        Assert.Equal(HttpStatusCode.UnprocessableEntity, forceCode);
        Assert.Equal("PatchOptions.meta.k8s.io \"\" is invalid: force: Forbidden: may not be specified for non-apply patch", Str(forceBody!["message"]));
    }

    [Fact(Timeout = 30000)]
    public async Task Apply_YamlBodyWithDryRun_AnsweredButNotStored()
    {
        var ns = await CreateNamespaceAsync(_client);
        var path = $"/api/v1/namespaces/{ns}/configmaps/dry";
        const string yaml = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: dry\ndata:\n  mode: 'fast'\n  count: \"3\"\n";

        var (code, answered) = await ApplyAsync(path, yaml, "yamler", extra: "&dryRun=All");

        Assert.Equal(HttpStatusCode.Created, code);
        Assert.Equal("fast", Str(answered!["data"]!["mode"]));
        Assert.Equal("3", Str(answered["data"]!["count"]));
        Assert.Equal("yamler", Str(Entry(answered, "yamler")["manager"]));
        Assert.Null(answered["metadata"]!["resourceVersion"]);
        var (getCode, _) = await GetAsync(_client, path);
        Assert.Equal(HttpStatusCode.NotFound, getCode);
    }

    [Fact(Timeout = 30000)]
    public async Task Create_ThenMergePatch_RecordUpdateEntriesPerManager()
    {
        var ns = await CreateNamespaceAsync(_client);
        await PostAsync(_client, $"/api/v1/namespaces/{ns}/configmaps?fieldManager=creator", """{"metadata":{"name":"c"},"data":{"a":"1"}}""");

        var (_, patched) = await SendAsync(_client, HttpMethod.Patch, $"/api/v1/namespaces/{ns}/configmaps/c?fieldManager=labeler",
            """{"metadata":{"labels":{"x":"y"}},"data":{"a":"2"}}""", "application/merge-patch+json");

        // The value labeler changed moves to it; creator keeps the data map it added, now as a leaf.
        Assert.Equal(Canon("""{"f:data":{}}"""), Entry(patched!, "creator")["fieldsV1"]!.ToJsonString());
        Assert.Equal(Canon("""{"f:data":{"f:a":{}},"f:metadata":{"f:labels":{".":{},"f:x":{}}}}"""), Entry(patched!, "labeler")["fieldsV1"]!.ToJsonString());
        Assert.All(ManagedFields(patched!), e => Assert.Equal("Update", Str(e!["operation"])));
    }

    [Fact(Timeout = 30000)]
    public async Task Apply_StatusSubresource_RecordsEntryWithSubresource()
    {
        var ns = await CreateNamespaceAsync(_client);
        await ApplyAsync($"/apis/apps/v1/namespaces/{ns}/deployments/web", Deployment, "deployer");

        var (code, applied) = await ApplyAsync($"/apis/apps/v1/namespaces/{ns}/deployments/web/status",
            """{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"web"},"status":{"observedGeneration":1}}""", "reporter");

        Assert.Equal(HttpStatusCode.OK, code);
        Assert.Equal(1, (int?)applied!["status"]!["observedGeneration"]);
        var entry = Entry(applied, "reporter");
        Assert.Equal("status", Str(entry["subresource"]));
        Assert.Equal(Canon("""{"f:status":{"f:observedGeneration":{}}}"""), entry["fieldsV1"]!.ToJsonString());
    }
}

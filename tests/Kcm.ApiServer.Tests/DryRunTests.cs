using System.Net;
using System.Text.Json.Nodes;
using Kcm.Testing;
using static Kcm.ApiServer.Tests.Http;

namespace Kcm.ApiServer.Tests;

/// <summary>dryRun=All: the write is computed and answered as upstream would, but nothing is stored and no watch event fires.</summary>
[Collection(ServerCollection.Name)]
public sealed class DryRunTests(ApiServerFixture fixture)
{
    private readonly HttpClient _client = ClusterHttp.For(fixture);

    private async Task<(string Ns, string Rv)> ConfigMapWithFinalizerAsync()
    {
        var ns = await ClusterHttp.CreateNamespaceAsync(_client);
        var (code, created) = await PostAsync(_client, $"/api/v1/namespaces/{ns}/configmaps",
            """{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"cm","finalizers":["example.com/hold"]},"data":{"a":"1"}}""");
        Assert.Equal(HttpStatusCode.Created, code);
        return (ns, Str(created!["metadata"]!["resourceVersion"]));
    }

    /// <summary>The first event after <paramref name="rv"/> must be the real write that follows the dry runs.</summary>
    private async Task AssertOnlyRealWriteWatchedAsync(string ns, string rv, Func<Task> dryRuns)
    {
        var watch = ReadWatchAsync(_client, $"/api/v1/namespaces/{ns}/configmaps?watch=true&resourceVersion={rv}", 1, TimeSpan.FromSeconds(15));
        await dryRuns();
        var (code, _) = await SendAsync(_client, HttpMethod.Patch, $"/api/v1/namespaces/{ns}/configmaps/cm",
            """{"data":{"marker":"real"}}""", "application/merge-patch+json");
        Assert.Equal(HttpStatusCode.OK, code);
        var events = await watch;
        Assert.Single(events);
        Assert.Equal("MODIFIED", Str(events[0]["type"]));
        Assert.Equal("real", Str(events[0]["object"]!["data"]!["marker"]));
        Assert.Null(events[0]["object"]!["metadata"]!["deletionTimestamp"]);
    }

    [Fact(Timeout = 30000)]
    public async Task Create_DryRunWithGenerateName_AnswersGeneratedObjectWithoutStoringIt()
    {
        var ns = await ClusterHttp.CreateNamespaceAsync(_client);
        var (code, obj) = await PostAsync(_client, $"/api/v1/namespaces/{ns}/configmaps?dryRun=All",
            """{"apiVersion":"v1","kind":"ConfigMap","metadata":{"generateName":"gen-"},"data":{"a":"1"}}""");
        Assert.Equal(HttpStatusCode.Created, code);
        var name = Str(obj!["metadata"]!["name"]);
        Assert.Matches("^gen-[a-z0-9]{5}$", name);
        Assert.NotEqual("", Str(obj["metadata"]!["uid"]));
        Assert.NotEqual("", Str(obj["metadata"]!["creationTimestamp"]));
        Assert.Null(obj["metadata"]!["resourceVersion"]);
        var (getCode, _) = await GetAsync(_client, $"/api/v1/namespaces/{ns}/configmaps/{name}");
        Assert.Equal(HttpStatusCode.NotFound, getCode);
        var (_, list) = await GetAsync(_client, $"/api/v1/namespaces/{ns}/configmaps");
        Assert.DoesNotContain(list!["items"]!.AsArray(), i => Str(i!["metadata"]!["name"]).StartsWith("gen-", StringComparison.Ordinal));
    }

    [Fact(Timeout = 30000)]
    public async Task Create_DryRunOfExistingName_AlreadyExists()
    {
        var (ns, _) = await ConfigMapWithFinalizerAsync();
        var (code, status) = await PostAsync(_client, $"/api/v1/namespaces/{ns}/configmaps?dryRun=All",
            """{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"cm"}}""");
        Assert.Equal(HttpStatusCode.Conflict, code);
        Assert.Equal("AlreadyExists", Str(status!["reason"]));
    }

    [Fact(Timeout = 30000)]
    public async Task UpdatePatchDelete_DryRun_AnswerTheResultButStoreAndWatchNothing()
    {
        var (ns, rv) = await ConfigMapWithFinalizerAsync();
        var path = $"/api/v1/namespaces/{ns}/configmaps/cm";
        await AssertOnlyRealWriteWatchedAsync(ns, rv, async () =>
        {
            var (_, current) = await GetAsync(_client, path);
            current!["data"]!["a"] = "2";
            var (putCode, put) = await SendAsync(_client, HttpMethod.Put, path + "?dryRun=All", current.ToJsonString());
            Assert.Equal(HttpStatusCode.OK, putCode);
            Assert.Equal("2", Str(put!["data"]!["a"]));
            Assert.Equal(rv, Str(put["metadata"]!["resourceVersion"]));

            var (patchCode, patched) = await SendAsync(_client, HttpMethod.Patch, path + "?dryRun=All",
                """{"data":{"b":"3"}}""", "application/merge-patch+json");
            Assert.Equal(HttpStatusCode.OK, patchCode);
            Assert.Equal("3", Str(patched!["data"]!["b"]));

            // The finalizer keeps the object: the answer is the object marked for deletion.
            var (delCode, marked) = await DeleteAsync(_client, path, """{"kind":"DeleteOptions","apiVersion":"v1","dryRun":["All"]}""");
            Assert.Equal(HttpStatusCode.OK, delCode);
            Assert.NotNull(marked!["metadata"]!["deletionTimestamp"]);
            Assert.Equal(0, marked["metadata"]!["deletionGracePeriodSeconds"]!.GetValue<long>());
            Assert.Equal(rv, Str(marked["metadata"]!["resourceVersion"]));

            var (colCode, collection) = await DeleteAsync(_client, $"/api/v1/namespaces/{ns}/configmaps?dryRun=All");
            Assert.Equal(HttpStatusCode.OK, colCode);
            Assert.Contains(collection!["items"]!.AsArray(), i => Str(i!["metadata"]!["name"]) == "cm");

            var (_, stored) = await GetAsync(_client, path);
            Assert.Equal(rv, Str(stored!["metadata"]!["resourceVersion"]));
            Assert.Equal("1", Str(stored["data"]!["a"]));
            Assert.Null(stored["data"]!["b"]);
            Assert.Null(stored["metadata"]!["deletionTimestamp"]);
        });
    }

    [Fact(Timeout = 30000)]
    public async Task Delete_DryRunWithoutFinalizers_AnswersSuccessAndKeepsObject()
    {
        var ns = await ClusterHttp.CreateNamespaceAsync(_client);
        await PostAsync(_client, $"/api/v1/namespaces/{ns}/configmaps", """{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"plain"}}""");
        var (code, status) = await DeleteAsync(_client, $"/api/v1/namespaces/{ns}/configmaps/plain?dryRun=All");
        Assert.Equal(HttpStatusCode.OK, code);
        Assert.Equal("Success", Str(status!["status"]));
        var (getCode, _) = await GetAsync(_client, $"/api/v1/namespaces/{ns}/configmaps/plain");
        Assert.Equal(HttpStatusCode.OK, getCode);
    }

    [Fact(Timeout = 30000)]
    public async Task Delete_DryRunOnPreconditionMismatch_Conflict()
    {
        var (ns, _) = await ConfigMapWithFinalizerAsync();
        var (code, status) = await DeleteAsync(_client, $"/api/v1/namespaces/{ns}/configmaps/cm",
            """{"kind":"DeleteOptions","apiVersion":"v1","dryRun":["All"],"preconditions":{"uid":"not-the-uid"}}""");
        Assert.Equal(HttpStatusCode.Conflict, code);
        Assert.StartsWith("Operation cannot be fulfilled on ConfigMap \"cm\": the UID in the precondition (not-the-uid) does not match", Str(status!["message"]));
    }

    [Theory(Timeout = 30000)]
    [InlineData("POST", "", "CreateOptions")]
    [InlineData("PUT", "/cm", "UpdateOptions")]
    [InlineData("PATCH", "/cm", "PatchOptions")]
    [InlineData("DELETE", "/cm", "DeleteOptions")]
    public async Task Write_UnsupportedDryRunValue_InvalidOptions(string method, string suffix, string optionsKind)
    {
        var (ns, _) = await ConfigMapWithFinalizerAsync();
        var body = method switch
        {
            "DELETE" => null,
            "PATCH" => "{}",
            _ => """{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"cm"}}""",
        };
        var (code, status) = await SendAsync(_client, new HttpMethod(method), $"/api/v1/namespaces/{ns}/configmaps{suffix}?dryRun=Yes", body,
            method == "PATCH" ? "application/merge-patch+json" : "application/json");
        Assert.Equal(HttpStatusCode.UnprocessableEntity, code);
        Assert.Equal($"{optionsKind}.meta.k8s.io \"\" is invalid: dryRun: Unsupported value: []string{{\"Yes\"}}: supported values: \"All\"",
            Str(status!["message"]));
        Assert.Equal("meta.k8s.io", Str(status["details"]!["group"]));
        Assert.Equal(optionsKind, Str(status["details"]!["kind"]));
    }

    [Fact(Timeout = 60000)]
    public async Task KubectlDeleteNamespace_DryRunServer_KeepsNamespaceActive()
    {
        var ns = await ClusterHttp.CreateNamespaceAsync(_client);
        using var kubectl = new KubectlScope(fixture.AdminKubeconfigPath);
        var output = await kubectl.Runner.OkAsync("delete", "namespace", ns, "--dry-run=server");
        Assert.Contains($"namespace \"{ns}\" deleted (server dry run)", output);
        var (code, stored) = await GetAsync(_client, $"/api/v1/namespaces/{ns}");
        Assert.Equal(HttpStatusCode.OK, code);
        Assert.Equal("Active", Str(stored!["status"]!["phase"]));
        Assert.Null(stored["metadata"]!["deletionTimestamp"]);
    }
}

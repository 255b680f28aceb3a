using System.Net;
using static Kcm.ApiServer.Tests.Http;

namespace Kcm.ApiServer.Tests;

/// <summary>Unknown and duplicated fields of built-in kinds: dropped as upstream's decoder drops them, reported per fieldValidation.</summary>
[Collection(ServerCollection.Name)]
public sealed class FieldPruningTests(ApiServerFixture fixture)
{
    private readonly HttpClient _client = ClusterHttp.For(fixture);

    [Fact(Timeout = 30000)]
    public async Task Create_UnknownFieldsByDefault_PrunedWithWarnings()
    {
        var name = "t-" + Guid.NewGuid().ToString("N")[..10];
        var reply = await ClusterHttp.SendAsync(_client, HttpMethod.Post, "/api/v1/namespaces",
            $$"""{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"{{name}}","bogus":1},"spec":{"foo":1,"finalizers":["kubernetes"]},"extra":true}""");
        Assert.Equal(HttpStatusCode.Created, reply.Code);
        Assert.Equal(
            ["299 - \"unknown field \\\"extra\\\"\"", "299 - \"unknown field \\\"metadata.bogus\\\"\"", "299 - \"unknown field \\\"spec.foo\\\"\""],
            reply.Warnings.Order(StringComparer.Ordinal).ToArray());
        Assert.Null(reply.Body!["extra"]);
        var (_, stored) = await GetAsync(_client, $"/api/v1/namespaces/{name}");
        Assert.Null(stored!["extra"]);
        Assert.Null(stored["spec"]!["foo"]);
        Assert.Null(stored["metadata"]!["bogus"]);
        Assert.Equal("kubernetes", Str(stored["spec"]!["finalizers"]![0]));
    }

    [Fact(Timeout = 30000)]
    public async Task Create_StrictWithUnknownAndDuplicateFields_BadRequest()
    {
        var ns = await ClusterHttp.CreateNamespaceAsync(_client);
        var reply = await ClusterHttp.SendAsync(_client, HttpMethod.Post, $"/api/v1/namespaces/{ns}/configmaps?fieldValidation=Strict",
            """{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"x","name":"y"},"data":{"a":"b"},"spec":{"foo":1}}""");
        Assert.Equal(HttpStatusCode.BadRequest, reply.Code);
        Assert.Equal("ConfigMap in version \"v1\" cannot be handled as a ConfigMap: strict decoding error: duplicate field \"metadata.name\", unknown field \"spec\"",
            Str(reply.Body!["message"]));
        Assert.Equal("BadRequest", Str(reply.Body["reason"]));
    }

    [Fact(Timeout = 30000)]
    public async Task Create_DuplicateField_LastWinsWithWarning()
    {
        var ns = await ClusterHttp.CreateNamespaceAsync(_client);
        var reply = await ClusterHttp.SendAsync(_client, HttpMethod.Post, $"/api/v1/namespaces/{ns}/configmaps",
            """{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"x","name":"y"},"data":{"a":"1","a":"2"}}""");
        Assert.Equal(HttpStatusCode.Created, reply.Code);
        Assert.Equal(["299 - \"duplicate field \\\"data.a\\\"\"", "299 - \"duplicate field \\\"metadata.name\\\"\""],
            reply.Warnings.Order(StringComparer.Ordinal).ToArray());
        Assert.Equal("y", Str(reply.Body!["metadata"]!["name"]));
        Assert.Equal("2", Str(reply.Body["data"]!["a"]));
    }

    [Fact(Timeout = 30000)]
    public async Task CreateAndUpdate_Ignore_PrunedSilently()
    {
        var ns = await ClusterHttp.CreateNamespaceAsync(_client);
        var created = await ClusterHttp.SendAsync(_client, HttpMethod.Post, $"/api/v1/namespaces/{ns}/configmaps?fieldValidation=Ignore",
            """{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"c"},"spec":{"foo":1}}""");
        Assert.Equal(HttpStatusCode.Created, created.Code);
        Assert.Empty(created.Warnings);
        Assert.Null(created.Body!["spec"]);

        created.Body["other"] = 1;
        var updated = await ClusterHttp.SendAsync(_client, HttpMethod.Put, $"/api/v1/namespaces/{ns}/configmaps/c?fieldValidation=Ignore",
            created.Body.ToJsonString());
        Assert.Equal(HttpStatusCode.OK, updated.Code);
        Assert.Empty(updated.Warnings);
        var (_, stored) = await GetAsync(_client, $"/api/v1/namespaces/{ns}/configmaps/c");
        Assert.Null(stored!["other"]);
    }

    [Fact(Timeout = 30000)]
    public async Task Patch_UnknownField_PrunedWithWarningOrRejectedWhenStrict()
    {
        var ns = await ClusterHttp.CreateNamespaceAsync(_client);
        await PostAsync(_client, $"/api/v1/namespaces/{ns}/configmaps", """{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"c"}}""");
        var path = $"/api/v1/namespaces/{ns}/configmaps/c";
        var warned = await ClusterHttp.SendAsync(_client, HttpMethod.Patch, path, """{"spec":{"foo":1},"data":{"q":"r"}}""", "application/merge-patch+json");
        Assert.Equal(HttpStatusCode.OK, warned.Code);
        Assert.Equal(["299 - \"unknown field \\\"spec\\\"\""], warned.Warnings);
        Assert.Null(warned.Body!["spec"]);
        Assert.Equal("r", Str(warned.Body["data"]!["q"]));

        var strict = await ClusterHttp.SendAsync(_client, HttpMethod.Patch, path + "?fieldValidation=Strict", """{"spec":{"foo":1}}""",
            "application/merge-patch+json");
        Assert.Equal(HttpStatusCode.UnprocessableEntity, strict.Code);
        Assert.StartsWith(" \"\" is invalid: patch: Invalid value: ", Str(strict.Body!["message"]));
        Assert.EndsWith("strict decoding error: unknown field \"spec\"", Str(strict.Body["message"]));
        Assert.Equal("patch", Str(strict.Body["details"]!["causes"]![0]!["field"]));
    }

    [Fact(Timeout = 30000)]
    public async Task Create_UnsupportedFieldValidation_InvalidCreateOptions()
    {
        var ns = await ClusterHttp.CreateNamespaceAsync(_client);
        var reply = await ClusterHttp.SendAsync(_client, HttpMethod.Post, $"/api/v1/namespaces/{ns}/configmaps?fieldValidation=Loose",
            """{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"c"}}""");
        Assert.Equal(HttpStatusCode.UnprocessableEntity, reply.Code);
        Assert.Equal("CreateOptions.meta.k8s.io \"\" is invalid: fieldValidation: Unsupported value: \"Loose\": supported values: \"\", \"Ignore\", \"Strict\", \"Warn\"",
            Str(reply.Body!["message"]));
    }
}

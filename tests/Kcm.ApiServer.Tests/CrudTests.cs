using System.Net;
using System.Text.Json.Nodes;
using Kcm.Testing;
using static Kcm.ApiServer.Tests.Http;

namespace Kcm.ApiServer.Tests;

[Collection(ServerCollection.Name)]
public sealed class CrudTests(ApiServerFixture fixture)
{
    private readonly HttpClient _client = fixture.HttpClient;

    [Fact(Timeout = 30000)]
    public async Task ConfigMap_CreateGetUpdateDelete_RoundTrips()
    {
        var ns = await CreateNamespaceAsync(_client);
        var (code, created) = await PostAsync(_client, $"/api/v1/namespaces/{ns}/configmaps",
            """{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"cm1","labels":{"a":"b"}},"data":{"k":"v"}}""");
        Assert.Equal(HttpStatusCode.Created, code);
        var meta = created!["metadata"]!;
        Assert.Equal(ns, Str(meta["namespace"]));
        Assert.True(Guid.TryParse(Str(meta["uid"]), out _));
        Assert.Matches("^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z$", Str(meta["creationTimestamp"]));
        Assert.Null(meta["generation"]);
        var rv = long.Parse(Str(meta["resourceVersion"]));

        var (getCode, got) = await GetAsync(_client, $"/api/v1/namespaces/{ns}/configmaps/cm1");
        Assert.Equal(HttpStatusCode.OK, getCode);
        Assert.Equal(created.ToJsonString(), got!.ToJsonString());
        // As upstream's decoder, fields the kind does not define are dropped.
        Assert.Null(got["futureField"]);
        Assert.StartsWith("""{"kind":"ConfigMap","apiVersion":"v1","metadata":{"name":"cm1","namespace":""", got.ToJsonString());

        got["data"]!["k"] = "v2";
        var (putCode, updated) = await PutAsync(_client, $"/api/v1/namespaces/{ns}/configmaps/cm1", got);
        Assert.Equal(HttpStatusCode.OK, putCode);
        Assert.Equal("v2", Str(updated!["data"]!["k"]));
        Assert.Null(updated["futureField"]);
        Assert.True(long.Parse(Str(updated["metadata"]!["resourceVersion"])) > rv);
        Assert.Equal(Str(meta["uid"]), Str(updated["metadata"]!["uid"]));

        var (delCode, status) = await DeleteAsync(_client, $"/api/v1/namespaces/{ns}/configmaps/cm1");
        Assert.Equal(HttpStatusCode.OK, delCode);
        Assert.Equal("Success", Str(status!["status"]));
        Assert.Equal("configmaps", Str(status["details"]!["kind"]));
        Assert.Equal(Str(meta["uid"]), Str(status["details"]!["uid"]));

        var (goneCode, gone) = await GetAsync(_client, $"/api/v1/namespaces/{ns}/configmaps/cm1");
        Assert.Equal(HttpStatusCode.NotFound, goneCode);
        Assert.Equal(Canon("""{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"configmaps \"cm1\" not found","reason":"NotFound","details":{"name":"cm1","kind":"configmaps"},"code":404}"""),
            gone!.ToJsonString());
    }

    [Fact(Timeout = 30000)]
    public async Task Create_UnknownField_DroppedWithWarning()
    {
        var ns = await CreateNamespaceAsync(_client);
        using var content = new StringContent("""{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"cm1"},"data":{"k":"v"},"futureField":{"x":[1,2]}}""");
        content.Headers.ContentType = new System.Net.Http.Headers.MediaTypeHeaderValue("application/json");
        using var response = await _client.PostAsync($"/api/v1/namespaces/{ns}/configmaps", content);

        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        Assert.Equal("299 - \"unknown field \\\"futureField\\\"\"", response.Headers.NonValidated["Warning"].ToString());
        Assert.Null(JsonNode.Parse(await response.Content.ReadAsStringAsync())!["futureField"]);
        var (_, got) = await GetAsync(_client, $"/api/v1/namespaces/{ns}/configmaps/cm1");
        Assert.Null(got!["futureField"]);
        Assert.Equal("v", Str(got["data"]!["k"]));
    }

    [Fact(Timeout = 30000)]
    public async Task Node_ClusterScopedCrud_Works()
    {
        var name = "node-" + Guid.NewGuid().ToString("N")[..8];
        var (code, created) = await PostAsync(_client, "/api/v1/nodes", "{\"apiVersion\":\"v1\",\"kind\":\"Node\",\"metadata\":{\"name\":\"" + (name) + "\"}}");
        Assert.Equal(HttpStatusCode.Created, code);
        Assert.Null(created!["metadata"]!["namespace"]);
        var (listCode, list) = await GetAsync(_client, "/api/v1/nodes");
        Assert.Equal(HttpStatusCode.OK, listCode);
        Assert.Contains(list!["items"]!.AsArray(), i => Str(i!["metadata"]!["name"]) == name);
        var (delCode, _) = await DeleteAsync(_client, $"/api/v1/nodes/{name}");
        Assert.Equal(HttpStatusCode.OK, delCode);
        var (getCode, _) = await GetAsync(_client, $"/api/v1/nodes/{name}");
        Assert.Equal(HttpStatusCode.NotFound, getCode);
    }

    [Fact(Timeout = 30000)]
    public async Task Create_Existing_AlreadyExists()
    {
        var ns = await CreateNamespaceAsync(_client);
        const string sa = """{"apiVersion":"v1","kind":"ServiceAccount","metadata":{"name":"sa"}}""";
        await PostAsync(_client, $"/api/v1/namespaces/{ns}/serviceaccounts", sa);
        var (code, body) = await PostAsync(_client, $"/api/v1/namespaces/{ns}/serviceaccounts", sa);
        Assert.Equal(HttpStatusCode.Conflict, code);
        Assert.Equal(Canon("""{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"serviceaccounts \"sa\" already exists","reason":"AlreadyExists","details":{"name":"sa","kind":"serviceaccounts"},"code":409}"""),
            body!.ToJsonString());
    }

    [Fact(Timeout = 30000)]
    public async Task Update_StaleResourceVersion_ConflictWithUpstreamMessage()
    {
        var ns = await CreateNamespaceAsync(_client);
        var (_, created) = await PostAsync(_client, $"/api/v1/namespaces/{ns}/serviceaccounts", """{"metadata":{"name":"sa"}}""");
        var first = created!.DeepClone();
        created["metadata"]!["labels"] = new JsonObject { ["x"] = "1" };
        Assert.Equal(HttpStatusCode.OK, (await PutAsync(_client, $"/api/v1/namespaces/{ns}/serviceaccounts/sa", created)).Code);
        first["metadata"]!["labels"] = new JsonObject { ["x"] = "2" };
        var (code, body) = await PutAsync(_client, $"/api/v1/namespaces/{ns}/serviceaccounts/sa", first);
        Assert.Equal(HttpStatusCode.Conflict, code);
        Assert.Equal(Canon("""{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"Operation cannot be fulfilled on serviceaccounts \"sa\": the object has been modified; please apply your changes to the latest version and try again","reason":"Conflict","details":{"name":"sa","kind":"serviceaccounts"},"code":409}"""),
            body!.ToJsonString());
    }

    [Fact(Timeout = 30000)]
    public async Task Update_WithoutResourceVersion_IsUnconditional()
    {
        var ns = await CreateNamespaceAsync(_client);
        await PostAsync(_client, $"/api/v1/namespaces/{ns}/configmaps", """{"metadata":{"name":"c"},"data":{"a":"1"}}""");
        var (code, body) = await PutAsync(_client, $"/api/v1/namespaces/{ns}/configmaps/c", JsonNode.Parse("""{"metadata":{"name":"c"},"data":{"a":"2"}}""")!);
        Assert.Equal(HttpStatusCode.OK, code);
        Assert.Equal("2", Str(body!["data"]!["a"]));
    }

    [Fact(Timeout = 30000)]
    public async Task Update_Missing_NotFound()
    {
        var ns = await CreateNamespaceAsync(_client);
        var (code, body) = await PutAsync(_client, $"/apis/apps/v1/namespaces/{ns}/deployments/nope",
            JsonNode.Parse("""{"metadata":{"name":"nope"},"spec":{}}""")!);
        Assert.Equal(HttpStatusCode.NotFound, code);
        Assert.Equal("deployments.apps \"nope\" not found", Str(body!["message"]));
        Assert.Equal("apps", Str(body["details"]!["group"]));
    }

    [Fact(Timeout = 30000)]
    public async Task Update_NameMismatch_BadRequest()
    {
        var ns = await CreateNamespaceAsync(_client);
        await PostAsync(_client, $"/api/v1/namespaces/{ns}/configmaps", """{"metadata":{"name":"c"}}""");
        var (code, body) = await PutAsync(_client, $"/api/v1/namespaces/{ns}/configmaps/c", JsonNode.Parse("""{"metadata":{"name":"d"}}""")!);
        Assert.Equal(HttpStatusCode.BadRequest, code);
        Assert.Equal("the name of the object (d) does not match the name on the URL (c)", Str(body!["message"]));
    }

    [Fact(Timeout = 30000)]
    public async Task Create_MissingNamespace_NotFound()
    {
        var (code, body) = await PostAsync(_client, "/api/v1/namespaces/nonexistent-ns/configmaps", """{"metadata":{"name":"c"}}""");
        Assert.Equal(HttpStatusCode.NotFound, code);
        Assert.Equal(Canon("""{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"namespaces \"nonexistent-ns\" not found","reason":"NotFound","details":{"name":"nonexistent-ns","kind":"namespaces"},"code":404}"""),
            body!.ToJsonString());
    }

    [EmbeddedDiffersFact("prefixes the message with \"Internal error occurred: \"", Timeout = 30000)]
    public async Task Create_WithResourceVersion_InternalError()
    {
        var ns = await CreateNamespaceAsync(_client);
        var (code, body) = await PostAsync(_client, $"/api/v1/namespaces/{ns}/configmaps", """{"metadata":{"name":"c","resourceVersion":"5"}}""");
        Assert.Equal(HttpStatusCode.InternalServerError, code);
        Assert.Equal("resourceVersion should not be set on objects to be created", Str(body!["message"]));
    }

    [Fact(Timeout = 30000)]
    public async Task Create_GenerateName_AppendsFiveUpstreamChars()
    {
        var ns = await CreateNamespaceAsync(_client);
        var (code, body) = await PostAsync(_client, $"/api/v1/namespaces/{ns}/configmaps", """{"metadata":{"generateName":"gen-"}}""");
        Assert.Equal(HttpStatusCode.Created, code);
        Assert.Matches("^gen-[bcdfghjklmnpqrstvwxz2456789]{5}$", Str(body!["metadata"]!["name"]));
        Assert.Equal("gen-", Str(body["metadata"]!["generateName"]));
    }

    [Fact(Timeout = 30000)]
    public async Task Create_InvalidName_UnprocessableWithCauses()
    {
        var ns = await CreateNamespaceAsync(_client);
        var (code, body) = await PostAsync(_client, $"/api/v1/namespaces/{ns}/configmaps", """{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"Bad_Name"}}""");
        Assert.Equal((HttpStatusCode)422, code);
        const string detail = "Invalid value: \"Bad_Name\": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')";
        var expected = new JsonObject
        {
            ["kind"] = "Status", ["apiVersion"] = "v1", ["metadata"] = new JsonObject(), ["status"] = "Failure",
            ["message"] = "ConfigMap \"Bad_Name\" is invalid: metadata.name: " + detail,
            ["reason"] = "Invalid",
            ["details"] = new JsonObject
            {
                ["name"] = "Bad_Name", ["kind"] = "ConfigMap",
                ["causes"] = new JsonArray(new JsonObject { ["reason"] = "FieldValueInvalid", ["message"] = detail, ["field"] = "metadata.name" }),
            },
            ["code"] = 422,
        };
        Assert.True(JsonNode.DeepEquals(expected, body), body!.ToJsonString());
    }

    [Fact(Timeout = 30000)]
    public async Task Create_NamespaceWithDot_InvalidLabel()
    {
        var (code, body) = await PostAsync(_client, "/api/v1/namespaces", """{"metadata":{"name":"a.b"}}""");
        Assert.Equal((HttpStatusCode)422, code);
        Assert.Contains("a lowercase RFC 1123 label must consist of", Str(body!["message"]));
    }

    [Fact(Timeout = 30000)]
    public async Task Create_WrongKind_BadRequest()
    {
        var ns = await CreateNamespaceAsync(_client);
        var (code, _) = await PostAsync(_client, $"/api/v1/namespaces/{ns}/configmaps", """{"apiVersion":"v1","kind":"Secret","metadata":{"name":"c"}}""");
        Assert.Equal(HttpStatusCode.BadRequest, code);
        var (code2, _) = await PostAsync(_client, $"/api/v1/namespaces/{ns}/configmaps", """{"apiVersion":"apps/v1","kind":"ConfigMap","metadata":{"name":"c"}}""");
        Assert.Equal(HttpStatusCode.BadRequest, code2);
        Assert.Equal(HttpStatusCode.NotFound, (await GetAsync(_client, $"/api/v1/namespaces/{ns}/configmaps/c")).Code);
    }

    [EmbeddedDiffersFact("words a kind or version mismatch differently (\"the API version in the data (apps/v1) does not match ...\")", Timeout = 30000)]
    public async Task Create_WrongKind_UpstreamDecodeMessages()
    {
        var ns = await CreateNamespaceAsync(_client);
        var (_, body) = await PostAsync(_client, $"/api/v1/namespaces/{ns}/configmaps", """{"apiVersion":"v1","kind":"Secret","metadata":{"name":"c"}}""");
        Assert.Equal("Secret in version \"v1\" cannot be handled as a ConfigMap: converting (v1.Secret) to (core.ConfigMap): unknown conversion", Str(body!["message"]));
        var (_, body2) = await PostAsync(_client, $"/api/v1/namespaces/{ns}/configmaps", """{"apiVersion":"apps/v1","kind":"ConfigMap","metadata":{"name":"c"}}""");
        Assert.StartsWith("ConfigMap in version \"v1\" cannot be handled as a ConfigMap: no kind \"ConfigMap\" is registered for version \"apps/v1\"", Str(body2!["message"]));
    }

    [Fact(Timeout = 30000)]
    public async Task Deployment_SpecChange_BumpsGeneration()
    {
        var ns = await CreateNamespaceAsync(_client);
        var (_, created) = await PostAsync(_client, $"/apis/apps/v1/namespaces/{ns}/deployments",
            """{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"d"},"spec":{"replicas":1,"selector":{"matchLabels":{"app":"d"}},"template":{"metadata":{"labels":{"app":"d"}},"spec":{"containers":[{"name":"c","image":"nginx"}]}}}}""");
        Assert.Equal(1, created!["metadata"]!["generation"]!.GetValue<long>());
        Assert.Equal("{}", created["status"]!.ToJsonString());

        created["metadata"]!["labels"] = new JsonObject { ["l"] = "v" };
        var (_, labelled) = await PutAsync(_client, $"/apis/apps/v1/namespaces/{ns}/deployments/d", created);
        Assert.Equal(1, labelled!["metadata"]!["generation"]!.GetValue<long>());

        labelled["spec"]!["replicas"] = 3;
        var (_, scaled) = await PutAsync(_client, $"/apis/apps/v1/namespaces/{ns}/deployments/d", labelled);
        Assert.Equal(2, scaled!["metadata"]!["generation"]!.GetValue<long>());
    }

    [Fact(Timeout = 30000)]
    public async Task Update_NoChange_KeepsResourceVersion()
    {
        var ns = await CreateNamespaceAsync(_client);
        var (_, created) = await PostAsync(_client, $"/api/v1/namespaces/{ns}/configmaps", """{"metadata":{"name":"c"},"data":{"a":"1"}}""");
        var (_, same) = await PutAsync(_client, $"/api/v1/namespaces/{ns}/configmaps/c", created!);
        Assert.Equal(Str(created!["metadata"]!["resourceVersion"]), Str(same!["metadata"]!["resourceVersion"]));
    }

    [Fact(Timeout = 30000)]
    public async Task Delete_PreconditionMismatch_Conflict()
    {
        var ns = await CreateNamespaceAsync(_client);
        var (_, created) = await PostAsync(_client, $"/api/v1/namespaces/{ns}/configmaps", """{"metadata":{"name":"c"}}""");
        var (code, body) = await DeleteAsync(_client, $"/api/v1/namespaces/{ns}/configmaps/c",
            """{"kind":"DeleteOptions","apiVersion":"v1","preconditions":{"uid":"nope"}}""");
        Assert.Equal(HttpStatusCode.Conflict, code);
        Assert.Equal($"Operation cannot be fulfilled on ConfigMap \"c\": the UID in the precondition (nope) does not match the UID in record ({Str(created!["metadata"]!["uid"])}). The object might have been deleted and then recreated",
            Str(body!["message"]));
        Assert.Equal("ConfigMap", Str(body["details"]!["kind"]));
        Assert.Equal(HttpStatusCode.OK, (await GetAsync(_client, $"/api/v1/namespaces/{ns}/configmaps/c")).Code);
    }

    [Fact(Timeout = 30000)]
    public async Task Pod_Delete_ReturnsObject()
    {
        var ns = await CreateNamespaceAsync(_client);
        await PostAsync(_client, $"/api/v1/namespaces/{ns}/pods", """{"metadata":{"name":"p"},"spec":{"containers":[{"name":"c","image":"x"}]}}""");
        var (code, body) = await DeleteAsync(_client, $"/api/v1/namespaces/{ns}/pods/p");
        Assert.Equal(HttpStatusCode.OK, code);
        Assert.Equal("Pod", Str(body!["kind"]));
    }

    [Fact(Timeout = 30000)]
    public async Task DeleteCollection_LabelSelector_DeletesOnlyMatching()
    {
        var ns = await CreateNamespaceAsync(_client);
        await PostAsync(_client, $"/api/v1/namespaces/{ns}/configmaps", """{"metadata":{"name":"a","labels":{"x":"1"}}}""");
        await PostAsync(_client, $"/api/v1/namespaces/{ns}/configmaps", """{"metadata":{"name":"b","labels":{"x":"2"}}}""");
        var (code, body) = await DeleteAsync(_client, $"/api/v1/namespaces/{ns}/configmaps?labelSelector=x%3D1");
        Assert.Equal(HttpStatusCode.OK, code);
        Assert.Equal("ConfigMapList", Str(body!["kind"]));
        Assert.Single(body["items"]!.AsArray());
        var (_, list) = await GetAsync(_client, $"/api/v1/namespaces/{ns}/configmaps");
        Assert.Equal("b", Str(list!["items"]![0]!["metadata"]!["name"]));
    }

    [Fact(Timeout = 30000)]
    public async Task Patch_MergeAndJsonPatch_Apply()
    {
        var ns = await CreateNamespaceAsync(_client);
        await PostAsync(_client, $"/api/v1/namespaces/{ns}/configmaps", """{"metadata":{"name":"c"},"data":{"a":"1"}}""");
        var (code, merged) = await SendAsync(_client, HttpMethod.Patch, $"/api/v1/namespaces/{ns}/configmaps/c", """{"data":{"b":"2"}}""", "application/merge-patch+json");
        Assert.Equal(HttpStatusCode.OK, code);
        Assert.Equal(Canon("""{"a":"1","b":"2"}"""), merged!["data"]!.ToJsonString());
        var (code2, patched) = await SendAsync(_client, HttpMethod.Patch, $"/api/v1/namespaces/{ns}/configmaps/c", """[{"op":"remove","path":"/data/a"}]""", "application/json-patch+json");
        Assert.Equal(HttpStatusCode.OK, code2);
        Assert.Equal(Canon("""{"b":"2"}"""), patched!["data"]!.ToJsonString());
    }

    [Fact(Timeout = 30000)]
    public async Task Patch_ApplyWithoutFieldManager_Invalid()
    {
        var ns = await CreateNamespaceAsync(_client);
        await PostAsync(_client, $"/api/v1/namespaces/{ns}/configmaps", """{"metadata":{"name":"c"},"data":{"a":"1"}}""");
        var (code, body) = await SendAsync(_client, HttpMethod.Patch, $"/api/v1/namespaces/{ns}/configmaps/c", "data: {}", "application/apply-patch+yaml");
        Assert.Equal(HttpStatusCode.UnprocessableEntity, code);
        Assert.Equal("PatchOptions.meta.k8s.io \"\" is invalid: fieldManager: Required value: is required for apply patch", Str(body!["message"]));
    }

    [Fact(Timeout = 30000)]
    public async Task Verb_NotListed_MethodNotAllowed()
    {
        var (code, body) = await PostAsync(_client, "/api/v1/componentstatuses", """{"metadata":{"name":"x"}}""");
        Assert.Equal(HttpStatusCode.MethodNotAllowed, code);
        Assert.Equal("MethodNotAllowed", Str(body!["reason"]));
    }
}

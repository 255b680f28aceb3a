using System.Net;
using System.Text.Json.Nodes;
using static Kcm.ApiServer.Tests.Http;

namespace Kcm.ApiServer.Tests;

/// <summary>NamespaceLifecycle, ServiceAccount admission and the Secret stringData conversion, as a v1.26 server does them.</summary>
[Collection(ServerCollection.Name)]
public sealed class AdmissionPluginTests(ApiServerFixture fixture)
{
    private readonly HttpClient _client = fixture.HttpClient;

    [Theory(Timeout = 30000)]
    [InlineData("default")]
    [InlineData("kube-system")]
    [InlineData("kube-public")]
    public async Task DeleteNamespace_Immortal_Forbidden(string name)
    {
        var (code, body) = await DeleteAsync(_client, $"/api/v1/namespaces/{name}");
        Assert.Equal(HttpStatusCode.Forbidden, code);
        Assert.Equal(Canon($$"""{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"namespaces \"{{name}}\" is forbidden: this namespace may not be deleted","reason":"Forbidden","details":{"name":"{{name}}","kind":"namespaces"},"code":403}"""),
            body!.ToJsonString());
        Assert.Equal(HttpStatusCode.OK, (await GetAsync(_client, $"/api/v1/namespaces/{name}")).Code);
    }

    [Fact(Timeout = 30000)]
    public async Task CreatePod_InTerminatingNamespace_ForbiddenWithNamespaceTerminatingCause()
    {
        var ns = await CreateNamespaceAsync(_client);
        // Nothing finalizes namespaces here (no namespace controller), so it stays Terminating.
        await DeleteAsync(_client, $"/api/v1/namespaces/{ns}");
        var (code, body) = await PostAsync(_client, $"/api/v1/namespaces/{ns}/pods", """{"metadata":{"name":"p"},"spec":{"containers":[{"name":"c","image":"x"}]}}""");
        Assert.Equal(HttpStatusCode.Forbidden, code);
        Assert.Equal($"pods \"p\" is forbidden: unable to create new content in namespace {ns} because it is being terminated", Str(body!["message"]));
        Assert.Equal("NamespaceTerminating", Str(body["details"]!["causes"]![0]!["reason"]));
        Assert.Equal("metadata.namespace", Str(body["details"]!["causes"]![0]!["field"]));
    }

    [Fact(Timeout = 30000)]
    public async Task CreatePod_MissingNamespace_NamespaceNotFoundBeforeServiceAccountCheck()
    {
        var (code, body) = await PostAsync(_client, "/api/v1/namespaces/no-such-ns-x/pods", """{"metadata":{"name":"p"},"spec":{"serviceAccountName":"nosa","containers":[{"name":"c","image":"x"}]}}""");
        Assert.Equal(HttpStatusCode.NotFound, code);
        Assert.Equal("namespaces \"no-such-ns-x\" not found", Str(body!["message"]));
    }

    [Fact(Timeout = 30000)]
    public async Task CreatePod_MissingServiceAccount_Forbidden()
    {
        var ns = await CreateNamespaceAsync(_client);
        var (code, body) = await PostAsync(_client, $"/api/v1/namespaces/{ns}/pods", """{"metadata":{"name":"p"},"spec":{"serviceAccountName":"nosa","containers":[{"name":"c","image":"x"}]}}""");
        Assert.Equal(HttpStatusCode.Forbidden, code);
        Assert.Equal(Canon($$"""{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"pods \"p\" is forbidden: error looking up service account {{ns}}/nosa: serviceaccount \"nosa\" not found","reason":"Forbidden","details":{"name":"p","kind":"pods"},"code":403}"""),
            body!.ToJsonString());
    }

    [Fact(Timeout = 30000)]
    public async Task CreatePod_DefaultAccount_TokenVolumeMountedIntoContainersWithoutOne()
    {
        var ns = await CreateNamespaceAsync(_client);
        var (code, pod) = await PostAsync(_client, $"/api/v1/namespaces/{ns}/pods", """
            {"metadata":{"name":"p"},"spec":{"initContainers":[{"name":"i","image":"x"}],
             "containers":[{"name":"c","image":"x"},{"name":"own","image":"x","volumeMounts":[{"name":"v","mountPath":"/var/run/secrets/kubernetes.io/serviceaccount"}]}],
             "volumes":[{"name":"v","emptyDir":{}}]}}
            """);
        Assert.Equal(HttpStatusCode.Created, code);
        var spec = pod!["spec"]!;
        Assert.Equal("default", Str(spec["serviceAccountName"]));
        var volume = spec["volumes"]!.AsArray()[1]!;
        var name = Str(volume["name"]);
        Assert.Matches("^kube-api-access-[bcdfghjklmnpqrstvwxz2456789]{5}$", name);
        Assert.Equal(Canon("""
            {"sources":[{"serviceAccountToken":{"expirationSeconds":3607,"path":"token"}},
             {"configMap":{"name":"kube-root-ca.crt","items":[{"key":"ca.crt","path":"ca.crt"}]}},
             {"downwardAPI":{"items":[{"path":"namespace","fieldRef":{"apiVersion":"v1","fieldPath":"metadata.namespace"}}]}}],"defaultMode":420}
            """), volume["projected"]!.ToJsonString());
        var mount = Canon($$"""{"name":"{{name}}","readOnly":true,"mountPath":"/var/run/secrets/kubernetes.io/serviceaccount"}""");
        Assert.Equal(mount, spec["initContainers"]![0]!["volumeMounts"]![0]!.ToJsonString());
        Assert.Equal(mount, spec["containers"]![0]!["volumeMounts"]![0]!.ToJsonString());
        Assert.Single(spec["containers"]![1]!["volumeMounts"]!.AsArray());
    }

    [Theory(Timeout = 30000)]
    [InlineData("""{"automountServiceAccountToken":false}""", "", false)]
    [InlineData("""{"automountServiceAccountToken":false}""", "\"automountServiceAccountToken\":true,", true)]
    [InlineData("{}", "\"automountServiceAccountToken\":false,", false)]
    public async Task CreatePod_Automount_PodSettingWinsOverAccount(string account, string podSetting, bool mounted)
    {
        var ns = await CreateNamespaceAsync(_client);
        var sa = JsonNode.Parse(account)!.AsObject();
        sa["metadata"] = new JsonObject { ["name"] = "runner" };
        sa["imagePullSecrets"] = new JsonArray(new JsonObject { ["name"] = "registry" });
        Assert.Equal(HttpStatusCode.Created, (await PostAsync(_client, $"/api/v1/namespaces/{ns}/serviceaccounts", sa.ToJsonString())).Code);
        var (code, pod) = await PostAsync(_client, $"/api/v1/namespaces/{ns}/pods",
            $$$"""{"metadata":{"name":"p"},"spec":{{{{podSetting}}}"serviceAccountName":"runner","containers":[{"name":"c","image":"x"}]}}""");
        Assert.Equal(HttpStatusCode.Created, code);
        Assert.Equal(mounted, pod!["spec"]!["volumes"] is JsonArray { Count: > 0 });
        Assert.Equal("registry", Str(pod["spec"]!["imagePullSecrets"]![0]!["name"]));
    }

    [Fact(Timeout = 30000)]
    public async Task CreateSecret_StringData_MergedIntoDataAndDropped()
    {
        var ns = await CreateNamespaceAsync(_client);
        var (code, secret) = await PostAsync(_client, $"/api/v1/namespaces/{ns}/secrets",
            """{"metadata":{"name":"s"},"data":{"a":"eA==","b":"eQ=="},"stringData":{"a":"A","c":"C"}}""");
        Assert.Equal(HttpStatusCode.Created, code);
        Assert.Null(secret!["stringData"]);
        Assert.Equal(Canon("""{"a":"QQ==","b":"eQ==","c":"Qw=="}"""), secret["data"]!.ToJsonString());

        var (_, patched) = await SendAsync(_client, HttpMethod.Patch, $"/api/v1/namespaces/{ns}/secrets/s", """{"stringData":{"b":"B"}}""", "application/merge-patch+json");
        Assert.Null(patched!["stringData"]);
        Assert.Equal("Qg==", Str(patched["data"]!["b"]));
    }
}

using System.Net;
using System.Text.Json.Nodes;
using Kcm.Testing;
using static Kcm.ApiServer.Tests.Http;

namespace Kcm.ApiServer.Tests;

/// <summary>
/// The ResourceQuota admission plugin as a v1.26 server runs it, with no quota controller: the tests write the
/// quota's status themselves, as the controller would. Before asserting, each test waits until admission refuses a
/// dry-run request the quota's status must refuse (see <see cref="AdmissionRefusesAsync"/>).
/// </summary>
[Collection(ServerCollection.Name)]
public sealed class ResourceQuotaAdmissionTests(ApiServerFixture fixture)
{
    private readonly HttpClient _client = fixture.HttpClient;

    [Fact(Timeout = 30000)]
    public async Task CreatePod_QuotaWithoutStatus_AdmittedUncharged()
    {
        // Quota matches on status.hard: one the controller has not seen yet limits nothing.
        var ns = await CreateNamespaceAsync(_client);
        await CreateQuotaAsync(ns, "q", """{"pods":"1"}""", used: null);

        Assert.Equal(HttpStatusCode.Created, (await PostAsync(_client, $"/api/v1/namespaces/{ns}/pods", Pod("a", cpu: null))).Code);
        Assert.Equal(HttpStatusCode.Created, (await PostAsync(_client, $"/api/v1/namespaces/{ns}/pods", Pod("b", cpu: null))).Code);
        Assert.Null((await GetAsync(_client, $"/api/v1/namespaces/{ns}/resourcequotas/q")).Body!["status"]?["used"]);
    }

    [Fact(Timeout = 30000)]
    public async Task CreatePod_LimitWithoutUsage_ForbiddenStatusUnknown()
    {
        var ns = await CreateNamespaceAsync(_client);
        await CreateQuotaAsync(ns, "q", """{"pods":"2","requests.cpu":"1","configmaps":"4"}""", """{"pods":"0","configmaps":"0"}""");
        await AdmissionRefusesAsync($"/api/v1/namespaces/{ns}/pods", Pod("probe", cpu: "100m"));

        var (code, body) = await PostAsync(_client, $"/api/v1/namespaces/{ns}/pods", Pod("p", cpu: "100m"));

        Assert.Equal(HttpStatusCode.Forbidden, code);
        Assert.Equal(Canon("""{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"pods \"p\" is forbidden: status unknown for quota: q, resources: pods,requests.cpu","reason":"Forbidden","details":{"name":"p","kind":"pods"},"code":403}"""),
            body!.ToJsonString());
        // Other resources' limits do have usage.
        Assert.Equal(HttpStatusCode.Created, (await PostAsync(_client, $"/api/v1/namespaces/{ns}/configmaps", """{"metadata":{"name":"m"}}""")).Code);
    }

    [Fact(Timeout = 30000)]
    public async Task CreatePod_WithinAndBeyondQuota_ChargedThenRefused()
    {
        var ns = await CreateNamespaceAsync(_client);
        await CreateQuotaAsync(ns, "q", """{"pods":"3","requests.cpu":"1","limits.memory":"1Gi"}""", """{"pods":"0","requests.cpu":"0","limits.memory":"0"}""");
        await AdmissionRefusesAsync($"/api/v1/namespaces/{ns}/pods", Pod("probe", cpu: null));

        var missing = await PostAsync(_client, $"/api/v1/namespaces/{ns}/pods", Pod("bare", cpu: null));
        Assert.Equal(HttpStatusCode.Forbidden, missing.Code);
        Assert.Equal("pods \"bare\" is forbidden: failed quota: q: must specify limits.memory for: c,sidecar; requests.cpu for: c,sidecar", Str(missing.Body!["message"]));

        Assert.Equal(HttpStatusCode.Created, (await PostAsync(_client, $"/api/v1/namespaces/{ns}/pods", Pod("a", cpu: "300m", memory: "256Mi"))).Code);
        Assert.Equal(Canon("""{"limits.memory":"512Mi","pods":"1","requests.cpu":"600m"}"""), (await UsedAsync(ns, "q")).ToJsonString());

        var (code, body) = await PostAsync(_client, $"/api/v1/namespaces/{ns}/pods", Pod("b", cpu: "250m", memory: "256Mi"));
        Assert.Equal(HttpStatusCode.Forbidden, code);
        Assert.Equal("pods \"b\" is forbidden: exceeded quota: q, requested: requests.cpu=500m, used: requests.cpu=600m, limited: requests.cpu=1", Str(body!["message"]));
        Assert.Equal(Canon("""{"limits.memory":"512Mi","pods":"1","requests.cpu":"600m"}"""), (await UsedAsync(ns, "q")).ToJsonString());
    }

    [Fact(Timeout = 30000)]
    public async Task CreatePod_DryRun_CheckedButNotCharged()
    {
        var ns = await CreateNamespaceAsync(_client);
        await CreateQuotaAsync(ns, "q", """{"pods":"1"}""", """{"pods":"0"}""");

        Assert.Equal(HttpStatusCode.Created, (await PostAsync(_client, $"/api/v1/namespaces/{ns}/pods?dryRun=All", Pod("a", cpu: null))).Code);
        Assert.Equal(Canon("""{"pods":"0"}"""), (await UsedAsync(ns, "q")).ToJsonString());
        await SetUsedAsync(ns, "q", """{"pods":"1"}""");
        await AdmissionRefusesAsync($"/api/v1/namespaces/{ns}/pods", Pod("probe", cpu: null));
        var (code, body) = await PostAsync(_client, $"/api/v1/namespaces/{ns}/pods?dryRun=All", Pod("b", cpu: null));
        Assert.Equal(HttpStatusCode.Forbidden, code);
        Assert.Equal("pods \"b\" is forbidden: exceeded quota: q, requested: pods=1, used: pods=1, limited: pods=1", Str(body!["message"]));
    }

    [Fact(Timeout = 30000)]
    public async Task CreateObjects_ObjectCountQuota_RefusedOncePastTheLimit()
    {
        var ns = await CreateNamespaceAsync(_client);
        // No secret is allowed at all: a dry-run secret is the probe that shows admission has the quota's status.
        await CreateQuotaAsync(ns, "counts", """{"count/deployments.apps":"1","count/secrets":"0"}""", """{"count/deployments.apps":"0","count/secrets":"0"}""");
        await AdmissionRefusesAsync($"/api/v1/namespaces/{ns}/secrets", """{"metadata":{"name":"probe"}}""");

        Assert.Equal(HttpStatusCode.Created, (await PostAsync(_client, $"/apis/apps/v1/namespaces/{ns}/deployments", Deployment("d1"))).Code);
        var (code, body) = await PostAsync(_client, $"/apis/apps/v1/namespaces/{ns}/deployments", Deployment("d2"));

        Assert.Equal(HttpStatusCode.Forbidden, code);
        Assert.Equal(Canon("""{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"deployments.apps \"d2\" is forbidden: exceeded quota: counts, requested: count/deployments.apps=1, used: count/deployments.apps=1, limited: count/deployments.apps=1","reason":"Forbidden","details":{"name":"d2","group":"apps","kind":"deployments"},"code":403}"""),
            body!.ToJsonString());
        Assert.Equal(Canon("""{"count/deployments.apps":"1","count/secrets":"0"}"""), (await UsedAsync(ns, "counts")).ToJsonString());
        // Updates are not charged for plain counts.
        var (updated, _) = await SendAsync(_client, HttpMethod.Patch, $"/apis/apps/v1/namespaces/{ns}/deployments/d1", """{"metadata":{"labels":{"x":"y"}}}""", "application/merge-patch+json");
        Assert.Equal(HttpStatusCode.OK, updated);
    }

    [Fact(Timeout = 30000)]
    public async Task UpdateService_ToNodePort_ChargedOnUpdate()
    {
        var ns = await CreateNamespaceAsync(_client);
        await CreateQuotaAsync(ns, "svc", """{"services":"5","services.nodeports":"1"}""", """{"services":"0","services.nodeports":"0"}""");
        await AdmissionRefusesAsync($"/api/v1/namespaces/{ns}/services",
            """{"metadata":{"name":"probe"},"spec":{"type":"NodePort","ports":[{"name":"a","port":80},{"name":"b","port":81}]}}""");
        Assert.Equal(HttpStatusCode.Created, (await PostAsync(_client, $"/api/v1/namespaces/{ns}/services",
            """{"metadata":{"name":"s"},"spec":{"ports":[{"name":"a","port":80},{"name":"b","port":81}]}}""")).Code);
        Assert.Equal(Canon("""{"services":"1","services.nodeports":"0"}"""), (await UsedAsync(ns, "svc")).ToJsonString());

        var (code, body) = await SendAsync(_client, HttpMethod.Patch, $"/api/v1/namespaces/{ns}/services/s", """{"spec":{"type":"NodePort"}}""", "application/merge-patch+json");

        Assert.Equal(HttpStatusCode.Forbidden, code);
        Assert.Equal("services \"s\" is forbidden: exceeded quota: svc, requested: services.nodeports=2, used: services.nodeports=0, limited: services.nodeports=1", Str(body!["message"]));
    }

    [Fact(Timeout = 30000)]
    public async Task CreatePod_OutsideQuotaScope_NotCharged()
    {
        var ns = await CreateNamespaceAsync(_client);
        await CreateQuotaAsync(ns, "be", """{"pods":"1"}""", """{"pods":"1"}""", """ "scopes":["BestEffort"], """);
        await AdmissionRefusesAsync($"/api/v1/namespaces/{ns}/pods", Pod("probe", cpu: null));

        Assert.Equal(HttpStatusCode.Created, (await PostAsync(_client, $"/api/v1/namespaces/{ns}/pods", Pod("burstable", cpu: "100m"))).Code);
        var (code, body) = await PostAsync(_client, $"/api/v1/namespaces/{ns}/pods", Pod("besteffort", cpu: null));
        Assert.Equal(HttpStatusCode.Forbidden, code);
        Assert.Equal("pods \"besteffort\" is forbidden: exceeded quota: be, requested: pods=1, used: pods=1, limited: pods=1", Str(body!["message"]));
    }

    private async Task CreateQuotaAsync(string ns, string name, string hard, string? used, string extraSpec = "")
    {
        var (code, _) = await PostAsync(_client, $"/api/v1/namespaces/{ns}/resourcequotas", $$$"""{"metadata":{"name":"{{{name}}}"},"spec":{ {{{extraSpec}}} "hard":{{{hard}}}}}""");
        Assert.Equal(HttpStatusCode.Created, code);
        if (used is not null) await SetStatusAsync(ns, name, JsonNode.Parse(hard)!, JsonNode.Parse(used)!);
    }

    // kube-apiserver's quota admission reads quotas from an informer. Until that informer has seen the status just
    // written it holds the quota without it (status.hard is what limits, so nothing is limited), or no quota at all,
    // when it answers from a live lookup kept 30 s which the quota's own create made before the quota existed. Either
    // way a create is admitted uncharged. A dry-run request the status must refuse, retried until refused, shows the
    // informer has caught up; it never goes back, and admission's own charges it keeps on top.
    private Task AdmissionRefusesAsync(string collectionPath, string body)
        => Eventually.TrueAsync($"quota admission to refuse a dry-run create in {collectionPath}", async () =>
            (await PostAsync(_client, collectionPath + "?dryRun=All", body)).Code == HttpStatusCode.Forbidden, TimeSpan.FromSeconds(20));

    private async Task SetUsedAsync(string ns, string name, string used)
    {
        var (_, quota) = await GetAsync(_client, $"/api/v1/namespaces/{ns}/resourcequotas/{name}");
        await SetStatusAsync(ns, name, quota!["spec"]!["hard"]!.DeepClone(), JsonNode.Parse(used)!);
    }

    private async Task SetStatusAsync(string ns, string name, JsonNode hard, JsonNode used)
    {
        var (_, quota) = await GetAsync(_client, $"/api/v1/namespaces/{ns}/resourcequotas/{name}");
        quota!["status"] = new JsonObject { ["hard"] = hard, ["used"] = used };
        var (code, _) = await PutAsync(_client, $"/api/v1/namespaces/{ns}/resourcequotas/{name}/status", quota);
        Assert.Equal(HttpStatusCode.OK, code);
    }

    private async Task<JsonNode> UsedAsync(string ns, string name)
        => (await GetAsync(_client, $"/api/v1/namespaces/{ns}/resourcequotas/{name}")).Body!["status"]!["used"]!;

    private static string Pod(string name, string? cpu, string? memory = null)
    {
        var resources = cpu is null ? "{}" : $$$"""{"requests":{"cpu":"{{{cpu}}}"},"limits":{"memory":"{{{memory ?? "64Mi"}}}"}}""";
        return $$$"""{"metadata":{"name":"{{{name}}}"},"spec":{"containers":[{"name":"c","image":"x","resources":{{{resources}}}},{"name":"sidecar","image":"x","resources":{{{resources}}}}]}}""";
    }

    private static string Deployment(string name)
        => """{"metadata":{"name":"NAME"},"spec":{"replicas":0,"selector":{"matchLabels":{"a":"b"}},"template":{"metadata":{"labels":{"a":"b"}},"spec":{"containers":[{"name":"c","image":"x"}]}}}}""".Replace("NAME", name, StringComparison.Ordinal);
}

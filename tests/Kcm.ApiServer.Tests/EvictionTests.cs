using System.Net;
using System.Text.Json.Nodes;
using static Kcm.ApiServer.Tests.Http;

namespace Kcm.ApiServer.Tests;

/// <summary>pods/eviction as upstream v1.26.3 answers it, with budgets whose status the test sets (no controllers run).</summary>
[Collection(ServerCollection.Name)]
public sealed class EvictionTests(ApiServerFixture fixture)
{
    private const string Refusal = "Cannot evict pod as it would violate the pod's disruption budget.";
    private readonly HttpClient _client = ClusterHttp.For(fixture);

    private async Task PodAsync(string ns, string name, string app, string? phase = "Running", bool ready = true)
    {
        var (code, _) = await PostAsync(_client, $"/api/v1/namespaces/{ns}/pods",
            $$$"""{"apiVersion":"v1","kind":"Pod","metadata":{"name":"{{{name}}}","labels":{"app":"{{{app}}}"}},"spec":{"containers":[{"name":"c","image":"busybox"}]}}""");
        Assert.Equal(HttpStatusCode.Created, code);
        if (phase is null) return;
        var status = $$$"""{"status":{"phase":"{{{phase}}}","conditions":[{"type":"Ready","status":"{{{(ready ? "True" : "False")}}}"}]}}""";
        var (statusCode, _) = await SendAsync(_client, HttpMethod.Patch, $"/api/v1/namespaces/{ns}/pods/{name}/status", status, "application/merge-patch+json");
        Assert.Equal(HttpStatusCode.OK, statusCode);
    }

    private async Task BudgetAsync(string ns, string name, string app, int allowed, int healthy, bool observed = true)
    {
        var (code, created) = await PostAsync(_client, $"/apis/policy/v1/namespaces/{ns}/poddisruptionbudgets",
            "{\"apiVersion\":\"policy/v1\",\"kind\":\"PodDisruptionBudget\",\"metadata\":{\"name\":\"" + name + "\"},\"spec\":{\"minAvailable\":1,\"selector\":{\"matchLabels\":{\"app\":\"" + app + "\"}}}}");
        Assert.Equal(HttpStatusCode.Created, code);
        var generation = created!["metadata"]!["generation"]!.GetValue<long>();
        var status = $$$"""{"status":{"observedGeneration":{{{(observed ? generation : generation - 1)}}},"disruptionsAllowed":{{{allowed}}},"currentHealthy":{{{healthy}}},"desiredHealthy":1,"expectedPods":2}}""";
        var (statusCode, _) = await SendAsync(_client, HttpMethod.Patch, $"/apis/policy/v1/namespaces/{ns}/poddisruptionbudgets/{name}/status",
            status, "application/merge-patch+json");
        Assert.Equal(HttpStatusCode.OK, statusCode);
    }

    private Task<(HttpStatusCode Code, JsonNode? Body)> EvictAsync(string ns, string pod, string version = "v1", string query = "", string extra = "")
        => PostAsync(_client, $"/api/v1/namespaces/{ns}/pods/{pod}/eviction{query}",
            $$$"""{"apiVersion":"policy/{{{version}}}","kind":"Eviction","metadata":{"name":"{{{pod}}}"}{{{extra}}}}""");

    private async Task<HttpStatusCode> PodCodeAsync(string ns, string pod) => (await GetAsync(_client, $"/api/v1/namespaces/{ns}/pods/{pod}")).Code;

    private static void AssertSuccess((HttpStatusCode Code, JsonNode? Body) reply)
    {
        Assert.Equal(HttpStatusCode.Created, reply.Code);
        Assert.Equal(Canon("""{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Success","code":201}"""), reply.Body!.ToJsonString());
    }

    [Fact(Timeout = 30000)]
    public async Task Evict_MissingPod_NotFound()
    {
        var ns = await ClusterHttp.CreateNamespaceAsync(_client, withServiceAccount: true);
        var (code, status) = await EvictAsync(ns, "nope");
        Assert.Equal(HttpStatusCode.NotFound, code);
        Assert.Equal("pods \"nope\" not found", Str(status!["message"]));
    }

    [Fact(Timeout = 30000)]
    public async Task Evict_PendingPod_DeletedWithoutConsultingBudget()
    {
        var ns = await ClusterHttp.CreateNamespaceAsync(_client, withServiceAccount: true);
        await PodAsync(ns, "p", "a", phase: null);
        await BudgetAsync(ns, "b", "a", allowed: 0, healthy: 0);
        AssertSuccess(await EvictAsync(ns, "p"));
        Assert.Equal(HttpStatusCode.NotFound, await PodCodeAsync(ns, "p"));
    }

    [Fact(Timeout = 30000)]
    public async Task Evict_RunningPodWithBudgetAllowingDisruption_ConsumesItAndDeletesPod()
    {
        var ns = await ClusterHttp.CreateNamespaceAsync(_client, withServiceAccount: true);
        await PodAsync(ns, "p", "a");
        await BudgetAsync(ns, "b", "a", allowed: 1, healthy: 2);
        AssertSuccess(await EvictAsync(ns, "p", version: "v1beta1"));
        Assert.Equal(HttpStatusCode.NotFound, await PodCodeAsync(ns, "p"));
        var (_, pdb) = await GetAsync(_client, $"/apis/policy/v1/namespaces/{ns}/poddisruptionbudgets/b");
        var status = pdb!["status"]!;
        Assert.Equal(0, status["disruptionsAllowed"]!.GetValue<long>());
        Assert.Matches("^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:]{8}Z$", Str(status["disruptedPods"]!["p"]));
        var condition = status["conditions"]!.AsArray().Single(c => Str(c!["type"]) == "DisruptionAllowed")!;
        Assert.Equal("False", Str(condition["status"]));
        Assert.Equal("InsufficientPods", Str(condition["reason"]));
    }

    [Fact(Timeout = 30000)]
    public async Task Evict_BudgetExhausted_TooManyRequestsAndPodKept()
    {
        var ns = await ClusterHttp.CreateNamespaceAsync(_client, withServiceAccount: true);
        await PodAsync(ns, "p", "a");
        await BudgetAsync(ns, "b", "a", allowed: 0, healthy: 1);
        var (code, status) = await EvictAsync(ns, "p");
        Assert.Equal(HttpStatusCode.TooManyRequests, code);
        Assert.Equal(Refusal, Str(status!["message"]));
        Assert.Equal("TooManyRequests", Str(status["reason"]));
        Assert.Equal(Canon("""{"causes":[{"reason":"DisruptionBudget","message":"The disruption budget b needs 1 healthy pods and has 1 currently"}]}"""),
            status["details"]!.ToJsonString());
        Assert.Equal(HttpStatusCode.OK, await PodCodeAsync(ns, "p"));
    }

    [Fact(Timeout = 30000)]
    public async Task Evict_BudgetNotYetObserved_TooManyRequestsWithRetryAfter()
    {
        var ns = await ClusterHttp.CreateNamespaceAsync(_client, withServiceAccount: true);
        await PodAsync(ns, "p", "a");
        await BudgetAsync(ns, "b", "a", allowed: 1, healthy: 2, observed: false);
        var (code, status) = await EvictAsync(ns, "p");
        Assert.Equal(HttpStatusCode.TooManyRequests, code);
        Assert.Equal(Canon("""{"causes":[{"reason":"DisruptionBudget","message":"The disruption budget b is still being processed by the server."}],"retryAfterSeconds":10}"""),
            status!["details"]!.ToJsonString());
    }

    [Fact(Timeout = 30000)]
    public async Task Evict_TwoMatchingBudgets_InternalServerError()
    {
        var ns = await ClusterHttp.CreateNamespaceAsync(_client, withServiceAccount: true);
        await PodAsync(ns, "p", "a");
        await BudgetAsync(ns, "b1", "a", allowed: 1, healthy: 2);
        await BudgetAsync(ns, "b2", "a", allowed: 1, healthy: 2);
        var (code, status) = await EvictAsync(ns, "p");
        Assert.Equal(HttpStatusCode.InternalServerError, code);
        Assert.Equal(Canon("""{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"This pod has more than one PodDisruptionBudget, which the eviction subresource does not support.","code":500}"""),
            status!.ToJsonString());
    }

    [Fact(Timeout = 30000)]
    public async Task Evict_DryRun_KeepsPodAndBudgetButMarksDisruptionTarget()
    {
        var ns = await ClusterHttp.CreateNamespaceAsync(_client, withServiceAccount: true);
        await PodAsync(ns, "p", "a");
        await BudgetAsync(ns, "b", "a", allowed: 1, healthy: 2);
        AssertSuccess(await EvictAsync(ns, "p", query: "?dryRun=All"));
        var (podCode, pod) = await GetAsync(_client, $"/api/v1/namespaces/{ns}/pods/p");
        Assert.Equal(HttpStatusCode.OK, podCode);
        Assert.Null(pod!["metadata"]!["deletionTimestamp"]);
        // v1.26.3 writes the DisruptionTarget condition before the (dry-run) delete, dry run or not.
        var target = pod["status"]!["conditions"]!.AsArray().Single(c => Str(c!["type"]) == "DisruptionTarget")!;
        Assert.Equal("EvictionByEvictionAPI", Str(target["reason"]));
        Assert.Equal("Eviction API: evicting", Str(target["message"]));
        var (_, pdb) = await GetAsync(_client, $"/apis/policy/v1/namespaces/{ns}/poddisruptionbudgets/b");
        Assert.Equal(1, pdb!["status"]!["disruptionsAllowed"]!.GetValue<long>());
        Assert.Null(pdb["status"]!["disruptedPods"]);
    }

    [Fact(Timeout = 30000)]
    public async Task Evict_UnreadyPodOfHealthyBudget_RefusedAfterMarkingPod()
    {
        // Upstream v1.26.3: the DisruptionTarget update changes the pod's resourceVersion, so the delete that
        // is conditioned on the read version conflicts and the eviction is answered as "still being processed".
        var ns = await ClusterHttp.CreateNamespaceAsync(_client, withServiceAccount: true);
        await PodAsync(ns, "p", "a", ready: false);
        await BudgetAsync(ns, "b", "a", allowed: 0, healthy: 1);
        var (code, status) = await EvictAsync(ns, "p");
        Assert.Equal(HttpStatusCode.TooManyRequests, code);
        Assert.Equal("The disruption budget b is still being processed by the server.", Str(status!["details"]!["causes"]![0]!["message"]));
        Assert.Equal(HttpStatusCode.OK, await PodCodeAsync(ns, "p"));
    }

    [Fact(Timeout = 30000)]
    public async Task Evict_PreconditionOrNameMismatch_Refused()
    {
        var ns = await ClusterHttp.CreateNamespaceAsync(_client, withServiceAccount: true);
        await PodAsync(ns, "p", "a", phase: null);
        var (conflict, status) = await EvictAsync(ns, "p", extra: ""","deleteOptions":{"preconditions":{"uid":"zzz"}}""");
        Assert.Equal(HttpStatusCode.Conflict, conflict);
        Assert.StartsWith("Operation cannot be fulfilled on Pod \"p\": the UID in the precondition (zzz) does not match", Str(status!["message"]));
        var (badName, nameStatus) = await PostAsync(_client, $"/api/v1/namespaces/{ns}/pods/p/eviction",
            """{"apiVersion":"policy/v1","kind":"Eviction","metadata":{"name":"other"}}""");
        Assert.Equal(HttpStatusCode.BadRequest, badName);
        Assert.Equal("name in URL does not match name in Eviction object", Str(nameStatus!["message"]));
        Assert.Equal(HttpStatusCode.OK, await PodCodeAsync(ns, "p"));
    }
}

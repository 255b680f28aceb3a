using System.Net;
using System.Text.Json.Nodes;
using Kcm.Testing;
using static Kcm.ApiServer.Tests.Http;

namespace Kcm.ApiServer.Tests;

[Collection(ServerCollection.Name)]
public sealed class SubresourceTests(ApiServerFixture fixture)
{
    private readonly HttpClient _client = fixture.HttpClient;

    private async Task<(string Ns, JsonNode Deployment)> CreateDeploymentAsync()
    {
        var ns = await CreateNamespaceAsync(_client);
        var (code, created) = await PostAsync(_client, $"/apis/apps/v1/namespaces/{ns}/deployments",
            """{"metadata":{"name":"d"},"spec":{"replicas":2,"selector":{"matchLabels":{"app":"d","tier":"web"}},"template":{"metadata":{"labels":{"app":"d","tier":"web"}},"spec":{"containers":[{"name":"c","image":"nginx"}]}}},"status":{"replicas":9}}""");
        Assert.Equal(HttpStatusCode.Created, code);
        return (ns, created!);
    }

    [Fact(Timeout = 30000)]
    public async Task Status_PutMain_KeepsStoredStatus()
    {
        var (ns, d) = await CreateDeploymentAsync();
        var path = $"/apis/apps/v1/namespaces/{ns}/deployments/d";
        d["status"] = new JsonObject { ["replicas"] = 5 };
        var (_, updated) = await PutAsync(_client, path, d);
        Assert.Equal("{}", updated!["status"]!.ToJsonString());

        updated["status"] = new JsonObject { ["replicas"] = 5 };
        updated["spec"]!["replicas"] = 7;
        var (code, statusUpdated) = await PutAsync(_client, path + "/status", updated);
        Assert.Equal(HttpStatusCode.OK, code);
        Assert.Equal(5, statusUpdated!["status"]!["replicas"]!.GetValue<int>());
        Assert.Equal(2, statusUpdated["spec"]!["replicas"]!.GetValue<int>());
        Assert.Equal(1, statusUpdated["metadata"]!["generation"]!.GetValue<long>());

        var (patchCode, patched) = await SendAsync(_client, HttpMethod.Patch, path + "/status",
            """{"status":{"readyReplicas":1,"availableReplicas":1},"spec":{"replicas":11}}""", "application/merge-patch+json");
        Assert.True(patchCode == HttpStatusCode.OK, patched?.ToJsonString());
        Assert.Equal(1, patched!["status"]!["availableReplicas"]!.GetValue<int>());
        Assert.Equal(2, patched["spec"]!["replicas"]!.GetValue<int>());
    }

    [EmbeddedDiffersFact("does not validate Deployment status (availableReplicas may exceed readyReplicas)", Timeout = 30000)]
    public async Task Status_AvailableAboveReady_Invalid()
    {
        var (ns, _) = await CreateDeploymentAsync();
        var (code, body) = await SendAsync(_client, HttpMethod.Patch, $"/apis/apps/v1/namespaces/{ns}/deployments/d/status",
            """{"status":{"replicas":2,"availableReplicas":1}}""", "application/merge-patch+json");
        Assert.Equal(HttpStatusCode.UnprocessableEntity, code);
        Assert.Equal("Deployment.apps \"d\" is invalid: status.availableReplicas: Invalid value: 1: cannot be greater than readyReplicas", Str(body!["message"]));
    }

    [Fact(Timeout = 30000)]
    public async Task Scale_GetAndPut_UpdatesReplicas()
    {
        var (ns, _) = await CreateDeploymentAsync();
        var path = $"/apis/apps/v1/namespaces/{ns}/deployments/d/scale";
        var (code, scale) = await GetAsync(_client, path);
        Assert.Equal(HttpStatusCode.OK, code);
        Assert.Equal("Scale", Str(scale!["kind"]));
        Assert.Equal("autoscaling/v1", Str(scale["apiVersion"]));
        Assert.Equal(2, scale["spec"]!["replicas"]!.GetValue<int>());
        Assert.Equal(0, scale["status"]!["replicas"]!.GetValue<int>());
        Assert.Equal("app=d,tier=web", Str(scale["status"]!["selector"]));

        scale["spec"]!["replicas"] = 4;
        var (putCode, put) = await PutAsync(_client, path, scale);
        Assert.Equal(HttpStatusCode.OK, putCode);
        Assert.Equal(4, put!["spec"]!["replicas"]!.GetValue<int>());

        var (_, deployment) = await GetAsync(_client, $"/apis/apps/v1/namespaces/{ns}/deployments/d");
        Assert.Equal(4, deployment!["spec"]!["replicas"]!.GetValue<int>());
        Assert.Equal(2, deployment["metadata"]!["generation"]!.GetValue<long>());

        var (staleCode, _) = await PutAsync(_client, path, scale);
        Assert.Equal(HttpStatusCode.Conflict, staleCode);

        var (patchCode, patched) = await SendAsync(_client, HttpMethod.Patch, path, """{"spec":{"replicas":6}}""", "application/merge-patch+json");
        Assert.Equal(HttpStatusCode.OK, patchCode);
        Assert.Equal(6, patched!["spec"]!["replicas"]!.GetValue<int>());
    }
}

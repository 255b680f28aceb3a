using System.Text.Json.Nodes;
using Kcm.Testing;

namespace Kcm.ApiServer.Tests.Kubectl;

/// <summary>`kubectl apply --server-side` as a user runs it: create, update with a removed field, a conflict, forcing.</summary>
public sealed class KubectlServerSideApplyTests(KubectlFixture fixture) : IClassFixture<KubectlFixture>
{
    private KubectlRunner K => fixture.Kubectl;

    private const string DeploymentYaml = """
        apiVersion: apps/v1
        kind: Deployment
        metadata:
          name: web
          labels: {app: web}
        spec:
          replicas: 2
          selector:
            matchLabels: {app: web}
          template:
            metadata:
              labels: {app: web}
            spec:
              containers:
              - name: nginx
                image: nginx:1
                ports: [{containerPort: 80}]
                env: [{name: A, value: "1"}]
        """;

    private const string ReplicasYaml = """
        apiVersion: apps/v1
        kind: Deployment
        metadata: {name: web}
        spec:
          replicas: 5
        """;

    private async Task<JsonNode> GetAsync(string ns)
        => JsonNode.Parse(await K.OkAsync("get", "deployment", "web", "-n", ns, "-o", "json", "--show-managed-fields"))!;

    [Fact(Timeout = 120_000)]
    public async Task ApplyServerSide_CreateUpdateConflictForce_AsUpstream()
    {
        var ns = await fixture.NewNamespaceAsync();
        var created = await K.RunWithInputAsync(DeploymentYaml, "apply", "--server-side", "-n", ns, "-f", "-");
        Assert.Contains("deployment.apps/web serverside-applied", created.Stdout);

        var changed = DeploymentYaml.Replace("nginx:1", "nginx:2", StringComparison.Ordinal)
            .Replace("\n        env: [{name: A, value: \"1\"}]", "", StringComparison.Ordinal);
        var second = await K.RunWithInputAsync(changed, "apply", "--server-side", "-n", ns, "-f", "-");
        Assert.True(second.ExitCode == 0, second.Output);
        var d = await GetAsync(ns);
        var container = d["spec"]!["template"]!["spec"]!["containers"]![0]!;
        Assert.Equal("nginx:2", (string?)container["image"]);
        Assert.Null(container["env"]);
        var entry = Assert.Single(d["metadata"]!["managedFields"]!.AsArray())!;
        Assert.Equal("kubectl", (string?)entry["manager"]);
        Assert.Equal("Apply", (string?)entry["operation"]);
        Assert.Equal(JsonNode.Parse("""
            {"f:metadata":{"f:labels":{"f:app":{}}},"f:spec":{"f:replicas":{},"f:selector":{},"f:template":{
             "f:metadata":{"f:labels":{"f:app":{}}},"f:spec":{"f:containers":{"k:{\"name\":\"nginx\"}":{".":{},
             "f:image":{},"f:name":{},"f:ports":{"k:{\"containerPort\":80,\"protocol\":\"TCP\"}":{".":{},"f:containerPort":{}}}}}}}}}
            """)!.ToJsonString(), entry["fieldsV1"]!.ToJsonString());

        var conflict = await K.RunWithInputAsync(ReplicasYaml, "apply", "--server-side", "--field-manager=scaler", "-n", ns, "-f", "-");
        Assert.NotEqual(0, conflict.ExitCode);
        Assert.Contains("Apply failed with 1 conflict: conflict with \"kubectl\": .spec.replicas", conflict.Output);
        Assert.Equal(2, (int?)(await GetAsync(ns))["spec"]!["replicas"]);

        var forced = await K.RunWithInputAsync(ReplicasYaml, "apply", "--server-side", "--field-manager=scaler", "--force-conflicts", "-n", ns, "-f", "-");
        Assert.True(forced.ExitCode == 0, forced.Output);
        d = await GetAsync(ns);
        Assert.Equal(5, (int?)d["spec"]!["replicas"]);
        var managers = d["metadata"]!["managedFields"]!.AsArray().ToDictionary(e => (string)e!["manager"]!, e => e!["fieldsV1"]!.ToJsonString());
        Assert.Equal("""{"f:spec":{"f:replicas":{}}}""", managers["scaler"]);
        Assert.DoesNotContain("f:replicas", managers["kubectl"]);
    }
}

using System.Text.Json.Nodes;
using Kcm.Testing;

namespace Kcm.Controllers.Tests.Workloads;

/// <summary>
/// The README demo as a test: the real kubectl drives the shipped nginx Deployment through apply, set image,
/// rollout status/history/undo, describe and delete while the deployment, replicaset and garbage collector
/// controllers run against a server whose simulated nodes make pods Ready.
/// </summary>
[Collection(WorkloadControllersCollection.Name)]
public sealed class KubectlDemoTests(WorkloadControllersWithCollectorFixture fixture) : IClassFixture<WorkloadControllersWithCollectorFixture>, IDisposable
{
    private readonly KubectlScope _kubectl = new(fixture.Server.AdminKubeconfigPath);

    private KubectlRunner Kubectl => _kubectl.Runner;

    [Fact(Timeout = 120_000)]
    public async Task ReadmeDemo_ApplySetImageUndoDelete_BehavesAsUpstream()
    {
        var ns = fixture.NamespacePrefix + "demo-" + Guid.NewGuid().ToString("N")[..8];
        await Kubectl.OkAsync("create", "namespace", ns);
        // As on a real cluster, pods can be admitted once the serviceaccount controller has made "default".
        await Eventually.TrueAsync("default ServiceAccount", async () => (await Kubectl.RunAsync("-n", ns, "get", "serviceaccount", "default")).ExitCode == 0);

        await Kubectl.OkAsync("-n", ns, "apply", "-f", ExampleManifest("nginx-deployment.yaml"));
        Assert.Contains("successfully rolled out", await Kubectl.OkAsync("-n", ns, "rollout", "status", "deployment/nginx", "--timeout=60s"));
        var first = await ReplicaSetsAsync(ns);
        Assert.Equal(3, Assert.Single(first).Replicas);

        await Kubectl.OkAsync("-n", ns, "set", "image", "deployment/nginx", "nginx=nginx:1.25");
        Assert.Contains("successfully rolled out", await Kubectl.OkAsync("-n", ns, "rollout", "status", "deployment/nginx", "--timeout=60s"));
        var afterUpdate = await ReplicaSetsAsync(ns);
        Assert.Equal(2, afterUpdate.Count);
        Assert.Equal(3, afterUpdate.Single(rs => rs.Image == "nginx:1.25").Replicas);
        Assert.Equal(0, afterUpdate.Single(rs => rs.Image == "nginx:1.24").Replicas);

        Assert.Contains("rolled back", await Kubectl.OkAsync("-n", ns, "rollout", "undo", "deployment/nginx"));
        Assert.Contains("successfully rolled out", await Kubectl.OkAsync("-n", ns, "rollout", "status", "deployment/nginx", "--timeout=60s"));
        var afterUndo = await ReplicaSetsAsync(ns);
        var restored = afterUndo.Single(rs => rs.Image == "nginx:1.24");
        Assert.Equal(first[0].Name, restored.Name); // the old ReplicaSet is reused, not recreated
        Assert.Equal(3, restored.Replicas);
        Assert.Equal("3", restored.Revision);
        var history = await Kubectl.OkAsync("-n", ns, "rollout", "history", "deployment/nginx");
        Assert.Matches(@"(?m)^2\s", history);
        Assert.Matches(@"(?m)^3\s", history);

        var described = await Kubectl.OkAsync("-n", ns, "describe", "deployment", "nginx");
        Assert.Contains("ScalingReplicaSet", described);
        Assert.Matches(@"Available\s+True\s+MinimumReplicasAvailable", described);

        await Kubectl.OkAsync("-n", ns, "delete", "deployment", "nginx");
        await Eventually.TrueAsync("ReplicaSets and pods garbage-collected", async () =>
            (await Kubectl.OkAsync("-n", ns, "get", "replicasets,pods", "-o", "name")).Trim().Length == 0, TimeSpan.FromSeconds(60));
    }

    public void Dispose() => _kubectl.Dispose();

    private sealed record ReplicaSetView(string Name, string Image, int Replicas, string? Revision);

    private async Task<List<ReplicaSetView>> ReplicaSetsAsync(string ns)
    {
        var list = JsonNode.Parse(await Kubectl.OkAsync("-n", ns, "get", "replicasets", "-o", "json"))!;
        return [.. list["items"]!.AsArray().Select(rs => new ReplicaSetView(
            rs!["metadata"]!["name"]!.GetValue<string>(),
            rs["spec"]!["template"]!["spec"]!["containers"]![0]!["image"]!.GetValue<string>(),
            rs["spec"]!["replicas"]!.GetValue<int>(),
            rs["metadata"]!["annotations"]?["deployment.kubernetes.io/revision"]?.GetValue<string>()))];
    }

    /// <summary>The repository's examples/ folder, found upwards from the test binaries.</summary>
    private static string ExampleManifest(string name)
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            var candidate = Path.Combine(dir.FullName, "examples", name);
            if (File.Exists(candidate)) return candidate;
        }
        throw new FileNotFoundException($"examples/{name} not found above {AppContext.BaseDirectory}");
    }
}

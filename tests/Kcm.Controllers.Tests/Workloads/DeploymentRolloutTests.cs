using Kcm.Api;
using Kcm.Api.Apps.V1;
using Kcm.Api.Core.V1;
using Kcm.Api.Meta.V1;
using Kcm.Client;
using Kcm.Client.Errors;
using Kcm.Controllers.Deployments;
using Kcm.Testing;
using static Kcm.Controllers.Tests.Workloads.WorkloadNamespace;
using DeploymentObject = Kcm.Api.Apps.V1.Deployment;

namespace Kcm.Controllers.Tests.Workloads;

/// <summary>
/// Deployments rolled out for real: the deployment, replicaset and garbage-collector controllers together, pods made
/// Ready by the server's simulated node. Rollout guarantees are checked at every watch event, not only at the end.
/// </summary>
[Collection(WorkloadControllersCollection.Name)]
public sealed class DeploymentRolloutTests(WorkloadControllersFixture fixture) : IClassFixture<WorkloadControllersFixture>, IAsyncLifetime
{
    private WorkloadNamespace _ns = null!;

    private KubeApiClient Client => fixture.Host.Client;

    public async Task InitializeAsync() => _ns = await WorkloadNamespace.CreateAsync(Client, fixture.NamespacePrefix);

    public Task DisposeAsync() => Task.CompletedTask;

    // Upstream resolves a percentage of replicas by rounding maxSurge up and maxUnavailable down.
    [Theory(Timeout = 60_000)]
    [InlineData(4, "1", "1", 1, 1)]
    [InlineData(10, "25%", "25%", 3, 2)]
    public async Task RollingUpdate_ImageChanged_StaysWithinMaxSurgeAndMaxUnavailableAtEveryEvent(int replicas, string maxSurge, string maxUnavailable, int surge, int unavailable)
    {
        var d = NewDeployment("web", replicas, "nginx:1.24");
        d.Spec!.Strategy = new DeploymentStrategy
        {
            Type = "RollingUpdate",
            RollingUpdate = new RollingUpdateDeployment { MaxSurge = IntOrPercent(maxSurge), MaxUnavailable = IntOrPercent(maxUnavailable) },
        };
        await _ns.CreateAsync(d);
        await _ns.WaitForRolloutAsync("web", replicas, "nginx:1.24");

        var largestTotal = 0;
        await using var replicaSets = await WatchedObjects<ReplicaSet>.StartAsync(Client, _ns.Name, all =>
        {
            var total = all.Sum(rs => rs.Spec?.Replicas ?? 0);
            largestTotal = Math.Max(largestTotal, total);
            return total > replicas + surge ? $"ReplicaSets ask for {total} pods in all ({Describe(all)}), more than {replicas} + maxSurge {surge}" : null;
        });
        await using var pods = await WatchedObjects<Pod>.StartAsync(Client, _ns.Name, all =>
        {
            var available = all.Count(IsReadyAndNotTerminating);
            return available < replicas - unavailable ? $"only {available} Ready pods that are not terminating, fewer than {replicas} - maxUnavailable {unavailable}" : null;
        });

        await _ns.SetImageAsync("web", "nginx:1.25");

        await replicaSets.WaitUntilAsync("the new ReplicaSet to be fully available and the old one scaled to 0", all =>
            all.Count == 2
            && all.Single(rs => ImageOf(rs.Spec?.Template) == "nginx:1.25") is { Status.AvailableReplicas: var available, Spec.Replicas: var specReplicas } && available == replicas && specReplicas == replicas
            && all.Single(rs => ImageOf(rs.Spec?.Template) == "nginx:1.24") is { Spec.Replicas: 0, Status.Replicas: 0 }, Wait);
        await pods.WaitUntilAsync("only Ready pods of the new template", all =>
            all.Count == replicas && all.All(p => ImageOf(p.Spec) == "nginx:1.25" && IsReadyAndNotTerminating(p)), Wait);
        await _ns.WaitForRolloutAsync("web", replicas, "nginx:1.25");

        Assert.Empty(replicaSets.Violations);
        Assert.Empty(pods.Violations);
        // The surge bound is reached, not merely respected: the new ReplicaSet starts as large as maxSurge allows.
        Assert.Equal(replicas + surge, largestTotal);
        Assert.True(pods.Events > 0 && replicaSets.Events > 0);
    }

    [Fact(Timeout = 60_000)]
    public async Task Recreate_ImageChanged_NoNewPodWhileAnyOldPodExists()
    {
        var d = NewDeployment("batch", 3, "nginx:1.24");
        d.Spec!.Strategy = new DeploymentStrategy { Type = "Recreate" };
        await _ns.CreateAsync(d);
        await _ns.WaitForRolloutAsync("batch", 3, "nginx:1.24");

        var sawOldPodTerminating = false;
        await using var pods = await WatchedObjects<Pod>.StartAsync(Client, _ns.Name, all =>
        {
            var old = all.Where(p => ImageOf(p.Spec) == "nginx:1.24").ToList();
            sawOldPodTerminating |= old.Any(p => p.Metadata?.DeletionTimestamp != null);
            var created = all.Where(p => ImageOf(p.Spec) == "nginx:1.25").Select(p => p.Metadata!.Name).ToList();
            return old.Count > 0 && created.Count > 0
                ? $"new pods {string.Join(", ", created)} exist alongside old pods {string.Join(", ", old.Select(p => p.Metadata!.Name + (p.Metadata.DeletionTimestamp != null ? " (terminating)" : "")))}"
                : null;
        });
        await using var replicaSets = await WatchedObjects<ReplicaSet>.StartAsync(Client, _ns.Name, all =>
            all.Any(rs => ImageOf(rs.Spec?.Template) == "nginx:1.25" && rs.Spec?.Replicas > 0) && all.Any(rs => ImageOf(rs.Spec?.Template) == "nginx:1.24" && rs.Spec?.Replicas > 0)
                ? $"old and new ReplicaSets both scaled up: {Describe(all)}"
                : null);

        await _ns.SetImageAsync("batch", "nginx:1.25");

        await pods.WaitUntilAsync("3 Ready pods of the new template only", all =>
            all.Count == 3 && all.All(p => ImageOf(p.Spec) == "nginx:1.25" && IsReadyAndNotTerminating(p)), Wait);
        await _ns.WaitForRolloutAsync("batch", 3, "nginx:1.25");

        Assert.Empty(pods.Violations);
        Assert.Empty(replicaSets.Violations);
        Assert.True(sawOldPodTerminating, "the old pods were never seen terminating, so the watch did not cover the switch-over");
    }

    [Fact(Timeout = 60_000)]
    public async Task Scale_UpThenDown_StatusFollowsPodsBecomingReadyAndGoing()
    {
        await _ns.CreateAsync(NewDeployment("api", 2, "nginx:1.24"));
        await _ns.WaitForRolloutAsync("api", 2, "nginx:1.24");

        await _ns.ScaleAsync("api", 5);
        await _ns.WaitForRolloutAsync("api", 5, "nginx:1.24");
        Assert.Equal(5, (await _ns.PodsAsync()).Count(IsReadyAndNotTerminating));

        await _ns.ScaleAsync("api", 1);
        await _ns.WaitForRolloutAsync("api", 1, "nginx:1.24");
        // The simulated kubelet finishes the graceful deletions, so the surplus pods disappear altogether.
        await Eventually.TrueAsync("the scaled-down pods to be gone", async () => (await _ns.PodsAsync()).Count == 1, Wait);
        var rs = Assert.Single(await _ns.ReplicaSetsAsync());
        Assert.Equal(1, rs.Spec!.Replicas);
        Assert.Equal("1", rs.Metadata!.Annotations![DeploymentNames.DesiredReplicasAnnotation]);
    }

    [Fact(Timeout = 60_000)]
    public async Task RolloutUndo_PreviousTemplateRestored_ReusesOldReplicaSetWithNextRevision()
    {
        await _ns.CreateAsync(NewDeployment("shop", 2, "nginx:1.24"));
        await _ns.WaitForRolloutAsync("shop", 2, "nginx:1.24");
        var first = Assert.Single(await _ns.ReplicaSetsAsync());
        await _ns.SetImageAsync("shop", "nginx:1.25");
        await _ns.WaitForRolloutAsync("shop", 2, "nginx:1.25");
        var second = Assert.Single(await _ns.ReplicaSetsAsync(), rs => rs.Metadata!.Uid != first.Metadata!.Uid);
        Assert.Equal("2", second.Metadata!.Annotations![DeploymentNames.RevisionAnnotation]);

        // What `kubectl rollout undo` sends: the previous revision's pod template, without its pod-template-hash label.
        var template = first.Spec!.Template!;
        template.Metadata!.Labels!.Remove(DeploymentNames.DefaultUniqueLabelKey);
        var patch = $$"""[{"op":"replace","path":"/spec/template","value":{{KubeJson.ToNode(template)!.ToJsonString()}}}]""";
        await Client.PatchAsync<DeploymentObject>(_ns.Name, "shop", PatchType.Json, patch);
        await _ns.WaitForRolloutAsync("shop", 2, "nginx:1.24");

        var replicaSets = await _ns.ReplicaSetsAsync();
        Assert.Equal(2, replicaSets.Count);
        var restored = Assert.Single(replicaSets, rs => rs.Metadata!.Uid == first.Metadata!.Uid);
        Assert.Equal(2, restored.Spec!.Replicas);
        Assert.Equal("3", restored.Metadata!.Annotations![DeploymentNames.RevisionAnnotation]);
        Assert.Equal("1", restored.Metadata.Annotations[DeploymentNames.RevisionHistoryAnnotation]);
        var retired = Assert.Single(replicaSets, rs => rs.Metadata!.Uid == second.Metadata.Uid);
        Assert.Equal(0, retired.Spec!.Replicas);
        Assert.Equal("2", retired.Metadata!.Annotations![DeploymentNames.RevisionAnnotation]);
        var deployment = await Client.GetAsync<DeploymentObject>(_ns.Name, "shop");
        Assert.Equal("3", deployment.Metadata!.Annotations![DeploymentNames.RevisionAnnotation]);
        var hash = first.Metadata!.Labels![DeploymentNames.DefaultUniqueLabelKey];
        await Eventually.TrueAsync("only the restored ReplicaSet's pods to remain", async () =>
            (await _ns.PodsAsync()) is { Count: 2 } pods && pods.All(p => p.Metadata!.Labels![DeploymentNames.DefaultUniqueLabelKey] == hash && IsReadyAndNotTerminating(p)), Wait);
    }

    private static IntOrString IntOrPercent(string value)
        => value.EndsWith('%') ? IntOrString.FromString(value) : IntOrString.FromInt(int.Parse(value, System.Globalization.CultureInfo.InvariantCulture));

    private static string Describe(IEnumerable<ReplicaSet> all)
        => string.Join(", ", all.Select(rs => $"{rs.Metadata!.Name}={rs.Spec?.Replicas}"));
}

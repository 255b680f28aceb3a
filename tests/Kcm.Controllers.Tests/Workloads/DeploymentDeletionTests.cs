using Kcm.Api.Meta.V1;
using Kcm.Client;
using Kcm.Testing;
using static Kcm.Controllers.Tests.Workloads.WorkloadNamespace;
using DeploymentObject = Kcm.Api.Apps.V1.Deployment;

namespace Kcm.Controllers.Tests.Workloads;

/// <summary>Deleting a rolled-out Deployment: the garbage collector removes its ReplicaSets, then their pods, which the simulated kubelet finishes.</summary>
[Collection(WorkloadControllersCollection.Name)]
public sealed class DeploymentDeletionTests(WorkloadControllersWithCollectorFixture fixture) : IClassFixture<WorkloadControllersWithCollectorFixture>
{
    private KubeApiClient Client => fixture.Host.Client;

    [Fact(Timeout = 60_000)]
    public async Task Delete_RolledOutDeployment_ReplicaSetsAndPodsCollected()
    {
        var ns = await WorkloadNamespace.CreateAsync(Client, fixture.NamespacePrefix);
        await ns.CreateAsync(NewDeployment("gone", 2, "nginx:1.24"));
        await ns.WaitForRolloutAsync("gone", 2, "nginx:1.24");
        await ns.SetImageAsync("gone", "nginx:1.25");
        await ns.WaitForRolloutAsync("gone", 2, "nginx:1.25");
        Assert.Equal(2, (await ns.ReplicaSetsAsync()).Count);

        // kubectl delete's default propagation.
        await Client.DeleteAsync<DeploymentObject>(ns.Name, "gone", new DeleteOptions { PropagationPolicy = "Background" });

        await Eventually.TrueAsync("ReplicaSets and pods to be garbage-collected", async () =>
            (await ns.ReplicaSetsAsync()).Count == 0 && (await ns.PodsAsync()).Count == 0, Wait);
    }
}

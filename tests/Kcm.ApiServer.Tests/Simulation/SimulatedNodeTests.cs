using Kcm.Api.Core.V1;
using Kcm.Api.Meta.V1;
using Kcm.ApiServer.Hosting;
using Kcm.ApiServer.Simulation;
using Kcm.Client;
using Kcm.Client.Errors;
using Kcm.Testing;

namespace Kcm.ApiServer.Tests.Simulation;

public sealed class SimulatedNodeFixture : EmbeddedServerFixture
{
    protected override void Configure(EmbeddedApiServerOptions options) => options.PodReadyDelay = TimeSpan.FromMilliseconds(200);
}

public sealed class SimulatedNodeTests(SimulatedNodeFixture fixture) : IClassFixture<SimulatedNodeFixture>
{
    private KubeApiClient Client() => KubeApiClient.FromKubeconfig(fixture.AdminKubeconfigPath);

    private static Pod NewPod(string name) => new()
    {
        Metadata = new ObjectMeta { Name = name },
        Spec = new PodSpec { Containers = [new Container { Name = "web", Image = "nginx:1.25" }] },
    };

    [Fact(Timeout = 30_000)]
    public async Task Pod_Created_IsBoundAndBecomesRunningReady()
    {
        using var client = Client();
        var node = await client.GetAsync<Node>(null, SimulatedNode.NodeName);
        Assert.Contains(node.Status!.Conditions!, c => c.Type == "Ready" && c.Status == "True");

        await client.CreateAsync(NewPod("ready-pod"), "default");
        var pod = await Eventually.GetAsync("pod Running and Ready", async () =>
        {
            var p = await client.GetAsync<Pod>("default", "ready-pod");
            return p.Status?.Phase == "Running" ? p : null;
        });
        Assert.Equal(SimulatedNode.NodeName, pod.Spec!.NodeName);
        Assert.Contains(pod.Status!.Conditions!, c => c.Type == "Ready" && c.Status == "True");
        Assert.True(pod.Status.ContainerStatuses!.Single().Ready);
        Assert.False(string.IsNullOrEmpty(pod.Status.PodIP));
    }

    [Fact(Timeout = 30_000)]
    public async Task RunningPod_DeletedGracefully_IsRemovedByTheSimulatedKubelet()
    {
        using var client = Client();
        await client.CreateAsync(NewPod("doomed-pod"), "default");
        await Eventually.GetAsync("pod Running", async () =>
            (await client.GetAsync<Pod>("default", "doomed-pod")).Status?.Phase == "Running" ? new object() : null);

        await client.DeleteAsync<Pod>("default", "doomed-pod");

        await Eventually.TrueAsync("pod gone", async () =>
        {
            try
            {
                await client.GetAsync<Pod>("default", "doomed-pod");
                return false;
            }
            catch (NotFoundException)
            {
                return true;
            }
        });
    }
}

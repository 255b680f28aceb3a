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
    // Shorter than the tests' own timeout, so a stuck wait fails with what it waited for (an xUnit timeout says nothing).
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(20);

    private KubeApiClient Client() => KubeApiClient.FromKubeconfig(fixture.AdminKubeconfigPath);

    private static Pod NewPod(string name) => new()
    {
        Metadata = new ObjectMeta { Name = name },
        Spec = new PodSpec { Containers = [new Container { Name = "web", Image = "nginx:1.25" }] },
    };

    [EmbeddedOnlyFact("tests the embedded server's built-in simulated node (--pod-ready-delay)", Timeout = 30_000)]
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
        }, Wait);
        Assert.Equal(SimulatedNode.NodeName, pod.Spec!.NodeName);
        Assert.Contains(pod.Status!.Conditions!, c => c.Type == "Ready" && c.Status == "True");
        Assert.True(pod.Status.ContainerStatuses!.Single().Ready);
        Assert.False(string.IsNullOrEmpty(pod.Status.PodIP));
    }

    [EmbeddedOnlyFact("tests the embedded server's built-in simulated node (--pod-ready-delay)", Timeout = 30_000)]
    public async Task RunningPod_DeletedGracefully_IsRemovedByTheSimulatedKubelet()
    {
        using var client = Client();
        await client.CreateAsync(NewPod("doomed-pod"), "default");
        await Eventually.GetAsync("pod Running", async () =>
            (await client.GetAsync<Pod>("default", "doomed-pod")).Status?.Phase == "Running" ? new object() : null, Wait);

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
        }, Wait);
    }

    // Regression: the deletion arrived while the simulated kubelet was still starting the pod (its ready delay), was
    // ignored as "in flight", and the pod stayed terminating for good.
    [EmbeddedOnlyFact("tests the embedded server's built-in simulated node (--pod-ready-delay)", Timeout = 30_000)]
    public async Task StartingPods_DeletedGracefully_AreRemovedByTheSimulatedKubelet()
    {
        using var client = Client();
        var names = Enumerable.Range(0, 5).Select(i => $"short-lived-{i}").ToList();
        foreach (var name in names) await client.CreateAsync(NewPod(name), "default");
        foreach (var name in names)
        {
            await Eventually.TrueAsync($"{name} bound", async () => (await client.GetAsync<Pod>("default", name)).Spec?.NodeName == SimulatedNode.NodeName, Wait);
            await client.DeleteAsync<Pod>("default", name);
        }

        await Eventually.TrueAsync("all pods gone", async () =>
            !(await client.ListAsync<Pod>("default")).Items!.Any(p => names.Contains(p.Metadata!.Name!)), Wait);
    }

    // Regression: a bind and the watch event showing the pod bound raced; when the event won, it was dropped and
    // the pod stayed Pending.
    [EmbeddedOnlyFact("tests the embedded server's built-in simulated node (--pod-ready-delay)", Timeout = 30_000)]
    public async Task ManyPods_CreatedAtOnce_AllBecomeRunning()
    {
        using var client = Client();
        var names = Enumerable.Range(0, 20).Select(i => $"burst-{i}").ToList();
        await Task.WhenAll(names.Select(name => client.CreateAsync(NewPod(name), "default")));

        await Eventually.TrueAsync("all pods Running", async () =>
            (await client.ListAsync<Pod>("default")).Items!.Count(p => names.Contains(p.Metadata!.Name!) && p.Status?.Phase == "Running") == names.Count, Wait);
    }
}

using Kcm.Api.Coordination.V1;
using Kcm.Api.Core.V1;
using Kcm.Api.Meta.V1;
using Kcm.Client;
using Kcm.Client.Errors;
using Kcm.Testing;

namespace Kcm.Tests.Commands;

/// <summary>`simulate` as other tools run it: a foreground process against a kubeconfig, stopped with SIGTERM.</summary>
public sealed class SimulateCommandTests(EmbeddedServerFixture fixture) : IClassFixture<EmbeddedServerFixture>
{
    [Fact(Timeout = 120_000)]
    public async Task Simulate_Nodes_RegisterRunPodsAndStopOnSigterm()
    {
        var id = Guid.NewGuid().ToString("N")[..8];
        var ns = "simcmd-" + id;
        var prefix = $"simcmd{id}-";
        using var client = KubeApiClient.FromKubeconfig(fixture.AdminKubeconfigPath);
        await client.CreateAsync(new Namespace { Metadata = new ObjectMeta { Name = ns } });
        try
        {
            await client.CreateAsync(new ServiceAccount { Metadata = new ObjectMeta { Name = "default" } }, ns);
        }
        catch (AlreadyExistsException)
        {
        }
        await using var simulate = await KcmProcess.StartAsync("simulate", "--kubeconfig", fixture.AdminKubeconfigPath,
            "--nodes", "2", "--pod-ready-delay", "100ms", "--node-name-prefix", prefix, "--namespaces", ns);
        await simulate.WaitForOutputAsync("Simulating 2 node(s)");

        var nodes = (await client.ListAsync<Node>(null)).Items!.Where(n => n.Metadata!.Name!.StartsWith(prefix, StringComparison.Ordinal)).ToList();
        Assert.Equal([prefix + "0", prefix + "1"], nodes.Select(n => n.Metadata!.Name!).Order());
        await client.GetAsync<Lease>("kube-node-lease", prefix + "1");
        await client.CreateAsync(new Pod { Metadata = new ObjectMeta { Name = "web" }, Spec = new PodSpec { Containers = [new Container { Name = "web", Image = "nginx" }] } }, ns);
        await Eventually.TrueAsync("pod Running", async () => (await client.GetAsync<Pod>(ns, "web")).Status?.Phase == "Running", TimeSpan.FromSeconds(30));

        Assert.Equal(0, await simulate.TerminateAsync());
        Assert.Matches(@"(?m)^I\d{4} [\d:.]+ +\d+ node-simulator\] Registered node " + prefix + "0$", simulate.Stderr);
        foreach (var n in nodes) await client.DeleteAsync<Node>(null, n.Metadata!.Name!);
    }

    [Theory(Timeout = 60_000)]
    [InlineData(new[] { "simulate" }, "Error: --kubeconfig is required")]
    [InlineData(new[] { "simulate", "--kubeconfig", "/nonexistent/kubeconfig" }, "Error: --kubeconfig: /nonexistent/kubeconfig does not exist")]
    public async Task Simulate_BadArguments_OneLineErrorAndExitCode1(string[] args, string firstLine)
    {
        await using var process = await KcmProcess.StartAsync(args);
        Assert.Equal(1, await process.WaitForExitAsync());
        Assert.Equal(firstLine, process.Stderr.Split('\n')[0].TrimEnd());
    }

    [Fact(Timeout = 60_000)]
    public async Task Simulate_BadNodeCount_OneLineError()
    {
        await using var process = await KcmProcess.StartAsync("simulate", "--kubeconfig", fixture.AdminKubeconfigPath, "--nodes", "0");
        Assert.Equal(1, await process.WaitForExitAsync());
        Assert.Equal("Error: simulate: node count must be between 1 and 5000, got 0", process.Stderr.Split('\n')[0].TrimEnd());
    }
}

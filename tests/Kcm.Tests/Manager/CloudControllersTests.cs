using Kcm.Logging;
using Kcm.Manager;
using Kcm.Options;
using Kcm.Testing;

namespace Kcm.Tests.Manager;

public sealed class CloudControllersTests(EmbeddedServerFixture server) : IClassFixture<EmbeddedServerFixture>
{
    // What upstream v1.26.3 (providerless) logs for these at start with no cloud provider, severity and text.
    private static readonly string[] UpstreamLines =
    [
        "E core] Failed to start service controller: WARNING: no cloud provider provided, services of type LoadBalancer will fail",
        "W controllermanager] Skipping \"service\"",
        "I core] Will not configure cloud provider routes for allocate-node-cidrs: false, configure-cloud-routes: true.",
        "W controllermanager] Skipping \"route\"",
        "E core] failed to start cloud node lifecycle controller: no cloud provider provided",
        "W controllermanager] Skipping \"cloud-node-lifecycle\"",
    ];

    [Fact(Timeout = 60_000)]
    public async Task Run_NoCloudProvider_LogsUpstreamSkipLinesAndStartsVolumeControllers()
    {
        var lines = await StartAndCollectAsync(["--controllers=service,route,cloud-node-lifecycle,attachdetach,persistentvolume-expander"],
            "Started \"persistentvolume-expander\"");

        foreach (var expected in UpstreamLines)
        {
            Assert.Contains(lines, l => Shape(l) == expected);
        }
        Assert.Contains(lines, l => Shape(l) == "I controllermanager] Started \"attachdetach\"");
        Assert.DoesNotContain(lines, l => l.Contains("not implemented", StringComparison.Ordinal));
    }

    [Fact(Timeout = 60_000)]
    public async Task Run_AllocateNodeCidrsWithCloudRoutes_RouteWarnsNoCloudProvider()
    {
        var lines = await StartAndCollectAsync(["--controllers=route", "--allocate-node-cidrs", "--cluster-cidr=10.244.0.0/16"], "Skipping \"route\"");

        Assert.Contains(lines, l => Shape(l) == "W core] configure-cloud-routes is set, but no cloud provider specified. Will not configure cloud provider routes.");
    }

    [Fact(Timeout = 60_000)]
    public async Task Run_ExternalCloudProvider_CloudControllersLogNothingOfTheirOwn()
    {
        var lines = await StartAndCollectAsync(["--controllers=service,route,cloud-node-lifecycle", "--cloud-provider=external"], "Skipping \"cloud-node-lifecycle\"");

        Assert.DoesNotContain(lines, l => l.Contains(" core] ", StringComparison.Ordinal));
    }

    /// <summary>A klog line without its timestamp and pid: "I1206 06:55:31.841292   12001 core] text" becomes "I core] text".</summary>
    private static string Shape(string line)
    {
        var bracket = line.IndexOf(']', StringComparison.Ordinal);
        var space = bracket < 0 ? -1 : line.LastIndexOf(' ', bracket);
        return space < 0 || line.Length == 0 ? line : line[0] + " " + line[(space + 1)..];
    }

    private async Task<string[]> StartAndCollectAsync(string[] flags, string until)
    {
        var inner = new StringWriter();
        var output = TextWriter.Synchronized(inner);
        var options = KubeControllerManagerOptions.Parse([$"--kubeconfig={server.AdminKubeconfigPath}", "--secure-port=0", "--leader-elect=false", .. flags]);
        Assert.Empty(options.Validate());
        using var loggers = KlogLoggerProvider.CreateFactory(0, output);
        var host = new ControllerManagerHost(options, loggers, TimeProvider.System);
        using var stop = new CancellationTokenSource();
        var run = host.RunAsync(stop.Token);
        string Text()
        {
            lock (output)
            {
                return inner.ToString();
            }
        }
        await Eventually.TrueAsync(until, () => Task.FromResult(Text().Contains(until, StringComparison.Ordinal)));
        stop.Cancel();
        Assert.Equal(ManagerExit.Stopped, await run);
        return Text().Split('\n', StringSplitOptions.RemoveEmptyEntries);
    }
}

public sealed class AttachDetachOptionsTests
{
    [Fact]
    public void Validate_ReconcileSyncPeriodUnderOneSecond_UpstreamMessage()
    {
        var options = KubeControllerManagerOptions.Parse(["--attach-detach-reconcile-sync-period=500ms"]);

        Assert.Contains("duration time must be greater than one second as set via command line option reconcile-sync-loop-period", options.Validate());
    }

    [Fact]
    public void Validate_ReconcileSyncPeriodOneSecond_Accepted()
        => Assert.Empty(KubeControllerManagerOptions.Parse(["--attach-detach-reconcile-sync-period=1s"]).Validate());
}

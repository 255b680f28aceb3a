using System.Net;
using System.Net.Sockets;
using Kcm.Api.Coordination.V1;
using Kcm.Client;
using Kcm.Manager;
using Kcm.Options;
using Kcm.Testing;
using Microsoft.Extensions.Logging.Abstractions;

namespace Kcm.Tests.Manager;

public sealed class ControllerManagerHostTests(EmbeddedServerFixture server) : IClassFixture<EmbeddedServerFixture>
{
    private static int FreePort()
    {
        var l = new TcpListener(IPAddress.Loopback, 0);
        l.Start();
        var port = ((IPEndPoint)l.LocalEndpoint).Port;
        l.Stop();
        return port;
    }

    [Fact(Timeout = 60_000)]
    public async Task Run_LegacyInsecurePort_ServesHealthAndMetricsOverHttp()
    {
        var port = FreePort();
        var options = KubeControllerManagerOptions.Parse([$"--kubeconfig={server.AdminKubeconfigPath}", "--secure-port=0", $"--port={port}",
            "--address=127.0.0.1", "--leader-elect=false"]);
        Assert.Empty(options.Validate());
        var host = new ControllerManagerHost(options, NullLoggerFactory.Instance, TimeProvider.System);
        using var stop = new CancellationTokenSource();
        var run = host.RunAsync(stop.Token);

        using var http = new HttpClient();
        string health = "";
        while (health != "ok")
        {
            try
            {
                health = await http.GetStringAsync($"http://127.0.0.1:{port}/healthz");
            }
            catch (HttpRequestException)
            {
                await Task.Delay(50);
            }
        }
        var metrics = await http.GetStringAsync($"http://127.0.0.1:{port}/metrics");
        Assert.Contains("process_start_time_seconds ", metrics);
        Assert.Equal("", await Promtool.CheckAsync(metrics));

        stop.Cancel();
        Assert.Equal(ManagerExit.Stopped, await run);
    }

    [Fact(Timeout = 60_000)]
    public async Task Run_LeaderElect_LeadsThenReleasesOnShutdown()
    {
        var lockName = "kcm-" + Guid.NewGuid().ToString("N")[..8];
        var options = KubeControllerManagerOptions.Parse([$"--kubeconfig={server.AdminKubeconfigPath}", "--secure-port=0",
            $"--leader-elect-resource-name={lockName}"]);
        var host = new ControllerManagerHost(options, NullLoggerFactory.Instance, TimeProvider.System);
        using var client = KubeApiClient.FromKubeconfig(server.AdminKubeconfigPath);
        using var stop = new CancellationTokenSource();
        var run = host.RunAsync(stop.Token);

        Lease? lease = null;
        while (lease?.Spec?.HolderIdentity != host.Identity)
        {
            await Task.Delay(50);
            try
            {
                lease = await client.GetAsync<Lease>("kube-system", lockName);
            }
            catch (Kcm.Client.Errors.NotFoundException)
            {
            }
        }
        Assert.Equal(15, lease.Spec!.LeaseDurationSeconds);

        stop.Cancel();
        Assert.Equal(ManagerExit.Stopped, await run);
        var released = await client.GetAsync<Lease>("kube-system", lockName);
        Assert.True(string.IsNullOrEmpty(released.Spec?.HolderIdentity), "the lease is released on graceful shutdown");
    }
}

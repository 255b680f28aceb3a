using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography.X509Certificates;
using System.Text.RegularExpressions;
using Kcm.Api.Coordination.V1;
using Kcm.Client;
using Kcm.Testing;

namespace Kcm.Tests.Commands;

/// <summary>
/// `dev` as the README runs it: the embedded API server plus three leader-elected controller-manager
/// processes configured like the guides' unit files. One leads; a graceful stop hands over at once.
/// </summary>
public sealed partial class DevCommandTests : IDisposable
{
    private readonly string _stateDir = Path.Combine(Path.GetTempPath(), "kcm-dev-" + Guid.NewGuid().ToString("N")[..8]);

    public void Dispose()
    {
        if (Directory.Exists(_stateDir)) Directory.Delete(_stateDir, recursive: true);
    }

    [Fact(Timeout = 180_000)]
    public async Task Dev_ThreeInstances_OneLeaderGracefulFailoverAndSecureMetrics()
    {
        var firstPort = FreeConsecutivePorts(3);
        await using var dev = await KcmProcess.StartAsync("dev", "--state-dir", _stateDir, "--secure-port", "0",
            "--instances", "3", "--kcm-secure-port", firstPort.ToString(System.Globalization.CultureInfo.InvariantCulture));
        await dev.WaitForOutputAsync("is the leader");

        using var client = KubeApiClient.FromKubeconfig(Path.Combine(_stateDir, "admin.kubeconfig"));
        var lease = await client.GetAsync<Lease>("kube-system", "kube-controller-manager");
        var firstHolder = lease.Spec!.HolderIdentity!;
        Assert.Matches(@"^[^_]+_[0-9a-f-]{36}$", firstHolder);
        Assert.Equal(15, lease.Spec.LeaseDurationSeconds);
        Assert.Equal(0, lease.Spec.LeaseTransitions ?? 0);

        var leader = Leaders(dev.Stdout).Single();
        var pids = StartedPids(dev.Stdout);
        Assert.Equal(3, pids.Count);

        // Exactly one instance reports itself leading on its secure port; the guides' curl works.
        var statuses = new List<string>();
        for (var i = 0; i < 3; i++) statuses.Add(await MetricAsync(firstPort + i, "leader_election_master_status"));
        Assert.Equal(1, statuses.Count(s => s.EndsWith(" 1", StringComparison.Ordinal)));
        using (var anonymous = HttpsClient(withAdminCert: false))
        {
            // No credentials is system:anonymous, which authorization denies (upstream answers 403 too).
            Assert.Equal(HttpStatusCode.Forbidden, (await anonymous.GetAsync($"https://127.0.0.1:{firstPort}/metrics")).StatusCode);
            Assert.Equal("ok", await anonymous.GetStringAsync($"https://127.0.0.1:{firstPort}/healthz"));
        }

        using (var kill = System.Diagnostics.Process.Start("kill", ["-TERM", pids[leader].ToString(System.Globalization.CultureInfo.InvariantCulture)]))
        {
            await kill.WaitForExitAsync();
        }
        while (Leaders(dev.Stdout).Count < 2) await Task.Delay(50);
        Assert.NotEqual(leader, Leaders(dev.Stdout)[1]);

        var after = await client.GetAsync<Lease>("kube-system", "kube-controller-manager");
        Assert.NotEqual(firstHolder, after.Spec!.HolderIdentity);
        Assert.Equal(1, after.Spec.LeaseTransitions);

        Assert.Equal(0, await dev.TerminateAsync());
    }

    private async Task<string> MetricAsync(int port, string name)
    {
        using var http = HttpsClient(withAdminCert: true);
        // The leader may announce itself before a standby has opened its secure port: poll until it answers.
        var text = await Eventually.GetAsync($"/metrics on port {port}", async () => await http.GetStringAsync($"https://127.0.0.1:{port}/metrics"));
        return text.Split('\n').Single(l => l.StartsWith(name + "{", StringComparison.Ordinal));
    }

    private HttpClient HttpsClient(bool withAdminCert)
    {
        var ca = X509Certificate2.CreateFromPem(File.ReadAllText(Path.Combine(_stateDir, "ca.pem")));
        var handler = new HttpClientHandler
        {
            ServerCertificateCustomValidationCallback = (_, cert, _, _) =>
            {
                using var chain = new X509Chain();
                chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
                chain.ChainPolicy.CustomTrustStore.Add(ca);
                chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
                return cert != null && chain.Build(cert);
            },
        };
        if (withAdminCert)
        {
            var admin = X509Certificate2.CreateFromPemFile(Path.Combine(_stateDir, "admin.pem"), Path.Combine(_stateDir, "admin-key.pem"));
            handler.ClientCertificates.Add(X509CertificateLoader.LoadPkcs12(admin.Export(X509ContentType.Pkcs12), null));
            handler.ClientCertificateOptions = ClientCertificateOption.Manual;
        }
        return new HttpClient(handler);
    }

    private static List<string> Leaders(string stdout) => LeaderLine().Matches(stdout).Select(m => m.Groups[1].Value).ToList();

    private static Dictionary<string, int> StartedPids(string stdout)
        => StartedLine().Matches(stdout).ToDictionary(m => m.Groups[1].Value, m => int.Parse(m.Groups[2].Value, System.Globalization.CultureInfo.InvariantCulture));

    private static int FreeConsecutivePorts(int count)
    {
        for (var attempt = 0; attempt < 50; attempt++)
        {
            var start = Random.Shared.Next(20000, 40000);
            var listeners = new List<TcpListener>();
            try
            {
                for (var i = 0; i < count; i++)
                {
                    var l = new TcpListener(IPAddress.Loopback, start + i);
                    l.Start();
                    listeners.Add(l);
                }
                return start;
            }
            catch (SocketException)
            {
            }
            finally
            {
                foreach (var l in listeners) l.Stop();
            }
        }
        throw new InvalidOperationException("no free consecutive ports");
    }

    [GeneratedRegex(@"==> (kcm-\d+) \(")]
    private static partial Regex LeaderLine();

    [GeneratedRegex(@"started (kcm-\d+): pid (\d+)")]
    private static partial Regex StartedLine();
}

using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Kcm.Api.Coordination.V1;
using Kcm.Client;
using Kcm.Init;
using Kcm.Status;
using Kcm.Testing;
using Kcm.Tests.Commands;

namespace Kcm.Tests.Init;

/// <summary>
/// Issue 19 item 1 end to end, on the embedded server and (with KCM_TEST_KUBECONFIG, KCM_TEST_CA_KEY, KCM_TEST_SA_KEY)
/// on a real kube-apiserver: init's unit, its ExecStart run as systemd would run it, leads, answers the guide's curl of
/// /metrics with an admin certificate, and `status` shows it.
/// </summary>
[System.Runtime.Versioning.UnsupportedOSPlatform("windows")] // file modes: init refuses group/other-readable keys
public sealed class InitEndToEndTests(EmbeddedServerFixture server) : IClassFixture<EmbeddedServerFixture>
{
    [Fact(Timeout = 180_000)]
    public async Task Init_UnitExecStart_LeadsAndServesGuideCurlAndStatus()
    {
        var work = Path.Combine(server.ScratchDirectory, "init-" + Guid.NewGuid().ToString("N")[..8]);
        var pki = Path.Combine(work, "pki");
        Directory.CreateDirectory(pki);
        // The operator's copy of the CA, private as cfssl leaves ca-key.pem (init refuses a key others can read).
        File.Copy(server.CaPath, Path.Combine(pki, "ca.pem"));
        File.Copy(server.CaKeyPath, Path.Combine(pki, "ca-key.pem"));
        File.SetUnixFileMode(Path.Combine(pki, "ca-key.pem"), UnixFileMode.UserRead | UnixFileMode.UserWrite);
        // The guides' admin.pem / admin-key.pem (group system:masters) for the curl.
        server.WriteUserKubeconfig("curl-admin", "admin", "system:masters");
        var adminCert = Path.Combine(server.ScratchDirectory, "curl-admin.pem");
        var adminKey = Path.Combine(server.ScratchDirectory, "curl-admin-key.pem");

        var port = FreePort();
        // One harmless controller: other tests share the cluster. The lease is the default one: the bootstrap RBAC role
        // lets system:kube-controller-manager use only the lease named kube-controller-manager.
        const string lease = "kube-controller-manager";
        var output = Path.Combine(work, "out");
        var installDir = Path.Combine(output, "127.0.0.1");
        var init = new StringWriter();
        var initErrors = new StringWriter();
        var exit = await new InitCommand().RunAsync(
        [
            "--masters", "127.0.0.1", "--apiserver", server.Url.ToString(), "--ca-cert", Path.Combine(pki, "ca.pem"), "--ca-key", Path.Combine(pki, "ca-key.pem"),
            "--out", output, "--install-dir", installDir, "--binary", "/usr/local/bin/kube-controller-manager",
            "--admin-cert", adminCert, "--admin-key", adminKey,
            "--flag", $"secure-port={port}", "--flag", "controllers=ttl",
            "--flag", $"service-account-private-key-file={server.ServiceAccountKeyPath}",
        ], init, initErrors);
        Assert.True(exit == 0, initErrors.ToString());

        var execStart = SystemdUnit.ParseExecStart(await File.ReadAllTextAsync(Path.Combine(installDir, InitCommand.UnitFile)));
        Assert.Equal("/usr/local/bin/kube-controller-manager", execStart[0]);
        foreach (var flag in new[] { "kubeconfig", "tls-cert-file", "tls-private-key-file", "client-ca-file", "cluster-signing-key-file", "root-ca-file" })
        {
            Assert.True(File.Exists(SystemdUnit.FlagValue(execStart, flag)), $"--{flag} names a file init did not write");
        }

        await using var kcm = await KcmProcess.StartAsync([.. execStart.Skip(1)]);
        using var client = KubeApiClient.FromKubeconfig(server.AdminKubeconfigPath);
        try
        {
            // A lease left by an earlier run expires within 15 s.
            await kcm.WaitForOutputAsync("successfully acquired lease").WaitAsync(TimeSpan.FromSeconds(90));
        }
        catch (TimeoutException)
        {
            Assert.Fail("the unit's controller manager did not lead within 90 s:\n" + Tail(kcm.Stderr));
        }
        var holder = await HolderAsync(client, lease);
        Assert.StartsWith(Dns.GetHostName() + "_", holder);

        // The guide's check, as printed by init (with this test's lease and port).
        var curlLine = init.ToString().Split('\n').Single(l => l.TrimStart().StartsWith("curl ", StringComparison.Ordinal));
        Assert.Contains($"https://127.0.0.1:{port}/metrics", curlLine);
        var metrics = await CurlAsync(Path.Combine(installDir, "cert", "ca.pem"), adminCert, adminKey, $"https://127.0.0.1:{port}/metrics");
        Assert.Contains($"leader_election_master_status{{name=\"{lease}\"}} 1", metrics);
        Assert.Contains("workqueue_adds_total{name=\"ttlcontroller\"}", metrics);

        var status = new StringWriter();
        var statusErrors = new StringWriter();
        Assert.Equal(0, await new StatusCommand().RunAsync(
            ["--kubeconfig", server.AdminKubeconfigPath, "--instances", $"https://127.0.0.1:{port}"], status, statusErrors));
        var report = status.ToString();
        Assert.Contains($"holder:       {holder}", report);
        // A shared or reused cluster's lease has a history; only its presence is certain.
        Assert.Matches(@"\n  transitions:  \d+\n", report);
        Assert.Matches($@"https://127\.0\.0\.1:{port} +ok +yes ", report);
        Assert.Matches(@"\n +ttlcontroller +\d+ +\d+\.\d +\d+ +\d+ +-\n", report);

        // --watch refreshes (each refresh clears the screen) until interrupted.
        await using (var watching = await KcmProcess.StartAsync("status", "--kubeconfig", server.AdminKubeconfigPath, "--instances", $"https://127.0.0.1:{port}",
            "--watch", "--interval", "200ms"))
        {
            var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(60);
            while (CountOf(watching.Stdout, "Controllers on the leader") < 3)
            {
                if (watching.Stderr.Length > 0 || DateTime.UtcNow > deadline) Assert.Fail("status --watch: " + watching.Stderr + Tail(watching.Stdout));
                await Task.Delay(100);
            }
            Assert.Equal(0, await watching.TerminateAsync());
        }

        Assert.Equal(0, await kcm.TerminateAsync());
    }

    private static string Tail(string text) => text.Length > 3000 ? text[^3000..] : text;

    private static int CountOf(string text, string value)
    {
        var count = 0;
        for (var i = text.IndexOf(value, StringComparison.Ordinal); i >= 0; i = text.IndexOf(value, i + value.Length, StringComparison.Ordinal)) count++;
        return count;
    }

    private static async Task<string> HolderAsync(KubeApiClient client, string lease)
    {
        try
        {
            return (await client.GetAsync<Lease>("kube-system", lease)).Spec?.HolderIdentity ?? "";
        }
        catch (Kcm.Client.Errors.NotFoundException)
        {
            return "";
        }
    }

    private static async Task<string> CurlAsync(string ca, string cert, string key, string url)
    {
        var info = new ProcessStartInfo("curl") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in new[] { "-sS", "--fail", "--cacert", ca, "--cert", cert, "--key", key, url }) info.ArgumentList.Add(a);
        using var curl = Process.Start(info)!;
        var stdout = curl.StandardOutput.ReadToEndAsync();
        var stderr = curl.StandardError.ReadToEndAsync();
        await curl.WaitForExitAsync();
        Assert.True(curl.ExitCode == 0, $"curl exited {curl.ExitCode}: {await stderr}");
        return await stdout;
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}

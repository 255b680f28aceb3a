using System.Diagnostics;
using Kcm.Api.Coordination.V1;
using Kcm.ApiServer.Hosting;
using Kcm.Client;
using Kcm.Client.Errors;
using Kcm.Commands;
using Microsoft.Extensions.Logging.Abstractions;

namespace Kcm.Benchmarks;

/// <summary>
/// Leader failover and cold start of real kube-controller-manager processes against the embedded
/// API server: time from signalling the leader to a standby holding the lease (as seen through the
/// Lease), and from process start to holding a fresh lease.
/// </summary>
internal static class FailoverBenchmark
{
    private const int SigKill = ProcessSignals.SigKill;
    private const int SigTerm = ProcessSignals.SigTerm;

    public static async Task<int> RunAsync(int gracefulRounds, int killRounds, int coldStarts)
    {
        var stateDir = Path.Combine(Path.GetTempPath(), "kcm-failover-" + Guid.NewGuid().ToString("N")[..8]);
        await using var server = await EmbeddedApiServer.StartAsync(new EmbeddedApiServerOptions { StateDirectory = stateDir, SecurePort = 0 },
            NullLoggerFactory.Instance, CancellationToken.None);
        var kubeconfig = server.WriteComponentKubeconfig("kube-controller-manager", "system:kube-controller-manager", "system:kube-controller-manager");
        using var client = KubeApiClient.FromKubeconfig(server.AdminKubeconfigPath);
        try
        {
            Console.WriteLine($"failover: {Environment.ProcessorCount} cores, lease 15s / renew 10s / retry 2s (upstream defaults)");
            var cold = new List<double>();
            for (var i = 0; i < coldStarts; i++)
            {
                // The controller manager's RBAC role only allows its own lock name, so reuse it from scratch.
                await DeleteLeaseAsync(client, LockName);
                var lockName = LockName;
                var started = Stopwatch.GetTimestamp();
                using var p = Start(kubeconfig, lockName);
                await WaitForHolderAsync(client, lockName, h => h.Length > 0);
                cold.Add(Stopwatch.GetElapsedTime(started).TotalSeconds);
                await StopAsync(p, SigTerm);
            }
            if (cold.Count > 0) Report("cold start to leading", cold);

            await DeleteLeaseAsync(client, LockName);
            var graceful = await FailoversAsync(client, kubeconfig, LockName, gracefulRounds, SigTerm);
            if (graceful.Count > 0) Report("graceful stop (SIGTERM) of the leader to a standby leading", graceful);
            await DeleteLeaseAsync(client, LockName);
            var killed = await FailoversAsync(client, kubeconfig, LockName, killRounds, SigKill);
            if (killed.Count > 0) Report("kill -9 of the leader to a standby leading", killed);
            return 0;
        }
        finally
        {
            Directory.Delete(stateDir, recursive: true);
        }
    }

    private static async Task<List<double>> FailoversAsync(KubeApiClient client, string kubeconfig, string lockName, int rounds, int signal)
    {
        var results = new List<double>();
        if (rounds == 0) return results;
        var processes = new List<Process> { Start(kubeconfig, lockName), Start(kubeconfig, lockName) };
        try
        {
            var holder = await WaitForHolderAsync(client, lockName, h => h.Length > 0);
            for (var round = 0; round < rounds; round++)
            {
                var leader = await LeaderAsync(processes);
                var previous = holder;
                var signalled = Stopwatch.GetTimestamp();
                ProcessSignals.Send(leader.Id, signal);
                holder = await WaitForHolderAsync(client, lockName, h => h.Length > 0 && h != previous);
                results.Add(Stopwatch.GetElapsedTime(signalled).TotalSeconds);
                await leader.WaitForExitAsync();
                processes.Remove(leader);
                leader.Dispose();
                processes.Add(Start(kubeconfig, lockName));
                await Task.Delay(500); // let the replacement settle into standby
            }
        }
        finally
        {
            foreach (var p in processes) await StopAsync(p, SigTerm);
        }
        return results;
    }

    private const string LockName = "kube-controller-manager";

    private static async Task DeleteLeaseAsync(KubeApiClient client, string name)
    {
        try
        {
            await client.DeleteAsync<Lease>("kube-system", name);
        }
        catch (NotFoundException)
        {
        }
    }

    private static async Task<string> WaitForHolderAsync(KubeApiClient client, string lockName, Func<string, bool> accept)
    {
        while (true)
        {
            try
            {
                var lease = await client.GetAsync<Lease>("kube-system", lockName);
                var holder = lease.Spec?.HolderIdentity ?? "";
                if (accept(holder)) return holder;
            }
            catch (NotFoundException)
            {
            }
            await Task.Delay(5);
        }
    }

    private static readonly System.Collections.Concurrent.ConcurrentDictionary<int, bool> Leading = new();

    // Identities share the hostname, so the leader is the process that logged acquiring the lease.
    private static async Task<Process> LeaderAsync(List<Process> processes)
    {
        while (true)
        {
            var leader = processes.FirstOrDefault(p => Leading.GetValueOrDefault(p.Id));
            if (leader != null) return leader;
            await Task.Delay(5);
        }
    }

    private static Process Start(string kubeconfig, string lockName)
    {
        var dll = Path.Combine(AppContext.BaseDirectory, "kube-controller-manager.dll");
        var info = new ProcessStartInfo("dotnet") { RedirectStandardError = true, RedirectStandardOutput = true };
        info.ArgumentList.Add(dll);
        foreach (var a in new[]
        {
            $"--kubeconfig={kubeconfig}", "--secure-port=0", "--leader-elect=true", $"--leader-elect-resource-name={lockName}",
            "--controllers=*,bootstrapsigner,tokencleaner",
        })
        {
            info.ArgumentList.Add(a);
        }
        var process = new Process { StartInfo = info };
        process.ErrorDataReceived += (_, e) =>
        {
            if (e.Data?.Contains("successfully acquired lease", StringComparison.Ordinal) == true) Leading[process.Id] = true;
        };
        process.Start();
        process.BeginErrorReadLine();
        process.BeginOutputReadLine();
        return process;
    }

    private static async Task StopAsync(Process p, int signal)
    {
        if (!p.HasExited)
        {
            ProcessSignals.Send(p.Id, signal);
            await p.WaitForExitAsync();
        }
        p.Dispose();
    }

    private static void Report(string what, List<double> seconds)
    {
        var sorted = seconds.Order().ToList();
        var median = sorted.Count % 2 == 1 ? sorted[sorted.Count / 2] : (sorted[sorted.Count / 2 - 1] + sorted[sorted.Count / 2]) / 2;
        Console.WriteLine($"  {what}: median {median:F3} s, min {sorted[0]:F3} s, max {sorted[^1]:F3} s ({sorted.Count} runs)");
    }
}

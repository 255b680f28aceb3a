using System.Diagnostics;
using Kcm.Api.Coordination.V1;
using Kcm.ApiServer.Hosting;
using Kcm.Client;
using Kcm.Client.Errors;
using Kcm.Commands;
using Microsoft.Extensions.Logging.Abstractions;

namespace Kcm.Benchmarks;

/// <summary>
/// Leader failover and cold start of real kube-controller-manager processes against the embedded API server or an
/// external one: time from signalling the leader to a standby holding the lease (as seen through the Lease), and from
/// process start to holding a fresh lease.
/// </summary>
internal static class FailoverBenchmark
{
    private const int SigKill = ProcessSignals.SigKill;
    private const int SigTerm = ProcessSignals.SigTerm;

    /// <summary>A controller manager to measure: our build through dotnet when <see cref="Binary"/> is null, else that executable.</summary>
    private sealed record Contender(string Label, string? Binary);

    /// <summary>
    /// Against the embedded server unless <paramref name="kubeconfig"/> names one (the real kube-apiserver). With
    /// <paramref name="upstream"/>, upstream's binary runs every phase beside ours (cold starts alternate A B A B) and
    /// the medians are printed side by side.
    /// </summary>
    public static async Task<int> RunAsync(int gracefulRounds, int killRounds, int coldStarts, string? kubeconfig = null, string? ours = null, string? upstream = null)
    {
        var stateDir = Path.Combine(Path.GetTempPath(), "kcm-failover-" + Guid.NewGuid().ToString("N")[..8]);
        EmbeddedApiServer? server = null;
        try
        {
            if (kubeconfig == null)
            {
                server = await EmbeddedApiServer.StartAsync(new EmbeddedApiServerOptions { StateDirectory = stateDir, SecurePort = 0 },
                    NullLoggerFactory.Instance, CancellationToken.None);
                kubeconfig = server.WriteComponentKubeconfig("kube-controller-manager", "system:kube-controller-manager", "system:kube-controller-manager");
            }
            using var client = KubeApiClient.FromKubeconfig(server?.AdminKubeconfigPath ?? kubeconfig);
            var contenders = new List<Contender>();
            if (upstream != null) contenders.Add(new Contender("upstream", upstream));
            contenders.Add(new Contender("ours", ours));
            Console.WriteLine($"failover: {Environment.ProcessorCount} cores, lease 15s / renew 10s / retry 2s (upstream defaults), " +
                $"{(server != null ? "embedded server" : "server from " + kubeconfig)}; {string.Join(", ", contenders.Select(c => $"{c.Label}: {c.Binary ?? "dotnet kube-controller-manager.dll"}"))}");
            var results = new List<(string Phase, string Label, List<double> Seconds)>();

            var cold = contenders.ToDictionary(c => c.Label, _ => new List<double>());
            for (var i = 0; i < coldStarts; i++)
            {
                foreach (var contender in contenders)
                {
                    // The controller manager's RBAC role only allows its own lock name, so reuse it from scratch.
                    await DeleteLeaseAsync(client, LockName);
                    var started = Stopwatch.GetTimestamp();
                    using var p = Start(contender, kubeconfig, LockName);
                    await WaitForHolderAsync(client, LockName, h => h.Length > 0);
                    cold[contender.Label].Add(Stopwatch.GetElapsedTime(started).TotalSeconds);
                    await StopAsync(p, SigTerm);
                }
            }
            results.AddRange(cold.Select(c => ("cold start to leading", c.Key, c.Value)));

            foreach (var (phase, rounds, signal) in new[]
            {
                ("graceful stop (SIGTERM) of the leader to a standby leading", gracefulRounds, SigTerm),
                ("kill -9 of the leader to a standby leading", killRounds, SigKill),
            })
            {
                foreach (var contender in contenders)
                {
                    await DeleteLeaseAsync(client, LockName);
                    results.Add((phase, contender.Label, await FailoversAsync(client, contender, kubeconfig, LockName, rounds, signal)));
                }
            }

            foreach (var phase in results.Where(r => r.Seconds.Count > 0).GroupBy(r => r.Phase))
            {
                Console.WriteLine($"  {phase.Key}:");
                foreach (var (_, label, seconds) in phase) Report(label, seconds);
                if (phase.Count() == 2) Console.WriteLine($"    ours / upstream (medians): {Median(phase.Last().Seconds) / Median(phase.First().Seconds):F2}x");
            }
            return 0;
        }
        finally
        {
            if (server != null) await server.DisposeAsync();
            if (Directory.Exists(stateDir)) Directory.Delete(stateDir, recursive: true);
        }
    }

    private static async Task<List<double>> FailoversAsync(KubeApiClient client, Contender contender, string kubeconfig, string lockName, int rounds, int signal)
    {
        var results = new List<double>();
        if (rounds == 0) return results;
        var processes = new List<Process> { Start(contender, kubeconfig, lockName), Start(contender, kubeconfig, lockName) };
        try
        {
            var holder = await WaitForHolderAsync(client, lockName, h => h.Length > 0);
            for (var round = 0; round < rounds; round++)
            {
                var leader = await LeaderAsync(processes);
                // A standby still starting (slow on a loaded machine) would turn this into a cold start.
                await StandbysTryingAsync(processes);
                var previous = holder;
                var signalled = Stopwatch.GetTimestamp();
                ProcessSignals.Send(leader.Id, signal);
                holder = await WaitForHolderAsync(client, lockName, h => h.Length > 0 && h != previous);
                results.Add(Stopwatch.GetElapsedTime(signalled).TotalSeconds);
                await leader.WaitForExitAsync();
                processes.Remove(leader);
                leader.Dispose();
                processes.Add(Start(contender, kubeconfig, lockName));
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
    private static readonly System.Collections.Concurrent.ConcurrentDictionary<int, bool> Trying = new();

    // Both binaries log client-go's "attempting to acquire leader lease" once they take part in the election.
    private static async Task StandbysTryingAsync(List<Process> processes)
    {
        while (!processes.All(p => Trying.GetValueOrDefault(p.Id))) await Task.Delay(5);
    }

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

    private static Process Start(Contender contender, string kubeconfig, string lockName)
    {
        var info = new ProcessStartInfo(contender.Binary ?? "dotnet") { RedirectStandardError = true, RedirectStandardOutput = true };
        if (contender.Binary == null) info.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "kube-controller-manager.dll"));
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
            if (e.Data?.Contains("attempting to acquire leader lease", StringComparison.Ordinal) == true) Trying[process.Id] = true;
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

    private static void Report(string label, List<double> seconds)
    {
        var sorted = seconds.Order().ToList();
        Console.WriteLine($"    {label,-8} median {Median(seconds):F3} s, min {sorted[0]:F3} s, max {sorted[^1]:F3} s ({sorted.Count} runs)");
    }

    private static double Median(List<double> values)
    {
        var sorted = values.Order().ToList();
        return sorted.Count % 2 == 1 ? sorted[sorted.Count / 2] : (sorted[sorted.Count / 2 - 1] + sorted[sorted.Count / 2]) / 2;
    }
}

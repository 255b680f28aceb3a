using System.Diagnostics;
using Kcm.Api.Core.V1;
using Kcm.Api.Meta.V1;
using Kcm.Client;
using Kcm.Client.Config;
using Kcm.Client.Errors;

namespace Kcm.Benchmarks;

/// <summary>
/// The workload on an external API server (the real kube-apiserver), upstream's controller manager and ours one after
/// the other (A B A B) with the same flags, each round in a fresh namespace. The namespace is deleted by the controller
/// manager that filled it, before it stops, so the next run starts on a clean cluster. No floor: the request log is
/// the embedded server's.
/// </summary>
internal static partial class WorkloadBenchmark
{
    private sealed record ExternalRun(double Seconds, double PeakRssMiB, double CpuSeconds);

    public static async Task<int> RunExternalAsync(string kubeconfig, string? ours, string? upstream, int rounds,
        int deployments, int replicas, TimeSpan timeout)
    {
        var config = KubeconfigLoader.LoadFromFile(kubeconfig) with { Qps = -1, UserAgent = "workload-benchmark/1.0" };
        using var admin = new KubeApiClient(config);
        var flags = GuideFlags();
        Console.WriteLine($"workload: {deployments} deployments x {replicas} replicas, {Environment.ProcessorCount} cores, server from {kubeconfig}, " +
            $"{rounds} round(s), --kube-api-qps={KcmQps} --kube-api-burst={KcmBurst} --concurrent-deployment-syncs=10 {string.Join(' ', flags)}");
        var results = new Dictionary<string, List<ExternalRun>> { ["upstream"] = [], ["ours"] = [] };
        for (var round = 0; round < rounds; round++)
        {
            foreach (var (label, binary) in new[] { ("upstream", upstream), ("ours", ours) })
            {
                if (label == "upstream" && upstream == null) continue;
                var run = await RunExternalOnceAsync(admin, kubeconfig, label, binary, flags, deployments, replicas, timeout);
                if (run == null) return 1;
                results[label].Add(run);
            }
        }

        Console.WriteLine("  medians (loaded machines vary: compare within one run):");
        foreach (var (label, runs) in results.Where(r => r.Value.Count > 0))
        {
            Console.WriteLine($"    {label,-8} {Median(runs.Select(r => r.Seconds)),7:F2} s  peak RSS {Median(runs.Select(r => r.PeakRssMiB)),5:F0} MiB  " +
                $"CPU {Median(runs.Select(r => r.CpuSeconds)),5:F1} s");
        }
        if (results["upstream"].Count > 0 && results["ours"].Count > 0)
        {
            double Ratio(Func<ExternalRun, double> f) => Median(results["ours"].Select(f)) / Median(results["upstream"].Select(f));
            Console.WriteLine($"    ours / upstream: time {Ratio(r => r.Seconds):F2}x, peak RSS {Ratio(r => r.PeakRssMiB):F2}x, CPU {Ratio(r => r.CpuSeconds):F2}x");
        }
        return 0;
    }

    private static async Task<ExternalRun?> RunExternalOnceAsync(KubeApiClient admin, string kubeconfig, string label, string? binary,
        IReadOnlyList<string> flags, int deployments, int replicas, TimeSpan timeout)
    {
        var ns = $"workload-{label}-{Guid.NewGuid().ToString("N")[..6]}";
        var logPath = Path.Combine(Path.GetTempPath(), $"kcm-workload-{label}.log");
        var kcm = StartControllerManager(kubeconfig, binary, flags, logPath);
        try
        {
            await kcm.WaitForStartedAsync(TimeSpan.FromSeconds(60));
            await admin.CreateAsync(new Namespace { Metadata = new ObjectMeta { Name = ns } });
            using var progress = await Progress.StartAsync(admin, ns, replicas);
            var stopwatch = Stopwatch.StartNew();
            await ParallelForAsync(deployments, FloorConnections, i => admin.CreateAsync(NewDeployment($"web-{i}", replicas), ns));
            var done = await progress.WaitAsync(deployments, deployments * replicas, timeout);
            var elapsed = stopwatch.Elapsed.TotalSeconds;
            var run = new ExternalRun(elapsed, kcm.PeakRssMiB(), kcm.CpuSeconds());
            if (!done)
            {
                Console.WriteLine($"  {label}: TIMED OUT after {timeout}: {progress.Describe()} (log: {logPath})");
                return null;
            }
            Console.WriteLine($"  {label,-8} {run.Seconds,7:F2} s  peak RSS {run.PeakRssMiB,5:F0} MiB  CPU {run.CpuSeconds,5:F1} s  now {kcm.RssBreakdown()}");
            await DeleteNamespaceAsync(admin, ns);
            return run;
        }
        finally
        {
            await kcm.StopAsync();
        }
    }

    /// <summary>The guides' key and CA flags when cluster.sh's variables are set, so both run the controllers that need them.</summary>
    private static List<string> GuideFlags()
    {
        var flags = new List<string>();
        if (Environment.GetEnvironmentVariable("SA_KEY") is { Length: > 0 } saKey) flags.Add($"--service-account-private-key-file={saKey}");
        if (Environment.GetEnvironmentVariable("CA") is { Length: > 0 } ca)
        {
            flags.Add($"--root-ca-file={ca}");
            if (Environment.GetEnvironmentVariable("CA_KEY") is { Length: > 0 } caKey)
            {
                flags.Add($"--cluster-signing-cert-file={ca}");
                flags.Add($"--cluster-signing-key-file={caKey}");
            }
        }
        return flags;
    }

    private static async Task DeleteNamespaceAsync(KubeApiClient admin, string ns)
    {
        await admin.DeleteAsync<Namespace>(null, ns);
        var deadline = Stopwatch.StartNew();
        while (deadline.Elapsed < TimeSpan.FromMinutes(3))
        {
            try
            {
                await admin.GetAsync<Namespace>(null, ns);
            }
            catch (NotFoundException)
            {
                return;
            }
            await Task.Delay(500);
        }
        Console.WriteLine($"  namespace {ns} still terminating after 3 minutes; the next run shares the cluster with it");
    }

    private static double Median(IEnumerable<double> values)
    {
        var sorted = values.Order().ToList();
        return sorted.Count % 2 == 1 ? sorted[sorted.Count / 2] : (sorted[sorted.Count / 2 - 1] + sorted[sorted.Count / 2]) / 2;
    }
}

using System.Diagnostics;
using System.Globalization;
using Kcm.Client;
using Kcm.Client.Config;
using Kcm.Client.Transport;
using Kcm.Simulator;

namespace Kcm.Benchmarks.Compare;

/// <summary>
/// `compare WORKLOAD`: upstream kube-controller-manager v1.26.3 and ours, alternately, each on a freshly wiped real
/// kube-apiserver with the seeds' flags; one table of medians and ratios. Nothing here asserts timings.
/// </summary>
internal static class CompareCommand
{
    private const int MaxPodsPerNode = 250;

    public static async Task<int> RunAsync(IReadOnlyList<string> args)
    {
        CompareOptions options;
        try
        {
            options = CompareOptions.Parse(args);
        }
        catch (ArgumentException e)
        {
            Console.Error.WriteLine($"compare: {e.Message}");
            Console.Error.WriteLine(string.Format(CultureInfo.InvariantCulture, CompareOptions.Usage, string.Join(", ", CompareWorkloads.All.Select(w => w.Name))));
            return 2;
        }
        if (CompareWorkloads.Find(options.Workload) is not { } workload)
        {
            Console.Error.WriteLine($"compare: unknown workload \"{options.Workload}\" (known: {string.Join(", ", CompareWorkloads.All.Select(w => w.Name))})");
            return 2;
        }

        using var cts = new CancellationTokenSource();
        ConsoleCancelEventHandler onCancel = (_, e) =>
        {
            e.Cancel = true;
            Console.Error.WriteLine("compare: interrupted; stopping the controller manager and the cluster");
            cts.Cancel();
        };
        Console.CancelKeyPress += onCancel;
        RealCluster? cluster = null;
        try
        {
            var repo = RepoRoot();
            var shared = options.Shared ?? Environment.GetEnvironmentVariable("KCM_BENCH_SHARED") ?? FindShared(repo)
                ?? throw new CompareSetupException("no ../shared/upstream-v1.26/cluster.sh found near the repository (pass --shared DIR)");
            var clusterDir = Path.Combine(Path.GetTempPath(), $"kcm-compare-{Environment.ProcessId}");
            cluster = new RealCluster(Path.GetFullPath(shared), clusterDir);
            await cluster.UnpackAsync(cts.Token);
            var binaries = Binaries(options, cluster, repo);
            var logs = options.Logs ?? Path.Combine(Path.GetTempPath(), $"kcm-compare-{DateTime.UtcNow:yyyyMMdd-HHmmss}");
            Directory.CreateDirectory(logs);
            var scale = new CompareScale(options.Scale, options.Replicas, options.Nodes, options.Timeout) { Steady = options.Steady };

            Console.WriteLine($"compare {workload.Name}: {workload.Describe(scale)}");
            foreach (var b in binaries) Console.WriteLine($"  {b.Label,-8} {b.Path} ({Describe(b.Path)})");
            Console.WriteLine($"  {options.Rounds} round(s), runs alternate {string.Join(", ", binaries.Select(b => b.Label))}; fresh kube-apiserver v1.26.3 per run; " +
                $"{Environment.ProcessorCount} cores; controller manager logs in {logs}");
            var placeholders = new[] { "KUBECONFIG_ADMIN", "CA", "CA_KEY", "SA_KEY" }.ToDictionary(k => k, k => "$" + k);
            Console.WriteLine($"  flags: {string.Join(' ', ControllerManagerProcess.SeedFlags(placeholders, 0, options.Verbosity, options.LeaderElect).Concat(workload.ExtraFlags(scale)).Concat(options.Flags)).Replace("--secure-port=0", "--secure-port=(free port)")}");

            var runs = new List<RunResult>();
            for (var round = 1; round <= options.Rounds; round++)
            {
                foreach (var binary in binaries)
                {
                    Console.Error.WriteLine($"compare: round {round}/{options.Rounds}, {binary.Label}");
                    var result = await RunOnceAsync(round, binary, workload, scale, cluster, logs, options, cts.Token);
                    runs.Add(result);
                    Console.Error.WriteLine($"  done: {string.Join(", ", result.Figures.Take(3).Select(f => $"{f.Name} {f.Value.ToString("F" + f.Decimals, CultureInfo.InvariantCulture)} {f.Unit}"))}");
                }
            }
            Console.WriteLine();
            Console.Write(CompareReport.Render(runs, [.. binaries.Select(b => b.Label)]));
            return 0;
        }
        catch (CompareSetupException e)
        {
            Console.Error.WriteLine($"compare: {e.Message}");
            return 1;
        }
        catch (CompareTimeoutException e)
        {
            Console.Error.WriteLine($"compare: {e.Message}");
            return 1;
        }
        catch (OperationCanceledException) when (cts.IsCancellationRequested)
        {
            return 130;
        }
        catch (Exception e)
        {
            var trace = Path.Combine(Path.GetTempPath(), $"kcm-compare-error-{Environment.ProcessId}.txt");
            File.WriteAllText(trace, e.ToString());
            Console.Error.WriteLine($"compare: unexpected {e.GetType().Name}: {e.Message} (stack trace in {trace})");
            return 1;
        }
        finally
        {
            Console.CancelKeyPress -= onCancel;
            if (cluster is not null)
            {
                await cluster.DownAsync();
                try
                {
                    Directory.Delete(cluster.Dir, recursive: true);
                }
                catch (IOException)
                {
                }
            }
        }
    }

    private static async Task<RunResult> RunOnceAsync(int round, ControllerManagerBinary binary, ICompareWorkload workload, CompareScale scale,
        RealCluster cluster, string logs, CompareOptions options, CancellationToken ct)
    {
        var verbosity = options.Verbosity;
        var load = LoadAverage();
        await cluster.FreshAsync(ct);
        // Protobuf, as kubelets and kube-scheduler speak: the apiserver then encodes each pod event once for every
        // watcher (the controller manager speaks it too), and the harness decodes it at a fraction of JSON's cost.
        var config = KubeconfigLoader.LoadFromFile(cluster.Kubeconfig) with { Qps = -1, UserAgent = "kcm-compare/1.0", ContentType = "application/vnd.kubernetes.protobuf" };
        // One counting transport for the harness and the simulator: what they write is subtracted from the apiserver's count.
        using var counting = new CountingHandler(KubeHttpHandlerFactory.Create(config));
        using var admin = new KubeApiClient(config, new KubeClientOptions { Handler = counting });
        using var simulatorClient = new KubeApiClient(config with { UserAgent = NodeSimulator.UserAgent }, new KubeClientOptions { Handler = counting });
        using var metrics = new ApiServerMetrics(cluster.Kubeconfig);
        var context = new CompareContext(admin, scale, cluster.Kubeconfig);
        var nodes = workload.Nodes(scale);
        NodeSimulator? simulator = null;
        ControllerManagerProcess? kcm = null;
        try
        {
            if (nodes > 0)
            {
                // A simulated node hands out pod IPs from a /24: more than ~250 pods on one would share IPs.
                var perNode = (int)Math.Ceiling(scale.Objects * (double)scale.Replicas / nodes * 1.2) + 10;
                if (perNode > MaxPodsPerNode)
                {
                    throw new CompareSetupException($"{nodes} simulated nodes are too few for {scale.Objects * scale.Replicas} pods (at most {MaxPodsPerNode} per node with headroom): raise --nodes");
                }
                simulator = await NodeSimulator.StartAsync(simulatorClient, new SimulatorOptions
                {
                    NodeCount = nodes,
                    Pods = new Kcm.Api.Quantity(Math.Max(110, perNode).ToString(CultureInfo.InvariantCulture)),
                    Cpu = new Kcm.Api.Quantity("1000"),
                    Memory = new Kcm.Api.Quantity("4Ti"),
                    KubeletWorkers = 16,
                }, null, ct);
            }
            await workload.SetupAsync(context, ct);

            var logPath = Path.Combine(logs, $"round{round}-{binary.Label}.log");
            var started = Stopwatch.StartNew();
            kcm = ControllerManagerProcess.Start(binary, cluster, logPath, verbosity, options.LeaderElect, [.. workload.ExtraFlags(scale), .. options.Flags]);
            await kcm.WaitHealthyAsync(TimeSpan.FromSeconds(120), ct);
            await CompareCluster.ProbeAsync(admin, TimeSpan.FromSeconds(120), kcm, ct);
            var readySeconds = started.Elapsed.TotalSeconds;

            var apiPid = cluster.ApiServerPid ?? throw new CompareSetupException($"no kube-apiserver pid file in {cluster.Dir}");
            var etcdPid = cluster.EtcdPid ?? throw new CompareSetupException($"no etcd pid file in {cluster.Dir}");
            var startupCpu = ProcStats.CpuSeconds(kcm.Pid) ?? 0;
            var (api0, etcd0, lines0) = (ProcStats.CpuSeconds(apiPid) ?? 0, ProcStats.CpuSeconds(etcdPid) ?? 0, kcm.LogLines);
            var (machine0, harness0) = (ProcStats.MachineBusySeconds() ?? 0, ProcStats.CpuSeconds(Environment.ProcessId) ?? 0);
            var serverRequests0 = await metrics.RequestsAsync(ct);
            var ownRequests0 = counting.Snapshot();
            using var sampler = new ConnectionSampler(kcm.Pid, cluster.Server.Port);

            context.ControllerManagerPid = kcm.Pid;
            context.Say($"{binary.Label} ready after {readySeconds:F1} s; running the workload");
            var clock = Stopwatch.StartNew();
            // A controller manager that dies mid-run (e.g. lost its lease) ends the run at once, not at the timeout.
            using var exited = CancellationTokenSource.CreateLinkedTokenSource(ct);
            var watchdog = Task.Run(async () =>
            {
                while (!exited.IsCancellationRequested && !kcm.HasExited) await Task.Delay(500, CancellationToken.None);
                if (kcm.HasExited) await exited.CancelAsync();
            }, CancellationToken.None);
            try
            {
                await workload.RunAsync(context, exited.Token);
            }
            catch (CompareTimeoutException e)
            {
                throw new CompareTimeoutException($"round {round} {binary.Label}: {e.Message} (log {logPath})");
            }
            catch (OperationCanceledException) when (!ct.IsCancellationRequested && kcm.HasExited)
            {
                throw new CompareSetupException($"round {round} {binary.Label}: controller manager exited during the run (log {logPath}: {kcm.LastLine()})");
            }
            finally
            {
                await exited.CancelAsync();
                await watchdog;
            }
            var elapsed = clock.Elapsed.TotalSeconds;
            if (kcm.HasExited) throw new CompareSetupException($"round {round} {binary.Label}: controller manager exited during the run (log {logPath}: {kcm.LastLine()})");

            var cpu = (ProcStats.CpuSeconds(kcm.Pid) ?? startupCpu) - startupCpu;
            var rss = ProcStats.PeakRssMiB(kcm.Pid) ?? 0;
            var api = (ProcStats.CpuSeconds(apiPid) ?? api0) - api0;
            var etcd = (ProcStats.CpuSeconds(etcdPid) ?? etcd0) - etcd0;
            var machine = (ProcStats.MachineBusySeconds() ?? machine0) - machine0;
            var harness = (ProcStats.CpuSeconds(Environment.ProcessId) ?? harness0) - harness0;
            var lines = kcm.LogLines;
            var serverRequests1 = await metrics.RequestsAsync(ct);
            var ownRequests1 = counting.Snapshot();
            var kcmRequests = new Dictionary<string, long>(StringComparer.Ordinal);
            foreach (var (key, value) in serverRequests1)
            {
                var n = value - serverRequests0.GetValueOrDefault(key) - (ownRequests1.GetValueOrDefault(key) - ownRequests0.GetValueOrDefault(key));
                if (n > 0) kcmRequests[key] = n;
            }
            var figures = new List<Figure>
            {
                new("time to converge", "s", elapsed, 2),
                new("controller manager CPU during the run", "s", cpu, 2),
                new("controller manager peak RSS (VmHWM)", "MiB", rss, 0),
                new("kube-apiserver CPU during the run", "s", api, 2),
                new("etcd CPU during the run", "s", etcd, 2),
                new("harness CPU during the run (workload + node simulator)", "s", harness, 2),
                new("machine CPU during the run, every process", "s", machine, 2),
                // When the cores were busy all along, no controller manager could have converged sooner than the
                // rest of the run's work takes on them: this floor shows how much of the time was the machine's.
                new($"floor: machine CPU less the controller manager's, over {Environment.ProcessorCount} cores", "s", Math.Max(0, machine - cpu) / Environment.ProcessorCount, 2),
                new("controller manager writes (apiserver count - harness)", "", kcmRequests.Where(r => ApiServerMetrics.IsWrite(r.Key)).Sum(r => r.Value), 0),
                new("controller manager reads, GET + LIST (apiserver count - harness)", "", kcmRequests.Where(r => !ApiServerMetrics.IsWrite(r.Key)).Sum(r => r.Value), 0),
                new("max TCP connections to the apiserver", "", sampler.Max, 0),
                new($"log lines during the run (--v={verbosity})", "", lines - lines0, 0),
                new($"log lines in all (--v={verbosity})", "", lines, 0),
                new("start to working (healthz + probe)", "s", readySeconds, 2),
                new("controller manager CPU to working", "s", startupCpu, 2),
            };
            figures.AddRange(context.Extra);
            return new RunResult(round, binary.Label, figures, kcmRequests, load, logPath);
        }
        finally
        {
            if (kcm is not null) await kcm.DisposeAsync();
            if (simulator is not null) await simulator.DisposeAsync();
        }
    }

    private static List<ControllerManagerBinary> Binaries(CompareOptions options, RealCluster cluster, string repo)
    {
        var upstream = options.Upstream ?? cluster.UpstreamBinary;
        if (!File.Exists(upstream)) throw new CompareSetupException($"upstream controller manager not found at {upstream}");
        var ours = options.Ours ?? new[]
        {
            Path.Combine(repo, "src", "Kcm", "bin", "Release", "net10.0", "kube-controller-manager"),
            Path.Combine(AppContext.BaseDirectory, "kube-controller-manager.dll"),
        }.FirstOrDefault(File.Exists);
        if (ours is null || !File.Exists(ours))
        {
            throw new CompareSetupException($"our controller manager is not built ({options.Ours ?? Path.Combine(repo, "src/Kcm/bin/Release/net10.0/kube-controller-manager")} missing): run `dotnet build -c Release src/Kcm` or pass --ours PATH");
        }
        List<ControllerManagerBinary> all = [new("upstream", upstream), new("ours", Path.GetFullPath(ours))];
        return options.Only is null ? all : [.. all.Where(b => b.Label == options.Only)];
    }

    private static string Describe(string path)
    {
        var info = new FileInfo(path);
        return $"modified {info.LastWriteTimeUtc:yyyy-MM-dd HH:mm} UTC";
    }

    private static string RepoRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "Kcm.sln"))) return dir.FullName;
        }
        return Directory.GetCurrentDirectory();
    }

    /// <summary>../shared next to the checkout; worktrees one level deeper (wt/NAME) find it two levels up.</summary>
    private static string? FindShared(string repo)
    {
        for (var dir = new DirectoryInfo(repo).Parent; dir is not null; dir = dir.Parent)
        {
            var candidate = Path.Combine(dir.FullName, "shared");
            if (File.Exists(Path.Combine(candidate, "upstream-v1.26", "cluster.sh"))) return candidate;
        }
        return null;
    }

    private static double LoadAverage()
    {
        try
        {
            return double.Parse(File.ReadAllText("/proc/loadavg").Split(' ')[0], CultureInfo.InvariantCulture);
        }
        catch (IOException)
        {
            return double.NaN;
        }
    }

    /// <summary>
    /// Samples the controller manager's established connections to the apiserver every 2 s; keeps the maximum. Each
    /// sample makes the kernel walk its whole TCP table: at 250 ms that was a sixth of the harness's CPU on 2 cores.
    /// </summary>
    private sealed class ConnectionSampler : IDisposable
    {
        private readonly CancellationTokenSource _stop = new();
        private int _max;

        public ConnectionSampler(int pid, int port)
        {
            _max = ProcStats.EstablishedTo(pid, port);
            _ = Task.Run(async () =>
            {
                while (!_stop.IsCancellationRequested)
                {
                    var n = ProcStats.EstablishedTo(pid, port);
                    if (n > Volatile.Read(ref _max)) Volatile.Write(ref _max, n);
                    try
                    {
                        await Task.Delay(2000, _stop.Token);
                    }
                    catch (OperationCanceledException)
                    {
                        return;
                    }
                }
            });
        }

        public int Max => Volatile.Read(ref _max);

        public void Dispose()
        {
            _stop.Cancel();
            _stop.Dispose();
        }
    }
}

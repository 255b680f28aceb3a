using System.Diagnostics;
using Kcm.ApiServer.Hosting;
using Kcm.Client;
using Kcm.Client.Config;
using Kcm.Api.Core.V1;
using Kcm.Api.Meta.V1;
using Microsoft.Extensions.Logging.Abstractions;

namespace Kcm.Benchmarks;

/// <summary>
/// Benchmarks that print figures (never asserted in tests).
///   pod-creates [--pods N] [--concurrency C] [--kubeconfig PATH]
///   failover [--graceful N] [--killed N] [--cold-starts N] [--kubeconfig PATH] [--upstream BINARY] [--binary BINARY]
///   workload [--deployments N] [--replicas R] (controller manager vs. a raw-client floor of the same writes)
///   workload --kubeconfig PATH [--upstream BINARY] [--binary BINARY] [--rounds N]: on an external server, upstream's and ours alternately
/// Without --kubeconfig it starts the embedded API server in this process, so client and server
/// share the machine's cores, as they do in a single-node demo.
/// </summary>
public static class Program
{
    public static async Task<int> Main(string[] args)
    {
        if (args.Length > 0 && args[0] == "compare") return await Compare.CompareCommand.RunAsync(args[1..]);
        if (args.Length > 0 && args[0] == "failover")
        {
            return await FailoverBenchmark.RunAsync(IntArg(args, "--graceful", 5), IntArg(args, "--killed", 3), IntArg(args, "--cold-starts", 5),
                StringArg(args, "--kubeconfig"), StringArg(args, "--binary"), StringArg(args, "--upstream"));
        }
        if (args.Length > 0 && args[0] == "workload" && StringArg(args, "--kubeconfig") is { } workloadKubeconfig)
        {
            return await WorkloadBenchmark.RunExternalAsync(workloadKubeconfig, StringArg(args, "--binary"), StringArg(args, "--upstream"),
                IntArg(args, "--rounds", 1), IntArg(args, "--deployments", 1000), IntArg(args, "--replicas", 10),
                TimeSpan.FromSeconds(IntArg(args, "--timeout-seconds", 900)));
        }
        if (args.Length > 0 && args[0] == "workload")
        {
            return await WorkloadBenchmark.RunAsync(IntArg(args, "--deployments", 1000), IntArg(args, "--replicas", 10),
                TimeSpan.FromSeconds(IntArg(args, "--timeout-seconds", 900)), floor: !args.Contains("--no-floor"));
        }
        if (args.Length == 0 || args[0] != "pod-creates")
        {
            Console.Error.WriteLine("""
                usage: Kcm.Benchmarks pod-creates [--pods N] [--concurrency C] [--kubeconfig PATH]
                       Kcm.Benchmarks failover [--graceful N] [--killed N] [--cold-starts N] [--kubeconfig PATH] [--upstream BINARY] [--binary BINARY]
                       Kcm.Benchmarks workload [--deployments N] [--replicas R] [--timeout-seconds S] [--no-floor]
                       Kcm.Benchmarks workload --kubeconfig PATH [--upstream BINARY] [--binary BINARY] [--rounds N] [--deployments N] [--replicas R]
                """);
            return 2;
        }
        var pods = IntArg(args, "--pods", 20_000);
        var concurrency = IntArg(args, "--concurrency", 32);
        var kubeconfig = StringArg(args, "--kubeconfig");
        return await PodCreatesAsync(pods, concurrency, kubeconfig);
    }

    private static async Task<int> PodCreatesAsync(int pods, int concurrency, string? kubeconfig)
    {
        EmbeddedApiServer? server = null;
        var stateDir = Path.Combine(Path.GetTempPath(), "kcm-bench-" + Guid.NewGuid().ToString("N")[..8]);
        try
        {
            if (kubeconfig == null)
            {
                server = await EmbeddedApiServer.StartAsync(
                    new EmbeddedApiServerOptions { StateDirectory = stateDir, SecurePort = 0 }, NullLoggerFactory.Instance, CancellationToken.None);
                kubeconfig = server.AdminKubeconfigPath;
            }
            // Client-side rate limiting off: this measures the server and the client's encode/transport path.
            var config = KubeconfigLoader.LoadFromFile(kubeconfig) with { Qps = -1 };
            using var client = new KubeApiClient(config);
            var ns = "bench-" + Guid.NewGuid().ToString("N")[..6];
            await client.CreateAsync(new Namespace { Metadata = new ObjectMeta { Name = ns } });
            // A real apiserver's ServiceAccount admission refuses pods until the namespace's default account exists.
            try
            {
                await client.CreateAsync(new ServiceAccount { Metadata = new ObjectMeta { Name = "default" } }, ns);
            }
            catch (Kcm.Client.Errors.AlreadyExistsException)
            {
            }

            await CreatePodsAsync(client, ns, "warmup", Math.Min(2_000, pods), concurrency);
            var allocatedBefore = GC.GetTotalAllocatedBytes();
            var stopwatch = Stopwatch.StartNew();
            await CreatePodsAsync(client, ns, "pod", pods, concurrency);
            stopwatch.Stop();
            var allocated = GC.GetTotalAllocatedBytes() - allocatedBefore;

            Console.WriteLine($"pod creates: {pods} pods, concurrency {concurrency}, {Environment.ProcessorCount} cores, " +
                $"{(server != null ? "embedded server in-process" : "server from " + kubeconfig)}");
            Console.WriteLine($"  elapsed      {stopwatch.Elapsed.TotalSeconds:F2} s");
            Console.WriteLine($"  throughput   {pods / stopwatch.Elapsed.TotalSeconds:F0} creates/s");
            Console.WriteLine($"  allocated    {allocated / (double)pods / 1024:F1} KiB per create (client + server)");
            Console.WriteLine($"  working set  {Environment.WorkingSet / (1024 * 1024)} MiB");
            return 0;
        }
        finally
        {
            if (server != null) await server.DisposeAsync();
            if (Directory.Exists(stateDir)) Directory.Delete(stateDir, recursive: true);
        }
    }

    private static async Task CreatePodsAsync(KubeApiClient client, string ns, string prefix, int count, int concurrency)
    {
        var next = -1;
        var workers = Enumerable.Range(0, concurrency).Select(async _ =>
        {
            int i;
            while ((i = Interlocked.Increment(ref next)) < count)
            {
                await client.CreateAsync(NewPod($"{prefix}-{i}"), ns);
            }
        });
        await Task.WhenAll(workers);
    }

    private static Pod NewPod(string name) => new()
    {
        Metadata = new ObjectMeta { Name = name, Labels = new() { ["app"] = "bench", ["tier"] = "web" } },
        Spec = new PodSpec
        {
            Containers = [new Container { Name = "web", Image = "nginx:1.25", Ports = [new ContainerPort { ContainerPortValue = 80 }] }],
        },
    };

    private static int IntArg(string[] args, string name, int fallback)
    {
        var i = Array.IndexOf(args, name);
        return i >= 0 && i + 1 < args.Length && int.TryParse(args[i + 1], out var v) ? v : fallback;
    }

    private static string? StringArg(string[] args, string name)
    {
        var i = Array.IndexOf(args, name);
        return i >= 0 && i + 1 < args.Length ? args[i + 1] : null;
    }
}

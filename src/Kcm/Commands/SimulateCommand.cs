using Kcm.Api;
using Kcm.Client.Errors;
using Kcm.Logging;
using Kcm.Options;
using Kcm.Simulator;
using Microsoft.Extensions.Logging;

namespace Kcm.Commands;

/// <summary>
/// `kube-controller-manager simulate --kubeconfig FILE`: simulated nodes (kwok-style) against any API server, in the
/// foreground until SIGINT/SIGTERM. Nodes heartbeat like kubelets, pending pods are bound to them, and bound pods
/// become Running/Ready after --pod-ready-delay.
/// </summary>
public sealed class SimulateCommand : ICommand
{
    public async Task<int> RunAsync(IReadOnlyList<string> args, TextWriter stdout, TextWriter stderr)
    {
        var flags = new FlagSet("kube-controller-manager simulate");
        var kubeconfig = flags.String("kubeconfig", "", "Kubeconfig of the API server to simulate nodes for (admin credentials: it writes Nodes, Leases, bindings and pod status).");
        var verbosity = flags.Int("v", 0, "Log verbosity (klog levels).");
        var nodes = flags.Int("nodes", 1, "Number of simulated nodes.");
        var options = AddSimulatorFlags(flags);
        flags.Parse(args);
        if (flags.HelpRequested)
        {
            await stdout.WriteAsync(flags.Usage());
            return 0;
        }
        if (kubeconfig().Length == 0) throw new FlagException("--kubeconfig is required");
        if (!File.Exists(kubeconfig())) throw new FlagException($"--kubeconfig: {kubeconfig()} does not exist");

        using var signal = new ShutdownSignal();
        using var loggers = KlogLoggerProvider.CreateFactory(verbosity(), stderr);
        return await RunAsync(kubeconfig(), options(nodes()), loggers, stderr, signal.Token);
    }

    /// <summary>Runs the simulator until <paramref name="stop"/>; a start-up failure is one line on stderr and exit code 1.</summary>
    internal static async Task<int> RunAsync(string kubeconfig, SimulatorOptions options, ILoggerFactory loggers, TextWriter stderr, CancellationToken stop)
    {
        NodeSimulator simulator;
        try
        {
            options.Validate();
            simulator = await NodeSimulator.StartAsync(kubeconfig, options, loggers, stop);
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested)
        {
            return 0;
        }
        catch (Exception e) when (e is ArgumentException or KubeApiException or HttpRequestException or IOException or InvalidDataException or FormatException or System.Security.Cryptography.CryptographicException)
        {
            await stderr.WriteLineAsync($"Error: simulate: {e.Message}");
            return 1;
        }
        await using (simulator)
        {
            try
            {
                await Task.Delay(Timeout.Infinite, stop);
            }
            catch (OperationCanceledException)
            {
            }
        }
        return 0;
    }

    /// <summary>The simulator's flags (all but --nodes, whose default differs between commands); shared with `dev`.</summary>
    internal static Func<int, SimulatorOptions> AddSimulatorFlags(FlagSet flags)
    {
        var defaults = new SimulatorOptions();
        var podReadyDelay = flags.Duration("pod-ready-delay", TimeSpan.Zero, "How long a pod bound to a simulated node stays Pending before it is Running and Ready.");
        var prefix = flags.String("node-name-prefix", defaults.NodeNamePrefix, "Simulated nodes are named <prefix>0..<prefix>N-1.");
        var namespaces = new List<string>();
        flags.StringSliceVar("namespaces", [], "Only bind pending pods of these namespaces (default: all).", v => namespaces = [.. v]);
        var schedulerName = flags.String("scheduler-name", defaults.SchedulerName, "Only bind pending pods with this spec.schedulerName.");
        var cpu = flags.String("node-cpu", "4", "CPU capacity of each simulated node.");
        var memory = flags.String("node-memory", "16Gi", "Memory capacity of each simulated node.");
        var pods = flags.String("node-pods", "110", "Pod capacity of each simulated node.");
        var leaseSeconds = flags.Int("node-lease-duration-seconds", (int)defaults.NodeLeaseDuration.TotalSeconds, "Duration of each node's Lease (kubelet's flag); it is renewed every quarter of it.");
        var updateFrequency = flags.Duration("node-status-update-frequency", defaults.NodeStatusUpdateFrequency, "How often each node's status is computed and posted if it changed.");
        var reportFrequency = flags.Duration("node-status-report-frequency", defaults.NodeStatusReportFrequency, "How often an unchanged node status is posted anyway.");
        var metricsAddress = flags.String("metrics-bind-address", "", "Serve metrics.k8s.io (pod and node metrics) over HTTPS on this address, registered as APIService v1beta1.metrics.k8s.io; \"auto\" picks this machine's first non-loopback IPv4 address. Empty: no metrics API.");
        var metricsPort = flags.Int("metrics-port", 0, "Port of the metrics API (0: a free one).");
        var metricsCpu = flags.String("metrics-default-cpu", "10m", "CPU usage reported for a pod without the simulator.kcm.dev/cpu-usage annotation.");
        var metricsMemory = flags.String("metrics-default-memory", "16Mi", "Memory usage reported for a pod without the simulator.kcm.dev/memory-usage annotation.");
        return nodes => new SimulatorOptions
        {
            NodeCount = nodes,
            PodReadyDelay = podReadyDelay(),
            NodeNamePrefix = prefix(),
            Namespaces = namespaces.ToHashSet(),
            SchedulerName = schedulerName(),
            Cpu = ParseQuantity("node-cpu", cpu()),
            Memory = ParseQuantity("node-memory", memory()),
            Pods = ParseQuantity("node-pods", pods()),
            NodeLeaseDuration = TimeSpan.FromSeconds(leaseSeconds()),
            NodeStatusUpdateFrequency = updateFrequency(),
            NodeStatusReportFrequency = reportFrequency(),
            Metrics = MetricsOptions(metricsAddress(), metricsPort(), metricsCpu(), metricsMemory()),
        };
    }

    private static Kcm.Simulator.Metrics.MetricsServerOptions? MetricsOptions(string address, int port, string cpu, string memory)
    {
        if (address.Length == 0) return null;
        System.Net.IPAddress bind;
        if (address == "auto")
        {
            try
            {
                bind = Kcm.Simulator.Metrics.MetricsServerOptions.DefaultBindAddress();
            }
            catch (InvalidOperationException e)
            {
                throw new FlagException($"--metrics-bind-address: {e.Message}");
            }
        }
        else if (!System.Net.IPAddress.TryParse(address, out bind!))
        {
            throw new FlagException($"--metrics-bind-address: invalid IP address \"{address}\"");
        }
        return new Kcm.Simulator.Metrics.MetricsServerOptions
        {
            BindAddress = bind,
            Port = port,
            DefaultCpu = ParseQuantity("metrics-default-cpu", cpu),
            DefaultMemory = ParseQuantity("metrics-default-memory", memory),
        };
    }

    private static Quantity ParseQuantity(string flag, string value)
        => Quantity.TryParse(value, out var q) && q.Sign >= 0 ? q : throw new FlagException($"--{flag}: invalid quantity \"{value}\"");
}

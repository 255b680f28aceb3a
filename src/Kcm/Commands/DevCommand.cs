using Kcm.ApiServer.Hosting;
using Kcm.Logging;
using Kcm.Options;

namespace Kcm.Commands;

/// <summary>
/// `kube-controller-manager dev`: the one-command development cluster. Runs the embedded API server
/// (certificates and kubeconfigs under --state-dir) and N controller-manager processes with leader
/// election, configured as the deployment guides' unit files configure them, each with its own
/// secure port. Prints which instance leads; Ctrl-C/SIGTERM stops everything.
/// </summary>
public sealed class DevCommand : ICommand
{
    public async Task<int> RunAsync(IReadOnlyList<string> args, TextWriter stdout, TextWriter stderr)
    {
        var flags = new FlagSet("kube-controller-manager dev");
        var stateDir = flags.String("state-dir", ".state", "Directory holding the CA, certificates and kubeconfigs.");
        var securePort = flags.Int("secure-port", 6443, "Port the embedded API server serves HTTPS on (0 picks a free port).");
        var instances = flags.Int("instances", 3, "Controller-manager processes to run with leader election (0 runs only the API server).");
        var kcmPort = flags.Int("kcm-secure-port", 10257, "Secure port of the first controller manager; the others use the following ports.");
        var verbosity = flags.Int("v", 0, "Log verbosity (klog levels) of the API server and the controller managers.");
        var nodes = flags.Int("nodes", 0, "Simulated nodes to run against the server (see `simulate`); 0 runs none unless --pod-ready-delay is given, which implies 1.");
        var simulatorOptions = SimulateCommand.AddSimulatorFlags(flags);
        flags.Parse(args);
        if (flags.HelpRequested)
        {
            await stdout.WriteAsync(flags.Usage());
            return 0;
        }
        if (instances() < 0) throw new FlagException($"--instances must be 0 or more, got {instances()}");
        if (nodes() < 0) throw new FlagException($"--nodes must be 0 or more, got {nodes()}");
        // No node by default, as a fresh cluster without kubelets: pods stay Pending.
        var simulator = nodes() > 0 || flags.Changed("pod-ready-delay") ? simulatorOptions(Math.Max(1, nodes())) : null;

        using var signal = new ShutdownSignal();
        using var loggers = KlogLoggerProvider.CreateFactory(verbosity(), stderr);
        var options = new EmbeddedApiServerOptions
        {
            StateDirectory = Path.GetFullPath(stateDir()),
            SecurePort = securePort(),
        };
        return await ApiServerCommand.ServeAsync(options, loggers, stdout, stderr, signal.Token,
            (server, ct) => RunAlongsideAsync(server, simulator, loggers, instances(), kcmPort(), verbosity(), stdout, stderr, ct));
    }

    // The simulator runs in this process as an ordinary client of the server, with the admin kubeconfig.
    private static async Task RunAlongsideAsync(EmbeddedApiServer server, Kcm.Simulator.SimulatorOptions? simulator, Microsoft.Extensions.Logging.ILoggerFactory loggers,
        int count, int firstPort, int verbosity, TextWriter stdout, TextWriter stderr, CancellationToken stop)
    {
        if (simulator is null)
        {
            await RunControllerManagersAsync(server, count, firstPort, verbosity, stdout, stderr, stop);
            return;
        }
        var simulation = SimulateCommand.RunAsync(server.AdminKubeconfigPath, simulator, loggers, stderr, stop);
        await stdout.WriteLineAsync($"simulating {simulator.NodeCount} node(s) {simulator.NodeName(0)}..{simulator.NodeName(simulator.NodeCount - 1)}: pods are bound and Ready after {simulator.PodReadyDelay.TotalSeconds:0.###}s");
        await Task.WhenAll(simulation, RunControllerManagersAsync(server, count, firstPort, verbosity, stdout, stderr, stop));
    }

    private static async Task RunControllerManagersAsync(EmbeddedApiServer server, int count, int firstPort, int verbosity,
        TextWriter stdout, TextWriter stderr, CancellationToken stop)
    {
        var dir = server.StateDirectory;
        var kubeconfig = server.WriteComponentKubeconfig("kube-controller-manager", "system:kube-controller-manager", "system:kube-controller-manager");
        var output = TextWriter.Synchronized(stderr);
        var children = new List<ChildProcess>();
        try
        {
            for (var i = 0; i < count; i++)
            {
                var name = $"kcm-{i + 1}";
                var port = firstPort + i;
                string[] unit =
                [
                    $"--kubeconfig={kubeconfig}",
                    $"--authentication-kubeconfig={kubeconfig}",
                    $"--authorization-kubeconfig={kubeconfig}",
                    $"--client-ca-file={Path.Combine(dir, "ca.pem")}",
                    $"--requestheader-client-ca-file={Path.Combine(dir, "ca.pem")}",
                    $"--tls-cert-file={Path.Combine(dir, "kube-controller-manager.pem")}",
                    $"--tls-private-key-file={Path.Combine(dir, "kube-controller-manager-key.pem")}",
                    $"--cluster-signing-cert-file={Path.Combine(dir, "ca.pem")}",
                    $"--cluster-signing-key-file={Path.Combine(dir, "ca-key.pem")}",
                    $"--root-ca-file={Path.Combine(dir, "ca.pem")}",
                    $"--service-account-private-key-file={Path.Combine(dir, "ca-key.pem")}",
                    "--bind-address=127.0.0.1",
                    $"--secure-port={port}",
                    "--leader-elect=true",
                    "--use-service-account-credentials=true",
                    "--controllers=*,bootstrapsigner,tokencleaner",
                    $"--v={verbosity}",
                ];
                children.Add(ChildProcess.StartSelf(name, unit, line =>
                {
                    output.WriteLine($"[{name}] {line}");
                    if (line.Contains("successfully acquired lease", StringComparison.Ordinal))
                    {
                        stdout.WriteLine($"==> {name} (https://127.0.0.1:{port}) is the leader");
                    }
                }));
                await stdout.WriteLineAsync($"started {name}: pid {children[^1].Pid}, metrics at https://127.0.0.1:{port}/metrics");
            }
            if (count > 0)
            {
                await stdout.WriteLineAsync($"""
                    Watch the election and a failover:
                      kubectl --kubeconfig {server.AdminKubeconfigPath} get lease -n kube-system kube-controller-manager -o yaml
                      kill <pid of the leader>     # a standby takes over at once
                      curl --cacert {Path.Combine(dir, "ca.pem")} --cert {Path.Combine(dir, "admin.pem")} --key {Path.Combine(dir, "admin-key.pem")} https://127.0.0.1:{firstPort}/metrics
                    """);
            }
            try
            {
                await Task.Delay(Timeout.Infinite, stop);
            }
            catch (OperationCanceledException)
            {
            }
        }
        finally
        {
            await Task.WhenAll(children.Select(c => c.StopAsync(TimeSpan.FromSeconds(10))));
            foreach (var c in children) await c.DisposeAsync();
        }
    }
}

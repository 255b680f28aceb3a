using Kcm.Controllers.Deployments;
using Kcm.Controllers.ReplicaSets;
using Kcm.Controllers.ServiceAccounts;
using Kcm.Controllers.Tests.Support;
using Kcm.Simulator;
using Kcm.Testing;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Kcm.Controllers.Tests.Workloads;

/// <summary>The test API server (embedded, or the real one KCM_TEST_KUBECONFIG names), logging to the debug file when asked.</summary>
public sealed class WorkloadServer : EmbeddedServerFixture
{
    private readonly ILoggerFactory _loggers = DebugFileLoggerProvider.FromEnvironment() ?? NullLoggerFactory.Instance;

    protected override ILoggerFactory LoggerFactory => _loggers;
}

/// <summary>
/// The deployment and replicaset controllers as the manager runs them (one informer factory) against a server
/// with simulated nodes that bind pods and make them Running/Ready shortly after creation, shared by a test class;
/// each test works in its own namespace, named with <see cref="NamespacePrefix"/>. The nodes and the namespaces
/// they serve are this fixture's own, so test classes sharing one real cluster do not run each other's pods.
/// </summary>
public class WorkloadControllersFixture : IAsyncLifetime
{
    public static readonly TimeSpan PodReadyDelay = TimeSpan.FromMilliseconds(300);

    private readonly string _id = Guid.NewGuid().ToString("N")[..6];
    private ControllerTestHost? _host;
    private NodeSimulator? _simulator;

    public WorkloadServer Server { get; } = new();

    public ControllerTestHost Host => _host ?? throw new InvalidOperationException("not initialized");

    /// <summary>Namespaces of this fixture's tests start with this; the simulated nodes serve only those.</summary>
    public string NamespacePrefix => $"wl{_id}-";

    public string NodeName(int index) => $"wl{_id}-node-{index}";

    public async Task InitializeAsync()
    {
        await Server.InitializeAsync();
        using (var start = new CancellationTokenSource(TimeSpan.FromSeconds(30)))
        {
            var prefix = NamespacePrefix;
            _simulator = await NodeSimulator.StartAsync(Server.AdminKubeconfigPath, new SimulatorOptions
            {
                NodeCount = 2,
                NodeNamePrefix = $"wl{_id}-node-",
                PodReadyDelay = PodReadyDelay,
                NamespaceFilter = ns => ns.StartsWith(prefix, StringComparison.Ordinal),
                DeleteNodesOnStop = true,
            }, DebugFileLoggerProvider.FromEnvironment(), start.Token);
        }
        _host = new ControllerTestHost(Server, DebugFileLoggerProvider.FromEnvironment(), unthrottled: true);
        var deployments = new DeploymentController(_host.Context, new DeploymentControllerOptions { Workers = 2 });
        var replicaSets = ReplicaSetControllers.NewReplicaSetController(_host.Context);
        // As in a real cluster, each new namespace gets its "default" ServiceAccount, without which kube-apiserver admits no pod.
        var serviceAccounts = new ServiceAccountsController(_host.Context);
        _host.Start([deployments.RunAsync, ct => replicaSets.RunAsync(2, ct), serviceAccounts.RunAsync, .. MoreControllers(_host)]);
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        await _host.Context.Informers.WaitForCacheSyncAsync(timeout.Token);
    }

    protected virtual IEnumerable<RunController> MoreControllers(ControllerTestHost host) => [];

    public async Task DisposeAsync()
    {
        if (_host is not null)
        {
            await _host.DisposeAsync();
        }
        if (_simulator is not null)
        {
            await _simulator.DisposeAsync();
        }
        await Server.DisposeAsync();
    }
}

/// <summary>
/// The same plus the garbage collector, for tests that delete owners, and the serviceaccount controller, which gives
/// every namespace the "default" ServiceAccount its pods need (as in a full cluster).
/// </summary>
public sealed class WorkloadControllersWithCollectorFixture : WorkloadControllersFixture
{
    protected override IEnumerable<RunController> MoreControllers(ControllerTestHost host)
    {
        var collector = new Controllers.GarbageCollector.GarbageCollector(host.Context);
        var serviceAccounts = new Controllers.ServiceAccounts.ServiceAccountsController(host.Context);
        return [ct => collector.RunAsync(2, ct), serviceAccounts.RunAsync];
    }
}

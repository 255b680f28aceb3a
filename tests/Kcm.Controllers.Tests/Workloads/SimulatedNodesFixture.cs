using Kcm.Controllers.ServiceAccounts;
using Kcm.Controllers.Tests.Support;
using Kcm.Simulator;
using Kcm.Testing;

namespace Kcm.Controllers.Tests.Workloads;

/// <summary>
/// The test server (embedded, or the real one KCM_TEST_KUBECONFIG names) with simulated nodes that bind pods and make
/// them Running/Ready shortly after creation, and controllers as the manager runs them (one informer factory), shared
/// by a test class. Each test works in its own namespace named with <see cref="NamespacePrefix"/>: the nodes and the
/// namespaces they serve are this fixture's own, so test classes sharing one real cluster do not run each other's pods.
/// The serviceaccount controller always runs: as in a real cluster, each new namespace gets its "default"
/// ServiceAccount, without which kube-apiserver admits no pod.
/// </summary>
/// <param name="tag">Starts the fixture's namespace and node names (with a random id), telling fixtures apart in a shared cluster.</param>
public abstract class SimulatedNodesFixture(string tag) : IAsyncLifetime
{
    public static readonly TimeSpan PodReadyDelay = TimeSpan.FromMilliseconds(300);

    private ControllerTestHost? _host;
    private NodeSimulator? _simulator;

    public WorkloadServer Server { get; } = new();

    public ControllerTestHost Host => _host ?? throw new InvalidOperationException("not initialized");

    /// <summary>Random per fixture instance.</summary>
    public string Id { get; } = Guid.NewGuid().ToString("N")[..6];

    /// <summary>Namespaces of this fixture's tests start with this; the simulated nodes serve only those.</summary>
    public string NamespacePrefix => $"{tag}{Id}-";

    public string NodeName(int index) => NodeNamePrefix + index;

    private string NodeNamePrefix => $"{tag}{Id}-node-";

    public async Task InitializeAsync()
    {
        await Server.InitializeAsync();
        var prefix = NamespacePrefix;
        var options = ConfigureSimulator(new SimulatorOptions
        {
            NodeCount = 2,
            NodeNamePrefix = NodeNamePrefix,
            PodReadyDelay = PodReadyDelay,
            NamespaceFilter = ns => ns.StartsWith(prefix, StringComparison.Ordinal),
            DeleteNodesOnStop = true,
        });
        using (var start = new CancellationTokenSource(TimeSpan.FromSeconds(60)))
        {
            _simulator = await NodeSimulator.StartAsync(Server.AdminKubeconfigPath, options, DebugFileLoggerProvider.FromEnvironment(), start.Token);
        }
        _host = new ControllerTestHost(Server, DebugFileLoggerProvider.FromEnvironment(), unthrottled: true);
        var serviceAccounts = new ServiceAccountsController(_host.Context);
        _host.Start([serviceAccounts.RunAsync, .. Controllers(_host)]);
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        await _host.Context.Informers.WaitForCacheSyncAsync(timeout.Token);
    }

    /// <summary>The simulator's options: two nodes by default.</summary>
    protected virtual SimulatorOptions ConfigureSimulator(SimulatorOptions defaults) => defaults;

    /// <summary>The controllers under test, built from the host's context (the manager's informer factory).</summary>
    protected abstract IEnumerable<RunController> Controllers(ControllerTestHost host);

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

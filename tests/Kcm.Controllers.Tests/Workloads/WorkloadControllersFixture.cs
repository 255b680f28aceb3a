using Kcm.ApiServer.Hosting;
using Kcm.Controllers.Deployments;
using Kcm.Controllers.ReplicaSets;
using Kcm.Controllers.Tests.Support;
using Kcm.Testing;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Kcm.Controllers.Tests.Workloads;

/// <summary>An embedded API server whose simulated node binds pods and makes them Running/Ready shortly after creation.</summary>
public sealed class SimulatedNodeServer : EmbeddedServerFixture
{
    public static readonly TimeSpan PodReadyDelay = TimeSpan.FromMilliseconds(300);

    private readonly ILoggerFactory _loggers = DebugFileLoggerProvider.FromEnvironment() ?? NullLoggerFactory.Instance;

    protected override ILoggerFactory LoggerFactory => _loggers;

    protected override void Configure(EmbeddedApiServerOptions options) => options.PodReadyDelay = PodReadyDelay;
}

/// <summary>
/// The deployment and replicaset controllers as the manager runs them (one informer factory) against a server
/// with a simulated node, shared by a test class; each test works in its own namespace.
/// </summary>
public class WorkloadControllersFixture : IAsyncLifetime
{
    private ControllerTestHost? _host;

    public SimulatedNodeServer Server { get; } = new();

    public ControllerTestHost Host => _host ?? throw new InvalidOperationException("not initialized");

    public async Task InitializeAsync()
    {
        await Server.InitializeAsync();
        _host = new ControllerTestHost(Server, DebugFileLoggerProvider.FromEnvironment(), unthrottled: true);
        var deployments = new DeploymentController(_host.Context, new DeploymentControllerOptions { Workers = 2 });
        var replicaSets = ReplicaSetControllers.NewReplicaSetController(_host.Context);
        _host.Start([deployments.RunAsync, ct => replicaSets.RunAsync(2, ct), .. MoreControllers(_host)]);
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

using Kcm.Controllers.Deployments;
using Kcm.Controllers.ReplicaSets;
using Kcm.Controllers.Tests.Support;
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

/// <summary>The deployment and replicaset controllers over simulated nodes; subclasses add more controllers.</summary>
public class WorkloadControllersFixture : SimulatedNodesFixture
{
    public WorkloadControllersFixture()
        : base("wl")
    {
    }

    // xUnit wants a class fixture to have one public constructor.
    protected WorkloadControllersFixture(string tag)
        : base(tag)
    {
    }

    protected sealed override IEnumerable<RunController> Controllers(ControllerTestHost host)
    {
        var deployments = new DeploymentController(host.Context, new DeploymentControllerOptions { Workers = 2 });
        var replicaSets = ReplicaSetControllers.NewReplicaSetController(host.Context);
        return [deployments.RunAsync, ct => replicaSets.RunAsync(2, ct), .. MoreControllers(host)];
    }

    protected virtual IEnumerable<RunController> MoreControllers(ControllerTestHost host) => [];
}

/// <summary>The same plus the garbage collector, for tests that delete owners.</summary>
public sealed class WorkloadControllersWithCollectorFixture : WorkloadControllersFixture
{
    protected override IEnumerable<RunController> MoreControllers(ControllerTestHost host)
    {
        var collector = new Controllers.GarbageCollector.GarbageCollector(host.Context);
        return [ct => collector.RunAsync(2, ct)];
    }
}

using Kcm.Api.Core.V1;
using Kcm.Client;
using Kcm.Controllers.Deployments;
using Kcm.Controllers.NodeLifecycle;
using Kcm.Controllers.ReplicaSets;
using Kcm.Controllers.ServiceAccounts;
using Kcm.Controllers.Tests.Support;
using Kcm.Controllers.Tests.Workloads;
using Kcm.Simulator;
using Kcm.Testing;
using static Kcm.Controllers.Tests.Workloads.WorkloadNamespace;

namespace Kcm.Controllers.Tests.NodeLifecycle;

/// <summary>
/// A node failure for real: simulated nodes heartbeating through Leases every half second, the node lifecycle
/// controller with a 4 s grace period (its own nodes only, so other tests' nodes on a shared cluster are left
/// alone), and the deployment, replicaset and serviceaccount controllers, against the test server (embedded, or
/// the real one KCM_TEST_KUBECONFIG names).
/// </summary>
[Collection(WorkloadControllersCollection.Name)]
public sealed class NodeLifecycleIntegrationTests : IAsyncLifetime
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(40);

    private readonly string _id = Guid.NewGuid().ToString("N")[..6];
    private readonly WorkloadServer _server = new();
    private NodeSimulator? _simulator;
    private ControllerTestHost? _host;

    private string NodePrefix => $"nlc{_id}-node-";

    private string NamespacePrefix => $"nlc{_id}-";

    private KubeApiClient Client => _host!.Client;

    public async Task InitializeAsync()
    {
        await _server.InitializeAsync();
        var namespaces = NamespacePrefix;
        using (var start = new CancellationTokenSource(TimeSpan.FromSeconds(30)))
        {
            _simulator = await NodeSimulator.StartAsync(_server.AdminKubeconfigPath, new SimulatorOptions
            {
                NodeCount = 3,
                NodeNamePrefix = NodePrefix,
                PodReadyDelay = TimeSpan.FromMilliseconds(200),
                NamespaceFilter = ns => ns.StartsWith(namespaces, StringComparison.Ordinal),
                NodeLeaseDuration = TimeSpan.FromSeconds(2),
                NodeStatusUpdateFrequency = TimeSpan.FromSeconds(1),
                DeleteNodesOnStop = true,
            }, DebugFileLoggerProvider.FromEnvironment(), start.Token);
        }
        _host = new ControllerTestHost(_server, DebugFileLoggerProvider.FromEnvironment(), unthrottled: true);
        var prefix = NodePrefix;
        var lifecycle = NodeLifecycleDescriptor.Value.Start(_host.Context, new NodeLifecycleControllerOptions
        {
            NodeMonitorPeriod = TimeSpan.FromMilliseconds(500),
            NodeMonitorGracePeriod = TimeSpan.FromSeconds(4),
            NodeStartupGracePeriod = TimeSpan.FromSeconds(10),
            EvictionLimiterQps = 10,
            NodeFilter = node => node.Metadata?.Name?.StartsWith(prefix, StringComparison.Ordinal) == true,
        }) ?? throw new InvalidOperationException("the nodelifecycle controller declined to start");
        var deployments = new DeploymentController(_host.Context, new DeploymentControllerOptions { Workers = 2 });
        var replicaSets = ReplicaSetControllers.NewReplicaSetController(_host.Context);
        var serviceAccounts = new ServiceAccountsController(_host.Context);
        _host.Start(lifecycle, deployments.RunAsync, ct => replicaSets.RunAsync(2, ct), serviceAccounts.RunAsync);
    }

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
        await _server.DisposeAsync();
    }

    [Fact(Timeout = 120_000)]
    public async Task HeartbeatsStop_NodeUnknownTaintedPodsMovedThenRecoveryUntaints()
    {
        var ns = await WorkloadNamespace.CreateAsync(Client, NamespacePrefix);
        var deployment = NewDeployment("web", 3, "nginx:1.24");
        // Tolerated for 3 s only (admission would give 300 s), so the eviction is quick.
        deployment.Spec!.Template!.Spec!.Tolerations =
        [
            new Toleration { Key = NodeTaints.Unreachable, Operator = "Exists", Effect = NodeTaints.NoExecute, TolerationSeconds = 3 },
            new Toleration { Key = NodeTaints.NotReady, Operator = "Exists", Effect = NodeTaints.NoExecute, TolerationSeconds = 3 },
        ];
        await ns.CreateAsync(deployment);
        await ns.WaitForRolloutAsync("web", 3, "nginx:1.24");
        var victim = (await ns.PodsAsync()).Select(p => p.Spec!.NodeName!).First();
        var victimPods = (await ns.PodsAsync()).Where(p => p.Spec!.NodeName == victim).Select(p => p.Metadata!.Name).ToHashSet();

        _simulator!.StopHeartbeats(victim);

        var node = await Eventually.GetAsync($"node {victim} Unknown with both unreachable taints", async () =>
        {
            var n = await Client.GetAsync<Node>(null, victim);
            var taints = n.Spec?.Taints ?? [];
            return n.Status?.Conditions?.Single(c => c.Type == "Ready").Status == "Unknown"
                && taints.Any(t => t is { Key: NodeTaints.Unreachable, Effect: NodeTaints.NoSchedule })
                && taints.Any(t => t is { Key: NodeTaints.Unreachable, Effect: NodeTaints.NoExecute }) ? n : null;
        }, Wait);
        foreach (var type in new[] { "Ready", "MemoryPressure", "DiskPressure", "PIDPressure" })
        {
            var condition = node.Status!.Conditions!.Single(c => c.Type == type);
            Assert.Equal(("Unknown", "NodeStatusUnknown", "Kubelet stopped posting node status."), (condition.Status, condition.Reason, condition.Message));
        }

        // Evicted after their 3 s (marked by the taint manager, left terminating by the dead kubelet) and replaced elsewhere.
        var evicted = await Eventually.GetAsync("the victim's pods evicted", async () =>
        {
            var pods = (await ns.PodsAsync()).Where(p => victimPods.Contains(p.Metadata!.Name)).ToList();
            return pods.All(p => p.Metadata!.DeletionTimestamp is not null) ? pods : null;
        }, Wait);
        Assert.All(evicted, p =>
        {
            Assert.Contains(p.Status!.Conditions!, c => c is { Type: "DisruptionTarget", Status: "True", Reason: "DeletionByTaintManager" });
            Assert.Contains(p.Status.Conditions!, c => c is { Type: "Ready", Status: "False" });
        });
        await Eventually.TrueAsync("three Ready pods on the other nodes", async () =>
            (await ns.PodsAsync()).Count(p => IsReadyAndNotTerminating(p) && p.Spec!.NodeName != victim) == 3, Wait);

        _simulator.ResumeHeartbeats(victim);

        await Eventually.TrueAsync($"node {victim} Ready without the controller's taints", async () =>
        {
            var n = await Client.GetAsync<Node>(null, victim);
            return n.Status?.Conditions?.Single(c => c.Type == "Ready").Status == "True"
                && !(n.Spec?.Taints ?? []).Any(t => t.Key is NodeTaints.Unreachable or NodeTaints.NotReady);
        }, Wait);
    }
}

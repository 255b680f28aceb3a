using Kcm.Api.Core.V1;
using Kcm.Client;
using Kcm.Controllers.Tests.Support;
using Kcm.Controllers.Tests.Workloads;
using Kcm.Controllers.Ttl;
using Kcm.Simulator;
using Kcm.Testing;

namespace Kcm.Controllers.Tests.Ttl;

/// <summary>
/// The ttl controller as the manager starts it (its descriptor) against the test server (embedded, or the real one
/// KCM_TEST_KUBECONFIG names) with simulated nodes of this class's own prefix.
/// </summary>
public sealed class TtlControllerIntegrationTests : IAsyncLifetime
{
    private readonly string _prefix = $"ttl{Guid.NewGuid().ToString("N")[..6]}-node-";
    private readonly WorkloadServer _server = new();
    private NodeSimulator? _simulator;
    private ControllerTestHost? _host;

    public async Task InitializeAsync()
    {
        await _server.InitializeAsync();
        using var start = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        _simulator = await NodeSimulator.StartAsync(_server.AdminKubeconfigPath, new SimulatorOptions
        {
            NodeCount = 3,
            NodeNamePrefix = _prefix,
            NamespaceFilter = _ => false,
            DeleteNodesOnStop = true,
        }, DebugFileLoggerProvider.FromEnvironment(), start.Token);
        _host = new ControllerTestHost(_server, DebugFileLoggerProvider.FromEnvironment());
        var run = TtlDescriptor.Value.Start(_host.Context, new TtlControllerOptions()) ?? throw new InvalidOperationException("the ttl controller declined to start");
        _host.Start(run);
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

    [Fact(Timeout = 60_000)]
    public async Task Run_SmallClusterNodesWithWrongTtl_AnnotationSetBackToZero()
    {
        var client = _host!.Client;
        var clusterSize = (await client.ListAsync<Node>(null)).Items?.Count ?? 0;
        // Below 90 nodes no history of cluster size can make the desired TTL anything but 0.
        Assert.True(clusterSize < 90, $"the cluster has {clusterSize} nodes; this test needs fewer than 90");

        // The simulated kubelet registers its node with ttl "0" already (as kwok's template does): make it wrong first.
        var names = _simulator!.NodeNames;
        foreach (var name in names)
        {
            await client.PatchAsync<Node>(null, name, PatchType.Merge, """{"metadata":{"annotations":{"node.alpha.kubernetes.io/ttl":"7"}}}""");
        }

        foreach (var name in names)
        {
            var node = await Eventually.GetAsync($"the ttl annotation on node {name} back at 0", async () =>
            {
                var n = await client.GetAsync<Node>(null, name);
                return n.Metadata?.Annotations?.GetValueOrDefault(TtlController.AnnotationKey) is "0" ? n : null;
            });

            // A patch without fieldManager is recorded as an Update entry (both servers track managedFields).
            Assert.Contains(node.Metadata!.ManagedFields ?? [], f => f.Operation == "Update" && f.FieldsV1?.ToString()?.Contains("f:node.alpha.kubernetes.io/ttl", StringComparison.Ordinal) == true);
        }
    }
}

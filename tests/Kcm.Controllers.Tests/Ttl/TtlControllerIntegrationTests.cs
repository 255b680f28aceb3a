using Kcm.Api.Core.V1;
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
    public async Task Run_SmallCluster_AnnotatesEveryNodeWithTtlZero()
    {
        var client = _host!.Client;
        var clusterSize = (await client.ListAsync<Node>(null)).Items?.Count ?? 0;
        // Below 90 nodes no history of cluster size can make the desired TTL anything but 0.
        Assert.True(clusterSize < 90, $"the cluster has {clusterSize} nodes; this test needs fewer than 90");

        foreach (var name in _simulator!.NodeNames)
        {
            var node = await Eventually.GetAsync($"the ttl annotation on node {name}", async () =>
            {
                var n = await client.GetAsync<Node>(null, name);
                return n.Metadata?.Annotations?.ContainsKey(TtlController.AnnotationKey) == true ? n : null;
            });

            Assert.Equal("0", node.Metadata!.Annotations![TtlController.AnnotationKey]);
            if (_server.UsesExternalCluster)
            {
                // A patch without fieldManager is recorded as an Update (the embedded server keeps no managedFields).
                Assert.Contains(node.Metadata.ManagedFields ?? [], f => f.Operation == "Update" && f.FieldsV1?.ToString()?.Contains("f:node.alpha.kubernetes.io/ttl", StringComparison.Ordinal) == true);
            }
        }
    }
}

using Kcm.Api.Core.V1;
using Kcm.Api.Meta.V1;
using Kcm.Controllers.NodeIpam;
using Kcm.Controllers.Tests.Support;
using Kcm.Controllers.Tests.Workloads;
using Kcm.Testing;

namespace Kcm.Controllers.Tests.NodeIpam;

/// <summary>
/// The nodeipam controller as the manager starts it against the test server (embedded, or the real one
/// KCM_TEST_KUBECONFIG names). Nodes are registered through the API with this class's own prefix; the cluster CIDR
/// 10.200.0.0/16 is this class's, and only its own nodes are asserted on.
/// </summary>
public sealed class NodeIpamIntegrationTests : IAsyncLifetime
{
    private readonly string _prefix = $"ipam{Guid.NewGuid().ToString("N")[..6]}-";
    private readonly WorkloadServer _server = new();
    private readonly List<ControllerTestHost> _hosts = [];
    private readonly List<string> _nodes = [];

    public Task InitializeAsync() => _server.InitializeAsync();

    public async Task DisposeAsync()
    {
        if (_hosts.Count > 0)
        {
            foreach (var name in _nodes)
            {
                try
                {
                    await _hosts[0].Client.DeleteAsync<Node>(null, name);
                }
                catch (Kcm.Client.Errors.NotFoundException)
                {
                }
            }
        }
        foreach (var host in _hosts)
        {
            await host.DisposeAsync();
        }
        await _server.DisposeAsync();
    }

    private ControllerTestHost StartController(string serviceCidr)
    {
        var host = new ControllerTestHost(_server, DebugFileLoggerProvider.FromEnvironment());
        _hosts.Add(host);
        var run = NodeIpamDescriptor.Value.Start(host.Context, new NodeIpamSettings
        {
            AllocateNodeCidrs = true,
            ClusterCidr = "10.200.0.0/16",
            NodeCidrMaskSize = 24,
            ServiceCidr = serviceCidr,
        }) ?? throw new InvalidOperationException("nodeipam declined to start");
        host.Start(run);
        return host;
    }

    private async Task<string> RegisterNodeAsync(ControllerTestHost host, string suffix)
    {
        var name = _prefix + suffix;
        _nodes.Add(name);
        await host.Client.CreateAsync(new Node { Metadata = new ObjectMeta { Name = name } });
        return name;
    }

    private static Task<List<string>> PodCidrsAsync(ControllerTestHost host, string name)
        => Eventually.GetAsync($"podCIDRs on node {name}", async () =>
        {
            var node = await host.Client.GetAsync<Node>(null, name);
            return node.Spec?.PodCIDRs is { Count: > 0 } cidrs ? cidrs : null;
        });

    [Fact(Timeout = 120_000)]
    public async Task Run_NodesRegisteredAcrossARestart_DistinctRangesOutsideServiceRange()
    {
        var first = StartController("10.200.0.0/20");
        var a = await RegisterNodeAsync(first, "a");
        var aCidrs = await PodCidrsAsync(first, a);
        var node = await first.Client.GetAsync<Node>(null, a);
        Assert.Equal(aCidrs[0], node.Spec!.PodCIDR);
        await first.DisposeAsync();
        _hosts.Remove(first);

        var second = StartController("10.200.0.0/20");
        var b = await RegisterNodeAsync(second, "b");
        var bCidrs = await PodCidrsAsync(second, b);

        foreach (var cidr in aCidrs.Concat(bCidrs))
        {
            var octets = cidr.Split('/')[0].Split('.');
            Assert.EndsWith("/24", cidr, StringComparison.Ordinal);
            Assert.Equal("10.200", $"{octets[0]}.{octets[1]}");
            Assert.True(int.Parse(octets[2], System.Globalization.CultureInfo.InvariantCulture) >= 16, $"{cidr} lies in the service range 10.200.0.0/20");
        }
        Assert.NotEqual(aCidrs[0], bCidrs[0]);
        var all = (await second.Client.ListAsync<Node>(null)).Items ?? [];
        var holders = all.Where(n => n.Spec?.PodCIDRs?.Contains(bCidrs[0]) == true).Select(n => n.Metadata!.Name).ToList();
        Assert.Equal([b], holders);
    }

    [Fact(Timeout = 120_000)]
    public async Task Run_ClusterCidrExhausted_CidrNotAvailableEventOnTheNode()
    {
        // The service range covers the whole cluster CIDR: nothing is left to hand out.
        var host = StartController("10.200.0.0/16");
        var name = await RegisterNodeAsync(host, "full");
        var recorded = await Eventually.GetAsync($"a CIDRNotAvailable event for node {name}", async () =>
        {
            var events = (await host.Client.ListAsync<Event>("default")).Items ?? [];
            return events.FirstOrDefault(e => e.InvolvedObject?.Name == name && e.Reason == "CIDRNotAvailable");
        });
        Assert.Equal("Node", recorded.InvolvedObject!.Kind);
        Assert.Equal($"Node {name} status is now: CIDRNotAvailable", recorded.Message);
        var node = await host.Client.GetAsync<Node>(null, name);
        Assert.Null(node.Spec?.PodCIDRs);
    }
}

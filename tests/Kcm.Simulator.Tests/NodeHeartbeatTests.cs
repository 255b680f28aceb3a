using Kcm.Api.Coordination.V1;
using Kcm.Api.Core.V1;
using Kcm.Client.Errors;
using Kcm.Testing;

namespace Kcm.Simulator.Tests;

public sealed class NodeHeartbeatTests(EmbeddedServerFixture fixture) : IClassFixture<EmbeddedServerFixture>
{
    private static readonly DateTimeOffset Start = new(2026, 3, 1, 12, 0, 0, TimeSpan.Zero);

    [Fact(Timeout = 60_000)]
    public async Task StartAsync_RegistersNodesAsKubeletsDo()
    {
        await using var bed = await SimulatorTestBed.StartAsync(fixture, o => o with { NodeCount = 2 });

        Assert.Equal([bed.Node(0), bed.Node(1)], bed.Simulator.NodeNames);
        var node = await bed.Client.GetAsync<Node>(null, bed.Node(1));
        Assert.Equal(bed.Node(1), node.Metadata!.Labels!["kubernetes.io/hostname"]);
        Assert.Equal("linux", node.Metadata.Labels["kubernetes.io/os"]);
        Assert.Equal("amd64", node.Metadata.Labels["kubernetes.io/arch"]);
        var status = node.Status!;
        Assert.Equal("4", status.Capacity!["cpu"].ToString());
        Assert.Equal("16Gi", status.Allocatable!["memory"].ToString());
        Assert.Equal("110", status.Allocatable["pods"].ToString());
        Assert.Equal(["MemoryPressure", "DiskPressure", "PIDPressure", "Ready"], status.Conditions!.Select(c => c.Type!));
        Assert.All(status.Conditions!, c => Assert.NotNull(c.LastHeartbeatTime));
        Assert.Contains(status.Conditions!, c => c is { Type: "Ready", Status: "True", Reason: "KubeletReady" });
        Assert.Contains(status.Conditions!, c => c is { Type: "MemoryPressure", Status: "False" });
        Assert.Equal(["InternalIP", "Hostname"], status.Addresses!.Select(a => a.Type!));
        Assert.Equal(bed.Node(1), status.Addresses![1].Address);
        Assert.Equal("v1.26.3", status.NodeInfo!.KubeletVersion);
        Assert.Equal(10250, status.DaemonEndpoints!.KubeletEndpoint!.Port);
        // The not-ready taint a real kube-apiserver puts on new nodes is gone once they are Ready.
        Assert.DoesNotContain(node.Spec?.Taints ?? [], t => t.Key == "node.kubernetes.io/not-ready");

        var lease = await bed.Client.GetAsync<Lease>("kube-node-lease", bed.Node(1));
        Assert.Equal(bed.Node(1), lease.Spec!.HolderIdentity);
        Assert.Equal(40, lease.Spec.LeaseDurationSeconds);
        Assert.NotNull(lease.Spec.RenewTime);
        var owner = Assert.Single(lease.Metadata!.OwnerReferences!);
        Assert.Equal(("Node", node.Metadata.Uid), (owner.Kind, owner.Uid));
    }

    [Fact(Timeout = 60_000)]
    public async Task Lease_RenewedEveryTenSeconds_UntilHeartbeatsStop()
    {
        var clock = new FakeTimeProvider(Start);
        await using var bed = await SimulatorTestBed.StartAsync(fixture, o => o with { NodeCount = 2, TimeProvider = clock });
        Assert.Equal(Start, await RenewTimeAsync(bed, 0));

        clock.Advance(TimeSpan.FromSeconds(10));
        await RenewedAtAsync(bed, 0, Start.AddSeconds(10));
        await RenewedAtAsync(bed, 1, Start.AddSeconds(10));

        bed.Simulator.StopHeartbeats(bed.Node(0));
        clock.Advance(TimeSpan.FromSeconds(10));
        await RenewedAtAsync(bed, 1, Start.AddSeconds(20));
        Assert.Equal(Start.AddSeconds(10), await RenewTimeAsync(bed, 0));

        bed.Simulator.ResumeHeartbeats(bed.Node(0));
        clock.Advance(TimeSpan.FromSeconds(10));
        await RenewedAtAsync(bed, 0, Start.AddSeconds(30));
    }

    [Fact(Timeout = 60_000)]
    public async Task NodeStatus_UnchangedStatus_PostedOncePerReportFrequency()
    {
        var clock = new FakeTimeProvider(Start);
        await using var bed = await SimulatorTestBed.StartAsync(fixture, o => o with { TimeProvider = clock, NodeStatusReportFrequency = TimeSpan.FromSeconds(30) });

        // Three 10 s status updates; only the third is due for a report.
        for (var i = 0; i < 3; i++) clock.Advance(TimeSpan.FromSeconds(10));
        var ready = await Eventually.GetAsync("heartbeat posted", async () =>
        {
            var node = await bed.Client.GetAsync<Node>(null, bed.Node(0));
            var c = node.Status!.Conditions!.Single(c => c.Type == "Ready");
            return c.LastHeartbeatTime == Start.AddSeconds(30) ? c : null;
        }, SimulatorTestBed.Wait);
        Assert.Equal(Start, ready.LastTransitionTime);
    }

    [Fact(Timeout = 60_000)]
    public async Task NodeStatus_ReadyOverwrittenByAnotherWriter_IsReportedAgainAtTheNextUpdate()
    {
        var clock = new FakeTimeProvider(Start);
        await using var bed = await SimulatorTestBed.StartAsync(fixture, o => o with { TimeProvider = clock });
        // What the node lifecycle controller does when the lease expires.
        var node = await bed.Client.GetAsync<Node>(null, bed.Node(0));
        var ready = node.Status!.Conditions!.Single(c => c.Type == "Ready");
        ready.Status = "Unknown";
        ready.Reason = "NodeStatusUnknown";
        await bed.Client.UpdateStatusAsync(node);
        // Each probe moves the clock one update period on: the simulator's cache may see the overwrite a little later.
        var back = await Eventually.GetAsync("Ready again", async () =>
        {
            clock.Advance(TimeSpan.FromSeconds(10));
            var c = (await bed.Client.GetAsync<Node>(null, bed.Node(0))).Status!.Conditions!.Single(c => c.Type == "Ready");
            return c.Status == "True" ? c : null;
        }, SimulatorTestBed.Wait);
        Assert.Equal("KubeletReady", back.Reason);
        Assert.True(back.LastTransitionTime > Start, "the transition back to True is a new transition");
    }

    [Fact(Timeout = 60_000)]
    public async Task RemoveNodeAsync_DeletesNodeAndLease_AndNewPodsGoElsewhere()
    {
        await using var bed = await SimulatorTestBed.StartAsync(fixture, o => o with { NodeCount = 2 });

        await bed.Simulator.RemoveNodeAsync(bed.Node(0), CancellationToken.None);

        Assert.Equal([bed.Node(1)], bed.Simulator.NodeNames);
        await Assert.ThrowsAsync<NotFoundException>(() => bed.Client.GetAsync<Node>(null, bed.Node(0)));
        await Assert.ThrowsAsync<NotFoundException>(() => bed.Client.GetAsync<Lease>("kube-node-lease", bed.Node(0)));
        foreach (var name in new[] { "a", "b", "c" }) await bed.CreatePodAsync(name);
        foreach (var name in new[] { "a", "b", "c" }) Assert.Equal(bed.Node(1), (await bed.RunningAsync(name)).Spec!.NodeName);
        Assert.Throws<UnknownSimulatedNodeException>(() => bed.Simulator.StopHeartbeats(bed.Node(0)));
    }

    private static async Task<DateTimeOffset?> RenewTimeAsync(SimulatorTestBed bed, int node)
        => (await bed.Client.GetAsync<Lease>("kube-node-lease", bed.Node(node))).Spec!.RenewTime;

    private static Task RenewedAtAsync(SimulatorTestBed bed, int node, DateTimeOffset at)
        => Eventually.TrueAsync($"lease of {bed.Node(node)} renewed at {at:O}", async () => await RenewTimeAsync(bed, node) == at, SimulatorTestBed.Wait);
}

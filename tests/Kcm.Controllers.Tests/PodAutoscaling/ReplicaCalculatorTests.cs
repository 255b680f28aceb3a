using Kcm.Api.Selectors;
using Kcm.Controllers.PodAutoscaling;

namespace Kcm.Controllers.Tests.PodAutoscaling;

/// <summary>Cases from upstream's replica_calculator_test.go (cpu utilization, 1000m requests unless said).</summary>
public sealed class ReplicaCalculatorTests
{
    private static readonly LabelSelector Web = LabelSelector.Parse("app=web");

    private static Task<ResourceReplicas> CpuAsync(HpaHarness h, int current, int target, ReplicaCalculator? calculator = null)
        => (calculator ?? h.NewCalculator()).GetResourceReplicasAsync(current, target, "cpu", "ns", Web, "", CancellationToken.None);

    [Fact]
    public async Task GetResourceReplicas_UsageAboveTarget_ScalesUpByTheRatio()
    {
        var h = new HpaHarness();
        foreach (var name in new[] { "a", "b", "c" }) h.AddPod(name);
        h.Metrics.Cpu = new() { ["a"] = 500, ["b"] = 700, ["c"] = 800 };

        var result = await CpuAsync(h, 3, 30);

        // 66% of the request against 30%: ceil(3 * 2.2) = 7.
        Assert.Equal((7, 66, 666L), (result.Replicas, result.Utilization, result.RawUtilization));
    }

    [Fact]
    public async Task GetResourceReplicas_WithinTolerance_KeepsCurrentCount()
    {
        var h = new HpaHarness();
        foreach (var name in new[] { "a", "b", "c" }) h.AddPod(name);
        h.Metrics.Cpu = new() { ["a"] = 1010, ["b"] = 1030, ["c"] = 1020 };

        var result = await CpuAsync(h, 3, 100);

        Assert.Equal((3, 102), (result.Replicas, result.Utilization));
    }

    [Fact]
    public async Task GetResourceReplicas_ScaleDownWithMissingPod_MissingCountsAsFullRequest()
    {
        var h = new HpaHarness();
        foreach (var name in new[] { "a", "b", "c", "d" }) h.AddPod(name);
        h.Metrics.Cpu = new() { ["a"] = 100, ["b"] = 100, ["c"] = 100 };

        var result = await CpuAsync(h, 4, 50);

        // 10% would ask for 1; counting d at 100% gives 32%: ceil(4 * 0.64) = 3.
        Assert.Equal((3, 10), (result.Replicas, result.Utilization));
    }

    [Fact]
    public async Task GetResourceReplicas_ScaleUpWithUnreadyPod_UnreadyCountsAsZero()
    {
        var h = new HpaHarness();
        h.AddPod("a");
        h.AddPod("b");
        h.AddPod("c", ready: false, start: HpaHarness.Start - TimeSpan.FromMinutes(1), readySince: HpaHarness.Start - TimeSpan.FromMinutes(1));
        h.Metrics.Cpu = new() { ["a"] = 300, ["b"] = 500, ["c"] = 700 };

        var result = await CpuAsync(h, 3, 20);

        // 40% on the ready pods; with c at 0: 26% against 20% → ceil(3 * 1.3) = 4.
        Assert.Equal((4, 40), (result.Replicas, result.Utilization));
    }

    [Fact]
    public async Task GetResourceReplicas_PendingAndFailedPods_AreUnreadyAndIgnored()
    {
        var h = new HpaHarness();
        h.AddPod("a");
        h.AddPod("pending", phase: "Pending");
        h.AddPod("failed", phase: "Failed");
        h.Metrics.Cpu = new() { ["a"] = 600, ["failed"] = 5000 };

        var result = await CpuAsync(h, 2, 30);

        // 60% on the one ready pod; on a scale-up the pending pod counts as 0: (600 + 0) / 2000 = 30% → no change.
        Assert.Equal((2, 60), (result.Replicas, result.Utilization));
    }

    [Fact]
    public async Task GetResourceReplicas_SampleFromBeforeReadinessWithinInitializationPeriod_IsIgnored()
    {
        var h = new HpaHarness();
        h.AddPod("a");
        // Started 30 s ago, ready 10 s ago: a sample ending now over a 30 s window began before readiness.
        h.AddPod("young", start: HpaHarness.Start - TimeSpan.FromSeconds(30), readySince: HpaHarness.Start - TimeSpan.FromSeconds(10));
        h.Metrics.Cpu = new() { ["a"] = 1000, ["young"] = 3000 };

        var result = await CpuAsync(h, 2, 100);

        // Only "a" counts: 100% against a 100% target, and the young pod's 0 on a scale-up keeps it so.
        Assert.Equal((2, 100), (result.Replicas, result.Utilization));
    }

    [Fact]
    public async Task GetResourceReplicas_NoMetrics_ThrowsUpstreamMessage()
    {
        var h = new HpaHarness();
        h.AddPod("a");
        h.Metrics.Cpu = [];

        var e = await Assert.ThrowsAsync<ReplicaCalculationException>(() => CpuAsync(h, 1, 50));

        Assert.Equal("unable to get metrics for resource cpu: no metrics returned from resource metrics API", e.Message);
    }

    [Fact]
    public async Task GetResourceReplicas_ContainerWithoutRequest_Throws()
    {
        var h = new HpaHarness();
        var pod = h.AddPod("a");
        pod.Spec!.Containers![0].Resources = null;
        h.Metrics.Cpu = new() { ["a"] = 100 };

        var e = await Assert.ThrowsAsync<ReplicaCalculationException>(() => CpuAsync(h, 1, 50));

        Assert.Equal("missing request for cpu in container c of Pod a", e.Message);
    }
}

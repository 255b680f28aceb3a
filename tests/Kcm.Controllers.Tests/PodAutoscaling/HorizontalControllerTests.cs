using Kcm.Api.Autoscaling.V2;
using Kcm.Controllers.PodAutoscaling;
using Kcm.Runtime.Informers;

namespace Kcm.Controllers.Tests.PodAutoscaling;

public sealed class HorizontalControllerTests
{
    private static readonly ObjectKey Key = new("ns", "web");

    private static HorizontalPodAutoscalerCondition? Condition(HorizontalPodAutoscaler hpa, string type) => hpa.Status?.Conditions?.FirstOrDefault(c => c.Type == type);

    [Fact]
    public async Task SyncAsync_CpuAboveTarget_RescalesWritesStatusAndRecordsEvent()
    {
        var h = new HpaHarness();
        h.AddPod("a");
        h.AddPod("b");
        h.Metrics.Cpu = new() { ["a"] = 1500, ["b"] = 1500 };
        h.AddHpa(min: 2, max: 6, targetUtilization: 50);
        var controller = h.NewController();

        var result = await controller.SyncAsync(Key, CancellationToken.None);

        Assert.Equal(TimeSpan.FromSeconds(15), result.RequeueAfter);
        // 150% against 50% asks for 6; without behaviors one sync may at most double (and add at least 4): 4.
        Assert.Equal([4], h.Scales.Updates);
        var status = Assert.Single(h.Status.Written).Status!;
        Assert.Equal((2, 4, HpaHarness.Start), (status.CurrentReplicas, status.DesiredReplicas, status.LastScaleTime));
        Assert.Equal(("True", "SucceededRescale", "the HPA controller was able to update the target scale to 4"),
            (Condition(h.Status.Written[0], HpaConditions.AbleToScale)?.Status, Condition(h.Status.Written[0], HpaConditions.AbleToScale)?.Reason, Condition(h.Status.Written[0], HpaConditions.AbleToScale)?.Message));
        Assert.Equal(("True", "ScaleUpLimit"), (Condition(h.Status.Written[0], HpaConditions.ScalingLimited)?.Status, Condition(h.Status.Written[0], HpaConditions.ScalingLimited)?.Reason));
        Assert.Equal([HpaConditions.AbleToScale, HpaConditions.ScalingActive, HpaConditions.ScalingLimited], status.Conditions!.Select(c => c.Type));
        var metric = Assert.Single(status.CurrentMetrics!);
        Assert.Equal((150, "1500m"), (metric.Resource!.Current!.AverageUtilization, metric.Resource.Current.AverageValue!.ToString()));
        Assert.Contains(("Normal", "SuccessfulRescale", "New size: 4; reason: cpu resource utilization (percentage of request) above target", (string?)"web"), h.Recorder.Events);
    }

    [Fact]
    public async Task SyncAsync_UsageDropsWithoutBehavior_WaitsForDownscaleStabilizationWindow()
    {
        var h = new HpaHarness();
        foreach (var name in new[] { "a", "b", "c", "d" }) h.AddPod(name);
        h.Scales.SpecReplicas = h.Scales.StatusReplicas = 4;
        h.Metrics.Cpu = new() { ["a"] = 500, ["b"] = 500, ["c"] = 500, ["d"] = 500 };
        h.AddHpa(min: 1, max: 10, targetUtilization: 50);
        var controller = h.NewController(new HorizontalControllerOptions { DownscaleStabilizationWindow = TimeSpan.FromMinutes(1) });
        await controller.SyncAsync(Key, CancellationToken.None);
        h.ApplyWrittenStatus();

        h.Metrics.Cpu = new() { ["a"] = 100, ["b"] = 100, ["c"] = 100, ["d"] = 100 };
        h.Time.Advance(TimeSpan.FromSeconds(30));
        await controller.SyncAsync(Key, CancellationToken.None);
        Assert.Empty(h.Scales.Updates);
        Assert.Equal(("ScaleDownStabilized", "recent recommendations were higher than current one, applying the highest recent recommendation"),
            (Condition(h.Status.Written[^1], HpaConditions.AbleToScale)?.Reason, Condition(h.Status.Written[^1], HpaConditions.AbleToScale)?.Message));
        h.ApplyWrittenStatus();

        h.Time.Advance(TimeSpan.FromSeconds(31));
        await controller.SyncAsync(Key, CancellationToken.None);
        Assert.Equal([1], h.Scales.Updates);
        Assert.Contains(h.Recorder.Events, e => e.Reason == "SuccessfulRescale" && e.Message == "New size: 1; reason: All metrics below target");
    }

    [Fact]
    public async Task SyncAsync_NoMetrics_ScalingActiveFalseAndFailedComputeEvent()
    {
        var h = new HpaHarness();
        h.AddPod("a");
        h.Metrics.Cpu = [];
        h.AddHpa();
        var controller = h.NewController();

        var e = await Assert.ThrowsAsync<HpaSyncException>(() => controller.SyncAsync(Key, CancellationToken.None));

        Assert.StartsWith("failed to compute desired number of replicas based on listed metrics for Deployment/ns/web: invalid metrics (1 invalid out of 1)", e.Message);
        var written = Assert.Single(h.Status.Written);
        var active = Condition(written, HpaConditions.ScalingActive);
        Assert.Equal(("False", "FailedGetResourceMetric", "the HPA was unable to compute the replica count: failed to get cpu utilization: unable to get metrics for resource cpu: no metrics returned from resource metrics API"),
            (active?.Status, active?.Reason, active?.Message));
        Assert.Equal(2, written.Status!.CurrentReplicas);
        Assert.Equal(["FailedGetResourceMetric", "FailedComputeMetricsReplicas"], h.Recorder.Events.Select(ev => ev.Reason));
        Assert.Empty(h.Scales.Updates);
    }

    [Fact]
    public async Task SyncAsync_TargetMissing_AbleToScaleFalseFailedGetScale()
    {
        var h = new HpaHarness();
        h.Scales.Missing = true;
        h.AddHpa();
        var controller = h.NewController();

        await Assert.ThrowsAsync<HpaSyncException>(() => controller.SyncAsync(Key, CancellationToken.None));

        var condition = Assert.Single(Assert.Single(h.Status.Written).Status!.Conditions!);
        Assert.Equal((HpaConditions.AbleToScale, "False", "FailedGetScale", "the HPA controller was unable to get the target's current scale: deployments/scale.apps \"web\" not found"),
            (condition.Type, condition.Status, condition.Reason, condition.Message));
    }

    [Fact]
    public async Task SyncAsync_TargetScaledToZero_ScalingDisabled()
    {
        var h = new HpaHarness();
        h.Scales.SpecReplicas = 0;
        h.AddHpa();
        var controller = h.NewController();

        await controller.SyncAsync(Key, CancellationToken.None);

        Assert.Empty(h.Scales.Updates);
        var active = Condition(Assert.Single(h.Status.Written), HpaConditions.ScalingActive);
        Assert.Equal(("False", "ScalingDisabled", "scaling is disabled since the replica count of the target is zero"), (active?.Status, active?.Reason, active?.Message));
    }

    [Fact]
    public async Task SyncAsync_TwoHpasSelectSamePods_AmbiguousSelector()
    {
        var h = new HpaHarness();
        h.AddPod("a");
        h.Metrics.Cpu = new() { ["a"] = 500 };
        var first = h.AddHpa();
        var second = h.AddHpa(name: "other");
        var controller = h.NewController();
        controller.Enqueue(first);
        controller.Enqueue(second);
        await controller.SyncAsync(new ObjectKey("ns", "other"), CancellationToken.None);

        await Assert.ThrowsAsync<HpaSyncException>(() => controller.SyncAsync(Key, CancellationToken.None));

        var active = Condition(h.Status.Written[^1], HpaConditions.ScalingActive);
        Assert.Equal(("False", "AmbiguousSelector"), (active?.Status, active?.Reason));
        Assert.StartsWith("pods by selector app=web are controlled by multiple HPAs: [", active?.Message);
    }

    [Fact]
    public async Task SyncAsync_HpaDeleted_ForgetsHistoryAndDoesNotRequeue()
    {
        var h = new HpaHarness();
        var controller = h.NewController();
        controller.History.RecordInitialRecommendation(5, "ns/web");

        var result = await controller.SyncAsync(Key, CancellationToken.None);

        Assert.Null(result.RequeueAfter);
        Assert.Equal(1, controller.History.Stabilize("ns/web", 1));
    }
}

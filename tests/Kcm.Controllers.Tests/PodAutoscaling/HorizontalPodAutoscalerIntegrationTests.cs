using System.Text.Json.Nodes;
using Kcm.Api;
using Kcm.Api.Apps.V1;
using Kcm.Api.Autoscaling.V2;
using Kcm.Api.Core.V1;
using Kcm.Api.Meta.V1;
using Kcm.Client;
using Kcm.Controllers.PodAutoscaling;
using Kcm.Controllers.Tests.Support;
using Kcm.Controllers.Tests.Workloads;
using Kcm.Simulator;
using Kcm.Simulator.Metrics;
using Kcm.Testing;
using DeploymentObject = Kcm.Api.Apps.V1.Deployment;
using LabelSelector = Kcm.Api.Meta.V1.LabelSelector;

namespace Kcm.Controllers.Tests.PodAutoscaling;

/// <summary>
/// The deployment, replicaset and HPA controllers against a server whose metrics.k8s.io API is the node simulator's,
/// registered as an APIService (the real kube-apiserver proxies to it; so does the embedded server). The APIService
/// is cluster-wide, so every test using it lives in this class.
/// </summary>
public sealed class HpaFixture() : WorkloadControllersFixture("hpa")
{
    protected override SimulatorOptions ConfigureSimulator(SimulatorOptions defaults) => defaults with
    {
        NodeCount = 1,
        PodReadyDelay = TimeSpan.Zero,
        // A sample counts once it covers time after the pod became ready: a short window keeps the tests short.
        Metrics = new MetricsServerOptions { BindAddress = MetricsServerOptions.DefaultBindAddress(), Window = TimeSpan.FromSeconds(1) },
    };

    protected override IEnumerable<RunController> MoreControllers(ControllerTestHost host)
    {
        var hpa = new HorizontalController(host.Context, new HorizontalControllerOptions { Workers = 2, SyncPeriod = TimeSpan.FromSeconds(1) });
        return [hpa.RunAsync];
    }
}

[Collection(WorkloadControllersCollection.Name)]
public sealed class HorizontalPodAutoscalerIntegrationTests(HpaFixture fixture) : IClassFixture<HpaFixture>, IAsyncLifetime
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(60);
    private WorkloadNamespace _ns = null!;

    private KubeApiClient Client => fixture.Host.Client;

    public async Task InitializeAsync() => _ns = await WorkloadNamespace.CreateAsync(Client, fixture.NamespacePrefix);

    public Task DisposeAsync() => Task.CompletedTask;

    [Fact(Timeout = 180_000)]
    public async Task Hpa_SimulatedCpuRisesThenFalls_ScalesDeploymentTo6AndBackAfterStabilizationWindow()
    {
        await _ns.CreateAsync(Deployment("web", 2, schedulerName: null));
        var pods = await ReadyPodsAsync("web", 2);
        foreach (var pod in pods) await SetCpuUsageAsync(pod, "300m");
        await Client.CreateAsync(Hpa("web", minReplicas: 2, scaleDownWindowSeconds: 5), _ns.Name);

        // 300% of the request against a 50% target asks for 12; the default scale-up policy allows +4 per 15 s.
        await Eventually.TrueAsync("the deployment scaled to 6", async () => (await DeploymentAsync("web")).Spec?.Replicas == 6, Wait);
        // Pods still starting can make a sync in between see other numbers; the steady state is upstream's.
        var scaledUp = await Eventually.GetAsync("the HPA status after the scale-up", async () =>
            await HpaAsync("web") is { Status: { CurrentReplicas: 6, DesiredReplicas: 6 } } h && Condition(h, HpaConditions.ScalingLimited)?.Reason == "TooManyReplicas" ? h : null, Wait);
        Assert.NotNull(scaledUp.Status!.LastScaleTime);
        AssertCondition(scaledUp, HpaConditions.ScalingActive, "True", "ValidMetricFound",
            "the HPA was able to successfully calculate a replica count from cpu resource utilization (percentage of request)");
        Assert.Equal("True", Condition(scaledUp, HpaConditions.AbleToScale)?.Status);
        AssertCondition(scaledUp, HpaConditions.ScalingLimited, "True", "TooManyReplicas", "the desired replica count is more than the maximum replica count");
        var current = Assert.Single(scaledUp.Status.CurrentMetrics ?? []);
        Assert.Equal("Resource", current.Type);
        Assert.Equal("cpu", current.Resource?.Name);
        await EventAsync("SuccessfulRescale", "New size: 6; reason: cpu resource utilization (percentage of request) above target");

        var lowered = DateTimeOffset.UtcNow;
        foreach (var pod in pods) await SetCpuUsageAsync(pod, null);
        await Eventually.TrueAsync("the deployment scaled back to 2", async () => (await DeploymentAsync("web")).Spec?.Replicas == 2, Wait);
        // The scale is written before the HPA's status: wait for the status of that rescale.
        var scaledDown = await Eventually.GetAsync("the HPA status of the scale-down", async () =>
            await HpaAsync("web") is { Status: { DesiredReplicas: 2, LastScaleTime: { } at } } h && at > scaledUp.Status.LastScaleTime ? h : null, Wait);
        // The last high recommendation may predate the lowering by one 1 s sync period, and lastScaleTime drops the
        // fraction of a second: the 5 s window shows as at least 3 s.
        Assert.True(scaledDown.Status!.LastScaleTime!.Value - lowered >= TimeSpan.FromSeconds(3),
            $"scaled down at {scaledDown.Status.LastScaleTime:O}, usage lowered at {lowered:O}: the stabilization window was not honoured");
        await EventAsync("SuccessfulRescale", "New size: 2; reason: All metrics below target");
        await Eventually.TrueAsync("ScalingLimited TooFewReplicas once at the minimum", async () =>
            Condition(await HpaAsync("web"), HpaConditions.ScalingLimited) is { Status: "True", Reason: "TooFewReplicas" }, Wait);
    }

    [Fact(Timeout = 120_000)]
    public async Task Hpa_PodsWithoutMetrics_ScalingActiveFalseWithFailedGetResourceMetric()
    {
        // Pods no scheduler binds stay Pending, so the metrics API reports none of them.
        await _ns.CreateAsync(Deployment("idle", 2, schedulerName: "nobody"));
        await Client.CreateAsync(Hpa("idle", minReplicas: 1, scaleDownWindowSeconds: null), _ns.Name);

        var hpa = await Eventually.GetAsync("ScalingActive False", async () =>
            await HpaAsync("idle") is { } h && Condition(h, HpaConditions.ScalingActive) is { Status: "False" } ? h : null, Wait);
        AssertCondition(hpa, HpaConditions.ScalingActive, "False", "FailedGetResourceMetric",
            "the HPA was unable to compute the replica count: failed to get cpu utilization: unable to get metrics for resource cpu: no metrics returned from resource metrics API");
        AssertCondition(hpa, HpaConditions.AbleToScale, "True", "SucceededGetScale", "the HPA controller was able to get the target's current scale");
        Assert.Equal(2, hpa.Status!.CurrentReplicas);
        await EventAsync("FailedGetResourceMetric", "failed to get cpu utilization: unable to get metrics for resource cpu: no metrics returned from resource metrics API");
        await EventAsync("FailedComputeMetricsReplicas",
            "invalid metrics (1 invalid out of 1), first error is: failed to get cpu resource metric value: failed to get cpu utilization: unable to get metrics for resource cpu: no metrics returned from resource metrics API");
        Assert.Equal(2, (await DeploymentAsync("idle")).Spec?.Replicas);
    }

    [Fact(Timeout = 120_000)]
    public async Task Hpa_MissingTarget_AbleToScaleFalseWithFailedGetScale()
    {
        await Client.CreateAsync(Hpa("absent", minReplicas: 1, scaleDownWindowSeconds: null), _ns.Name);

        var hpa = await Eventually.GetAsync("AbleToScale False", async () =>
            await HpaAsync("absent") is { } h && Condition(h, HpaConditions.AbleToScale) is { Status: "False" } ? h : null, Wait);
        AssertCondition(hpa, HpaConditions.AbleToScale, "False", "FailedGetScale",
            "the HPA controller was unable to get the target's current scale: deployments/scale.apps \"absent\" not found");
    }

    private static DeploymentObject Deployment(string name, int replicas, string? schedulerName)
    {
        var d = WorkloadNamespace.NewDeployment(name, replicas, "nginx");
        d.Spec!.Template!.Spec!.SchedulerName = schedulerName;
        d.Spec.Template.Spec.Containers![0].Resources = new ResourceRequirements { Requests = new() { ["cpu"] = new Quantity("100m") } };
        return d;
    }

    private static HorizontalPodAutoscaler Hpa(string target, int minReplicas, int? scaleDownWindowSeconds) => new()
    {
        Metadata = new ObjectMeta { Name = target },
        Spec = new HorizontalPodAutoscalerSpec
        {
            ScaleTargetRef = new CrossVersionObjectReference { ApiVersion = "apps/v1", Kind = "Deployment", Name = target },
            MinReplicas = minReplicas,
            MaxReplicas = 6,
            Metrics = [new MetricSpec { Type = "Resource", Resource = new ResourceMetricSource { Name = "cpu", Target = new MetricTarget { Type = "Utilization", AverageUtilization = 50 } } }],
            Behavior = scaleDownWindowSeconds is { } window ? new HorizontalPodAutoscalerBehavior { ScaleDown = new HPAScalingRules { StabilizationWindowSeconds = window } } : null,
        },
    };

    private async Task<List<Pod>> ReadyPodsAsync(string app, int count)
        => await Eventually.GetAsync($"{count} ready {app} pods", async () =>
        {
            var ready = (await _ns.PodsAsync()).Where(p => p.Metadata?.Labels?.GetValueOrDefault("app") == app && WorkloadNamespace.IsReadyAndNotTerminating(p)).ToList();
            return ready.Count == count ? ready : null;
        }, Wait);

    private Task SetCpuUsageAsync(Pod pod, string? usage)
    {
        var patch = new JsonObject { ["metadata"] = new JsonObject { ["annotations"] = new JsonObject { [MetricsServerOptions.CpuUsageAnnotation] = usage } } };
        return Client.PatchAsync<Pod>(_ns.Name, pod.Metadata!.Name!, PatchType.Merge, patch.ToJsonString());
    }

    private Task<DeploymentObject> DeploymentAsync(string name) => Client.GetAsync<DeploymentObject>(_ns.Name, name);

    private Task<HorizontalPodAutoscaler> HpaAsync(string name) => Client.GetAsync<HorizontalPodAutoscaler>(_ns.Name, name);

    private static HorizontalPodAutoscalerCondition? Condition(HorizontalPodAutoscaler hpa, string type)
        => hpa.Status?.Conditions?.FirstOrDefault(c => c.Type == type);

    private static void AssertCondition(HorizontalPodAutoscaler hpa, string type, string status, string reason, string message)
    {
        var condition = Condition(hpa, type);
        Assert.True(condition is not null, $"no {type} condition");
        Assert.Equal((type, status, reason, message), (type, condition.Status, condition.Reason, condition.Message));
    }

    private Task EventAsync(string reason, string message)
        => Eventually.TrueAsync($"event {reason} \"{message}\"", async () =>
            ((await Client.ListAsync<Event>(_ns.Name)).Items ?? []).Any(e =>
                e.InvolvedObject?.Kind == "HorizontalPodAutoscaler" && e.Reason == reason && e.Message == message
                && e.Source?.Component == HorizontalController.EventComponent), Wait);
}

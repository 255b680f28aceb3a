using System.Text.Json.Nodes;
using Kcm.Api;
using Kcm.Api.Autoscaling.V2;
using Kcm.Api.Core.V1;
using Kcm.Api.Meta.V1;
using Kcm.Api.Selectors;
using Kcm.Client;
using Kcm.Client.Errors;
using Kcm.Controllers.Common;
using Kcm.Controllers.PodAutoscaling;
using Kcm.Controllers.Tests.Deployments;
using Kcm.Runtime.Informers;
using Kcm.Testing;
using Microsoft.Extensions.Logging.Abstractions;
using LabelSelector = Kcm.Api.Selectors.LabelSelector;
using static Kcm.Controllers.Tests.Common.TestStores;

namespace Kcm.Controllers.Tests.PodAutoscaling;

/// <summary>Caches, fakes and a fake clock around a <see cref="HorizontalController"/>; tests seed them and call SyncAsync.</summary>
internal sealed class HpaHarness
{
    public static readonly DateTimeOffset Start = new(2026, 1, 1, 12, 0, 0, TimeSpan.Zero);

    public FakeTimeProvider Time { get; } = new(Start);
    public ThreadSafeStore<HorizontalPodAutoscaler> Hpas { get; } = Store<HorizontalPodAutoscaler>();
    public ThreadSafeStore<Pod> Pods { get; } = Store<Pod>();
    public FakeMetricsClient Metrics { get; } = new();
    public FakeScaleClient Scales { get; } = new();
    public RecordingStatusWriter Status { get; } = new();
    public RecordingEventRecorder Recorder { get; } = new();

    public HorizontalController NewController(HorizontalControllerOptions? options = null)
        => new(Hpas, Pods, new HorizontalControllerSeams(new FakeMapper(), Scales, Metrics, Status, Recorder), options ?? new HorizontalControllerOptions(), Time, NullLogger.Instance);

    public ReplicaCalculator NewCalculator(double tolerance = 0.1, TimeSpan? cpuInitialization = null, TimeSpan? readinessDelay = null)
        => new(Metrics, Pods, tolerance, cpuInitialization ?? TimeSpan.FromMinutes(2), readinessDelay ?? TimeSpan.FromSeconds(10), Time);

    /// <summary>A Running pod of app=web requesting <paramref name="cpuRequestMilli"/>, ready since long ago.</summary>
    public Pod AddPod(string name, long cpuRequestMilli = 1000, string phase = "Running", bool ready = true, DateTimeOffset? start = null, DateTimeOffset? readySince = null)
    {
        var started = start ?? Start - TimeSpan.FromHours(1);
        var pod = new Pod
        {
            Metadata = new ObjectMeta { Name = name, Namespace = "ns", Labels = new() { ["app"] = "web" } },
            Spec = new PodSpec { Containers = [new Container { Name = "c", Resources = new ResourceRequirements { Requests = new() { ["cpu"] = Quantity.FromMilli(cpuRequestMilli) } } }] },
            Status = new PodStatus
            {
                Phase = phase,
                StartTime = started,
                Conditions = [new PodCondition { Type = "Ready", Status = ready ? "True" : "False", LastTransitionTime = readySince ?? started }],
            },
        };
        Pods.Upsert(pod);
        return pod;
    }

    public HorizontalPodAutoscaler AddHpa(int min = 1, int max = 10, int targetUtilization = 50, HorizontalPodAutoscalerBehavior? behavior = null, string name = "web")
    {
        var hpa = new HorizontalPodAutoscaler
        {
            Metadata = new ObjectMeta { Name = name, Namespace = "ns", Uid = "uid-" + name },
            Spec = new HorizontalPodAutoscalerSpec
            {
                ScaleTargetRef = new CrossVersionObjectReference { ApiVersion = "apps/v1", Kind = "Deployment", Name = "web" },
                MinReplicas = min,
                MaxReplicas = max,
                Metrics = [new MetricSpec { Type = "Resource", Resource = new ResourceMetricSource { Name = "cpu", Target = new MetricTarget { Type = "Utilization", AverageUtilization = targetUtilization } } }],
                Behavior = behavior,
            },
        };
        Hpas.Upsert(hpa);
        return hpa;
    }

    /// <summary>The last status written replaces the cached HPA, as the informer would report it.</summary>
    public void ApplyWrittenStatus()
    {
        if (Status.Written.LastOrDefault() is { } written) Hpas.Upsert(KubeObjects.Clone(written));
    }
}

internal sealed class FakeMapper : IResourceMapper
{
    public Task<IReadOnlyList<GroupVersionResource>> MapAsync(string group, string kind, CancellationToken cancellationToken)
        => kind == "Deployment" && group == "apps"
            ? Task.FromResult<IReadOnlyList<GroupVersionResource>>([new GroupVersionResource("apps", "v1", "deployments")])
            : throw new NoKindMatchException(kind, group);
}

internal sealed class FakeMetricsClient : IMetricsClient
{
    /// <summary>CPU usage (milli) per pod name; null: the API fails.</summary>
    public Dictionary<string, long>? Cpu { get; set; } = [];

    public DateTimeOffset Timestamp { get; set; } = HpaHarness.Start;

    public TimeSpan Window { get; set; } = TimeSpan.FromSeconds(30);

    public Task<(Dictionary<string, PodMetric> Metrics, DateTimeOffset Timestamp)> GetResourceMetricAsync(string resource, string @namespace, LabelSelector selector, string container, CancellationToken cancellationToken)
    {
        if (Cpu is null) throw new MetricsUnavailableException("unable to fetch metrics from resource metrics API: the server could not find the requested resource (get pods.metrics.k8s.io)");
        if (Cpu.Count == 0) throw new MetricsUnavailableException("no metrics returned from resource metrics API");
        return Task.FromResult((Cpu.ToDictionary(p => p.Key, p => new PodMetric(Timestamp, Window, p.Value)), Timestamp));
    }

    public Task<(Dictionary<string, PodMetric> Metrics, DateTimeOffset Timestamp)> GetRawMetricAsync(string metricName, string @namespace, LabelSelector selector, string metricSelector, CancellationToken cancellationToken)
        => throw new MetricsUnavailableException("unable to fetch metrics from custom metrics API: no custom metrics API (custom.metrics.k8s.io) registered");

    public Task<(long Value, DateTimeOffset Timestamp)> GetObjectMetricAsync(string metricName, string @namespace, CrossVersionObjectReference objectRef, string metricSelector, CancellationToken cancellationToken)
        => throw new MetricsUnavailableException("unable to fetch metrics from custom metrics API: no custom metrics API (custom.metrics.k8s.io) registered");

    public Task<(List<long> Values, DateTimeOffset Timestamp)> GetExternalMetricAsync(string metricName, string @namespace, string selector, CancellationToken cancellationToken)
        => throw new MetricsUnavailableException("unable to fetch metrics from external metrics API: the server could not find the requested resource (get qps.external.metrics.k8s.io)");
}

internal sealed class FakeScaleClient : IScaleClient
{
    public int SpecReplicas { get; set; } = 2;
    public int StatusReplicas { get; set; } = 2;
    public string Selector { get; set; } = "app=web";
    public bool Missing { get; set; }
    public List<int> Updates { get; } = [];

    public Task<TargetScale> GetAsync(GroupVersionResource resource, string @namespace, string name, CancellationToken cancellationToken)
    {
        if (Missing) throw new NotFoundException(404, new Status { Message = $"deployments/scale.apps \"{name}\" not found", Reason = "NotFound", Code = 404 });
        return Task.FromResult(new TargetScale(new JsonObject
        {
            ["kind"] = "Scale",
            ["apiVersion"] = "autoscaling/v1",
            ["metadata"] = new JsonObject { ["name"] = name, ["namespace"] = @namespace },
            ["spec"] = new JsonObject { ["replicas"] = SpecReplicas },
            ["status"] = new JsonObject { ["replicas"] = StatusReplicas, ["selector"] = Selector },
        }));
    }

    public Task UpdateAsync(GroupVersionResource resource, string @namespace, string name, TargetScale scale, CancellationToken cancellationToken)
    {
        Updates.Add(scale.SpecReplicas);
        SpecReplicas = scale.SpecReplicas;
        return Task.CompletedTask;
    }
}

internal sealed class RecordingStatusWriter : IHpaStatusWriter
{
    public List<HorizontalPodAutoscaler> Written { get; } = [];

    public Task UpdateStatusAsync(HorizontalPodAutoscaler hpa, CancellationToken cancellationToken)
    {
        Written.Add(KubeObjects.Clone(hpa));
        return Task.CompletedTask;
    }
}

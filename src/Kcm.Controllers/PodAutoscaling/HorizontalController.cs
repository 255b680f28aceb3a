using System.Text.Json;
using Kcm.Api;
using Kcm.Api.Autoscaling.V2;
using Kcm.Api.Core.V1;
using Kcm.Api.Selectors;
using Kcm.Client;
using Kcm.Client.Errors;
using Kcm.Controllers.Common;
using Kcm.Runtime.Controllers;
using Kcm.Runtime.Events;
using Kcm.Runtime.Informers;
using Kcm.Runtime.Queues;
using Microsoft.Extensions.Logging;

namespace Kcm.Controllers.PodAutoscaling;

public sealed record HorizontalControllerOptions
{
    public int Workers { get; init; } = 5;
    public TimeSpan SyncPeriod { get; init; } = TimeSpan.FromSeconds(15);
    public TimeSpan DownscaleStabilizationWindow { get; init; } = TimeSpan.FromMinutes(5);
    public double Tolerance { get; init; } = 0.1;
    public TimeSpan CpuInitializationPeriod { get; init; } = TimeSpan.FromMinutes(5);
    public TimeSpan InitialReadinessDelay { get; init; } = TimeSpan.FromSeconds(30);
}

/// <summary>A sync that failed; logged by the worker, which looks again after the sync period.</summary>
public sealed class HpaSyncException(string message, Exception? inner = null) : InvalidOperationException(message, inner);

/// <summary>The HPA status write (a seam for unit tests).</summary>
public interface IHpaStatusWriter
{
    Task UpdateStatusAsync(HorizontalPodAutoscaler hpa, CancellationToken cancellationToken);
}

public sealed class ApiHpaStatusWriter(KubeApiClient client) : IHpaStatusWriter
{
    public Task UpdateStatusAsync(HorizontalPodAutoscaler hpa, CancellationToken cancellationToken)
        => client.UpdateStatusAsync(hpa, cancellationToken: cancellationToken);
}

/// <summary>Every seam the controller uses besides its caches.</summary>
public sealed record HorizontalControllerSeams(IResourceMapper Mapper, IScaleClient Scales, IMetricsClient Metrics, IHpaStatusWriter Status, IEventRecorder Recorder);

/// <summary>
/// Upstream's horizontal pod autoscaler controller (autoscaling/v2): every sync period each HPA reads its target's
/// scale subresource, computes a replica count from each metric (the highest wins), normalizes it (stabilization,
/// behaviors' policies, min/max) and writes the scale and the HPA's status, conditions and events.
/// </summary>
public sealed partial class HorizontalController
{
    public const string ControllerName = "horizontalpodautoscaling";
    public const string ServiceAccountName = "horizontal-pod-autoscaler";
    public const string EventComponent = "horizontal-pod-autoscaler";
    public const string QueueName = "horizontalpodautoscaler";

    private readonly IObjectCache<HorizontalPodAutoscaler> _hpas;
    private readonly IObjectCache<Pod> _pods;
    private readonly HorizontalControllerSeams _seams;
    private readonly ReplicaCalculator _calculator;
    private readonly ScalingHistory _history;
    private readonly HorizontalControllerOptions _options;
    private readonly RateLimitingQueue<ObjectKey> _queue;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;

    // Each HPA's target selector (null: not known yet, selects nothing), to refuse pods claimed by two HPAs.
    private readonly Dictionary<ObjectKey, LabelSelector?> _selectors = [];
    private readonly Lock _selectorsLock = new();

    public HorizontalController(ControllerContext context, HorizontalControllerOptions options)
    {
        var hpas = context.Informers.InformerFor<HorizontalPodAutoscaler>();
        var pods = context.Informers.InformerFor<Pod>();
        var client = context.Clients.For(ServiceAccountName);
        var mapper = new DiscoveryResourceMapper(client, context.Time);
        _hpas = hpas.Cache;
        _pods = pods.Cache;
        _seams = new HorizontalControllerSeams(mapper, new ApiScaleClient(client), new RestMetricsClient(client, mapper), new ApiHpaStatusWriter(client),
            context.Events.NewRecorder(EventComponent));
        _options = options;
        _time = context.Time;
        _logger = context.Loggers.CreateLogger<HorizontalController>();
        _queue = new RateLimitingQueue<ObjectKey>(new FixedIntervalRateLimiter<ObjectKey>(options.SyncPeriod), context.QueueOptions(QueueName));
        _calculator = new ReplicaCalculator(_seams.Metrics, _pods, options.Tolerance, options.CpuInitializationPeriod, options.InitialReadinessDelay, _time);
        _history = new ScalingHistory(_time, options.DownscaleStabilizationWindow);
        Workers = new ControllerWorkers<ObjectKey>(ControllerName, _queue, SyncAsync, _logger, FailurePolicy, [hpas, pods])
        {
            Description = "HPA controller",
            CacheSyncName = "HPA",
        };

        // Upstream resyncs the HPA handler every sync period, which (rate limited) keeps each HPA in the queue.
        hpas.AddEventHandler(new ResourceEventHandler<HorizontalPodAutoscaler>
        {
            Added = (hpa, _) => Enqueue(hpa),
            Updated = (_, hpa) => Enqueue(hpa),
            Deleted = (hpa, _) => OnDeleted(hpa),
        }, options.SyncPeriod);
    }

    /// <summary>Builds the controller over given caches and seams (unit tests).</summary>
    internal HorizontalController(IObjectCache<HorizontalPodAutoscaler> hpas, IObjectCache<Pod> pods, HorizontalControllerSeams seams,
        HorizontalControllerOptions options, TimeProvider time, ILogger logger)
    {
        _hpas = hpas;
        _pods = pods;
        _seams = seams;
        _options = options;
        _time = time;
        _logger = logger;
        _queue = new RateLimitingQueue<ObjectKey>(new FixedIntervalRateLimiter<ObjectKey>(options.SyncPeriod), new WorkQueueOptions { Name = QueueName, TimeProvider = time });
        _calculator = new ReplicaCalculator(seams.Metrics, pods, options.Tolerance, options.CpuInitializationPeriod, options.InitialReadinessDelay, time);
        _history = new ScalingHistory(time, options.DownscaleStabilizationWindow);
        Workers = new ControllerWorkers<ObjectKey>(ControllerName, _queue, SyncAsync, _logger, FailurePolicy);
    }

    // Upstream's processNextWorkItem: utilruntime.HandleError(err).
    private static RetryPolicy FailurePolicy { get; } = RetryPolicy.HandleError((_, error) => error.Message);

    public ControllerWorkers<ObjectKey> Workers { get; }

    internal ScalingHistory History => _history;

    public Task RunAsync(CancellationToken cancellationToken) => Workers.RunAsync(_options.Workers, cancellationToken);

    /// <summary>Every add waits the sync period (a key already waiting keeps its turn), so each HPA is evaluated once per period.</summary>
    internal void Enqueue(HorizontalPodAutoscaler hpa)
    {
        var key = ObjectKey.Of(hpa);
        _queue.AddRateLimited(key);
        lock (_selectorsLock)
        {
            _selectors.TryAdd(key, null);
        }
    }

    internal void OnDeleted(HorizontalPodAutoscaler hpa)
    {
        var key = ObjectKey.Of(hpa);
        _queue.Forget(key);
        lock (_selectorsLock)
        {
            _selectors.Remove(key);
        }
    }

    public async Task<ReconcileResult> SyncAsync(ObjectKey key, CancellationToken cancellationToken)
    {
        var shared = _hpas.Get(key);
        if (shared is null)
        {
            _logger.LogInformation("{Message}", $"Horizontal Pod Autoscaler {key.Name} has been deleted in {key.Namespace}");
            _history.Forget(key.ToString());
            return ReconcileResult.Done;
        }
        await ReconcileAsync(shared, key.ToString(), cancellationToken).ConfigureAwait(false);
        return ReconcileResult.After(_options.SyncPeriod);
    }

    private async Task ReconcileAsync(HorizontalPodAutoscaler shared, string key, CancellationToken cancellationToken)
    {
        var hpa = KubeObjects.Clone(shared);
        hpa.Spec ??= new HorizontalPodAutoscalerSpec();
        hpa.Status ??= new HorizontalPodAutoscalerStatus();
        var originalStatus = KubeObjects.Clone(hpa.Status);
        var target = hpa.Spec.ScaleTargetRef ?? new CrossVersionObjectReference();
        var ns = hpa.Metadata?.Namespace ?? "";
        var reference = $"{target.Kind}/{ns}/{target.Name}";

        string group;
        try
        {
            (group, _) = GroupVersions.Parse(target.ApiVersion ?? "");
        }
        catch (InvalidGroupVersionException e)
        {
            await FailedGetScaleAsync(hpa, originalStatus, e, cancellationToken).ConfigureAwait(false);
            throw new HpaSyncException($"invalid API version in scale target reference: {e.Message}", e);
        }

        IReadOnlyList<GroupVersionResource> mappings;
        try
        {
            mappings = await _seams.Mapper.MapAsync(group, target.Kind ?? "", cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (e is NoKindMatchException or KubeApiException or KubeProtocolException or HttpRequestException)
        {
            await FailedGetScaleAsync(hpa, originalStatus, e, cancellationToken).ConfigureAwait(false);
            throw new HpaSyncException($"unable to determine resource for scale target reference: {e.Message}", e);
        }

        TargetScale scale;
        GroupVersionResource targetResource;
        try
        {
            (scale, targetResource) = await ScaleForMappingsAsync(ns, target.Name ?? "", mappings, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (e is KubeApiException or KubeProtocolException or HttpRequestException)
        {
            await FailedGetScaleAsync(hpa, originalStatus, e, cancellationToken).ConfigureAwait(false);
            throw new HpaSyncException($"failed to query scale subresource for {reference}: {e.Message}", e);
        }
        SetCondition(hpa, HpaConditions.AbleToScale, true, "SucceededGetScale", "the HPA controller was able to get the target's current scale");
        var currentReplicas = scale.SpecReplicas;
        _history.RecordInitialRecommendation(currentReplicas, key);

        List<MetricStatus>? metricStatuses = null;
        var desiredReplicas = 0;
        var rescaleReason = "";
        var minReplicas = hpa.Spec.MinReplicas ?? 1;
        var maxReplicas = hpa.Spec.MaxReplicas ?? 0;
        bool rescale;

        if (scale.SpecReplicas == 0 && minReplicas != 0)
        {
            // Autoscaling is off while the target is scaled to zero.
            rescale = false;
            SetCondition(hpa, HpaConditions.ScalingActive, false, "ScalingDisabled", "scaling is disabled since the replica count of the target is zero");
        }
        else if (currentReplicas > maxReplicas)
        {
            rescaleReason = "Current number of replicas above Spec.MaxReplicas";
            desiredReplicas = maxReplicas;
            rescale = true;
        }
        else if (currentReplicas < minReplicas)
        {
            rescaleReason = "Current number of replicas below Spec.MinReplicas";
            desiredReplicas = minReplicas;
            rescale = true;
        }
        else
        {
            MetricsProposal proposal;
            try
            {
                proposal = await ComputeReplicasForMetricsAsync(hpa, scale, hpa.Spec.Metrics ?? [], cancellationToken).ConfigureAwait(false);
            }
            catch (HpaSyncException e)
            {
                SetCurrentReplicasInStatus(hpa, currentReplicas);
                await UpdateStatusIfNeededAsync(originalStatus, hpa, cancellationToken).ConfigureAwait(false);
                Event(hpa, "Warning", "FailedComputeMetricsReplicas", e.Message);
                throw new HpaSyncException($"failed to compute desired number of replicas based on listed metrics for {reference}: {e.Message}", e);
            }
            metricStatuses = proposal.Statuses;
            _logger.LogTrace("proposing {Desired} desired replicas (based on {Metric}) for {Reference}", proposal.Replicas, proposal.Metric, reference);

            var rescaleMetric = "";
            if (proposal.Replicas > desiredReplicas)
            {
                desiredReplicas = proposal.Replicas;
                rescaleMetric = proposal.Metric;
            }
            if (desiredReplicas > currentReplicas) rescaleReason = $"{rescaleMetric} above target";
            if (desiredReplicas < currentReplicas) rescaleReason = "All metrics below target";
            desiredReplicas = hpa.Spec.Behavior is null
                ? NormalizeDesiredReplicas(hpa, key, currentReplicas, desiredReplicas, minReplicas)
                : NormalizeDesiredReplicasWithBehaviors(hpa, key, currentReplicas, desiredReplicas, minReplicas);
            rescale = desiredReplicas != currentReplicas;
        }

        if (rescale)
        {
            scale.SpecReplicas = desiredReplicas;
            try
            {
                await _seams.Scales.UpdateAsync(targetResource, ns, target.Name ?? "", scale, cancellationToken).ConfigureAwait(false);
            }
            catch (Exception e) when (e is KubeApiException or KubeProtocolException or HttpRequestException)
            {
                Event(hpa, "Warning", "FailedRescale", $"New size: {desiredReplicas}; reason: {rescaleReason}; error: {e.Message}");
                SetCondition(hpa, HpaConditions.AbleToScale, false, "FailedUpdateScale", $"the HPA controller was unable to update the target scale: {e.Message}");
                SetCurrentReplicasInStatus(hpa, currentReplicas);
                await UpdateStatusIfNeededAsync(originalStatus, hpa, cancellationToken).ConfigureAwait(false);
                throw new HpaSyncException($"failed to rescale {reference}: {e.Message}", e);
            }
            SetCondition(hpa, HpaConditions.AbleToScale, true, "SucceededRescale", $"the HPA controller was able to update the target scale to {desiredReplicas}");
            Event(hpa, "Normal", "SuccessfulRescale", $"New size: {desiredReplicas}; reason: {rescaleReason}");
            _history.StoreScaleEvent(hpa.Spec.Behavior, key, currentReplicas, desiredReplicas);
            _logger.LogInformation("{Message}", $"Successful rescale of {hpa.Metadata?.Name}, old size: {currentReplicas}, new size: {desiredReplicas}, reason: {rescaleReason}");
        }
        else
        {
            _logger.LogTrace("decided not to scale {Reference} to {Desired} (last scale time was {LastScaleTime})", reference, desiredReplicas, hpa.Status.LastScaleTime);
            desiredReplicas = currentReplicas;
        }

        SetStatus(hpa, currentReplicas, desiredReplicas, metricStatuses, rescale);
        await UpdateStatusIfNeededAsync(originalStatus, hpa, cancellationToken).ConfigureAwait(false);
    }

    private async Task FailedGetScaleAsync(HorizontalPodAutoscaler hpa, HorizontalPodAutoscalerStatus originalStatus, Exception error, CancellationToken cancellationToken)
    {
        Event(hpa, "Warning", "FailedGetScale", error.Message);
        SetCondition(hpa, HpaConditions.AbleToScale, false, "FailedGetScale", $"the HPA controller was unable to get the target's current scale: {error.Message}");
        await UpdateStatusIfNeededAsync(originalStatus, hpa, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Tries each mapping in turn; when none answers, the first error.</summary>
    private async Task<(TargetScale, GroupVersionResource)> ScaleForMappingsAsync(string ns, string name, IReadOnlyList<GroupVersionResource> mappings, CancellationToken cancellationToken)
    {
        Exception? first = null;
        foreach (var mapping in mappings)
        {
            try
            {
                return (await _seams.Scales.GetAsync(mapping, ns, name, cancellationToken).ConfigureAwait(false), mapping);
            }
            catch (Exception e) when (e is KubeApiException or KubeProtocolException or HttpRequestException)
            {
                first ??= e;
            }
        }
        throw first ?? new KubeProtocolException("unrecognized resource");
    }

    private int NormalizeDesiredReplicas(HorizontalPodAutoscaler hpa, string key, int currentReplicas, int prenormalized, int minReplicas)
    {
        var stabilized = _history.Stabilize(key, prenormalized);
        if (stabilized != prenormalized)
        {
            SetCondition(hpa, HpaConditions.AbleToScale, true, "ScaleDownStabilized", "recent recommendations were higher than current one, applying the highest recent recommendation");
        }
        else
        {
            SetCondition(hpa, HpaConditions.AbleToScale, true, "ReadyForNewScale", "recommended size matches current size");
        }
        var limited = ScalingHistory.ConvertWithRules(currentReplicas, stabilized, minReplicas, hpa.Spec!.MaxReplicas ?? 0);
        SetCondition(hpa, HpaConditions.ScalingLimited, limited.Replicas != stabilized, limited.Reason, limited.Message);
        return limited.Replicas;
    }

    private int NormalizeDesiredReplicasWithBehaviors(HorizontalPodAutoscaler hpa, string key, int currentReplicas, int prenormalized, int minReplicas)
    {
        var behavior = hpa.Spec!.Behavior!;
        var scaleUp = ScalingHistory.DefaultedRules(behavior.ScaleUp, scaleUp: true);
        var scaleDown = ScalingHistory.DefaultedRules(behavior.ScaleDown, scaleUp: false);
        // A scale-down window left unset is the --horizontal-pod-autoscaler-downscale-stabilization value.
        scaleDown.StabilizationWindowSeconds ??= (int)_history.DownscaleStabilizationWindow.TotalSeconds;
        behavior.ScaleUp = scaleUp;
        behavior.ScaleDown = scaleDown;
        var args = new NormalizationArgs(key, scaleUp, scaleDown, minReplicas, hpa.Spec.MaxReplicas ?? 0, currentReplicas, prenormalized);
        var stabilized = _history.StabilizeWithBehaviors(args);
        if (stabilized.Replicas != prenormalized)
        {
            SetCondition(hpa, HpaConditions.AbleToScale, true, stabilized.Reason, stabilized.Message);
        }
        else
        {
            SetCondition(hpa, HpaConditions.AbleToScale, true, "ReadyForNewScale", "recommended size matches current size");
        }
        var limited = _history.ConvertWithBehaviorRate(args with { DesiredReplicas = stabilized.Replicas });
        SetCondition(hpa, HpaConditions.ScalingLimited, limited.Replicas != stabilized.Replicas, limited.Reason, limited.Message);
        return limited.Replicas;
    }

    private void SetCurrentReplicasInStatus(HorizontalPodAutoscaler hpa, int currentReplicas)
        => SetStatus(hpa, currentReplicas, hpa.Status!.DesiredReplicas ?? 0, hpa.Status.CurrentMetrics, false);

    /// <summary>Rebuilds the status as upstream does (observedGeneration is not carried over).</summary>
    private void SetStatus(HorizontalPodAutoscaler hpa, int currentReplicas, int desiredReplicas, List<MetricStatus>? metricStatuses, bool rescale)
    {
        var old = hpa.Status!;
        hpa.Status = new HorizontalPodAutoscalerStatus
        {
            CurrentReplicas = currentReplicas,
            DesiredReplicas = desiredReplicas,
            LastScaleTime = rescale ? TruncateToSeconds(_time.GetUtcNow()) : old.LastScaleTime,
            CurrentMetrics = metricStatuses,
            Conditions = old.Conditions,
        };
    }

    private async Task UpdateStatusIfNeededAsync(HorizontalPodAutoscalerStatus original, HorizontalPodAutoscaler hpa, CancellationToken cancellationToken)
    {
        if (SemanticallyEqual(original, hpa.Status!))
        {
            return;
        }
        try
        {
            await _seams.Status.UpdateStatusAsync(hpa, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (e is KubeApiException or KubeProtocolException or HttpRequestException)
        {
            Event(hpa, "Warning", "FailedUpdateStatus", e.Message);
            // Upstream reports this error and goes on (or returns it, at the end of a sync): either way it is logged once.
            _logger.LogError("{Message}", $"failed to update status for {hpa.Metadata?.Name}: {e.Message}");
            return;
        }
        _logger.LogDebug("Successfully updated status for {Name}", hpa.Metadata?.Name);
    }

    /// <summary>apiequality.Semantic.DeepEqual: an empty list equals an absent one.</summary>
    internal static bool SemanticallyEqual(HorizontalPodAutoscalerStatus a, HorizontalPodAutoscalerStatus b)
        => Normalized(a) == Normalized(b);

    private static string Normalized(HorizontalPodAutoscalerStatus status)
    {
        var copy = KubeObjects.Clone(status);
        if (copy.Conditions is { Count: 0 }) copy.Conditions = null;
        if (copy.CurrentMetrics is { Count: 0 }) copy.CurrentMetrics = null;
        return JsonSerializer.Serialize(copy, KubeJson.TypeInfo<HorizontalPodAutoscalerStatus>());
    }

    private void SetCondition(HorizontalPodAutoscaler hpa, string type, bool status, string reason, string message)
        => HpaConditions.Set(hpa, type, status, reason, message, _time.GetUtcNow());

    private void Event(HorizontalPodAutoscaler hpa, string type, string reason, string message) => _seams.Recorder.Event(hpa, type, reason, message);

    private static DateTimeOffset TruncateToSeconds(DateTimeOffset t) => new(t.Ticks - t.Ticks % TimeSpan.TicksPerSecond, TimeSpan.Zero);
}

/// <summary>Upstream's HPA queue limiter: every rate-limited add waits exactly the sync period.</summary>
public sealed class FixedIntervalRateLimiter<T>(TimeSpan interval) : IRateLimiter<T>
    where T : notnull
{
    public TimeSpan When(T item) => interval;

    public void Forget(T item)
    {
    }

    public int NumRequeues(T item) => 1;
}

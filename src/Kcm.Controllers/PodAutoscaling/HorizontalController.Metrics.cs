using Kcm.Api;
using Kcm.Api.Autoscaling.V2;
using Kcm.Api.Selectors;
using Kcm.Runtime.Informers;

namespace Kcm.Controllers.PodAutoscaling;

/// <summary>The highest replica count the metrics propose, the metric that proposed it, and every metric's status.</summary>
internal sealed record MetricsProposal(int Replicas, string Metric, List<MetricStatus> Statuses);

public sealed partial class HorizontalController
{
    /// <summary>
    /// The count of the metric that asks for most replicas. When every metric fails, or some fail and the others
    /// would scale down, the first failure's ScalingActive condition is set and the sync fails.
    /// </summary>
    private async Task<MetricsProposal> ComputeReplicasForMetricsAsync(HorizontalPodAutoscaler hpa, TargetScale scale, List<MetricSpec> specs, CancellationToken cancellationToken)
    {
        var selector = ValidateAndParseSelector(hpa, scale.Selector);
        var specReplicas = scale.SpecReplicas;
        var statusReplicas = scale.StatusReplicas;
        var statuses = specs.Select(_ => new MetricStatus { Type = "" }).ToList();
        var replicas = 0;
        var metric = "";
        var invalid = 0;
        HpaCondition? invalidCondition = null;
        string? invalidError = null;
        for (var i = 0; i < specs.Count; i++)
        {
            try
            {
                var (proposal, name, status) = await ComputeReplicasForMetricAsync(hpa, specs[i], specReplicas, statusReplicas, selector, cancellationToken).ConfigureAwait(false);
                statuses[i] = status;
                if (replicas == 0 || proposal > replicas)
                {
                    replicas = proposal;
                    metric = name;
                }
            }
            catch (MetricFailedException e)
            {
                if (invalid == 0)
                {
                    invalidCondition = e.Condition;
                    invalidError = e.Message;
                }
                invalid++;
            }
        }
        if (invalid >= specs.Count || (invalid > 0 && replicas < specReplicas))
        {
            // With no metrics at all (the server defaults them, so only in theory) upstream sets an empty condition; none here.
            if (invalidCondition is not null)
            {
                HpaConditions.Set(hpa, invalidCondition, _time.GetUtcNow());
            }
            throw new HpaSyncException($"invalid metrics ({invalid} invalid out of {specs.Count}), first error is: {invalidError ?? "<nil>"}");
        }
        SetCondition(hpa, HpaConditions.ScalingActive, true, "ValidMetricFound", $"the HPA was able to successfully calculate a replica count from {metric}");
        return new MetricsProposal(replicas, metric, statuses);
    }

    /// <summary>The target's selector, if it is set, parses, and no pod it selects is also claimed by another HPA.</summary>
    private LabelSelector ValidateAndParseSelector(HorizontalPodAutoscaler hpa, string selector)
    {
        if (selector.Length == 0)
        {
            Event(hpa, "Warning", "SelectorRequired", "selector is required");
            SetCondition(hpa, HpaConditions.ScalingActive, false, "InvalidSelector", "the HPA target's scale is missing a selector");
            throw new HpaSyncException("selector is required");
        }
        LabelSelector parsed;
        try
        {
            parsed = LabelSelector.Parse(selector);
        }
        catch (SelectorParseException e)
        {
            var message = $"couldn't convert selector into a corresponding internal selector object: {e.Message}";
            Event(hpa, "Warning", "InvalidSelector", message);
            SetCondition(hpa, HpaConditions.ScalingActive, false, "InvalidSelector", message);
            throw new HpaSyncException(message, e);
        }
        var key = ObjectKey.Of(hpa);
        var ns = key.Namespace ?? "";
        var pods = _pods.ByIndex(KnownIndexers.Namespace, ns).Where(p => parsed.Matches(p.Metadata?.Labels)).ToList();
        List<ObjectKey> controlling;
        lock (_selectorsLock)
        {
            if (_selectors.ContainsKey(key))
            {
                _selectors[key] = parsed;
            }
            controlling = _selectors
                .Where(s => s.Key.Namespace == key.Namespace && s.Value is { } other && pods.Any(p => other.Matches(p.Metadata?.Labels)))
                .Select(s => s.Key)
                .ToList();
        }
        if (controlling.Count > 1)
        {
            var message = $"pods by selector {selector} are controlled by multiple HPAs: [{string.Join(" ", controlling.Select(k => $"{k.Namespace}/{k.Name}"))}]";
            Event(hpa, "Warning", "AmbiguousSelector", message);
            SetCondition(hpa, HpaConditions.ScalingActive, false, "AmbiguousSelector", message);
            throw new HpaSyncException(message);
        }
        return parsed;
    }

    private sealed class MetricFailedException(string message, HpaCondition condition, Exception? inner = null) : Exception(message, inner)
    {
        public HpaCondition Condition { get; } = condition;
    }

    /// <summary>Records upstream's event for a metric that failed and returns the ScalingActive condition it proposes.</summary>
    private HpaCondition UnableToCompute(HorizontalPodAutoscaler hpa, string reason, string error)
    {
        Event(hpa, "Warning", reason, error);
        return new HpaCondition(HpaConditions.ScalingActive, false, reason, $"the HPA was unable to compute the replica count: {error}");
    }

    private async Task<(int Replicas, string Metric, MetricStatus Status)> ComputeReplicasForMetricAsync(HorizontalPodAutoscaler hpa, MetricSpec spec,
        int specReplicas, int statusReplicas, LabelSelector selector, CancellationToken cancellationToken)
    {
        var ns = hpa.Metadata?.Namespace ?? "";
        switch (spec.Type)
        {
            case "Object":
            {
                var source = spec.Object ?? new ObjectMetricSource();
                var metricSelector = MetricSelector(hpa, source.Metric?.Selector, "FailedGetObjectMetric", "failed to get object metric value");
                try
                {
                    return await ObjectMetricAsync(hpa, source, specReplicas, statusReplicas, selector, metricSelector, cancellationToken).ConfigureAwait(false);
                }
                catch (MetricFailedException e)
                {
                    throw new MetricFailedException($"failed to get object metric value: {e.Message}", e.Condition, e);
                }
            }
            case "Pods":
            {
                var source = spec.Pods ?? new PodsMetricSource();
                var metricSelector = MetricSelector(hpa, source.Metric?.Selector, "FailedGetPodsMetric", "failed to get pods metric value");
                try
                {
                    var name = source.Metric?.Name ?? "";
                    var result = await _calculator.GetMetricReplicasAsync(specReplicas, MilliValue(source.Target?.AverageValue), name, ns, selector, metricSelector, cancellationToken).ConfigureAwait(false);
                    var status = new MetricStatus
                    {
                        Type = "Pods",
                        Pods = new PodsMetricStatus { Metric = Identifier(source.Metric), Current = new MetricValueStatus { AverageValue = Quantity.FromMilli(result.Usage) } },
                    };
                    return (result.Replicas, $"pods metric {name}", status);
                }
                catch (ReplicaCalculationException e)
                {
                    throw new MetricFailedException($"failed to get pods metric value: {e.Message}", UnableToCompute(hpa, "FailedGetPodsMetric", e.Message), e);
                }
            }
            case "Resource":
            {
                var source = spec.Resource ?? new ResourceMetricSource();
                try
                {
                    var (replicas, current, name) = await ResourceMetricAsync(specReplicas, source.Target ?? new MetricTarget(), source.Name ?? "", ns, "", selector, cancellationToken).ConfigureAwait(false);
                    return (replicas, name, new MetricStatus { Type = "Resource", Resource = new ResourceMetricStatus { Name = source.Name, Current = current } });
                }
                catch (ReplicaCalculationException e)
                {
                    throw new MetricFailedException($"failed to get {source.Name} resource metric value: {e.Message}", UnableToCompute(hpa, "FailedGetResourceMetric", e.Message), e);
                }
            }
            case "ContainerResource":
            {
                var source = spec.ContainerResource ?? new ContainerResourceMetricSource();
                try
                {
                    var (replicas, current, name) = await ResourceMetricAsync(specReplicas, source.Target ?? new MetricTarget(), source.Name ?? "", ns, source.Container ?? "", selector, cancellationToken).ConfigureAwait(false);
                    return (replicas, name, new MetricStatus
                    {
                        Type = "ContainerResource",
                        ContainerResource = new ContainerResourceMetricStatus { Name = source.Name, Container = source.Container, Current = current },
                    });
                }
                catch (ReplicaCalculationException e)
                {
                    throw new MetricFailedException($"failed to get {source.Container} container metric value: {e.Message}", UnableToCompute(hpa, "FailedGetContainerResourceMetric", e.Message), e);
                }
            }
            case "External":
            {
                var source = spec.External ?? new ExternalMetricSource();
                try
                {
                    return await ExternalMetricAsync(hpa, source, specReplicas, statusReplicas, selector, cancellationToken).ConfigureAwait(false);
                }
                catch (MetricFailedException e)
                {
                    throw new MetricFailedException($"failed to get {source.Metric?.Name} external metric value: {e.Message}", e.Condition, e);
                }
            }
            default:
            {
                var message = $"unknown metric source type \"{spec.Type}\"";
                throw new MetricFailedException(message, UnableToCompute(hpa, "InvalidMetricSourceType", message));
            }
        }
    }

    private string MetricSelector(HorizontalPodAutoscaler hpa, Kcm.Api.Meta.V1.LabelSelector? selector, string reason, string prefix)
    {
        try
        {
            return LabelSelector.FromApi(selector)?.ToString() ?? "";
        }
        catch (SelectorParseException e)
        {
            throw new MetricFailedException($"{prefix}: {e.Message}", UnableToCompute(hpa, reason, e.Message), e);
        }
    }

    private async Task<(int Replicas, MetricValueStatus Current, string Metric)> ResourceMetricAsync(int currentReplicas, MetricTarget target, string resource,
        string ns, string container, LabelSelector selector, CancellationToken cancellationToken)
    {
        if (target.AverageValue is not null)
        {
            UsageReplicas raw;
            try
            {
                raw = await _calculator.GetRawResourceReplicasAsync(currentReplicas, target.AverageValue.MilliValue(), resource, ns, selector, container, cancellationToken).ConfigureAwait(false);
            }
            catch (ReplicaCalculationException e)
            {
                throw new ReplicaCalculationException($"failed to get {resource} usage: {e.Message}", e);
            }
            return (raw.Replicas, new MetricValueStatus { AverageValue = Quantity.FromMilli(raw.Usage) }, $"{resource} resource");
        }
        if (target.AverageUtilization is not { } targetUtilization)
        {
            throw new ReplicaCalculationException("invalid resource metric source: neither an average utilization target nor an average value (usage) target was set");
        }
        ResourceReplicas result;
        try
        {
            result = await _calculator.GetResourceReplicasAsync(currentReplicas, targetUtilization, resource, ns, selector, container, cancellationToken).ConfigureAwait(false);
        }
        catch (ReplicaCalculationException e)
        {
            throw new ReplicaCalculationException($"failed to get {resource} utilization: {e.Message}", e);
        }
        return (result.Replicas, new MetricValueStatus { AverageUtilization = result.Utilization, AverageValue = Quantity.FromMilli(result.RawUtilization) },
            $"{resource} resource utilization (percentage of request)");
    }

    private async Task<(int, string, MetricStatus)> ObjectMetricAsync(HorizontalPodAutoscaler hpa, ObjectMetricSource source, int specReplicas, int statusReplicas,
        LabelSelector selector, string metricSelector, CancellationToken cancellationToken)
    {
        var ns = hpa.Metadata?.Namespace ?? "";
        var described = source.DescribedObject ?? new CrossVersionObjectReference();
        var name = source.Metric?.Name ?? "";
        if (source.Target?.Type == "Value")
        {
            UsageReplicas result;
            try
            {
                result = await _calculator.GetObjectMetricReplicasAsync(specReplicas, MilliValue(source.Target.Value), name, ns, described, selector, metricSelector, cancellationToken).ConfigureAwait(false);
            }
            catch (ReplicaCalculationException e)
            {
                throw new MetricFailedException(e.Message, UnableToCompute(hpa, "FailedGetObjectMetric", e.Message), e);
            }
            var status = new MetricStatus
            {
                Type = "Object",
                Object = new ObjectMetricStatus { DescribedObject = described, Metric = Identifier(source.Metric), Current = new MetricValueStatus { Value = Quantity.FromMilli(result.Usage) } },
            };
            return (result.Replicas, $"{described.Kind} metric {name}", status);
        }
        if (source.Target?.Type == "AverageValue")
        {
            UsageReplicas result;
            try
            {
                result = await _calculator.GetObjectPerPodMetricReplicasAsync(statusReplicas, MilliValue(source.Target.AverageValue), name, ns, described, metricSelector, cancellationToken).ConfigureAwait(false);
            }
            catch (ReplicaCalculationException e)
            {
                throw new MetricFailedException($"failed to get {name} object metric: {e.Message}", UnableToCompute(hpa, "FailedGetObjectMetric", e.Message), e);
            }
            // Upstream reports no describedObject here, and names the metric as if it were external.
            var status = new MetricStatus
            {
                Type = "Object",
                Object = new ObjectMetricStatus { Metric = Identifier(source.Metric), Current = new MetricValueStatus { AverageValue = Quantity.FromMilli(result.Usage) } },
            };
            return (result.Replicas, $"external metric {name}({GoStrings.LabelSelector(source.Metric?.Selector)})", status);
        }
        const string invalid = "invalid object metric source: neither a value target nor an average value target was set";
        throw new MetricFailedException(invalid, UnableToCompute(hpa, "FailedGetObjectMetric", invalid));
    }

    private async Task<(int, string, MetricStatus)> ExternalMetricAsync(HorizontalPodAutoscaler hpa, ExternalMetricSource source, int specReplicas, int statusReplicas,
        LabelSelector selector, CancellationToken cancellationToken)
    {
        var ns = hpa.Metadata?.Namespace ?? "";
        var name = source.Metric?.Name ?? "";
        var metricName = $"external metric {name}({GoStrings.LabelSelector(source.Metric?.Selector)})";
        if (source.Target?.AverageValue is { } average)
        {
            UsageReplicas result;
            try
            {
                result = await _calculator.GetExternalPerPodMetricReplicasAsync(statusReplicas, average.MilliValue(), name, ns, source.Metric?.Selector, cancellationToken).ConfigureAwait(false);
            }
            catch (ReplicaCalculationException e)
            {
                throw new MetricFailedException($"failed to get {name} external metric: {e.Message}", UnableToCompute(hpa, "FailedGetExternalMetric", e.Message), e);
            }
            return (result.Replicas, metricName, new MetricStatus
            {
                Type = "External",
                External = new ExternalMetricStatus { Metric = Identifier(source.Metric), Current = new MetricValueStatus { AverageValue = Quantity.FromMilli(result.Usage) } },
            });
        }
        if (source.Target?.Value is { } value)
        {
            UsageReplicas result;
            try
            {
                result = await _calculator.GetExternalMetricReplicasAsync(specReplicas, value.MilliValue(), name, ns, source.Metric?.Selector, selector, cancellationToken).ConfigureAwait(false);
            }
            catch (ReplicaCalculationException e)
            {
                throw new MetricFailedException($"failed to get external metric {name}: {e.Message}", UnableToCompute(hpa, "FailedGetExternalMetric", e.Message), e);
            }
            return (result.Replicas, metricName, new MetricStatus
            {
                Type = "External",
                External = new ExternalMetricStatus { Metric = Identifier(source.Metric), Current = new MetricValueStatus { Value = Quantity.FromMilli(result.Usage) } },
            });
        }
        const string invalid = "invalid external metric source: neither a value target nor an average value target was set";
        throw new MetricFailedException(invalid, UnableToCompute(hpa, "FailedGetExternalMetric", invalid));
    }

    private static MetricIdentifier Identifier(MetricIdentifier? metric) => new() { Name = metric?.Name, Selector = metric?.Selector };

    private static long MilliValue(Quantity? quantity) => quantity?.MilliValue() ?? 0;
}

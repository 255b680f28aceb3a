using Kcm.Api.Autoscaling.V2;
using Kcm.Api.Core.V1;
using Kcm.Api.Selectors;
using Kcm.Controllers.Common;
using Kcm.Runtime.Informers;

namespace Kcm.Controllers.PodAutoscaling;

/// <summary>A replica count could not be computed from a metric; the message goes into the HPA's condition and events.</summary>
public sealed class ReplicaCalculationException(string message, Exception? inner = null) : InvalidOperationException(message, inner);

public readonly record struct ResourceReplicas(int Replicas, int Utilization, long RawUtilization, DateTimeOffset Timestamp);

public readonly record struct UsageReplicas(int Replicas, long Usage, DateTimeOffset Timestamp);

/// <summary>
/// Upstream's replica calculator: the desired replica count from a metric and the pods the target selects. Pods
/// being deleted or failed are ignored; pending pods, and (for cpu) pods not yet ready or still within the cpu
/// initialization period with a sample from before readiness, count as unready; ready pods without a sample are
/// missing. Missing and unready pods are then filled in so that they damp the change: unready pods count as 0 on
/// a scale-up, missing ones as 0 on a scale-up and as the target (or the request, whichever is larger) on a
/// scale-down, and a change that would flip direction or stay within the tolerance keeps the current count.
/// </summary>
public sealed class ReplicaCalculator(
    IMetricsClient metrics,
    IObjectCache<Pod> pods,
    double tolerance,
    TimeSpan cpuInitializationPeriod,
    TimeSpan delayOfInitialReadinessStatus,
    TimeProvider time)
{
    public async Task<ResourceReplicas> GetResourceReplicasAsync(int currentReplicas, int targetUtilization, string resource, string @namespace,
        LabelSelector selector, string container, CancellationToken cancellationToken)
    {
        Dictionary<string, PodMetric> podMetrics;
        DateTimeOffset timestamp;
        try
        {
            (podMetrics, timestamp) = await metrics.GetResourceMetricAsync(resource, @namespace, selector, container, cancellationToken).ConfigureAwait(false);
        }
        catch (MetricsUnavailableException e)
        {
            throw new ReplicaCalculationException($"unable to get metrics for resource {resource}: {e.Message}", e);
        }
        var podList = ListPods(@namespace, selector);
        var (readyPodCount, unready, missing, ignored) = GroupPods(podList, podMetrics, resource);
        Remove(podMetrics, ignored);
        Remove(podMetrics, unready);
        if (podMetrics.Count == 0)
        {
            throw new ReplicaCalculationException("did not receive metrics for any ready pods");
        }
        var requests = PodRequests(podList, container, resource);
        var (usageRatio, utilization, raw) = ResourceUtilizationRatio(podMetrics, requests, targetUtilization);

        var scaleUpWithUnready = unready.Count > 0 && usageRatio > 1.0;
        if (!scaleUpWithUnready && missing.Count == 0)
        {
            if (Math.Abs(1.0 - usageRatio) <= tolerance)
            {
                return new(currentReplicas, utilization, raw, timestamp);
            }
            return new((int)Math.Ceiling(usageRatio * readyPodCount), utilization, raw, timestamp);
        }

        if (missing.Count > 0)
        {
            if (usageRatio < 1.0)
            {
                // Scaling down: a missing pod counts as using its full request (or the target, above 100%).
                long fallback = Math.Max(100, targetUtilization);
                foreach (var name in missing)
                {
                    podMetrics[name] = new PodMetric(default, default, requests.GetValueOrDefault(name) * fallback / 100);
                }
            }
            else if (usageRatio > 1.0)
            {
                foreach (var name in missing)
                {
                    podMetrics[name] = new PodMetric(default, default, 0);
                }
            }
        }
        if (scaleUpWithUnready)
        {
            foreach (var name in unready)
            {
                podMetrics[name] = new PodMetric(default, default, 0);
            }
        }

        var (newUsageRatio, _, _) = ResourceUtilizationRatio(podMetrics, requests, targetUtilization);
        if (Math.Abs(1.0 - newUsageRatio) <= tolerance || (usageRatio < 1.0 && newUsageRatio > 1.0) || (usageRatio > 1.0 && newUsageRatio < 1.0))
        {
            return new(currentReplicas, utilization, raw, timestamp);
        }
        var newReplicas = (int)Math.Ceiling(newUsageRatio * podMetrics.Count);
        if ((newUsageRatio < 1.0 && newReplicas > currentReplicas) || (newUsageRatio > 1.0 && newReplicas < currentReplicas))
        {
            return new(currentReplicas, utilization, raw, timestamp);
        }
        return new(newReplicas, utilization, raw, timestamp);
    }

    public async Task<UsageReplicas> GetRawResourceReplicasAsync(int currentReplicas, long targetUsage, string resource, string @namespace,
        LabelSelector selector, string container, CancellationToken cancellationToken)
    {
        Dictionary<string, PodMetric> podMetrics;
        DateTimeOffset timestamp;
        try
        {
            (podMetrics, timestamp) = await metrics.GetResourceMetricAsync(resource, @namespace, selector, container, cancellationToken).ConfigureAwait(false);
        }
        catch (MetricsUnavailableException e)
        {
            throw new ReplicaCalculationException($"unable to get metrics for resource {resource}: {e.Message}", e);
        }
        var (replicas, usage) = PlainMetricReplicas(podMetrics, currentReplicas, targetUsage, @namespace, selector, resource);
        return new(replicas, usage, timestamp);
    }

    public async Task<UsageReplicas> GetMetricReplicasAsync(int currentReplicas, long targetUsage, string metricName, string @namespace,
        LabelSelector selector, string metricSelector, CancellationToken cancellationToken)
    {
        Dictionary<string, PodMetric> podMetrics;
        DateTimeOffset timestamp;
        try
        {
            (podMetrics, timestamp) = await metrics.GetRawMetricAsync(metricName, @namespace, selector, metricSelector, cancellationToken).ConfigureAwait(false);
        }
        catch (MetricsUnavailableException e)
        {
            throw new ReplicaCalculationException($"unable to get metric {metricName}: {e.Message}", e);
        }
        var (replicas, usage) = PlainMetricReplicas(podMetrics, currentReplicas, targetUsage, @namespace, selector, "");
        return new(replicas, usage, timestamp);
    }

    private (int Replicas, long Usage) PlainMetricReplicas(Dictionary<string, PodMetric> podMetrics, int currentReplicas, long targetUsage,
        string @namespace, LabelSelector selector, string resource)
    {
        var podList = ListPods(@namespace, selector);
        var (readyPodCount, unready, missing, ignored) = GroupPods(podList, podMetrics, resource);
        Remove(podMetrics, ignored);
        Remove(podMetrics, unready);
        if (podMetrics.Count == 0)
        {
            throw new ReplicaCalculationException("did not receive metrics for any ready pods");
        }
        var (usageRatio, usage) = MetricUsageRatio(podMetrics, targetUsage);
        var scaleUpWithUnready = unready.Count > 0 && usageRatio > 1.0;
        if (!scaleUpWithUnready && missing.Count == 0)
        {
            if (Math.Abs(1.0 - usageRatio) <= tolerance)
            {
                return (currentReplicas, usage);
            }
            return ((int)Math.Ceiling(usageRatio * readyPodCount), usage);
        }
        if (missing.Count > 0)
        {
            // Scaling down, a missing pod uses exactly the target; scaling up, nothing.
            var fill = usageRatio < 1.0 ? targetUsage : 0;
            foreach (var name in missing)
            {
                podMetrics[name] = new PodMetric(default, default, fill);
            }
        }
        if (scaleUpWithUnready)
        {
            foreach (var name in unready)
            {
                podMetrics[name] = new PodMetric(default, default, 0);
            }
        }
        var (newUsageRatio, _) = MetricUsageRatio(podMetrics, targetUsage);
        if (Math.Abs(1.0 - newUsageRatio) <= tolerance || (usageRatio < 1.0 && newUsageRatio > 1.0) || (usageRatio > 1.0 && newUsageRatio < 1.0))
        {
            return (currentReplicas, usage);
        }
        var newReplicas = (int)Math.Ceiling(newUsageRatio * podMetrics.Count);
        if ((newUsageRatio < 1.0 && newReplicas > currentReplicas) || (newUsageRatio > 1.0 && newReplicas < currentReplicas))
        {
            return (currentReplicas, usage);
        }
        return (newReplicas, usage);
    }

    public async Task<UsageReplicas> GetObjectMetricReplicasAsync(int currentReplicas, long targetUsage, string metricName, string @namespace,
        CrossVersionObjectReference objectRef, LabelSelector selector, string metricSelector, CancellationToken cancellationToken)
    {
        long usage;
        try
        {
            (usage, _) = await metrics.GetObjectMetricAsync(metricName, @namespace, objectRef, metricSelector, cancellationToken).ConfigureAwait(false);
        }
        catch (MetricsUnavailableException e)
        {
            // Upstream's verbs and arguments do not line up; the message keeps its shape.
            throw new ReplicaCalculationException($"unable to get metric {metricName}: {objectRef.Kind} on {@namespace} {objectRef.Name}/{e.Message}", e);
        }
        var usageRatio = (double)usage / targetUsage;
        var replicas = UsageRatioReplicaCount(currentReplicas, usageRatio, @namespace, selector);
        // Upstream drops the object metric's timestamp here.
        return new(replicas, usage, default);
    }

    public async Task<UsageReplicas> GetObjectPerPodMetricReplicasAsync(int statusReplicas, long targetAverageUsage, string metricName, string @namespace,
        CrossVersionObjectReference objectRef, string metricSelector, CancellationToken cancellationToken)
    {
        long usage;
        DateTimeOffset timestamp;
        try
        {
            (usage, timestamp) = await metrics.GetObjectMetricAsync(metricName, @namespace, objectRef, metricSelector, cancellationToken).ConfigureAwait(false);
        }
        catch (MetricsUnavailableException e)
        {
            throw new ReplicaCalculationException($"unable to get metric {metricName}: {objectRef.Kind} on {@namespace} {objectRef.Name}/{e.Message}", e);
        }
        return PerPod(statusReplicas, targetAverageUsage, usage, timestamp);
    }

    public async Task<UsageReplicas> GetExternalMetricReplicasAsync(int currentReplicas, long targetUsage, string metricName, string @namespace,
        Kcm.Api.Meta.V1.LabelSelector? metricSelector, LabelSelector podSelector, CancellationToken cancellationToken)
    {
        var selector = ParseMetricSelector(metricSelector);
        List<long> values;
        try
        {
            (values, _) = await metrics.GetExternalMetricAsync(metricName, @namespace, selector, cancellationToken).ConfigureAwait(false);
        }
        catch (MetricsUnavailableException e)
        {
            throw new ReplicaCalculationException($"unable to get external metric {@namespace}/{metricName}/{GoStrings.LabelSelector(metricSelector)}: {e.Message}", e);
        }
        var usage = values.Sum();
        var replicas = UsageRatioReplicaCount(currentReplicas, (double)usage / targetUsage, @namespace, podSelector);
        return new(replicas, usage, default);
    }

    public async Task<UsageReplicas> GetExternalPerPodMetricReplicasAsync(int statusReplicas, long targetUsagePerPod, string metricName, string @namespace,
        Kcm.Api.Meta.V1.LabelSelector? metricSelector, CancellationToken cancellationToken)
    {
        var selector = ParseMetricSelector(metricSelector);
        List<long> values;
        DateTimeOffset timestamp;
        try
        {
            (values, timestamp) = await metrics.GetExternalMetricAsync(metricName, @namespace, selector, cancellationToken).ConfigureAwait(false);
        }
        catch (MetricsUnavailableException e)
        {
            throw new ReplicaCalculationException($"unable to get external metric {@namespace}/{metricName}/{GoStrings.LabelSelector(metricSelector)}: {e.Message}", e);
        }
        return PerPod(statusReplicas, targetUsagePerPod, values.Sum(), timestamp);
    }

    private UsageReplicas PerPod(int statusReplicas, long targetPerPod, long usage, DateTimeOffset timestamp)
    {
        var replicas = statusReplicas;
        var usageRatio = usage / ((double)targetPerPod * replicas);
        if (Math.Abs(1.0 - usageRatio) > tolerance)
        {
            replicas = (int)Math.Ceiling((double)usage / targetPerPod);
        }
        // Go divides by a zero status count as float: +Inf, converted to int64's minimum.
        var average = statusReplicas == 0 ? long.MinValue : (long)Math.Ceiling((double)usage / statusReplicas);
        return new(replicas, average, timestamp);
    }

    /// <summary>With zero current replicas neither readiness nor tolerance apply, so a target can scale up from zero.</summary>
    private int UsageRatioReplicaCount(int currentReplicas, double usageRatio, string @namespace, LabelSelector selector)
    {
        if (currentReplicas == 0)
        {
            return (int)Math.Ceiling(usageRatio);
        }
        if (Math.Abs(1.0 - usageRatio) <= tolerance)
        {
            return currentReplicas;
        }
        List<Pod> podList;
        try
        {
            podList = ListPods(@namespace, selector);
        }
        catch (ReplicaCalculationException e)
        {
            throw new ReplicaCalculationException($"unable to calculate ready pods: {e.Message}", e);
        }
        var ready = podList.Count(p => p.Status?.Phase == "Running" && PodReadiness.IsPodReady(p));
        return (int)Math.Ceiling(usageRatio * ready);
    }

    internal (int ReadyPodCount, HashSet<string> Unready, HashSet<string> Missing, HashSet<string> Ignored) GroupPods(
        IEnumerable<Pod> podList, IReadOnlyDictionary<string, PodMetric> podMetrics, string resource)
    {
        var unready = new HashSet<string>(StringComparer.Ordinal);
        var missing = new HashSet<string>(StringComparer.Ordinal);
        var ignored = new HashSet<string>(StringComparer.Ordinal);
        var readyCount = 0;
        var now = time.GetUtcNow();
        foreach (var pod in podList)
        {
            var name = pod.Metadata?.Name ?? "";
            if (pod.Metadata?.DeletionTimestamp is not null || pod.Status?.Phase == "Failed")
            {
                ignored.Add(name);
                continue;
            }
            if (pod.Status?.Phase == "Pending")
            {
                unready.Add(name);
                continue;
            }
            if (!podMetrics.TryGetValue(name, out var metric))
            {
                missing.Add(name);
                continue;
            }
            if (resource == "cpu")
            {
                var condition = PodReadiness.ReadyCondition(pod);
                var start = pod.Status?.StartTime;
                bool isUnready;
                if (condition is null || start is null)
                {
                    isUnready = true;
                }
                else
                {
                    var transition = condition.LastTransitionTime ?? default;
                    if (start.Value + cpuInitializationPeriod > now)
                    {
                        // Still initializing: skip a sample from an unready pod or one not a full window after readiness changed.
                        isUnready = condition.Status == "False" || metric.Timestamp < transition + metric.Window;
                    }
                    else
                    {
                        // Skip an unready pod that has never been ready.
                        isUnready = condition.Status == "False" && start.Value + delayOfInitialReadinessStatus > transition;
                    }
                }
                if (isUnready)
                {
                    unready.Add(name);
                    continue;
                }
            }
            readyCount++;
        }
        return (readyCount, unready, missing, ignored);
    }

    internal static Dictionary<string, long> PodRequests(IEnumerable<Pod> podList, string container, string resource)
    {
        var requests = new Dictionary<string, long>(StringComparer.Ordinal);
        foreach (var pod in podList)
        {
            long sum = 0;
            foreach (var c in pod.Spec?.Containers ?? [])
            {
                if (container.Length > 0 && container != c.Name)
                {
                    continue;
                }
                if (c.Resources?.Requests?.TryGetValue(resource, out var request) == true && request is not null)
                {
                    sum += request.MilliValue();
                }
                else
                {
                    throw new ReplicaCalculationException($"missing request for {resource} in container {c.Name} of Pod {pod.Metadata?.Name}");
                }
            }
            requests[pod.Metadata?.Name ?? ""] = sum;
        }
        return requests;
    }

    /// <summary>Usage over requests of the pods that have both, as a whole percentage, its ratio to the target, and the average usage.</summary>
    internal static (double Ratio, int Utilization, long RawAverage) ResourceUtilizationRatio(
        IReadOnlyDictionary<string, PodMetric> podMetrics, IReadOnlyDictionary<string, long> requests, int targetUtilization)
    {
        long metricsTotal = 0, requestsTotal = 0;
        var entries = 0;
        foreach (var (name, metric) in podMetrics)
        {
            if (!requests.TryGetValue(name, out var request))
            {
                continue; // A sample of a pod not listed: extraneous.
            }
            metricsTotal += metric.Value;
            requestsTotal += request;
            entries++;
        }
        if (requestsTotal == 0)
        {
            throw new ReplicaCalculationException("no metrics returned matched known pods");
        }
        var utilization = (int)(metricsTotal * 100 / requestsTotal);
        return ((double)utilization / targetUtilization, utilization, metricsTotal / entries);
    }

    internal static (double Ratio, long Usage) MetricUsageRatio(IReadOnlyDictionary<string, PodMetric> podMetrics, long targetUsage)
    {
        var total = podMetrics.Values.Sum(m => m.Value);
        var usage = total / podMetrics.Count;
        return ((double)usage / targetUsage, usage);
    }

    private List<Pod> ListPods(string @namespace, LabelSelector selector)
    {
        var list = pods.ByIndex(KnownIndexers.Namespace, @namespace).Where(p => selector.Matches(p.Metadata?.Labels)).ToList();
        return list.Count > 0 ? list : throw new ReplicaCalculationException("no pods returned by selector while calculating replica count");
    }

    private static string ParseMetricSelector(Kcm.Api.Meta.V1.LabelSelector? selector)
    {
        try
        {
            // A nil selector selects nothing (labels.Nothing), whose string form is empty, as is that of an empty one.
            return LabelSelector.FromApi(selector)?.ToString() ?? "";
        }
        catch (SelectorParseException e)
        {
            throw new ReplicaCalculationException(e.Message, e);
        }
    }

    private static void Remove(Dictionary<string, PodMetric> podMetrics, IEnumerable<string> names)
    {
        foreach (var name in names)
        {
            podMetrics.Remove(name);
        }
    }
}

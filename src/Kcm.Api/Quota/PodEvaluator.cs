using Kcm.Api.Core.V1;
using Kcm.Api.Selectors;

namespace Kcm.Api.Quota;

/// <summary>
/// Upstream's pod evaluator: pods and count/pods, cpu/memory/ephemeral-storage requests and limits (summed over
/// containers, the largest init container's if bigger, plus overhead), hugepages and extended resource requests;
/// the Terminating/NotTerminating/BestEffort/NotBestEffort/PriorityClass/CrossNamespacePodAffinity scopes. A pod
/// that has finished, or is being deleted past its grace period, still counts under count/pods but uses nothing else.
/// </summary>
public sealed class PodEvaluator(TimeProvider time) : IQuotaEvaluator
{
    public const string RequestsPrefix = "requests.";
    private const string HugePagesPrefix = "hugepages-";
    private const string CountName = "count/pods";

    private static readonly string[] PodResources =
    [
        CountName, "cpu", "memory", "ephemeral-storage", "requests.cpu", "requests.memory", "requests.ephemeral-storage",
        "limits.cpu", "limits.memory", "limits.ephemeral-storage", "pods",
    ];

    private static readonly HashSet<string> ValidationSet = new(StringComparer.Ordinal) { "cpu", "memory", "requests.cpu", "requests.memory", "limits.cpu", "limits.memory" };

    public GroupResource GroupResource { get; } = new("", "pods");

    public bool Handles(QuotaOperation operation) => operation == QuotaOperation.Create;

    public IReadOnlyList<string> MatchingResources(IEnumerable<string> input)
    {
        var names = input.ToList();
        var result = ResourceLists.Intersection(names, PodResources);
        foreach (var name in names)
        {
            if (name.StartsWith(HugePagesPrefix, StringComparison.Ordinal) || name.StartsWith(RequestsPrefix + HugePagesPrefix, StringComparison.Ordinal)
                || IsExtendedResourceNameForQuota(name))
            {
                result.Add(name);
            }
        }
        return result;
    }

    /// <summary>Every container (init containers too) must set what the quota limits among cpu and memory.</summary>
    public string? Constraints(IReadOnlyCollection<string> required, object item)
    {
        var pod = QuotaEvaluation.As<Pod>(item);
        var requiredSet = required.Where(ValidationSet.Contains).ToHashSet(StringComparer.Ordinal);
        var missing = new SortedDictionary<string, SortedSet<string>>(StringComparer.Ordinal);
        foreach (var container in (pod.Spec?.Containers ?? []).Concat(pod.Spec?.InitContainers ?? []))
        {
            var present = ComputeUsage(container.Resources?.Requests, container.Resources?.Limits).Keys;
            foreach (var name in requiredSet.Except(present))
            {
                if (!missing.TryGetValue(name, out var containers)) missing[name] = containers = new SortedSet<string>(StringComparer.Ordinal);
                containers.Add(container.Name ?? "");
            }
        }
        if (missing.Count == 0) return null;
        return "must specify " + string.Join("; ", missing.Select(m => $"{m.Key} for: {string.Join(",", m.Value)}"));
    }

    public bool MatchesScope(ScopedResourceSelectorRequirement selector, object item)
    {
        var pod = QuotaEvaluation.As<Pod>(item);
        return selector.ScopeName switch
        {
            "Terminating" => IsTerminating(pod),
            "NotTerminating" => !IsTerminating(pod),
            "BestEffort" => IsBestEffort(pod),
            "NotBestEffort" => !IsBestEffort(pod),
            "PriorityClass" => MatchesPriorityClass(pod, selector),
            "CrossNamespacePodAffinity" => UsesCrossNamespacePodAffinity(pod),
            _ => false,
        };
    }

    public Dictionary<string, Quantity> Usage(object item)
    {
        var pod = QuotaEvaluation.As<Pod>(item);
        var result = new Dictionary<string, Quantity>(StringComparer.Ordinal) { [CountName] = Quantity.FromInt64(1) };
        if (!IsCounted(pod, time.GetUtcNow())) return result;
        Dictionary<string, Quantity> requests = new(StringComparer.Ordinal), limits = new(StringComparer.Ordinal);
        foreach (var container in pod.Spec?.Containers ?? [])
        {
            requests = ResourceLists.Add(requests, container.Resources?.Requests);
            limits = ResourceLists.Add(limits, container.Resources?.Limits);
        }
        foreach (var container in pod.Spec?.InitContainers ?? [])
        {
            requests = ResourceLists.Max(requests, container.Resources?.Requests);
            limits = ResourceLists.Max(limits, container.Resources?.Limits);
        }
        requests = ResourceLists.Add(requests, pod.Spec?.Overhead);
        limits = ResourceLists.Add(limits, pod.Spec?.Overhead);
        return ResourceLists.Add(result, ComputeUsage(requests, limits));
    }

    /// <summary>
    /// Upstream QuotaV1Pod: whether the pod's compute resources count. Not once it succeeded or failed, nor once its
    /// deletion grace period has passed (the kubelet should have stopped it).
    /// </summary>
    public static bool IsCounted(Pod pod, DateTimeOffset now)
    {
        if (pod.Status?.Phase is "Failed" or "Succeeded") return false;
        if (pod.Metadata?.DeletionTimestamp is { } deletion && pod.Metadata.DeletionGracePeriodSeconds is { } grace
            && now > deletion.AddSeconds(grace))
        {
            return false;
        }
        return true;
    }

    /// <summary>Upstream podComputeUsageHelper: the quota names a container's (or pod's) requests and limits fill.</summary>
    private static Dictionary<string, Quantity> ComputeUsage(IReadOnlyDictionary<string, Quantity>? requests, IReadOnlyDictionary<string, Quantity>? limits)
    {
        var result = new Dictionary<string, Quantity>(StringComparer.Ordinal) { ["pods"] = Quantity.FromInt64(1) };
        foreach (var name in new[] { "cpu", "memory", "ephemeral-storage" })
        {
            if (requests is not null && requests.TryGetValue(name, out var request))
            {
                result[name] = request;
                result[RequestsPrefix + name] = request;
            }
            if (limits is not null && limits.TryGetValue(name, out var limit)) result["limits." + name] = limit;
        }
        foreach (var (name, request) in requests ?? new Dictionary<string, Quantity>())
        {
            if (name.StartsWith(HugePagesPrefix, StringComparison.Ordinal))
            {
                result[name] = request;
                result[RequestsPrefix + name] = request;
            }
            if (IsExtendedResourceName(name)) result[RequestsPrefix + name] = request;
        }
        return result;
    }

    private static bool IsNativeResource(string name) => !name.Contains('/', StringComparison.Ordinal) || name.Contains("kubernetes.io/", StringComparison.Ordinal);

    private static bool IsExtendedResourceName(string name) => !IsNativeResource(name) && !name.StartsWith(RequestsPrefix, StringComparison.Ordinal);

    private static bool IsExtendedResourceNameForQuota(string name) => !IsNativeResource(name) && name.StartsWith(RequestsPrefix, StringComparison.Ordinal);

    private static bool IsTerminating(Pod pod) => pod.Spec?.ActiveDeadlineSeconds is >= 0;

    /// <summary>The BestEffort QoS class: no container or init container requests or limits any cpu or memory.</summary>
    public static bool IsBestEffort(Pod pod)
    {
        foreach (var container in (pod.Spec?.Containers ?? []).Concat(pod.Spec?.InitContainers ?? []))
        {
            foreach (var list in new[] { container.Resources?.Requests, container.Resources?.Limits })
            {
                foreach (var (name, value) in list ?? [])
                {
                    if (name is "cpu" or "memory" && value.Sign > 0) return false;
                }
            }
        }
        return true;
    }

    private static bool MatchesPriorityClass(Pod pod, ScopedResourceSelectorRequirement selector)
    {
        var op = selector.Operator switch
        {
            "In" => LabelOperator.In,
            "NotIn" => LabelOperator.NotIn,
            "Exists" => LabelOperator.Exists,
            "DoesNotExist" => LabelOperator.DoesNotExist,
            _ => throw new QuotaScopeException($"\"{selector.Operator}\" is not a valid scope selector operator"),
        };
        LabelRequirement requirement;
        try
        {
            requirement = LabelRequirement.Create(selector.ScopeName ?? "", op, selector.Values ?? []);
        }
        catch (SelectorParseException e)
        {
            throw new QuotaScopeException($"failed to parse and convert selector: {e.Message}");
        }
        var labels = string.IsNullOrEmpty(pod.Spec?.PriorityClassName)
            ? new Dictionary<string, string>()
            : new Dictionary<string, string> { ["PriorityClass"] = pod.Spec.PriorityClassName };
        return requirement.Matches(labels);
    }

    private static bool UsesCrossNamespacePodAffinity(Pod pod)
    {
        static bool CrossNamespace(PodAffinityTerm? term) => term is not null && (term.Namespaces is { Count: > 0 } || term.NamespaceSelector is not null);
        foreach (var affinity in new[] { (pod.Spec?.Affinity?.PodAffinity?.RequiredDuringSchedulingIgnoredDuringExecution, pod.Spec?.Affinity?.PodAffinity?.PreferredDuringSchedulingIgnoredDuringExecution),
                     (pod.Spec?.Affinity?.PodAntiAffinity?.RequiredDuringSchedulingIgnoredDuringExecution, pod.Spec?.Affinity?.PodAntiAffinity?.PreferredDuringSchedulingIgnoredDuringExecution) })
        {
            if ((affinity.Item1 ?? []).Any(CrossNamespace) || (affinity.Item2 ?? []).Any(w => CrossNamespace(w.PodAffinityTerm))) return true;
        }
        return false;
    }
}

using System.Globalization;
using Kcm.Api;
using Kcm.Api.Apps.V1;
using Kcm.Api.Core.V1;
using Kcm.Api.Selectors;
using Kcm.Controllers.Common;

namespace Kcm.Controllers.DaemonSets;

/// <summary>Upstream's well-known names for DaemonSets and the node taints their pods tolerate.</summary>
public static class DaemonSetNames
{
    /// <summary>apps.DefaultDaemonSetUniqueLabelKey (= ControllerRevisionHashLabelKey).</summary>
    public const string UniqueLabelKey = "controller-revision-hash";

    /// <summary>extensions.DaemonSetTemplateGenerationKey (pods of DaemonSets from before revisions).</summary>
    public const string TemplateGenerationLabelKey = "pod-template-generation";

    /// <summary>apps.DeprecatedTemplateGeneration.</summary>
    public const string DeprecatedTemplateGenerationAnnotation = "deprecated.daemonset.template.generation";

    public const string RollingUpdate = "RollingUpdate";
    public const string OnDelete = "OnDelete";

    public const string TaintNodeNotReady = "node.kubernetes.io/not-ready";
    public const string TaintNodeUnreachable = "node.kubernetes.io/unreachable";
    public const string TaintNodeUnschedulable = "node.kubernetes.io/unschedulable";
    public const string TaintNodeMemoryPressure = "node.kubernetes.io/memory-pressure";
    public const string TaintNodeDiskPressure = "node.kubernetes.io/disk-pressure";
    public const string TaintNodeNetworkUnavailable = "node.kubernetes.io/network-unavailable";
    public const string TaintNodePidPressure = "node.kubernetes.io/pid-pressure";

    public const string NoExecute = "NoExecute";
    public const string NoSchedule = "NoSchedule";

    /// <summary>metav1.ObjectNameField, the only field a node selector's matchFields may name.</summary>
    public const string ObjectNameField = "metadata.name";
}

/// <summary>A DaemonSet's maxSurge or maxUnavailable that is neither an int nor a percentage.</summary>
public sealed class InvalidDaemonSetStrategyException(string message) : FormatException(message);

/// <summary>pkg/controller/daemon/util plus the placement checks of daemon_controller.go.</summary>
public static class DaemonSetUtil
{
    /// <summary>
    /// NodeShouldRunDaemonPod: (shouldRun, shouldContinueRunning). A pod that does not fit the node's name or affinity
    /// never runs there; one that only fails on taints keeps running unless a NoExecute taint is not tolerated.
    /// </summary>
    public static (bool ShouldRun, bool ShouldContinueRunning) NodeShouldRunDaemonPod(Node node, DaemonSet ds)
    {
        var nodeName = node.Metadata?.Name ?? "";
        var templateSpec = ds.Spec?.Template?.Spec;
        if (!string.IsNullOrEmpty(templateSpec?.NodeName) && templateSpec.NodeName != nodeName)
        {
            return (false, false);
        }
        var tolerations = DaemonPodTolerations(templateSpec);
        if (!NodeAffinityMatches(templateSpec, node))
        {
            return (false, false);
        }
        var taints = node.Spec?.Taints ?? [];
        if (FindUntoleratedTaint(taints, tolerations, t => t.Effect is DaemonSetNames.NoExecute or DaemonSetNames.NoSchedule) is null)
        {
            return (true, true);
        }
        var untoleratedNoExecute = FindUntoleratedTaint(taints, tolerations, t => t.Effect == DaemonSetNames.NoExecute);
        return (false, untoleratedNoExecute is null);
    }

    /// <summary>nodeaffinity.GetRequiredNodeAffinity(pod).Match(node): the nodeSelector, then the required node affinity.</summary>
    public static bool NodeAffinityMatches(PodSpec? spec, Node node)
    {
        var labels = node.Metadata?.Labels ?? new Dictionary<string, string>();
        foreach (var (key, value) in spec?.NodeSelector ?? [])
        {
            if (!labels.TryGetValue(key, out var actual) || actual != value)
            {
                return false;
            }
        }
        var required = spec?.Affinity?.NodeAffinity?.RequiredDuringSchedulingIgnoredDuringExecution;
        if (required is null)
        {
            return true;
        }
        // Terms are ORed; a term that does not parse, or has no requirements, matches nothing (parse errors are
        // ignored for backwards compatibility, as upstream's lazy-error node selector does).
        return (required.NodeSelectorTerms ?? []).Any(term => TermMatches(term, node, labels));
    }

    private static bool TermMatches(NodeSelectorTerm term, Node node, IReadOnlyDictionary<string, string> labels)
    {
        var expressions = term.MatchExpressions ?? [];
        var fields = term.MatchFields ?? [];
        if (expressions.Count == 0 && fields.Count == 0)
        {
            return false;
        }
        try
        {
            foreach (var expression in expressions)
            {
                var op = expression.Operator switch
                {
                    "In" => LabelOperator.In,
                    "NotIn" => LabelOperator.NotIn,
                    "Exists" => LabelOperator.Exists,
                    "DoesNotExist" => LabelOperator.DoesNotExist,
                    "Gt" => LabelOperator.GreaterThan,
                    "Lt" => LabelOperator.LessThan,
                    _ => throw new SelectorParseException($"{expression.Operator} is not a valid node selector operator"),
                };
                if (!LabelRequirement.Create(expression.Key ?? "", op, expression.Values).Matches(labels))
                {
                    return false;
                }
            }
        }
        catch (SelectorParseException)
        {
            return false;
        }
        foreach (var field in fields)
        {
            if (field.Key != DaemonSetNames.ObjectNameField || field.Values is not { Count: 1 } values)
            {
                return false;
            }
            var matches = field.Operator switch
            {
                "In" => values[0] == node.Metadata?.Name,
                "NotIn" => values[0] != node.Metadata?.Name,
                _ => (bool?)null,
            };
            if (matches != true)
            {
                return false;
            }
        }
        return true;
    }

    /// <summary>v1helper.FindMatchingUntoleratedTaint: the first taint passing the filter that no toleration tolerates.</summary>
    public static Taint? FindUntoleratedTaint(IEnumerable<Taint> taints, IReadOnlyList<Toleration> tolerations, Func<Taint, bool> filter)
        => taints.FirstOrDefault(taint => filter(taint) && !tolerations.Any(t => Tolerates(t, taint)));

    /// <summary>Toleration.ToleratesTaint: an empty effect or key matches any; Exists ignores the value.</summary>
    public static bool Tolerates(Toleration toleration, Taint taint)
    {
        if (!string.IsNullOrEmpty(toleration.Effect) && toleration.Effect != taint.Effect)
        {
            return false;
        }
        if (!string.IsNullOrEmpty(toleration.Key) && toleration.Key != taint.Key)
        {
            return false;
        }
        return toleration.Operator switch
        {
            "" or null or "Equal" => (toleration.Value ?? "") == (taint.Value ?? ""),
            "Exists" => true,
            _ => false,
        };
    }

    /// <summary>The pod spec's tolerations after AddOrUpdateDaemonPodTolerations (a new list; the spec is not changed).</summary>
    public static List<Toleration> DaemonPodTolerations(PodSpec? spec)
    {
        var tolerations = (spec?.Tolerations ?? []).ToList();
        AddOrUpdate(tolerations, DaemonSetNames.TaintNodeNotReady, DaemonSetNames.NoExecute);
        AddOrUpdate(tolerations, DaemonSetNames.TaintNodeUnreachable, DaemonSetNames.NoExecute);
        AddOrUpdate(tolerations, DaemonSetNames.TaintNodeDiskPressure, DaemonSetNames.NoSchedule);
        AddOrUpdate(tolerations, DaemonSetNames.TaintNodeMemoryPressure, DaemonSetNames.NoSchedule);
        AddOrUpdate(tolerations, DaemonSetNames.TaintNodePidPressure, DaemonSetNames.NoSchedule);
        AddOrUpdate(tolerations, DaemonSetNames.TaintNodeUnschedulable, DaemonSetNames.NoSchedule);
        if (spec?.HostNetwork == true)
        {
            AddOrUpdate(tolerations, DaemonSetNames.TaintNodeNetworkUnavailable, DaemonSetNames.NoSchedule);
        }
        return tolerations;
    }

    // v1helper.AddOrUpdateTolerationInPodSpec for an "Exists" toleration without tolerationSeconds: one with the same
    // key, operator, value and effect is replaced in place (dropping its tolerationSeconds); otherwise it is appended.
    private static void AddOrUpdate(List<Toleration> tolerations, string key, string effect)
    {
        var wanted = new Toleration { Key = key, Operator = "Exists", Effect = effect };
        var index = tolerations.FindIndex(t => (t.Key ?? "") == key && (t.Operator ?? "") == "Exists" && (t.Value ?? "") == "" && (t.Effect ?? "") == effect);
        if (index < 0)
        {
            tolerations.Add(wanted);
        }
        else if (tolerations[index].TolerationSeconds is not null)
        {
            tolerations[index] = wanted;
        }
    }

    /// <summary>GetTemplateGeneration: the deprecated annotation's value; null when absent or not a number.</summary>
    public static long? TemplateGeneration(DaemonSet ds)
        => ds.Metadata?.Annotations?.TryGetValue(DaemonSetNames.DeprecatedTemplateGenerationAnnotation, out var s) == true
           && long.TryParse(s, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var g) ? g : null;

    /// <summary>CreatePodTemplate: a copy with the daemon tolerations, the template-generation label (if any) and the hash label.</summary>
    public static PodTemplateSpec CreatePodTemplate(PodTemplateSpec template, long? generation, string hash)
    {
        var copy = KubeObjects.Clone(template);
        copy.Spec ??= new PodSpec();
        copy.Spec.Tolerations = DaemonPodTolerations(copy.Spec);
        copy.Metadata ??= new();
        var labels = copy.Metadata.Labels is null ? new Dictionary<string, string>() : new Dictionary<string, string>(copy.Metadata.Labels);
        if (generation is { } g)
        {
            labels[DaemonSetNames.TemplateGenerationLabelKey] = g.ToString(CultureInfo.InvariantCulture);
        }
        if (hash.Length > 0)
        {
            labels[DaemonSetNames.UniqueLabelKey] = hash;
        }
        copy.Metadata.Labels = labels;
        return copy;
    }

    /// <summary>ReplaceDaemonSetPodNodeNameNodeAffinity: the required node affinity becomes one term, matchFields metadata.name In [node].</summary>
    public static Affinity ReplaceNodeNameNodeAffinity(Affinity? affinity, string nodeName)
    {
        var terms = new List<NodeSelectorTerm>
        {
            new() { MatchFields = [new NodeSelectorRequirement { Key = DaemonSetNames.ObjectNameField, Operator = "In", Values = [nodeName] }] },
        };
        affinity ??= new Affinity();
        affinity.NodeAffinity ??= new NodeAffinity();
        affinity.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution ??= new NodeSelector();
        affinity.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution.NodeSelectorTerms = terms;
        return affinity;
    }

    /// <summary>GetTargetNodeName: spec.nodeName, or for a pod not yet bound the single metadata.name In value of its node affinity.</summary>
    public static string? TargetNodeName(Pod pod)
    {
        if (!string.IsNullOrEmpty(pod.Spec?.NodeName))
        {
            return pod.Spec.NodeName;
        }
        foreach (var term in pod.Spec?.Affinity?.NodeAffinity?.RequiredDuringSchedulingIgnoredDuringExecution?.NodeSelectorTerms ?? [])
        {
            foreach (var field in term.MatchFields ?? [])
            {
                if (field.Key == DaemonSetNames.ObjectNameField && field.Operator == "In")
                {
                    return field.Values is { Count: 1 } values ? values[0] : null;
                }
            }
        }
        return null;
    }

    /// <summary>IsPodUpdated: the pod carries the current hash, or the (deprecated) current template generation.</summary>
    public static bool IsPodUpdated(Pod pod, string hash, long? templateGeneration)
    {
        var labels = pod.Metadata?.Labels;
        var templateMatches = templateGeneration is { } g && labels?.GetValueOrDefault(DaemonSetNames.TemplateGenerationLabelKey) == g.ToString(CultureInfo.InvariantCulture);
        var hashMatches = hash.Length > 0 && labels?.GetValueOrDefault(DaemonSetNames.UniqueLabelKey) == hash;
        return hashMatches || templateMatches;
    }

    public static bool IsRollingUpdate(DaemonSet ds) => ds.Spec?.UpdateStrategy?.Type == DaemonSetNames.RollingUpdate;

    /// <summary>SurgeCount: 0 unless a RollingUpdate asks for maxSurge; percentages round up.</summary>
    public static int SurgeCount(DaemonSet ds, int numberToSchedule)
    {
        if (!IsRollingUpdate(ds) || ds.Spec?.UpdateStrategy?.RollingUpdate?.MaxSurge is not { } surge)
        {
            return 0;
        }
        return Scaled(surge, numberToSchedule);
    }

    /// <summary>UnavailableCount: 0 unless RollingUpdate; percentages round up; a missing maxUnavailable is an error.</summary>
    public static int UnavailableCount(DaemonSet ds, int numberToSchedule)
    {
        if (!IsRollingUpdate(ds) || ds.Spec?.UpdateStrategy?.RollingUpdate is not { } rolling)
        {
            return 0;
        }
        return Scaled(rolling.MaxUnavailable, numberToSchedule);
    }

    /// <summary>AllowsSurge: maxSurge resolves to more than 0 (of one node).</summary>
    public static bool AllowsSurge(DaemonSet ds)
    {
        try
        {
            return SurgeCount(ds, 1) > 0;
        }
        catch (InvalidDaemonSetStrategyException)
        {
            return false;
        }
    }

    private static int Scaled(IntOrString? value, int total)
    {
        try
        {
            return IntOrString.GetScaledValueFromIntOrPercent(value, total, roundUp: true);
        }
        catch (IntOrStringFormatException ex)
        {
            throw new InvalidDaemonSetStrategyException(ex.Message);
        }
    }

    /// <summary>podByCreationTimestampAndPhase: bound pods first, then oldest, then by name.</summary>
    public static int CompareByCreationTimestampAndPhase(Pod a, Pod b)
    {
        var aBound = !string.IsNullOrEmpty(a.Spec?.NodeName);
        var bBound = !string.IsNullOrEmpty(b.Spec?.NodeName);
        if (aBound != bBound)
        {
            return aBound ? -1 : 1;
        }
        var at = TruncatedToSeconds(a.Metadata?.CreationTimestamp);
        var bt = TruncatedToSeconds(b.Metadata?.CreationTimestamp);
        return at == bt ? string.CompareOrdinal(a.Metadata?.Name, b.Metadata?.Name) : at.CompareTo(bt);
    }

    public static List<Pod> SortedByCreationTimestampAndPhase(IEnumerable<Pod> pods)
    {
        var list = pods.ToList();
        list.Sort(CompareByCreationTimestampAndPhase);
        return list;
    }

    // metav1.Time has second precision on the wire.
    private static long TruncatedToSeconds(DateTimeOffset? time) => time is { } t ? t.ToUnixTimeSeconds() : long.MinValue;
}

using Kcm.Api;
using Kcm.Api.Core.V1;

namespace Kcm.Simulator.Scheduling;

/// <summary>The resources a pod asks of a node (upstream's PodRequests: max of init containers vs sum of containers, plus overhead).</summary>
internal readonly record struct PodRequests(long MilliCpu, long MemoryBytes)
{
    public static PodRequests Of(Pod pod)
    {
        var spec = pod.Spec;
        long cpu = 0, memory = 0;
        foreach (var c in spec?.Containers ?? [])
        {
            cpu += Request(c, "cpu", milli: true);
            memory += Request(c, "memory", milli: false);
        }
        foreach (var c in spec?.InitContainers ?? [])
        {
            cpu = Math.Max(cpu, Request(c, "cpu", milli: true));
            memory = Math.Max(memory, Request(c, "memory", milli: false));
        }
        if (spec?.Overhead is { } overhead)
        {
            if (overhead.TryGetValue("cpu", out var oc)) cpu += oc.MilliValue();
            if (overhead.TryGetValue("memory", out var om)) memory += om.Value();
        }
        return new PodRequests(cpu, memory);
    }

    public static PodRequests operator +(PodRequests a, PodRequests b) => new(a.MilliCpu + b.MilliCpu, a.MemoryBytes + b.MemoryBytes);

    public static PodRequests operator -(PodRequests a) => new(-a.MilliCpu, -a.MemoryBytes);

    private static long Request(Container c, string resource, bool milli)
        => c.Resources?.Requests is { } requests && requests.TryGetValue(resource, out var q) ? (milli ? q.MilliValue() : q.Value()) : 0;
}

/// <summary>The scheduler's filter plugins the simulator honours, each returning why a node does not fit (null: fits).</summary>
internal static class PodFit
{
    public static string? Check(Pod pod, Node node, int podsOnNode, PodRequests requestedOnNode)
        => Unschedulable(pod, node) ?? NodeSelector(pod, node) ?? NodeAffinity(pod, node) ?? Taints(pod, node) ?? Resources(pod, node, podsOnNode, requestedOnNode);

    private static string? Unschedulable(Pod pod, Node node)
    {
        if (node.Spec?.Unschedulable != true) return null;
        var taint = new Taint { Key = "node.kubernetes.io/unschedulable", Effect = "NoSchedule" };
        return (pod.Spec?.Tolerations ?? []).Any(t => Tolerates(t, taint)) ? null : "node(s) were unschedulable";
    }

    private static string? NodeSelector(Pod pod, Node node)
    {
        var labels = node.Metadata?.Labels ?? [];
        foreach (var (key, value) in pod.Spec?.NodeSelector ?? [])
        {
            if (!labels.TryGetValue(key, out var actual) || actual != value) return "node(s) didn't match Pod's node affinity/selector";
        }
        return null;
    }

    private static string? NodeAffinity(Pod pod, Node node)
    {
        var terms = pod.Spec?.Affinity?.NodeAffinity?.RequiredDuringSchedulingIgnoredDuringExecution?.NodeSelectorTerms;
        if (terms is null) return null;
        // Terms are ORed, requirements within a term ANDed; a term without requirements matches nothing.
        return terms.Any(t => TermMatches(t, node)) ? null : "node(s) didn't match Pod's node affinity/selector";
    }

    private static bool TermMatches(NodeSelectorTerm term, Node node)
    {
        var expressions = term.MatchExpressions ?? [];
        var fields = term.MatchFields ?? [];
        if (expressions.Count == 0 && fields.Count == 0) return false;
        var labels = node.Metadata?.Labels ?? [];
        return expressions.All(r => RequirementMatches(r, labels.TryGetValue(r.Key ?? "", out var v) ? v : null))
            && fields.All(r => r.Key == "metadata.name" && RequirementMatches(r, node.Metadata?.Name));
    }

    private static bool RequirementMatches(NodeSelectorRequirement r, string? value)
    {
        var values = r.Values ?? [];
        return r.Operator switch
        {
            "In" => value is not null && values.Contains(value),
            "NotIn" => value is null || !values.Contains(value),
            "Exists" => value is not null,
            "DoesNotExist" => value is null,
            "Gt" => value is not null && long.TryParse(value, out var a) && values.Count == 1 && long.TryParse(values[0], out var b) && a > b,
            "Lt" => value is not null && long.TryParse(value, out var c) && values.Count == 1 && long.TryParse(values[0], out var d) && c < d,
            _ => false,
        };
    }

    private static string? Taints(Pod pod, Node node)
    {
        var tolerations = pod.Spec?.Tolerations ?? [];
        foreach (var taint in node.Spec?.Taints ?? [])
        {
            if (taint.Effect is not ("NoSchedule" or "NoExecute")) continue;
            if (!tolerations.Any(t => Tolerates(t, taint))) return $"node(s) had untolerated taint {{{taint.Key}: {taint.Value}}}";
        }
        return null;
    }

    /// <summary>Upstream's Toleration.ToleratesTaint: empty effect matches all effects, empty key with Exists matches all keys.</summary>
    public static bool Tolerates(Toleration t, Taint taint)
    {
        if (!string.IsNullOrEmpty(t.Effect) && t.Effect != taint.Effect) return false;
        if (!string.IsNullOrEmpty(t.Key) && t.Key != taint.Key) return false;
        return t.Operator switch
        {
            "Exists" => true,
            "Equal" or "" or null => (t.Value ?? "") == (taint.Value ?? ""),
            _ => false,
        };
    }

    private static string? Resources(Pod pod, Node node, int podsOnNode, PodRequests requestedOnNode)
    {
        var allocatable = node.Status?.Allocatable ?? [];
        if (allocatable.TryGetValue("pods", out var pods) && podsOnNode + 1 > pods.Value()) return "Too many pods";
        var wanted = PodRequests.Of(pod);
        if (wanted.MilliCpu > 0 && allocatable.TryGetValue("cpu", out var cpu) && requestedOnNode.MilliCpu + wanted.MilliCpu > cpu.MilliValue()) return "Insufficient cpu";
        if (wanted.MemoryBytes > 0 && allocatable.TryGetValue("memory", out var memory) && requestedOnNode.MemoryBytes + wanted.MemoryBytes > memory.Value()) return "Insufficient memory";
        return null;
    }
}

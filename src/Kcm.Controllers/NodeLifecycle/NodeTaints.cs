using Kcm.Api.Core.V1;
using Kcm.Controllers.DaemonSets;

namespace Kcm.Controllers.NodeLifecycle;

/// <summary>Taint keys and the taint/toleration helpers of upstream's taints and v1 helper packages.</summary>
public static class NodeTaints
{
    public const string NotReady = "node.kubernetes.io/not-ready";
    public const string Unreachable = "node.kubernetes.io/unreachable";
    public const string Unschedulable = "node.kubernetes.io/unschedulable";
    public const string MemoryPressure = "node.kubernetes.io/memory-pressure";
    public const string DiskPressure = "node.kubernetes.io/disk-pressure";
    public const string PidPressure = "node.kubernetes.io/pid-pressure";
    public const string NetworkUnavailable = "node.kubernetes.io/network-unavailable";

    public const string NoSchedule = "NoSchedule";
    public const string NoExecute = "NoExecute";

    public static Taint UnreachableNoExecute() => new() { Key = Unreachable, Effect = NoExecute };

    public static Taint NotReadyNoExecute() => new() { Key = NotReady, Effect = NoExecute };

    /// <summary>Which condition status gets which NoSchedule taint (nodeConditionToTaintKeyStatusMap).</summary>
    public static string? TaintKeyFor(string? conditionType, string? status) => (conditionType, status) switch
    {
        ("Ready", "False") => NotReady,
        ("Ready", "Unknown") => Unreachable,
        ("MemoryPressure", "True") => MemoryPressure,
        ("DiskPressure", "True") => DiskPressure,
        ("NetworkUnavailable", "True") => NetworkUnavailable,
        ("PIDPressure", "True") => PidPressure,
        _ => null,
    };

    /// <summary>The taint keys that come from a node condition (taintKeyToNodeConditionMap).</summary>
    public static bool IsConditionTaint(string? key)
        => key is NotReady or Unreachable or NetworkUnavailable or MemoryPressure or DiskPressure or PidPressure;

    /// <summary>Taint.MatchTaint: same key and effect.</summary>
    public static bool Matches(Taint a, Taint b) => a.Key == b.Key && a.Effect == b.Effect;

    public static bool Exists(IEnumerable<Taint>? taints, Taint taint) => taints?.Any(t => Matches(t, taint)) == true;

    /// <summary>TaintSetDiff: taints of <paramref name="wanted"/> missing from <paramref name="current"/>, and the other way round.</summary>
    public static (List<Taint> ToAdd, List<Taint> ToRemove) Diff(IReadOnlyList<Taint> wanted, IReadOnlyList<Taint> current)
        => ([.. wanted.Where(t => !Exists(current, t))], [.. current.Where(t => !Exists(wanted, t))]);

    /// <summary>
    /// AddOrUpdateTaint: replaces the taint with the same key and effect (unless identical) or appends it; null when
    /// nothing changes.
    /// </summary>
    public static List<Taint>? AddOrUpdate(IReadOnlyList<Taint> taints, Taint taint)
    {
        var result = new List<Taint>(taints.Count + 1);
        var updated = false;
        foreach (var t in taints)
        {
            if (Matches(taint, t))
            {
                if (t.Value == taint.Value && t.TimeAdded == taint.TimeAdded)
                {
                    return null;
                }
                result.Add(taint);
                updated = true;
                continue;
            }
            result.Add(t);
        }
        if (!updated)
        {
            result.Add(taint);
        }
        return result;
    }

    /// <summary>RemoveTaint: drops taints with the same key and effect; null when there was none.</summary>
    public static List<Taint>? Remove(IReadOnlyList<Taint> taints, Taint taint)
    {
        var result = taints.Where(t => !Matches(taint, t)).ToList();
        return result.Count == taints.Count ? null : result;
    }

    public static List<Taint> NoExecuteOf(IEnumerable<Taint>? taints) => [.. (taints ?? []).Where(t => t.Effect == NoExecute)];

    /// <summary>
    /// GetMatchingTolerations: whether every taint is tolerated, and the toleration used for each (the first one that
    /// tolerates it).
    /// </summary>
    public static (bool AllTolerated, List<Toleration> Used) MatchingTolerations(IReadOnlyList<Taint> taints, IReadOnlyList<Toleration>? tolerations)
    {
        var used = new List<Toleration>();
        if (taints.Count == 0)
        {
            return (true, used);
        }
        if (tolerations is null || tolerations.Count == 0)
        {
            return (false, used);
        }
        foreach (var taint in taints)
        {
            var match = tolerations.FirstOrDefault(t => DaemonSetUtil.Tolerates(t, taint));
            if (match is null)
            {
                return (false, []);
            }
            used.Add(match);
        }
        return (true, used);
    }

    /// <summary>
    /// getMinTolerationTime: zero without tolerations or when one has tolerationSeconds ≤ 0, null when none is
    /// bounded (tolerated forever), else the smallest bound.
    /// </summary>
    public static TimeSpan? MinTolerationTime(IReadOnlyList<Toleration> tolerations)
    {
        if (tolerations.Count == 0)
        {
            return TimeSpan.Zero;
        }
        long? min = null;
        foreach (var t in tolerations)
        {
            if (t.TolerationSeconds is { } seconds)
            {
                if (seconds <= 0)
                {
                    return TimeSpan.Zero;
                }
                if (min is null || seconds < min)
                {
                    min = seconds;
                }
            }
        }
        return min is { } m ? TimeSpan.FromSeconds(m) : null;
    }
}

using System.Globalization;
using Kcm.Api.Core.V1;

namespace Kcm.Controllers.Common;

/// <summary>A pod and its rank: how many related active pods share its node (higher = deleted first).</summary>
public readonly record struct RankedPod(Pod Pod, int Rank);

/// <summary>Feature gates that change upstream's deletion order (both beta and on by default in v1.26).</summary>
public sealed record PodRankingFeatures(bool PodDeletionCost = true, bool LogarithmicScaleDown = true);

/// <summary>
/// Upstream's ActivePodsWithRanks ordering: the pod that sorts first is the one to delete first.
/// Unscheduled before scheduled; Pending before Unknown before Running; not ready before ready; lower
/// controller.kubernetes.io/pod-deletion-cost first; more co-located pods first; ready more recently first;
/// more restarts first; newer first. With LogarithmicScaleDown, times are compared on a log2 scale of their age
/// (so pods of similar age tie and are picked by UID, spreading deletions randomly).
/// </summary>
public sealed class ActivePodsWithRanks(DateTimeOffset? now, PodRankingFeatures? features = null) : IComparer<RankedPod>
{
    public const string PodDeletionCostAnnotation = "controller.kubernetes.io/pod-deletion-cost";

    private readonly PodRankingFeatures _features = features ?? new PodRankingFeatures();

    /// <summary>The pods ordered by deletion preference (stable for ties).</summary>
    public IReadOnlyList<Pod> Sort(IReadOnlyList<Pod> pods, IReadOnlyList<int> ranks)
    {
        if (pods.Count != ranks.Count)
        {
            throw new ArgumentException($"{pods.Count} pods but {ranks.Count} ranks", nameof(ranks));
        }
        return pods.Select((pod, i) => new RankedPod(pod, ranks[i])).OrderBy(p => p, this).Select(p => p.Pod).ToList();
    }

    public int Compare(RankedPod x, RankedPod y) => Less(x, y) ? -1 : Less(y, x) ? 1 : 0;

    /// <summary>True when <paramref name="a"/> should be deleted before <paramref name="b"/>.</summary>
    public bool Less(RankedPod a, RankedPod b)
    {
        var (pi, pj) = (a.Pod, b.Pod);
        var nodeI = pi.Spec?.NodeName ?? "";
        var nodeJ = pj.Spec?.NodeName ?? "";
        if (nodeI != nodeJ && (nodeI.Length == 0 || nodeJ.Length == 0))
        {
            return nodeI.Length == 0;
        }
        var phaseI = PhaseOrdinal(pi.Status?.Phase);
        var phaseJ = PhaseOrdinal(pj.Status?.Phase);
        if (phaseI != phaseJ)
        {
            return phaseI < phaseJ;
        }
        var readyI = PodReadiness.IsPodReady(pi);
        var readyJ = PodReadiness.IsPodReady(pj);
        if (readyI != readyJ)
        {
            return !readyI;
        }
        if (_features.PodDeletionCost)
        {
            var costI = DeletionCost(pi);
            var costJ = DeletionCost(pj);
            if (costI != costJ)
            {
                return costI < costJ;
            }
        }
        if (a.Rank != b.Rank)
        {
            return a.Rank > b.Rank;
        }
        if (readyI && readyJ)
        {
            var readyTimeI = PodReadiness.ReadySince(pi);
            var readyTimeJ = PodReadiness.ReadySince(pj);
            if (readyTimeI != readyTimeJ)
            {
                return NewerFirst(pi, pj, readyTimeI, readyTimeJ);
            }
        }
        var restartsI = PodReadiness.MaxContainerRestarts(pi);
        var restartsJ = PodReadiness.MaxContainerRestarts(pj);
        if (restartsI != restartsJ)
        {
            return restartsI > restartsJ;
        }
        var createdI = pi.Metadata?.CreationTimestamp;
        var createdJ = pj.Metadata?.CreationTimestamp;
        if (createdI != createdJ)
        {
            return NewerFirst(pi, pj, createdI, createdJ);
        }
        return false;
    }

    /// <summary>The pod-deletion-cost annotation; 0 when absent or not a valid int32 (as upstream).</summary>
    public static int DeletionCost(Pod pod)
        => pod.Metadata?.Annotations?.TryGetValue(PodDeletionCostAnnotation, out var value) == true
            && int.TryParse(value, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var cost)
            ? cost
            : 0;

    /// <summary>
    /// Base-2 logarithm of the ages (in nanoseconds, as Go's Duration) of two timestamps compared to now;
    /// a non-positive age ranks -1. Equal results mean "about the same age".
    /// </summary>
    public static long LogarithmicRankDiff(DateTimeOffset t1, DateTimeOffset t2, DateTimeOffset now)
    {
        static long Rank(TimeSpan age) => age > TimeSpan.Zero ? (long)Math.Log2(age.Ticks * 100.0) : -1;
        return Rank(now - t1) - Rank(now - t2);
    }

    private bool NewerFirst(Pod pi, Pod pj, DateTimeOffset? ti, DateTimeOffset? tj)
    {
        if (!_features.LogarithmicScaleDown || now is null || ti is null || tj is null)
        {
            return AfterOrMissing(ti, tj);
        }
        var rankDiff = LogarithmicRankDiff(ti.Value, tj.Value, now.Value);
        if (rankDiff == 0)
        {
            return string.CompareOrdinal(pi.Metadata?.Uid, pj.Metadata?.Uid) < 0;
        }
        return rankDiff < 0;
    }

    // Upstream's afterOrZero: a missing time counts as later than any present one.
    private static bool AfterOrMissing(DateTimeOffset? t1, DateTimeOffset? t2)
        => t1 is null || t2 is null ? t1 is null : t1.Value > t2.Value;

    private static int PhaseOrdinal(string? phase) => phase switch
    {
        PodReadiness.PhaseUnknown => 1,
        PodReadiness.PhaseRunning => 2,
        _ => 0,
    };
}

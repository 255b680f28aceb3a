using Kcm.Api.Core.V1;
using Kcm.Api.Meta.V1;
using Kcm.Api.Policy.V1;
using Kcm.Controllers.Common;

namespace Kcm.Controllers.Disruption;

/// <summary>
/// The arithmetic of a PodDisruptionBudget's status (upstream's countHealthyPods, buildDisruptedPodMap and the
/// component-helpers poddisruptionbudget condition helpers), free of caches and clients.
/// </summary>
public static class PdbStatus
{
    public const string DisruptionAllowedCondition = "DisruptionAllowed";
    public const string SufficientPodsReason = "SufficientPods";
    public const string InsufficientPodsReason = "InsufficientPods";
    public const string SyncFailedReason = "SyncFailed";

    /// <summary>How long an evicted pod may stay undeleted before the budget counts it again.</summary>
    public static readonly TimeSpan DeletionTimeout = TimeSpan.FromMinutes(2);

    /// <summary>Ready pods that are neither being deleted nor recently evicted (still expected to go).</summary>
    public static int CountHealthyPods(IEnumerable<Pod> pods, IReadOnlyDictionary<string, DateTimeOffset> disruptedPods, DateTimeOffset now)
    {
        var healthy = 0;
        foreach (var pod in pods)
        {
            if (pod.Metadata?.DeletionTimestamp is not null)
            {
                continue;
            }
            if (disruptedPods.TryGetValue(pod.Metadata?.Name ?? "", out var disrupted) && disrupted + DeletionTimeout > now)
            {
                continue;
            }
            if (PodReadiness.IsPodReady(pod))
            {
                healthy++;
            }
        }
        return healthy;
    }

    /// <summary>
    /// The disruptedPods entries still pending: pods that exist, are not being deleted and were evicted less than
    /// <see cref="DeletionTimeout"/> ago. <paramref name="recheckAt"/> is the earliest of their timeouts (when the
    /// status must be computed again); <paramref name="overdue"/> the pods whose timeout passed.
    /// </summary>
    public static Dictionary<string, DateTimeOffset> BuildDisruptedPodMap(IEnumerable<Pod> pods, PodDisruptionBudget pdb, DateTimeOffset now,
        out DateTimeOffset? recheckAt, out List<(Pod Pod, DateTimeOffset DisruptedAt)> overdue)
    {
        var result = new Dictionary<string, DateTimeOffset>(StringComparer.Ordinal);
        recheckAt = null;
        overdue = [];
        var recorded = pdb.Status?.DisruptedPods;
        if (recorded is null)
        {
            return result;
        }
        foreach (var pod in pods)
        {
            if (pod.Metadata?.DeletionTimestamp is not null)
            {
                continue;
            }
            var name = pod.Metadata?.Name ?? "";
            if (!recorded.TryGetValue(name, out var at))
            {
                continue;
            }
            // A null time is Go's zero time, long past.
            var disruptedAt = at ?? DateTimeOffset.MinValue;
            var expectedDeletion = disruptedAt + DeletionTimeout;
            if (expectedDeletion < now)
            {
                overdue.Add((pod, disruptedAt));
                continue;
            }
            if (recheckAt is null || expectedDeletion < recheckAt)
            {
                recheckAt = expectedDeletion;
            }
            result[name] = disruptedAt;
        }
        return result;
    }

    /// <summary>
    /// intstr.GetScaledValueFromIntOrPercent with roundUp, as the budget's percentages are read: minAvailable rounds
    /// up (more pods kept), and so does maxUnavailable (more pods may go).
    /// </summary>
    public static int Scaled(Kcm.Api.IntOrString value, int expectedCount)
        => Kcm.Api.IntOrString.GetScaledValueFromIntOrPercent(value, expectedCount, roundUp: true);

    /// <summary>
    /// Sets the DisruptionAllowed condition from status.disruptionsAllowed (True/SufficientPods when above zero,
    /// else False/InsufficientPods), as UpdateDisruptionAllowedCondition.
    /// </summary>
    public static void UpdateDisruptionAllowedCondition(PodDisruptionBudgetStatus status, DateTimeOffset now)
    {
        var allowed = (status.DisruptionsAllowed ?? 0) > 0;
        status.Conditions ??= [];
        SetStatusCondition(status.Conditions, new Condition
        {
            Type = DisruptionAllowedCondition,
            Status = allowed ? "True" : "False",
            Reason = allowed ? SufficientPodsReason : InsufficientPodsReason,
            Message = "",
            ObservedGeneration = OmitZero(status.ObservedGeneration),
        }, now);
    }

    /// <summary>A condition's observedGeneration as Go writes it: omitted when zero.</summary>
    public static long? OmitZero(long? generation) => generation is null or 0 ? null : generation;

    /// <summary>Whether the DisruptionAllowed condition matches disruptionsAllowed for the current generation (ConditionsAreUpToDate).</summary>
    public static bool ConditionsAreUpToDate(PodDisruptionBudget pdb)
    {
        var condition = pdb.Status?.Conditions?.FirstOrDefault(c => c.Type == DisruptionAllowedCondition);
        if (condition is null || (pdb.Status!.ObservedGeneration ?? 0) != (pdb.Metadata?.Generation ?? 0))
        {
            return false;
        }
        return (pdb.Status.DisruptionsAllowed ?? 0) > 0
            ? condition is { Status: "True", Reason: SufficientPodsReason }
            : condition is { Status: "False", Reason: InsufficientPodsReason };
    }

    /// <summary>
    /// apimeta.SetStatusCondition: adds the condition (transition time now unless given), or updates the one of its
    /// type in place, moving the transition time only when the status changes.
    /// </summary>
    public static void SetStatusCondition(List<Condition> conditions, Condition condition, DateTimeOffset now)
    {
        var existing = conditions.FirstOrDefault(c => c.Type == condition.Type);
        if (existing is null)
        {
            condition.LastTransitionTime ??= now;
            conditions.Add(condition);
            return;
        }
        if (existing.Status != condition.Status)
        {
            existing.Status = condition.Status;
            existing.LastTransitionTime = condition.LastTransitionTime ?? now;
        }
        existing.Reason = condition.Reason;
        existing.Message = condition.Message;
        existing.ObservedGeneration = condition.ObservedGeneration;
    }

    /// <summary>Semantic equality of disruptedPods maps: a missing map equals an empty one, times compared as instants.</summary>
    public static bool SameDisruptedPods(IReadOnlyDictionary<string, DateTimeOffset?>? current, IReadOnlyDictionary<string, DateTimeOffset> computed)
    {
        var count = current?.Count ?? 0;
        if (count != computed.Count)
        {
            return false;
        }
        foreach (var (name, at) in computed)
        {
            if (current is null || !current.TryGetValue(name, out var existing) || (existing ?? DateTimeOffset.MinValue) != at)
            {
                return false;
            }
        }
        return true;
    }
}

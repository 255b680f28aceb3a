using Kcm.Api.Core.V1;
using Kcm.Controllers.Common;
using LabelSelector = Kcm.Api.Selectors.LabelSelector;

namespace Kcm.Controllers.ReplicaSets;

/// <summary>Upstream's calculateStatus and condition helpers (replica_set_utils.go).</summary>
public static class ReplicaStatusCalculator
{
    public const string ReplicaFailure = "ReplicaFailure";

    /// <summary>
    /// The status the owned active pods imply: counts of pods, pods carrying all template labels, ready pods and
    /// pods ready for longer than minReadySeconds. A create/delete error sets ReplicaFailure (reason FailedCreate or
    /// FailedDelete); a clean sync removes it.
    /// </summary>
    public static ReplicaStatus Calculate(
        ReplicaStatus current,
        int desiredReplicas,
        int minReadySeconds,
        IReadOnlyDictionary<string, string>? templateLabels,
        IReadOnlyList<Pod> activePods,
        Exception? manageReplicasError,
        DateTimeOffset now)
    {
        var templateSelector = LabelSelector.FromSet(templateLabels);
        var fullyLabeled = 0;
        var ready = 0;
        var available = 0;
        foreach (var pod in activePods)
        {
            if (templateSelector.Matches(pod.Metadata?.Labels))
            {
                fullyLabeled++;
            }
            if (PodReadiness.IsPodReady(pod))
            {
                ready++;
                if (PodReadiness.IsPodAvailable(pod, minReadySeconds, now))
                {
                    available++;
                }
            }
        }

        var conditions = current.Conditions;
        var failure = current.Condition(ReplicaFailure);
        if (manageReplicasError is not null && failure is null)
        {
            var diff = activePods.Count - desiredReplicas;
            var reason = diff < 0 ? PodEventReasons.FailedCreate : diff > 0 ? PodEventReasons.FailedDelete : "";
            conditions = SetCondition(conditions, new ReplicaCondition(ReplicaFailure, "True", now, reason, manageReplicasError.Message));
        }
        else if (manageReplicasError is null && failure is not null)
        {
            conditions = conditions.Where(c => c.Type != ReplicaFailure).ToList();
        }
        return current with
        {
            Replicas = activePods.Count,
            FullyLabeledReplicas = fullyLabeled,
            ReadyReplicas = ready,
            AvailableReplicas = available,
            Conditions = conditions,
        };
    }

    /// <summary>Adds or replaces a condition; one with the same status and reason is left alone (keeping its transition time).</summary>
    public static IReadOnlyList<ReplicaCondition> SetCondition(IReadOnlyList<ReplicaCondition> conditions, ReplicaCondition condition)
    {
        if (conditions.FirstOrDefault(c => c.Type == condition.Type) is { } existing && existing.Status == condition.Status && existing.Reason == condition.Reason)
        {
            return conditions;
        }
        return [.. conditions.Where(c => c.Type != condition.Type), condition];
    }

    /// <summary>True when writing <paramref name="next"/> would change nothing (upstream skips the update then).</summary>
    public static bool IsSteadyState(ReplicaStatus current, ReplicaStatus next, long generation)
        => current.Replicas == next.Replicas
            && current.FullyLabeledReplicas == next.FullyLabeledReplicas
            && current.ReadyReplicas == next.ReadyReplicas
            && current.AvailableReplicas == next.AvailableReplicas
            && generation == current.ObservedGeneration
            && current.Conditions.SequenceEqual(next.Conditions);
}

using Kcm.Api.Core.V1;

namespace Kcm.Controllers.Common;

/// <summary>Pod phase, readiness and availability as upstream's pkg/api/v1/pod and controller_utils judge them.</summary>
public static class PodReadiness
{
    public const string PhasePending = "Pending";
    public const string PhaseRunning = "Running";
    public const string PhaseSucceeded = "Succeeded";
    public const string PhaseFailed = "Failed";
    public const string PhaseUnknown = "Unknown";

    public const string ConditionReady = "Ready";
    public const string ConditionTrue = "True";

    /// <summary>The pod's first Ready condition, if any.</summary>
    public static PodCondition? ReadyCondition(Pod pod)
        => pod.Status?.Conditions?.FirstOrDefault(c => c.Type == ConditionReady);

    public static bool IsPodReady(Pod pod) => ReadyCondition(pod)?.Status == ConditionTrue;

    /// <summary>Ready, and (unless <paramref name="minReadySeconds"/> is 0) ready since strictly more than minReadySeconds before <paramref name="now"/>.</summary>
    public static bool IsPodAvailable(Pod pod, int minReadySeconds, DateTimeOffset now)
    {
        if (!IsPodReady(pod))
        {
            return false;
        }
        if (minReadySeconds == 0)
        {
            return true;
        }
        return ReadyCondition(pod)!.LastTransitionTime is { } readySince && readySince + TimeSpan.FromSeconds(minReadySeconds) < now;
    }

    /// <summary>When the pod last became ready, or null when it is not ready (upstream's podReadyTime).</summary>
    public static DateTimeOffset? ReadySince(Pod pod)
        => IsPodReady(pod) ? pod.Status!.Conditions!.First(c => c.Type == ConditionReady && c.Status == ConditionTrue).LastTransitionTime : null;

    /// <summary>Not terminated and not being deleted: the pods a workload controller counts.</summary>
    public static bool IsPodActive(Pod pod)
        => pod.Status?.Phase is not (PhaseSucceeded or PhaseFailed) && pod.Metadata?.DeletionTimestamp is null;

    public static List<Pod> FilterActivePods(IEnumerable<Pod> pods) => pods.Where(IsPodActive).ToList();

    /// <summary>The highest restart count among the pod's containers.</summary>
    public static int MaxContainerRestarts(Pod pod)
        => pod.Status?.ContainerStatuses is { Count: > 0 } statuses ? statuses.Max(s => s.RestartCount ?? 0) : 0;
}

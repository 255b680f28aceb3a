using Kcm.Api.Core.V1;
using Kcm.Runtime.Informers;

namespace Kcm.Controllers.Common;

/// <summary>
/// Upstream's TriggerTimeTracker: the value of the endpoints.kubernetes.io/last-change-trigger-time annotation,
/// the earliest time among the changes (pod readiness transitions, Service creation) not yet seen by a previous
/// sync of the Service; the Service's creation time on its first sync; none when nothing new happened.
/// </summary>
public sealed class EndpointTriggerTimeTracker
{
    private readonly Dictionary<ObjectKey, State> _states = [];
    private readonly Lock _lock = new();

    public DateTimeOffset? ComputeLastChangeTriggerTime(Service service, IEnumerable<Pod> pods)
    {
        var key = ObjectKey.Of(service);
        State? state;
        lock (_lock)
        {
            _states.TryGetValue(key, out state);
        }
        DateTimeOffset? earliest = null;
        var podTimes = new Dictionary<string, DateTimeOffset>();
        foreach (var pod in pods)
        {
            if (PodReadiness.ReadyCondition(pod)?.LastTransitionTime is not { } podTime || pod.Metadata?.Name is not { } name)
            {
                continue;
            }
            podTimes[name] = podTime;
            if (state is null || !state.PodTimes.TryGetValue(name, out var seen) || podTime > seen)
            {
                earliest = Min(earliest, podTime);
            }
        }
        var serviceTime = service.Metadata?.CreationTimestamp;
        if (serviceTime is { } created && (state?.ServiceTime is not { } seenService || created > seenService))
        {
            earliest = Min(earliest, created);
        }
        lock (_lock)
        {
            _states[key] = new State(serviceTime, podTimes);
        }
        return state is null ? serviceTime : earliest;
    }

    public void DeleteService(ObjectKey key)
    {
        lock (_lock)
        {
            _states.Remove(key);
        }
    }

    private static DateTimeOffset? Min(DateTimeOffset? current, DateTimeOffset value) => current is { } c && c <= value ? c : value;

    private sealed record State(DateTimeOffset? ServiceTime, Dictionary<string, DateTimeOffset> PodTimes);
}

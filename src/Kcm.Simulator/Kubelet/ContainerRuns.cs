using System.Collections.Concurrent;
using Kcm.Api.Core.V1;

namespace Kcm.Simulator.Kubelet;

/// <summary>
/// Ends containers whose <see cref="ContainerProgram"/> is known as a kubelet would: terminated with the exit code
/// (reason Completed or Error), restarted per the pod's restartPolicy (the first restart at once, then after the
/// kubelet's crash-loop back-off of 10 s doubling up to 5 min, waiting in CrashLoopBackOff meanwhile), and the pod
/// phase and readiness conditions derived from the containers as the kubelet's getPhase does.
/// </summary>
internal sealed class ContainerRuns
{
    private static readonly TimeSpan BackOffBase = TimeSpan.FromSeconds(10);
    private static readonly TimeSpan BackOffCap = TimeSpan.FromMinutes(5);

    // Exact instants by container ID: the status holds whole seconds only, too coarse for sub-second programs.
    private readonly ConcurrentDictionary<string, DateTimeOffset> _started = new();
    private readonly ConcurrentDictionary<string, DateTimeOffset> _finished = new();

    public void Started(string containerId, DateTimeOffset at) => _started[containerId] = at;

    public void Forget(Pod pod)
    {
        foreach (var status in pod.Status?.ContainerStatuses ?? [])
        {
            foreach (var id in new[] { status.ContainerID, status.LastState?.Terminated?.ContainerID })
            {
                if (id is null) continue;
                _started.TryRemove(id, out _);
                _finished.TryRemove(id, out _);
            }
        }
    }

    /// <summary>When the next container of a Running pod ends or restarts; null when none will.</summary>
    public DateTimeOffset? NextChange(Pod pod)
    {
        DateTimeOffset? next = null;
        foreach (var (container, status) in Pairs(pod))
        {
            if (DueAt(pod, container, status) is { } due && (next is null || due < next)) next = due;
        }
        return next;
    }

    /// <summary>Applies every change due by <paramref name="now"/> to the pod's status; false when nothing was due.</summary>
    public bool Advance(Pod pod, DateTimeOffset now, Func<string> newContainerId)
    {
        var changed = false;
        var policy = pod.Spec?.RestartPolicy ?? "Always";
        foreach (var (container, status) in Pairs(pod))
        {
            if (DueAt(pod, container, status) is not { } due || due > now) continue;
            changed = true;
            if (status.State?.Running is { } running)
            {
                var code = ContainerProgram.Of(pod, container)!.Value.ExitCode;
                var terminated = new ContainerStateTerminated
                {
                    ExitCode = code,
                    Reason = code == 0 ? "Completed" : "Error",
                    StartedAt = running.StartedAt,
                    FinishedAt = due,
                    ContainerID = status.ContainerID,
                };
                _finished[status.ContainerID ?? ""] = due;
                status.Ready = false;
                status.Started = false;
                var restart = policy == "Always" || (policy == "OnFailure" && code != 0);
                if (!restart)
                {
                    status.State = new ContainerState { Terminated = terminated };
                    continue;
                }
                status.LastState = new ContainerState { Terminated = terminated };
                if (BackOff(status.RestartCount ?? 0) > TimeSpan.Zero)
                {
                    status.State = new ContainerState
                    {
                        Waiting = new ContainerStateWaiting
                        {
                            Reason = "CrashLoopBackOff",
                            Message = $"back-off {(int)BackOff(status.RestartCount ?? 0).TotalSeconds}s restarting failed container={container.Name} pod={pod.Metadata?.Name}_{pod.Metadata?.Namespace}({pod.Metadata?.Uid})",
                        },
                    };
                    continue;
                }
            }
            // Restart: a new container ID, running from now.
            var id = newContainerId();
            _started[id] = now;
            status.ContainerID = id;
            status.RestartCount = (status.RestartCount ?? 0) + 1;
            status.State = new ContainerState { Running = new ContainerStateRunning { StartedAt = now } };
            status.Started = true;
            status.Ready = true;
        }
        if (changed) UpdatePhase(pod, now);
        return changed;
    }

    /// <summary>The pod's running containers killed (exit code 137, as after the grace period) and the phase that follows.</summary>
    public static void Kill(Pod pod, DateTimeOffset now)
    {
        foreach (var status in pod.Status?.ContainerStatuses ?? [])
        {
            if (status.State?.Running is not { } running) continue;
            status.State = new ContainerState
            {
                Terminated = new ContainerStateTerminated { ExitCode = 137, Reason = "Error", StartedAt = running.StartedAt, FinishedAt = now, ContainerID = status.ContainerID },
            };
            status.Ready = false;
            status.Started = false;
        }
        UpdatePhase(pod, now);
    }

    private DateTimeOffset? DueAt(Pod pod, Container container, ContainerStatus status)
    {
        if (status.State?.Running is { } running)
        {
            if (ContainerProgram.Of(pod, container) is not { } program) return null;
            var started = status.ContainerID is { } id && _started.TryGetValue(id, out var at) ? at : running.StartedAt;
            return started + program.Duration;
        }
        if (status.State?.Waiting is { Reason: "CrashLoopBackOff" } && status.LastState?.Terminated is { } last)
        {
            var finished = last.ContainerID is { } id && _finished.TryGetValue(id, out var at) ? at : last.FinishedAt;
            return finished + BackOff(status.RestartCount ?? 0);
        }
        return null;
    }

    private static TimeSpan BackOff(int restarts)
    {
        if (restarts == 0) return TimeSpan.Zero;
        var delay = BackOffBase * Math.Pow(2, Math.Min(restarts - 1, 10));
        return delay > BackOffCap ? BackOffCap : delay;
    }

    private static IEnumerable<(Container, ContainerStatus)> Pairs(Pod pod)
    {
        var containers = (pod.Spec?.Containers ?? []).Where(c => c.Name is not null).ToDictionary(c => c.Name!);
        foreach (var status in pod.Status?.ContainerStatuses ?? [])
        {
            if (status.Name is not null && containers.TryGetValue(status.Name, out var container)) yield return (container, status);
        }
    }

    // The kubelet's getPhase for regular containers, and the readiness conditions it derives from them.
    private static void UpdatePhase(Pod pod, DateTimeOffset now)
    {
        var statuses = pod.Status!.ContainerStatuses ?? [];
        int running = 0, waiting = 0, stopped = 0, succeeded = 0;
        foreach (var s in statuses)
        {
            if (s.State?.Running is not null) running++;
            else if (s.State?.Terminated is { } t)
            {
                stopped++;
                if (t.ExitCode == 0) succeeded++;
            }
            else if (s.LastState?.Terminated is not null) stopped++;
            else waiting++;
        }
        var policy = pod.Spec?.RestartPolicy ?? "Always";
        var phase = waiting > 0 ? "Pending"
            : running > 0 ? "Running"
            : policy == "Always" ? "Running"
            : stopped == succeeded ? "Succeeded"
            : policy == "OnFailure" ? "Running"
            : "Failed";
        pod.Status.Phase = phase;
        var unready = statuses.Where(s => s.Ready != true).Select(s => s.Name).ToList();
        if (phase == "Succeeded")
        {
            pod.Status.Conditions = PodRunner.Conditions(pod, now, ready: false, "PodCompleted", null, initializedReason: "PodCompleted");
        }
        else if (unready.Count > 0)
        {
            pod.Status.Conditions = PodRunner.Conditions(pod, now, ready: false, "ContainersNotReady", $"containers with unready status: [{string.Join(' ', unready)}]");
        }
        else
        {
            pod.Status.Conditions = PodRunner.Conditions(pod, now, ready: true);
        }
    }
}

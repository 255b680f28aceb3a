using System.Collections.Concurrent;
using Kcm.Api.Core.V1;
using Kcm.Api.Meta.V1;
using Kcm.Client;
using Kcm.Client.Errors;
using Kcm.Runtime.Controllers;
using Kcm.Runtime.Informers;
using Kcm.Simulator.Nodes;
using Microsoft.Extensions.Logging;

namespace Kcm.Simulator.Kubelet;

/// <summary>
/// The kubelet's pod duties on the simulated nodes: a bound pod is Running and Ready once the ready delay has passed
/// since its binding was seen (containers "start" at once, with an IP from the node's spec.podCIDR or else its own range);
/// containers with a known program end and restart as <see cref="ContainerRuns"/> says; a pod with a deletionTimestamp
/// is deleted with grace 0 as a kubelet does after its containers stopped (the server keeps it while it has
/// finalizers). Pods of a failed node are left as they are.
/// </summary>
internal sealed class PodRunner(KubeApiClient client, SimulatorOptions options, IObjectCache<Pod> pods,
    Func<string, SimulatedNode?> nodeNamed, Func<string, Node?> cachedNode, ILogger logger)
{
    private readonly ConcurrentDictionary<string, DateTimeOffset> _boundSeen = new();
    private readonly ConcurrentDictionary<string, int> _nextIp = new();
    private readonly ContainerRuns _runs = new();

    public bool Wants(Pod pod) => pod.Spec?.NodeName is { Length: > 0 } node && nodeNamed(node) is not null;

    /// <summary>Starts the ready-delay clock of a pod the informer shows bound to one of our nodes.</summary>
    public void Observed(Pod pod)
    {
        if (pod.Metadata?.Uid is { } uid) _boundSeen.TryAdd(uid, options.TimeProvider.GetUtcNow());
    }

    public void Forget(Pod pod)
    {
        if (pod.Metadata?.Uid is { } uid) _boundSeen.TryRemove(uid, out _);
        _runs.Forget(pod);
    }

    public async Task<ReconcileResult> SyncAsync(ObjectKey key, CancellationToken ct)
    {
        var pod = pods.Get(key);
        if (pod is null || !Wants(pod)) return ReconcileResult.Done;
        var node = nodeNamed(pod.Spec!.NodeName!)!;
        if (!node.IsUp) return ReconcileResult.Done;
        if (pod.Metadata!.DeletionTimestamp is not null)
        {
            await FinishDeletionAsync(pod, ct).ConfigureAwait(false);
            return ReconcileResult.Done;
        }
        if (pod.Status?.Phase == "Running")
        {
            await RestoreReadyAsync(pod, ct).ConfigureAwait(false);
            return await AdvanceAsync(pod, ct).ConfigureAwait(false);
        }
        if (pod.Status?.Phase is not (null or "Pending")) return ReconcileResult.Done;
        var readyAt = _boundSeen.GetOrAdd(pod.Metadata.Uid ?? "", options.TimeProvider.GetUtcNow()) + options.PodReadyDelay;
        var wait = readyAt - options.TimeProvider.GetUtcNow();
        if (wait > TimeSpan.Zero) return ReconcileResult.After(wait);
        await StartAsync(pod, node, ct).ConfigureAwait(false);
        return ReconcileResult.Done;
    }

    private async Task StartAsync(Pod cached, SimulatedNode node, CancellationToken ct)
    {
        Pod pod;
        try
        {
            // The cache may lag behind our own write; the server's copy says whether the pod still needs starting.
            pod = await client.GetAsync<Pod>(cached.Metadata!.Namespace, cached.Metadata.Name!, ct).ConfigureAwait(false);
        }
        catch (NotFoundException)
        {
            return;
        }
        if (pod.Metadata?.Uid != cached.Metadata.Uid || pod.Metadata?.DeletionTimestamp is not null || pod.Status?.Phase is not (null or "Pending")) return;
        var now = options.TimeProvider.GetUtcNow();
        var status = pod.Status ??= new PodStatus();
        status.Phase = "Running";
        status.HostIP = NodeTemplate.InternalIp(node.Index);
        status.PodIP = pod.Spec?.HostNetwork == true ? status.HostIP : AllocateIp(node);
        status.PodIPs = [new PodIP { Ip = status.PodIP }];
        status.StartTime ??= now;
        status.Conditions = Conditions(pod, now, ready: true);
        status.InitContainerStatuses = pod.Spec?.InitContainers is { Count: > 0 } init
            ? [.. init.Select(c => ContainerStatusOf(c, now, running: false))]
            : null;
        status.ContainerStatuses = [.. (pod.Spec?.Containers ?? []).Select(c => ContainerStatusOf(c, now, running: true))];
        foreach (var started in status.ContainerStatuses) _runs.Started(started.ContainerID!, now);
        try
        {
            await client.UpdateStatusAsync(pod, cancellationToken: ct).ConfigureAwait(false);
        }
        catch (ConflictException e)
        {
            // Written meanwhile (labels, owner references): retried with the newer copy, not an error worth a stack trace.
            throw new IgnorableReconcileException(e.Message);
        }
        logger.LogDebug("Pod {Namespace}/{Pod} is Running on {Node} with IP {Ip}", pod.Metadata!.Namespace, pod.Metadata.Name, node.Name, status.PodIP);
    }

    /// <summary>
    /// Ready set False from outside while the containers are ready (the node lifecycle controller's MarkPodsNotReady on
    /// a node that stopped heartbeating): once the node runs again its kubelet reports the pod Ready again.
    /// </summary>
    private async Task RestoreReadyAsync(Pod cached, CancellationToken ct)
    {
        var conditions = cached.Status?.Conditions ?? [];
        if (conditions.FirstOrDefault(c => c.Type == "Ready")?.Status != "False" || conditions.FirstOrDefault(c => c.Type == "ContainersReady")?.Status != "True") return;
        Pod pod;
        try
        {
            pod = await client.GetAsync<Pod>(cached.Metadata!.Namespace, cached.Metadata.Name!, ct).ConfigureAwait(false);
        }
        catch (NotFoundException)
        {
            return;
        }
        if (pod.Metadata?.Uid != cached.Metadata.Uid || pod.Metadata?.DeletionTimestamp is not null || pod.Status?.Phase != "Running") return;
        var restored = Conditions(pod, options.TimeProvider.GetUtcNow(), ready: true);
        if (restored.FirstOrDefault(c => c.Type == "Ready")?.Status != "True") return;
        pod.Status!.Conditions = restored;
        try
        {
            await client.UpdateStatusAsync(pod, cancellationToken: ct).ConfigureAwait(false);
        }
        catch (ConflictException e)
        {
            throw new IgnorableReconcileException(e.Message);
        }
    }

    private async Task PostKilledAsync(Pod cached, CancellationToken ct)
    {
        Pod pod;
        try
        {
            pod = await client.GetAsync<Pod>(cached.Metadata!.Namespace, cached.Metadata.Name!, ct).ConfigureAwait(false);
        }
        catch (NotFoundException)
        {
            return;
        }
        if (pod.Metadata?.Uid != cached.Metadata.Uid || pod.Status?.Phase != "Running") return;
        ContainerRuns.Kill(pod, options.TimeProvider.GetUtcNow());
        try
        {
            await client.UpdateStatusAsync(pod, cancellationToken: ct).ConfigureAwait(false);
        }
        catch (ConflictException e)
        {
            throw new IgnorableReconcileException(e.Message);
        }
    }

    // Ends or restarts the containers whose programs are due, then waits for the next one.
    private async Task<ReconcileResult> AdvanceAsync(Pod cached, CancellationToken ct)
    {
        if (_runs.NextChange(cached) is not { } due) return ReconcileResult.Done;
        var wait = due - options.TimeProvider.GetUtcNow();
        if (wait > TimeSpan.Zero) return ReconcileResult.After(wait);
        Pod pod;
        try
        {
            pod = await client.GetAsync<Pod>(cached.Metadata!.Namespace, cached.Metadata.Name!, ct).ConfigureAwait(false);
        }
        catch (NotFoundException)
        {
            return ReconcileResult.Done;
        }
        if (pod.Metadata?.Uid != cached.Metadata.Uid || pod.Metadata?.DeletionTimestamp is not null || pod.Status?.Phase != "Running") return ReconcileResult.Done;
        if (!_runs.Advance(pod, options.TimeProvider.GetUtcNow(), NewContainerId)) return ReconcileResult.Done;
        try
        {
            await client.UpdateStatusAsync(pod, cancellationToken: ct).ConfigureAwait(false);
        }
        catch (ConflictException e)
        {
            throw new IgnorableReconcileException(e.Message);
        }
        logger.LogDebug("Pod {Namespace}/{Pod} containers changed, phase {Phase}", pod.Metadata!.Namespace, pod.Metadata.Name, pod.Status!.Phase);
        return ReconcileResult.Done;
    }

    /// <summary>The pod's conditions with Ready and ContainersReady as given (Ready also waits for readiness gates).</summary>
    internal static List<PodCondition> Conditions(Pod pod, DateTimeOffset now, bool ready, string? reason = null, string? message = null, string? initializedReason = null)
    {
        var existing = pod.Status?.Conditions ?? [];
        var gates = pod.Spec?.ReadinessGates ?? [];
        // Readiness gates are conditions other components set; the pod is Ready only when all of them are True.
        var missingGate = gates.FirstOrDefault(g => !existing.Any(c => c.Type == g.ConditionType && c.Status == "True"));
        PodCondition Set(string type, string status, string? reason = null, string? message = null)
        {
            var old = existing.FirstOrDefault(c => c.Type == type);
            return new PodCondition
            {
                Type = type,
                Status = status,
                Reason = reason,
                Message = message,
                LastTransitionTime = old?.Status == status && old.LastTransitionTime is { } since ? since : now,
            };
        }
        var conditions = new List<PodCondition>
        {
            Set("Initialized", "True", initializedReason),
            !ready ? Set("Ready", "False", reason, message)
            : missingGate is null ? Set("Ready", "True")
            : Set("Ready", "False", "ReadinessGatesNotReady", $"corresponding condition of pod readiness gate \"{missingGate.ConditionType}\" does not exist."),
            ready ? Set("ContainersReady", "True") : Set("ContainersReady", "False", reason, message),
            Set("PodScheduled", "True"),
        };
        conditions.AddRange(existing.Where(c => c.Type is not ("Initialized" or "Ready" or "ContainersReady" or "PodScheduled")));
        return conditions;
    }

    private static string NewContainerId() => "containerd://" + Guid.NewGuid().ToString("N") + Guid.NewGuid().ToString("N");

    private static ContainerStatus ContainerStatusOf(Container c, DateTimeOffset now, bool running)
    {
        var id = NewContainerId();
        var image = c.Image ?? "";
        return new ContainerStatus
        {
            Name = c.Name,
            Image = image,
            ImageID = ImageId(image),
            ContainerID = id,
            Ready = running,
            Started = running,
            RestartCount = 0,
            State = running
                ? new ContainerState { Running = new ContainerStateRunning { StartedAt = now } }
                : new ContainerState { Terminated = new ContainerStateTerminated { ExitCode = 0, Reason = "Completed", StartedAt = now, FinishedAt = now, ContainerID = id } },
        };
    }

    // A digest reference as containerd reports it; stable per image so the same image always has the same ID.
    private static string ImageId(string image)
    {
        var repository = image.Split('@')[0];
        var colon = repository.LastIndexOf(':');
        if (colon > repository.LastIndexOf('/')) repository = repository[..colon];
        var digest = Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(image)));
        return $"{repository}@sha256:{digest}";
    }

    private string AllocateIp(SimulatedNode node)
    {
        var prefix = SubnetPrefix(cachedNode(node.Name)?.Spec?.PodCIDR) ?? NodeTemplate.PodSubnetPrefix(node.Index);
        var used = pods.ByIndex(KnownIndexers.PodNodeName, node.Name).Select(p => p.Status?.PodIP).OfType<string>().ToHashSet();
        for (var attempt = 0; attempt < 253; attempt++)
        {
            var n = _nextIp.AddOrUpdate(node.Name, 0, (_, v) => (v + 1) % 253);
            var ip = prefix + (n + 2);
            if (!used.Contains(ip)) return ip;
        }
        return prefix + (_nextIp[node.Name] + 2);
    }

    // A node's spec.podCIDR (set by the node IPAM controller when it allocates CIDRs) as "a.b.c.", for IPv4 /24 or wider.
    private static string? SubnetPrefix(string? cidr)
    {
        if (cidr is null || !System.Net.IPNetwork.TryParse(cidr, out var network)) return null;
        if (network.BaseAddress.AddressFamily != System.Net.Sockets.AddressFamily.InterNetwork || network.PrefixLength > 24) return null;
        var octets = network.BaseAddress.GetAddressBytes();
        return $"{octets[0]}.{octets[1]}.{octets[2]}.";
    }

    private async Task FinishDeletionAsync(Pod pod, CancellationToken ct)
    {
        // A pod that will outlive this deletion (finalizers) shows how its containers ended, as the kubelet posts
        // the killed containers' status before it deletes; Job controllers judge such pods by it.
        if (pod.Metadata?.Finalizers is { Count: > 0 } && pod.Status?.Phase == "Running") await PostKilledAsync(pod, ct).ConfigureAwait(false);
        try
        {
            await client.DeleteAsync<Pod>(pod.Metadata!.Namespace, pod.Metadata.Name!, new DeleteOptions
            {
                GracePeriodSeconds = 0,
                Preconditions = new Preconditions { Uid = pod.Metadata.Uid },
            }, ct).ConfigureAwait(false);
            logger.LogDebug("Pod {Namespace}/{Pod} terminated and removed", pod.Metadata.Namespace, pod.Metadata.Name);
        }
        catch (Exception ex) when (ex is NotFoundException or ConflictException)
        {
        }
    }
}

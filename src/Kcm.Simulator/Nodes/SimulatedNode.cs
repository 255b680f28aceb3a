using Kcm.Api.Coordination.V1;
using Kcm.Api.Core.V1;
using Kcm.Api.Meta.V1;
using Kcm.Client;
using Kcm.Client.Errors;
using Microsoft.Extensions.Logging;

namespace Kcm.Simulator.Nodes;

/// <summary>
/// One simulated kubelet's node-side duties: register the Node, renew its Lease in kube-node-lease, and report
/// status as upstream does (computed every nodeStatusUpdateFrequency, posted when it changed or once
/// nodeStatusReportFrequency has passed). While stopped (a failed node) none of that happens.
/// </summary>
internal sealed class SimulatedNode(KubeApiClient client, SimulatorOptions options, int index, Func<string, Node?> cachedNode, ILogger logger)
{
    public const string LeaseNamespace = "kube-node-lease";

    private readonly TimeProvider _time = options.TimeProvider;
    private readonly CancellationTokenSource _stop = new();
    private Lease? _lease;
    private string? _uid;
    private DateTimeOffset _lastReported;
    private volatile bool _down;
    private Task _loops = Task.CompletedTask;

    public string Name { get; } = options.NodeName(index);

    public int Index => index;

    /// <summary>False after <see cref="StopHeartbeats"/>: the node neither heartbeats nor runs its pods.</summary>
    public bool IsUp => !_down;

    public async Task RegisterAsync(CancellationToken ct)
    {
        Node node;
        try
        {
            node = await client.CreateAsync(NodeTemplate.NewNode(options, index), cancellationToken: ct).ConfigureAwait(false);
            logger.LogInformation("Registered node {Node}", Name);
        }
        catch (AlreadyExistsException)
        {
            // A restarted kubelet takes its existing Node over (upstream also reconciles a few labels; ours are fixed).
            node = await client.GetAsync<Node>(null, Name, ct).ConfigureAwait(false);
            logger.LogInformation("Node {Node} was already registered; taking it over", Name);
        }
        _uid = node.Metadata?.Uid;
        node = await PostStatusAsync(node, ct).ConfigureAwait(false);
        await RenewLeaseAsync(ct).ConfigureAwait(false);
        await UntaintAsync(node, ct).ConfigureAwait(false);
    }

    public void Start()
    {
        // The timers exist when Start returns, so a test's fake clock cannot move before they count from now.
        var leaseTimer = new PeriodicTimer(options.LeaseRenewInterval, _time);
        var statusTimer = new PeriodicTimer(options.NodeStatusUpdateFrequency, _time);
        _loops = Task.WhenAll(
            Task.Run(() => EveryAsync(leaseTimer, RenewLeaseAsync, "renew lease", _stop.Token), CancellationToken.None),
            Task.Run(() => EveryAsync(statusTimer, UpdateStatusAsync, "update node status", _stop.Token), CancellationToken.None));
    }

    public void StopHeartbeats()
    {
        _down = true;
        logger.LogInformation("Node {Node}: heartbeats stopped (simulated failure)", Name);
    }

    public void ResumeHeartbeats()
    {
        _down = false;
        logger.LogInformation("Node {Node}: heartbeats resumed", Name);
    }

    public async Task StopAsync()
    {
        await _stop.CancelAsync().ConfigureAwait(false);
        await _loops.ConfigureAwait(false);
        _stop.Dispose();
    }

    /// <summary>Deletes the Lease and the Node (as `kubectl delete node` after the machine is gone).</summary>
    public async Task DeleteAsync(CancellationToken ct)
    {
        foreach (var delete in new Func<Task>[]
        {
            () => client.DeleteAsync<Lease>(LeaseNamespace, Name, cancellationToken: ct),
            () => client.DeleteAsync<Node>(null, Name, cancellationToken: ct),
        })
        {
            try
            {
                await delete().ConfigureAwait(false);
            }
            catch (NotFoundException)
            {
            }
        }
        logger.LogInformation("Node {Node} removed", Name);
    }

    private async Task EveryAsync(PeriodicTimer timer, Func<CancellationToken, Task> work, string what, CancellationToken ct)
    {
        using var _ = timer;
        try
        {
            while (await timer.WaitForNextTickAsync(ct).ConfigureAwait(false))
            {
                if (_down) continue;
                try
                {
                    await work(ct).ConfigureAwait(false);
                }
                catch (Exception ex) when (ex is KubeApiException or HttpRequestException or IOException)
                {
                    logger.LogWarning("Node {Node}: failed to {What}: {Error}", Name, what, ex.Message);
                }
            }
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
        }
    }

    private async Task RenewLeaseAsync(CancellationToken ct)
    {
        var now = _time.GetUtcNow();
        if (_lease is { } lease)
        {
            lease.Spec!.RenewTime = now;
            lease.Spec.HolderIdentity = Name;
            lease.Spec.LeaseDurationSeconds = (int)options.NodeLeaseDuration.TotalSeconds;
            try
            {
                _lease = await client.UpdateAsync(lease, cancellationToken: ct).ConfigureAwait(false);
                return;
            }
            catch (Exception ex) when (ex is ConflictException or NotFoundException)
            {
                // Someone else wrote or deleted it: start from the server's copy, as the kubelet's lease controller does.
                _lease = null;
            }
        }
        try
        {
            var current = await client.GetAsync<Lease>(LeaseNamespace, Name, ct).ConfigureAwait(false);
            current.Spec ??= new LeaseSpec();
            current.Spec.HolderIdentity = Name;
            current.Spec.LeaseDurationSeconds = (int)options.NodeLeaseDuration.TotalSeconds;
            current.Spec.RenewTime = now;
            current.Metadata!.OwnerReferences = OwnerReferences();
            _lease = await client.UpdateAsync(current, cancellationToken: ct).ConfigureAwait(false);
        }
        catch (NotFoundException)
        {
            _lease = await client.CreateAsync(new Lease
            {
                ApiVersion = "coordination.k8s.io/v1",
                Kind = "Lease",
                Metadata = new ObjectMeta { Name = Name, Namespace = LeaseNamespace, OwnerReferences = OwnerReferences() },
                Spec = new LeaseSpec { HolderIdentity = Name, LeaseDurationSeconds = (int)options.NodeLeaseDuration.TotalSeconds, RenewTime = now },
            }, LeaseNamespace, cancellationToken: ct).ConfigureAwait(false);
        }
    }

    private List<OwnerReference>? OwnerReferences() => _uid is null ? null :
        [new OwnerReference { ApiVersion = "v1", Kind = "Node", Name = Name, Uid = _uid }];

    private async Task UpdateStatusAsync(CancellationToken ct)
    {
        var node = cachedNode(Name) ?? await client.GetAsync<Node>(null, Name, ct).ConfigureAwait(false);
        var now = _time.GetUtcNow();
        var computed = NodeTemplate.Status(options, index, node.Status, now);
        if (NodeTemplate.HasChanged(node.Status, computed) || now - _lastReported >= options.NodeStatusReportFrequency)
        {
            try
            {
                node = await PostStatusAsync(node, ct).ConfigureAwait(false);
            }
            catch (ConflictException)
            {
                node = await PostStatusAsync(await client.GetAsync<Node>(null, Name, ct).ConfigureAwait(false), ct).ConfigureAwait(false);
            }
        }
        await UntaintAsync(node, ct).ConfigureAwait(false);
    }

    /// <summary>
    /// The node.kubernetes.io/not-ready:NoSchedule taint that kube-apiserver's TaintNodesByCondition admission puts on
    /// every new Node is removed once the node is Ready, as the node lifecycle controller would (it may not run).
    /// </summary>
    private async Task UntaintAsync(Node node, CancellationToken ct)
    {
        if (!options.RemoveNotReadyTaint || _down) return;
        var taints = node.Spec?.Taints ?? [];
        if (!taints.Any(IsNotReadyNoSchedule)) return;
        if (node.Status?.Conditions?.FirstOrDefault(c => c.Type == "Ready")?.Status != "True") return;
        var update = new Node
        {
            ApiVersion = "v1",
            Kind = "Node",
            Metadata = node.Metadata,
            Spec = new NodeSpec
            {
                ConfigSource = node.Spec!.ConfigSource,
                ExternalID = node.Spec.ExternalID,
                PodCIDR = node.Spec.PodCIDR,
                PodCIDRs = node.Spec.PodCIDRs,
                ProviderID = node.Spec.ProviderID,
                Unschedulable = node.Spec.Unschedulable,
                ExtensionData = node.Spec.ExtensionData,
                Taints = [.. taints.Where(t => !IsNotReadyNoSchedule(t))],
            },
            Status = node.Status,
        };
        try
        {
            await client.UpdateAsync(update, cancellationToken: ct).ConfigureAwait(false);
        }
        catch (ConflictException)
        {
            // The next status tick looks again.
        }
    }

    private static bool IsNotReadyNoSchedule(Taint t) => t.Key == "node.kubernetes.io/not-ready" && t.Effect == "NoSchedule";

    private async Task<Node> PostStatusAsync(Node current, CancellationToken ct)
    {
        var now = _time.GetUtcNow();
        // A new object around the (possibly cached, shared) metadata and spec: the cache must not be mutated.
        var update = new Node
        {
            ApiVersion = "v1",
            Kind = "Node",
            Metadata = current.Metadata,
            Spec = current.Spec,
            Status = NodeTemplate.Status(options, index, current.Status, now),
        };
        var posted = await client.UpdateStatusAsync(update, cancellationToken: ct).ConfigureAwait(false);
        _lastReported = now;
        return posted;
    }
}

using System.Net;
using System.Text.Json.Nodes;
using System.Threading.Channels;
using Kcm.Api.Core.V1;
using Kcm.Client;
using Kcm.Client.Errors;
using Kcm.Runtime.Events;
using Microsoft.Extensions.Logging;

namespace Kcm.Controllers.NodeIpam;

/// <summary>Writes a node's pod ranges (a seam for unit tests).</summary>
public interface INodeCidrClient
{
    Task PatchPodCidrsAsync(string nodeName, IReadOnlyList<string> cidrs, CancellationToken cancellationToken);
}

public sealed class ApiNodeCidrClient(KubeApiClient client) : INodeCidrClient
{
    public Task PatchPodCidrsAsync(string nodeName, IReadOnlyList<string> cidrs, CancellationToken cancellationToken)
        => client.PatchAsync<Node>(null, nodeName, PatchType.StrategicMerge, PodCidrsPatch(cidrs), cancellationToken: cancellationToken);

    /// <summary>Upstream's PatchNodeCIDRs body: podCIDR is the first range, podCIDRs all of them.</summary>
    public static string PodCidrsPatch(IReadOnlyList<string> cidrs)
    {
        var list = new JsonArray();
        foreach (var cidr in cidrs)
        {
            list.Add((JsonNode)cidr);
        }
        return new JsonObject { ["spec"] = new JsonObject { ["podCIDR"] = cidrs[0], ["podCIDRs"] = list } }.ToJsonString();
    }
}

/// <summary>A node's freshly allocated ranges, one per cluster CIDR, waiting for a worker to write them.</summary>
public sealed record NodeReservedCidrs(string NodeName, IReadOnlyList<IPNetwork> Cidrs);

/// <summary>
/// Upstream's rangeAllocator: one <see cref="CidrSet"/> per cluster CIDR (two when dual stack). Event handlers
/// allocate synchronously and hand the result to a bounded channel that 30 workers drain, patching the node; a node
/// is in flight at most once. Exhaustion records CIDRNotAvailable on the node (an event, no condition, as v1.26).
/// </summary>
public sealed class RangeAllocator
{
    public const int UpdateWorkers = 30;
    public const int UpdateQueueSize = 5000;
    public const int UpdateRetries = 3;
    public const string EventComponent = "cidrAllocator";

    private readonly IReadOnlyList<CidrSet> _sets;
    private readonly INodeCidrClient _client;
    private readonly Func<string, Node?> _getNode;
    private readonly IEventRecorder _recorder;
    private readonly ILogger _logger;
    private readonly TimeProvider _time;
    private readonly Channel<NodeReservedCidrs> _updates = Channel.CreateBounded<NodeReservedCidrs>(UpdateQueueSize);
    private readonly HashSet<string> _inProcessing = [];
    private readonly Lock _lock = new();

    public RangeAllocator(IReadOnlyList<CidrSet> sets, INodeCidrClient client, Func<string, Node?> getNode, IEventRecorder recorder, ILogger logger, TimeProvider? time = null)
    {
        _sets = sets;
        _client = client;
        _getNode = getNode;
        _recorder = recorder;
        _logger = logger;
        _time = time ?? TimeProvider.System;
    }

    public IReadOnlyList<CidrSet> Sets => _sets;

    /// <summary>Takes a service range out of every cluster CIDR it overlaps.</summary>
    public void FilterOutServiceRange(IPNetwork serviceCidr)
    {
        foreach (var set in _sets)
        {
            if (!set.Overlaps(serviceCidr))
            {
                continue;
            }
            try
            {
                set.Occupy(serviceCidr);
            }
            catch (CidrSetException e)
            {
                _logger.LogError("Error filtering out service cidr out cluster cidr:{Cluster} {Service}: {Error}", set.Label, CidrSet.Format(serviceCidr), e.Message);
            }
        }
    }

    /// <summary>Marks an existing node's ranges as used; throws <see cref="CidrSetException"/> for ranges that do not fit.</summary>
    public void OccupyCidrs(Node node)
    {
        var name = node.Metadata?.Name ?? "";
        try
        {
            var cidrs = node.Spec?.PodCIDRs ?? [];
            for (var i = 0; i < cidrs.Count; i++)
            {
                if (!CidrSet.TryParse(cidrs[i], out var cidr))
                {
                    throw new CidrSetException($"failed to parse node {name}, CIDR {node.Spec?.PodCIDR}");
                }
                if (i >= _sets.Count)
                {
                    throw new CidrSetException($"node:{name} has an allocated cidr: {cidrs[i]} at index:{i} that does not exist in cluster cidrs configuration");
                }
                try
                {
                    _sets[i].Occupy(cidr);
                }
                catch (CidrSetException e)
                {
                    throw new CidrSetException($"failed to mark cidr[{CidrSet.Format(cidr)}] at idx [{i}] as occupied for node: {name}: {e.Message}");
                }
            }
        }
        finally
        {
            RemoveFromProcessing(name);
        }
    }

    /// <summary>The add (and update without ranges) handler: occupies what a node has, else allocates and queues the patch.</summary>
    public void AllocateOrOccupy(Node node)
    {
        var name = node.Metadata?.Name ?? "";
        lock (_lock)
        {
            if (!_inProcessing.Add(name))
            {
                _logger.LogDebug("{Message}", $"Node {name} is already in a process of CIDR assignment.");
                return;
            }
        }
        if (node.Spec?.PodCIDRs is { Count: > 0 })
        {
            OccupyCidrs(node);
            return;
        }
        var allocated = new List<IPNetwork>(_sets.Count);
        for (var i = 0; i < _sets.Count; i++)
        {
            try
            {
                allocated.Add(_sets[i].AllocateNext());
            }
            catch (CidrSetException e)
            {
                // As upstream, ranges already taken from the other family stay taken.
                RemoveFromProcessing(name);
                RecordNodeStatusChange(name, "CIDRNotAvailable");
                throw new CidrSetException($"failed to allocate cidr from cluster cidr at idx:{i}: {e.Message}");
            }
        }
        if (!_updates.Writer.TryWrite(new NodeReservedCidrs(name, allocated)))
        {
            // Upstream blocks the handler until a worker takes one; waiting here would stall the informer the same way.
            _updates.Writer.WriteAsync(new NodeReservedCidrs(name, allocated)).AsTask().GetAwaiter().GetResult();
        }
    }

    public void Release(Node node)
    {
        var name = node.Metadata?.Name ?? "";
        var cidrs = node.Spec?.PodCIDRs ?? [];
        for (var i = 0; i < cidrs.Count; i++)
        {
            if (!CidrSet.TryParse(cidrs[i], out var cidr))
            {
                throw new CidrSetException($"failed to parse CIDR {cidrs[i]} on Node {name}");
            }
            if (i >= _sets.Count)
            {
                throw new CidrSetException($"node:{name} has an allocated cidr: {cidrs[i]} at index:{i} that does not exist in cluster cidrs configuration");
            }
            _logger.LogTrace("release CIDR {Cidr} for node:{Node}", cidrs[i], name);
            _sets[i].Release(cidr);
        }
    }

    public async Task RunWorkersAsync(CancellationToken cancellationToken)
    {
        var workers = new Task[UpdateWorkers];
        for (var i = 0; i < workers.Length; i++)
        {
            workers[i] = WorkerAsync(cancellationToken);
        }
        await Task.WhenAll(workers).ConfigureAwait(false);
    }

    /// <summary>Takes one queued allocation if there is one (unit tests drive the workers step by step).</summary>
    internal async Task<bool> ProcessOneAsync(CancellationToken cancellationToken)
    {
        if (!_updates.Reader.TryRead(out var item))
        {
            return false;
        }
        await HandleAsync(item, cancellationToken).ConfigureAwait(false);
        return true;
    }

    private async Task WorkerAsync(CancellationToken cancellationToken)
    {
        try
        {
            await foreach (var item in _updates.Reader.ReadAllAsync(cancellationToken).ConfigureAwait(false))
            {
                await HandleAsync(item, cancellationToken).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
        }
    }

    private async Task HandleAsync(NodeReservedCidrs item, CancellationToken cancellationToken)
    {
        bool done;
        try
        {
            done = await UpdateCidrsAllocationAsync(item, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            _logger.LogError(e, "Failed to update node {Node} PodCIDR", item.NodeName);
            done = false;
        }
        if (!done)
        {
            // Upstream puts it straight back; a short pause keeps an unreachable server from becoming a busy loop.
            await Task.Delay(TimeSpan.FromSeconds(1), _time, cancellationToken).ConfigureAwait(false);
            await _updates.Writer.WriteAsync(item, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>Upstream's updateCIDRsAllocation; false means "queue it again".</summary>
    internal async Task<bool> UpdateCidrsAllocationAsync(NodeReservedCidrs item, CancellationToken cancellationToken)
    {
        try
        {
            var wanted = item.Cidrs.Select(CidrSet.Format).ToList();
            if (_getNode(item.NodeName) is not { } node)
            {
                // Upstream retries a vanished node forever and leaks its ranges; they are free again instead.
                _logger.LogError("{Message}", $"Failed while getting node {item.NodeName} for updating Node.Spec.PodCIDRs: node \"{item.NodeName}\" not found");
                ReleaseAllocated(item);
                return true;
            }
            var current = node.Spec?.PodCIDRs ?? [];
            if (current.SequenceEqual(wanted))
            {
                _logger.LogTrace("{Message}", $"Node {item.NodeName} already has allocated CIDR [{string.Join(" ", wanted)}]. It matches the proposed one.");
                return true;
            }
            if (current.Count != 0)
            {
                _logger.LogError("{Message}", $"Node {item.NodeName} already has a CIDR allocated [{string.Join(" ", current)}]. Releasing the new one.");
                ReleaseAllocated(item);
                return true;
            }
            Exception? last = null;
            for (var i = 0; i < UpdateRetries; i++)
            {
                try
                {
                    await _client.PatchPodCidrsAsync(item.NodeName, wanted, cancellationToken).ConfigureAwait(false);
                    _logger.LogInformation("{Message}", $"Set node {item.NodeName} PodCIDR to [{string.Join(" ", wanted)}]");
                    return true;
                }
                catch (Exception e) when (e is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
                {
                    last = e;
                }
            }
            _logger.LogError("{Message}", $"Failed to update node {item.NodeName} PodCIDR to [{string.Join(" ", wanted)}] after multiple attempts: {last?.Message}");
            RecordNodeStatusChange(item.NodeName, "CIDRAssignmentFailed");
            if (last is not ServerTimeoutException)
            {
                _logger.LogError("{Message}", $"CIDR assignment for node {item.NodeName} failed: {last?.Message}. Releasing allocated CIDR");
                ReleaseAllocated(item);
            }
            return false;
        }
        finally
        {
            RemoveFromProcessing(item.NodeName);
        }
    }

    private void ReleaseAllocated(NodeReservedCidrs item)
    {
        for (var i = 0; i < item.Cidrs.Count; i++)
        {
            try
            {
                _sets[i].Release(item.Cidrs[i]);
            }
            catch (CidrSetException e)
            {
                _logger.LogError("Error when releasing CIDR idx:{Index} value: {Cidr} err:{Error}", i, CidrSet.Format(item.Cidrs[i]), e.Message);
            }
        }
    }

    private void RemoveFromProcessing(string name)
    {
        lock (_lock)
        {
            _inProcessing.Remove(name);
        }
    }

    // Upstream's RecordNodeStatusChange: a Normal event on the node, whose UID it fills with the name.
    private void RecordNodeStatusChange(string nodeName, string status)
        => _recorder.Event(
            new ObjectReference { Kind = "Node", Name = nodeName, Uid = nodeName },
            EventTypes.Normal,
            status,
            $"Node {nodeName} status is now: {status}");
}

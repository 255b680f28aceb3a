using System.Net;
using System.Net.Sockets;
using Kcm.Api.Core.V1;
using Kcm.Runtime.Informers;
using Microsoft.Extensions.Logging;

namespace Kcm.Controllers.NodeIpam;

/// <summary>A flag combination upstream's startNodeIpamController or NewNodeIpamController refuses.</summary>
public sealed class NodeIpamConfigException(string message) : Exception(message);

/// <summary>The flags upstream's startNodeIpamController reads.</summary>
public sealed record NodeIpamSettings
{
    public bool AllocateNodeCidrs { get; init; }
    public string ClusterCidr { get; init; } = "";
    /// <summary>--service-cluster-ip-range: one range, or two (IPv4 and IPv6) comma-separated.</summary>
    public string ServiceCidr { get; init; } = "";
    public int NodeCidrMaskSize { get; init; }
    public int NodeCidrMaskSizeIPv4 { get; init; }
    public int NodeCidrMaskSizeIPv6 { get; init; }
    public string CidrAllocatorType { get; init; } = "RangeAllocator";
}

/// <summary>The parsed configuration: cluster CIDRs with their node mask sizes and the service ranges to leave out.</summary>
public sealed record NodeIpamParameters(IReadOnlyList<IPNetwork> ClusterCidrs, IReadOnlyList<int> NodeMaskSizes, IReadOnlyList<IPNetwork> ServiceCidrs)
{
    public const int DefaultMaskIPv4 = 24;
    public const int DefaultMaskIPv6 = 64;

    /// <summary>Upstream's validateCIDRs, service range parsing and setNodeCIDRMaskSizes.</summary>
    public static NodeIpamParameters From(NodeIpamSettings settings)
    {
        var clusterCidrs = new List<IPNetwork>();
        foreach (var part in settings.ClusterCidr.Trim().Split(','))
        {
            if (!CidrSet.TryParse(part, out var cidr))
            {
                throw new NodeIpamConfigException($"--cluster-cidr: invalid CIDR address: {part}");
            }
            clusterCidrs.Add(cidr);
        }
        var dualStack = clusterCidrs.Count == 2 && IsIPv6(clusterCidrs[0]) != IsIPv6(clusterCidrs[1]);
        if (clusterCidrs.Count > 1 && !dualStack)
        {
            throw new NodeIpamConfigException($"len of ClusterCIDRs=={clusterCidrs.Count} and they are not configured as dual stack (at least one from each IPFamily");
        }

        // Upstream only warns about an unparsable service range and then does not filter it.
        var serviceCidrs = new List<IPNetwork>();
        foreach (var part in settings.ServiceCidr.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries).Take(2))
        {
            if (CidrSet.TryParse(part, out var cidr))
            {
                serviceCidrs.Add(cidr);
            }
        }
        if (serviceCidrs.Count == 2 && IsIPv6(serviceCidrs[0]) == IsIPv6(serviceCidrs[1]))
        {
            throw new NodeIpamConfigException("serviceCIDR and secondaryServiceCIDR are not dualstack (from different IPfamiles)");
        }

        var sizes = MaskSizes(settings, clusterCidrs);
        for (var i = 0; i < clusterCidrs.Count; i++)
        {
            if (clusterCidrs[i].PrefixLength > sizes[i])
            {
                throw new NodeIpamConfigException("Controller: Invalid --cluster-cidr, mask size of cluster CIDR must be less than or equal to --node-cidr-mask-size configured for CIDR family");
            }
        }
        return new NodeIpamParameters(clusterCidrs, sizes, serviceCidrs);
    }

    private static int[] MaskSizes(NodeIpamSettings settings, List<IPNetwork> clusterCidrs)
    {
        int[] Sorted(int v4, int v6) => [.. clusterCidrs.Select(c => IsIPv6(c) ? v6 : v4)];
        int v4 = DefaultMaskIPv4, v6 = DefaultMaskIPv6;
        if (clusterCidrs.Count > 1)
        {
            if (settings.NodeCidrMaskSize != 0)
            {
                throw new NodeIpamConfigException("usage of --node-cidr-mask-size is not allowed with dual-stack clusters");
            }
            return Sorted(settings.NodeCidrMaskSizeIPv4 != 0 ? settings.NodeCidrMaskSizeIPv4 : v4, settings.NodeCidrMaskSizeIPv6 != 0 ? settings.NodeCidrMaskSizeIPv6 : v6);
        }
        var singleStackIPv6 = IsIPv6(clusterCidrs[0]);
        if (settings.NodeCidrMaskSize != 0)
        {
            if (settings.NodeCidrMaskSizeIPv4 != 0 || settings.NodeCidrMaskSizeIPv6 != 0)
            {
                throw new NodeIpamConfigException("usage of --node-cidr-mask-size-ipv4 and --node-cidr-mask-size-ipv6 is not allowed if --node-cidr-mask-size is set. For dual-stack clusters please unset it and use IPFamily specific flags");
            }
            return Sorted(settings.NodeCidrMaskSize, settings.NodeCidrMaskSize);
        }
        if (settings.NodeCidrMaskSizeIPv4 != 0)
        {
            if (singleStackIPv6)
            {
                throw new NodeIpamConfigException("usage of --node-cidr-mask-size-ipv4 is not allowed for a single-stack IPv6 cluster");
            }
            v4 = settings.NodeCidrMaskSizeIPv4;
        }
        if (settings.NodeCidrMaskSizeIPv6 != 0)
        {
            if (!singleStackIPv6)
            {
                throw new NodeIpamConfigException("usage of --node-cidr-mask-size-ipv6 is not allowed for a single-stack IPv4 cluster");
            }
            v6 = settings.NodeCidrMaskSizeIPv6;
        }
        return Sorted(v4, v6);
    }

    private static bool IsIPv6(IPNetwork cidr) => cidr.BaseAddress.AddressFamily == AddressFamily.InterNetworkV6;
}

/// <summary>
/// Upstream's node IPAM controller with the RangeAllocator. At start it lists the nodes through the API (before the
/// informer has synced, as upstream) and occupies their ranges, so nothing handed out before a restart is handed out
/// again; then node events allocate and release.
/// </summary>
public sealed class NodeIpamController
{
    public const string ControllerName = "nodeipam";
    public const string ServiceAccountName = "node-controller";

    private readonly ControllerContext _context;
    private readonly NodeIpamParameters _parameters;
    private readonly SharedInformer<Node> _nodeInformer;
    private readonly ILogger _logger;

    public NodeIpamController(ControllerContext context, NodeIpamParameters parameters)
    {
        _context = context;
        _parameters = parameters;
        _nodeInformer = context.Informers.InformerFor<Node>();
        _logger = context.Loggers.CreateLogger<NodeIpamController>();
        var metrics = new CidrSetMetrics(context.Metrics);
        var sets = new List<CidrSet>();
        for (var i = 0; i < parameters.ClusterCidrs.Count; i++)
        {
            try
            {
                sets.Add(new CidrSet(parameters.ClusterCidrs[i], parameters.NodeMaskSizes[i], metrics));
            }
            catch (CidrSetException e)
            {
                throw new NodeIpamConfigException(e.Message);
            }
        }
        var client = context.Clients.For(ServiceAccountName);
        Allocator = new RangeAllocator(
            sets,
            new ApiNodeCidrClient(client),
            name => _nodeInformer.Cache.Get(new ObjectKey(null, name)),
            context.Events.NewRecorder(RangeAllocator.EventComponent),
            context.Loggers.CreateLogger<RangeAllocator>(),
            context.Time);
        if (parameters.ServiceCidrs.Count == 0)
        {
            _logger.LogInformation("No Service CIDR provided. Skipping filtering out service addresses.");
        }
        foreach (var service in parameters.ServiceCidrs)
        {
            Allocator.FilterOutServiceRange(service);
        }
    }

    public RangeAllocator Allocator { get; }

    public async Task RunAsync(CancellationToken cancellationToken)
    {
        var nodes = await ListNodesAsync(cancellationToken).ConfigureAwait(false);
        foreach (var node in nodes)
        {
            if (node.Spec?.PodCIDRs is not { Count: > 0 })
            {
                continue;
            }
            // Upstream fails the controller's start on a range that does not fit the configuration.
            Allocator.OccupyCidrs(node);
        }
        _nodeInformer.AddEventHandler(new ResourceEventHandler<Node>
        {
            Added = (node, _) => Handle(() => Allocator.AllocateOrOccupy(node)),
            // Only a node still without a range concerns the allocator; the check runs before the handler's task is woken.
            UpdateWanted = (_, node) => node.Spec?.PodCIDRs is not { Count: > 0 },
            Updated = (_, node) => Handle(() => Allocator.AllocateOrOccupy(node)),
            Deleted = (node, _) => Handle(() => Allocator.Release(node)),
        });
        _logger.LogInformation("Starting range CIDR allocator");
        try
        {
            if (!await CacheSync.WaitAsync([_nodeInformer], cancellationToken).ConfigureAwait(false))
            {
                return;
            }
            await Allocator.RunWorkersAsync(cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            _logger.LogInformation("Shutting down range CIDR allocator");
        }
    }

    private void Handle(Action action)
    {
        try
        {
            action();
        }
        catch (CidrSetException e)
        {
            _logger.LogError("{Error}", e.Message);
        }
    }

    // Upstream retries the list for a while when the server is not up yet.
    private async Task<IReadOnlyList<Node>> ListNodesAsync(CancellationToken cancellationToken)
    {
        var client = _context.Clients.For(ServiceAccountName);
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                var list = await client.ListAsync<Node>(null, cancellationToken: cancellationToken).ConfigureAwait(false);
                return [.. list.Items ?? []];
            }
            catch (Exception e) when (e is not OperationCanceledException && attempt < 10)
            {
                _logger.LogError("Failed to list all nodes: {Error}", e.Message);
                await Task.Delay(TimeSpan.FromSeconds(Math.Min(attempt, 10)), _context.Time, cancellationToken).ConfigureAwait(false);
            }
        }
    }
}

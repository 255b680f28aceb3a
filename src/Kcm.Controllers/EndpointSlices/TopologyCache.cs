using Kcm.Api.Core.V1;
using Kcm.Api.Discovery.V1;
using Kcm.Controllers.Common;
using Kcm.Runtime.Events;
using Microsoft.Extensions.Logging;

namespace Kcm.Controllers.EndpointSlices;

/// <summary>The slices of one Service and address type after packing, before hints are set (upstream's SliceInfo).</summary>
public sealed record SliceInfo(string ServiceKey, string AddressType, List<EndpointSlice> ToCreate, List<EndpointSlice> ToUpdate, List<EndpointSlice> Unchanged)
{
    public List<EndpointSlice> ToUpdate { get; set; } = ToUpdate;

    public List<EndpointSlice> Unchanged { get; set; } = Unchanged;
}

/// <summary>An event the reconciler records on the Service after writing its slices.</summary>
public sealed record TopologyEvent(string Type, string Reason, string Message);

/// <summary>How many endpoints a zone should get hints for (its CPU share of the ready endpoints).</summary>
public readonly record struct ZoneAllocation(int Minimum, int Maximum, double Desired);

/// <summary>
/// Upstream's topologycache: topology-aware hints for Services annotated service.kubernetes.io/topology-aware-hints:
/// auto. Ready nodes' allocatable CPU per zone (control-plane nodes excluded) gives every zone its share of a
/// Service's ready endpoints; each endpoint is hinted to its own zone, then surplus zones give endpoints to zones
/// short of their share. Hints are dropped (with a Warning event) when node information is insufficient, nodes are
/// ready in one zone only, there are fewer endpoints than zones, or an endpoint has no zone. Zones are walked in
/// name order where upstream walks Go maps in random order.
/// </summary>
public sealed class TopologyCache(ILogger logger)
{
    public const double OverloadThreshold = 0.2;

    public const string NoZoneSpecified = "One or more endpoints do not have a zone specified";
    public const string NoAllocatedHintsForZones = "No hints allocated for zones";
    public const string HintsEnabledMessage = "Topology Aware Hints has been enabled";
    public const string HintsDisabledMessage = "Topology Aware Hints has been disabled";
    public const string InsufficientNodeInfo = "Insufficient Node information: allocatable CPU or zone not specified on one or more nodes";
    public const string NodesReadyInOneZoneOnly = "Nodes only ready in one zone";
    public const string InsufficientNumberOfEndpoints = "Insufficient number of endpoints";
    public const string MinAllocationExceedsOverloadThreshold = "Unable to allocate minimum required endpoints to each zone without exceeding overload threshold";

    private const string DisabledReason = "TopologyAwareHintsDisabled";

    private readonly Lock _lock = new();
    private SortedDictionary<string, double>? _cpuRatiosByZone;
    private readonly Dictionary<string, Dictionary<string, SortedDictionary<string, int>>> _endpointsByService = [];
    private readonly HashSet<string> _hintsPopulated = [];

    public static string WithAddressType(string message, string addressType) => $"{message}, addressType: {addressType}";

    /// <summary>Services whose hinted endpoints no longer match the zones' CPU shares (re-synced after a node change).</summary>
    public List<string> OverloadedServices()
    {
        lock (_lock)
        {
            return _endpointsByService.Where(s => s.Value.Values.Any(z => ServiceOverloaded(z, _cpuRatiosByZone))).Select(s => s.Key).ToList();
        }
    }

    public bool HasPopulatedHints(string serviceKey)
    {
        lock (_lock)
        {
            return _hintsPopulated.Contains(serviceKey);
        }
    }

    public void SetHints(string serviceKey, string addressType, SortedDictionary<string, int> allocatedByZone)
    {
        lock (_lock)
        {
            if (!_endpointsByService.TryGetValue(serviceKey, out var byType))
            {
                _endpointsByService[serviceKey] = byType = [];
            }
            byType[addressType] = allocatedByZone;
            _hintsPopulated.Add(serviceKey);
        }
    }

    public void RemoveHints(string serviceKey, string addressType)
    {
        lock (_lock)
        {
            if (_endpointsByService.TryGetValue(serviceKey, out var byType))
            {
                byType.Remove(addressType);
                if (byType.Count == 0)
                {
                    _endpointsByService.Remove(serviceKey);
                }
            }
            _hintsPopulated.Remove(serviceKey);
        }
    }

    public void SetNodes(IEnumerable<Node> nodes)
    {
        var cpuByZone = new SortedDictionary<string, long>(StringComparer.Ordinal);
        var sufficient = true;
        long total = 0;
        foreach (var node in nodes)
        {
            if (node.Metadata?.Labels is { } labels && (labels.ContainsKey("node-role.kubernetes.io/control-plane") || labels.ContainsKey("node-role.kubernetes.io/master")))
            {
                logger.LogDebug("{Message}", $"Ignoring node {node.Metadata?.Name} because it has an excluded label");
                continue;
            }
            if (!NodeReady(node))
            {
                if (logger.IsEnabled(LogLevel.Debug))
                {
                    var conditions = string.Join(" ", (node.Status?.Conditions ?? []).Select(c => $"{{{c.Type} {c.Status} {c.Reason} {c.Message}}}"));
                    logger.LogDebug("{Message}", $"Ignoring node {node.Metadata?.Name} because it is not ready: [{conditions}]");
                }
                continue;
            }
            var cpu = node.Status?.Allocatable?.GetValueOrDefault("cpu")?.MilliValue() ?? 0;
            var zone = node.Metadata?.Labels?.GetValueOrDefault(EndpointSliceLabels.TopologyZone);
            if (string.IsNullOrEmpty(zone) || cpu == 0)
            {
                cpuByZone.Clear();
                sufficient = false;
                logger.LogWarning("{Message}", $"Can't get CPU or zone information for {node.Metadata?.Name} node");
                break;
            }
            total += cpu;
            cpuByZone[zone] = cpuByZone.GetValueOrDefault(zone) + cpu;
        }
        lock (_lock)
        {
            if (total == 0 || !sufficient || cpuByZone.Count < 2)
            {
                // The CPU total as a resource.Quantity prints: whole cores, else millicores.
                var cpuText = total % 1000 == 0 ? (total / 1000).ToString(System.Globalization.CultureInfo.InvariantCulture) : $"{total}m";
                logger.LogDebug("{Message}", $"Insufficient node info for topology hints ({cpuByZone.Count} zones, {cpuText} CPU, {(sufficient ? "true" : "false")})");
                _cpuRatiosByZone = null;
                return;
            }
            _cpuRatiosByZone = new SortedDictionary<string, double>(StringComparer.Ordinal);
            foreach (var (zone, cpu) in cpuByZone)
            {
                _cpuRatiosByZone[zone] = (double)cpu / total;
            }
        }
    }

    public (List<EndpointSlice> ToCreate, List<EndpointSlice> ToUpdate, List<TopologyEvent> Events) AddHints(SliceInfo info)
    {
        var totalReady = info.ToCreate.Concat(info.ToUpdate).Concat(info.Unchanged).Sum(s => (s.Endpoints ?? []).Count(Ready));
        var events = new List<TopologyEvent>();
        var (allocations, problem) = Allocations(totalReady);
        if (problem is not null)
        {
#pragma warning disable CA2254 // upstream's message is the allocation problem's own text
            logger.LogInformation(problem + ", removing hints {ServiceKey} {AddressType}", info.ServiceKey, info.AddressType);
#pragma warning restore CA2254
            events.Add(new TopologyEvent(EventTypes.Warning, DisabledReason, WithAddressType(problem, info.AddressType)));
            return Disable(info, events);
        }

        var allocated = AllocatedHintsByZone(info, allocations!);
        var allocatable = info.ToCreate.Concat(info.ToUpdate).ToList();
        foreach (var slice in allocatable)
        {
            foreach (var endpoint in slice.Endpoints ?? [])
            {
                if (!Ready(endpoint))
                {
                    continue; // Upstream clears the hint on a copy, so a not-ready endpoint keeps what it had.
                }
                if (string.IsNullOrEmpty(endpoint.Zone))
                {
                    logger.LogInformation("Endpoint found without zone specified, removing hints {ServiceKey} {AddressType}", info.ServiceKey, info.AddressType);
                    events.Add(new TopologyEvent(EventTypes.Warning, DisabledReason, WithAddressType(NoZoneSpecified, info.AddressType)));
                    return Disable(info, events);
                }
                allocated[endpoint.Zone] = allocated.GetValueOrDefault(endpoint.Zone) + 1;
                endpoint.Hints = ZoneHint(endpoint.Zone);
            }
        }

        var (giving, receiving) = GivingAndReceivingZones(allocations!, allocated);
        foreach (var (zone, diff) in RedistributeHints(allocatable, giving, receiving))
        {
            allocated[zone] = allocated.GetValueOrDefault(zone) + diff;
        }
        if (allocated.Count == 0)
        {
            events.Add(new TopologyEvent(EventTypes.Warning, DisabledReason, WithAddressType(NoAllocatedHintsForZones, info.AddressType)));
            return Disable(info, events);
        }
        var wasEnabled = HasPopulatedHints(info.ServiceKey);
        SetHints(info.ServiceKey, info.AddressType, allocated);
        if (!wasEnabled)
        {
            logger.LogInformation("Topology Aware Hints has been enabled, adding hints. {ServiceKey} {AddressType}", info.ServiceKey, info.AddressType);
            events.Add(new TopologyEvent(EventTypes.Normal, "TopologyAwareHintsEnabled", WithAddressType(HintsEnabledMessage, info.AddressType)));
        }
        return (info.ToCreate, info.ToUpdate, events);
    }

    /// <summary>Clears hints from every slice being written, and schedules an update of any unchanged slice that still carries hints.</summary>
    public static (List<EndpointSlice> ToCreate, List<EndpointSlice> ToUpdate) RemoveHintsFromSlices(SliceInfo info)
    {
        foreach (var endpoint in info.ToCreate.Concat(info.ToUpdate).SelectMany(s => s.Endpoints ?? []))
        {
            endpoint.Hints = null;
        }
        var unchanged = new List<EndpointSlice>();
        foreach (var slice in info.Unchanged)
        {
            if (slice.Endpoints?.Any(e => e.Hints is not null) == true)
            {
                var copy = KubeObjects.Clone(slice);
                foreach (var endpoint in copy.Endpoints!)
                {
                    endpoint.Hints = null;
                }
                info.ToUpdate.Add(copy);
            }
            else
            {
                unchanged.Add(slice);
            }
        }
        info.Unchanged = unchanged;
        return (info.ToCreate, info.ToUpdate);
    }

    public static bool NodeReady(Node node)
        => node.Status?.Conditions?.FirstOrDefault(c => c.Type == "Ready")?.Status == "True";

    private (List<EndpointSlice>, List<EndpointSlice>, List<TopologyEvent>) Disable(SliceInfo info, List<TopologyEvent> events)
    {
        RemoveHints(info.ServiceKey, info.AddressType);
        var (create, update) = RemoveHintsFromSlices(info);
        return (create, update, events);
    }

    private (SortedDictionary<string, ZoneAllocation>?, string?) Allocations(int numEndpoints)
    {
        lock (_lock)
        {
            if (_cpuRatiosByZone is null)
            {
                return (null, InsufficientNodeInfo);
            }
            if (_cpuRatiosByZone.Count < 2)
            {
                return (null, NodesReadyInOneZoneOnly);
            }
            if (_cpuRatiosByZone.Count > numEndpoints)
            {
                return (null, $"{InsufficientNumberOfEndpoints} ({numEndpoints} endpoints, {_cpuRatiosByZone.Count} zones)");
            }
            var remaining = numEndpoints;
            var minTotal = 0;
            var allocations = new SortedDictionary<string, ZoneAllocation>(StringComparer.Ordinal);
            foreach (var (zone, ratio) in _cpuRatiosByZone)
            {
                var desired = ratio * numEndpoints;
                var minimum = (int)Math.Ceiling(desired * (1 / (1 + OverloadThreshold)));
                allocations[zone] = new ZoneAllocation(minimum, 0, Math.Max(desired, minimum));
                minTotal += minimum;
                remaining -= minimum;
                if (remaining < 0)
                {
                    return (null, $"{MinAllocationExceedsOverloadThreshold} ({numEndpoints} endpoints, {_cpuRatiosByZone.Count} zones)");
                }
            }
            foreach (var zone in allocations.Keys.ToList())
            {
                allocations[zone] = allocations[zone] with { Maximum = allocations[zone].Minimum + numEndpoints - minTotal };
            }
            return (allocations, null);
        }
    }

    /// <summary>Hints already carried by unchanged slices stay when they fit the allocations; a slice whose hints do not fit is moved to the updates.</summary>
    private static SortedDictionary<string, int> AllocatedHintsByZone(SliceInfo info, SortedDictionary<string, ZoneAllocation> allocations)
    {
        var allocated = new SortedDictionary<string, int>(StringComparer.Ordinal);
        var unchanged = new List<EndpointSlice>();
        foreach (var slice in info.Unchanged)
        {
            if (HintsByZone(slice, allocated, allocations) is { } byZone)
            {
                unchanged.Add(slice);
                foreach (var (zone, n) in byZone)
                {
                    allocated[zone] = allocated.GetValueOrDefault(zone) + n;
                }
            }
            else
            {
                info.ToUpdate.Add(KubeObjects.Clone(slice));
            }
        }
        info.Unchanged = unchanged;
        return allocated;
    }

    private static Dictionary<string, int>? HintsByZone(EndpointSlice slice, SortedDictionary<string, int> allocated, SortedDictionary<string, ZoneAllocation> allocations)
    {
        var byZone = new Dictionary<string, int>();
        foreach (var endpoint in slice.Endpoints ?? [])
        {
            if (!Ready(endpoint))
            {
                continue;
            }
            if (endpoint.Hints?.ForZones is not { Count: > 0 } zones)
            {
                return null;
            }
            foreach (var zone in zones)
            {
                if (zone.Name is null || !allocations.ContainsKey(zone.Name))
                {
                    return null;
                }
                byZone[zone.Name] = byZone.GetValueOrDefault(zone.Name) + 1;
            }
        }
        foreach (var (zone, n) in byZone)
        {
            if (!allocations.TryGetValue(zone, out var allocation) || n + allocated.GetValueOrDefault(zone) > allocation.Maximum)
            {
                return null;
            }
        }
        return byZone;
    }

    private static (Dictionary<string, int> Giving, Dictionary<string, int> Receiving) GivingAndReceivingZones(SortedDictionary<string, ZoneAllocation> allocations, SortedDictionary<string, int> allocated)
    {
        var givingDesired = new SortedDictionary<string, double>(StringComparer.Ordinal);
        var receivingDesired = new SortedDictionary<string, double>(StringComparer.Ordinal);
        foreach (var (zone, allocation) in allocations)
        {
            var hints = allocated.GetValueOrDefault(zone);
            if (hints > allocation.Desired)
            {
                givingDesired[zone] = hints - allocation.Desired;
            }
            else if (hints < allocation.Desired)
            {
                receivingDesired[zone] = allocation.Desired - hints;
            }
        }
        var giving = new Dictionary<string, int>();
        var receiving = new Dictionary<string, int>();
        while (true)
        {
            var (givingZone, toGive) = Most(givingDesired);
            var (receivingZone, toReceive) = Most(receivingDesired);
            if (givingZone is null || receivingZone is null || (toGive < 1.0 && toReceive < 1.0) || toGive < 0.5 || toReceive < 0.5)
            {
                break;
            }
            giving[givingZone] = giving.GetValueOrDefault(givingZone) + 1;
            givingDesired[givingZone]--;
            receiving[receivingZone] = receiving.GetValueOrDefault(receivingZone) + 1;
            receivingDesired[receivingZone]--;
        }
        return (giving, receiving);
    }

    private static (string? Zone, double Count) Most(SortedDictionary<string, double> zones)
    {
        string? best = null;
        var most = 0.0;
        foreach (var (zone, n) in zones)
        {
            if (n > most)
            {
                best = zone;
                most = n;
            }
        }
        return (best, most);
    }

    private static Dictionary<string, int> RedistributeHints(List<EndpointSlice> slices, Dictionary<string, int> giving, Dictionary<string, int> receiving)
    {
        var redistributions = new Dictionary<string, int>();
        foreach (var slice in slices)
        {
            foreach (var endpoint in slice.Endpoints ?? [])
            {
                if (!Ready(endpoint))
                {
                    continue; // Upstream clears the hint on a copy, so a not-ready endpoint keeps what it had.
                }
                if (giving.Count == 0 || receiving.Count == 0)
                {
                    return redistributions;
                }
                if (string.IsNullOrEmpty(endpoint.Zone) || !giving.TryGetValue(endpoint.Zone, out var toGive) || toGive <= 0)
                {
                    continue;
                }
                foreach (var receivingZone in receiving.Keys.Order(StringComparer.Ordinal).ToList())
                {
                    var toReceive = receiving[receivingZone];
                    if (toReceive <= 0)
                    {
                        continue;
                    }
                    endpoint.Hints = ZoneHint(receivingZone);
                    if (toGive == 1)
                    {
                        giving.Remove(endpoint.Zone);
                    }
                    else
                    {
                        giving[endpoint.Zone]--;
                    }
                    if (toReceive == 1)
                    {
                        receiving.Remove(receivingZone);
                    }
                    else
                    {
                        receiving[receivingZone]--;
                    }
                    redistributions[receivingZone] = redistributions.GetValueOrDefault(receivingZone) + 1;
                    redistributions[endpoint.Zone] = redistributions.GetValueOrDefault(endpoint.Zone) - 1;
                    break;
                }
            }
        }
        return redistributions;
    }

    private static bool ServiceOverloaded(SortedDictionary<string, int> endpointsByZone, SortedDictionary<string, double>? ratios)
    {
        if (endpointsByZone.Count == 0)
        {
            return false;
        }
        if (ratios is not { Count: > 0 })
        {
            return true;
        }
        double total = endpointsByZone.Values.Sum();
        foreach (var (zone, ratio) in ratios)
        {
            if (!endpointsByZone.TryGetValue(zone, out var n))
            {
                return true;
            }
            if (n < (int)Math.Ceiling(total * ratio * (1 / (1 + OverloadThreshold))))
            {
                return true;
            }
        }
        return false;
    }

    private static bool Ready(Endpoint endpoint) => endpoint.Conditions?.Ready == true;

    private static EndpointHints ZoneHint(string zone) => new() { ForZones = [new ForZone { Name = zone }] };
}

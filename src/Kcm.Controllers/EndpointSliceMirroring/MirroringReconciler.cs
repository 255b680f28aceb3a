using System.Globalization;
using System.Net;
using Kcm.Api.Core.V1;
using Kcm.Api.Discovery.V1;
using Kcm.Controllers.Common;
using Kcm.Controllers.EndpointSlices;
using Kcm.Runtime.Events;
using Kcm.Runtime.Informers;
using Microsoft.Extensions.Logging;
using EndpointPort = Kcm.Api.Discovery.V1.EndpointPort;

namespace Kcm.Controllers.EndpointSliceMirroring;

/// <summary>
/// Upstream's mirroring reconciler: one slice per address type and port set of an Endpoints object, holding at
/// most maxEndpointsPerSubset addresses of each subset (ready ones first, invalid IPs skipped with an event). A slice
/// is rewritten only when its endpoints, or the labels and annotations copied from the Endpoints, differ; extra
/// slices for the same key are deleted, and a deleted slice is recycled for one about to be created.
/// </summary>
public sealed class MirroringReconciler(
    IEndpointSliceClient client,
    int maxEndpointsPerSubset,
    EndpointSliceTracker tracker,
    EndpointSliceMirroringMetrics metrics,
    EndpointSliceMirroringMetricsCache metricsCache,
    IEventRecorder recorder,
    ILogger logger)
{
    private static readonly string[] AddressTypes = [EndpointSliceLabels.AddressTypeIPv4, EndpointSliceLabels.AddressTypeIPv6];

    public async Task ReconcileAsync(Endpoints endpoints, IReadOnlyList<EndpointSlice> existingSlices, CancellationToken cancellationToken)
    {
        var key = ObjectKey.Of(endpoints);
        var desiredPorts = new Dictionary<string, List<EndpointPort>>();
        var desired = new Dictionary<string, EndpointSet>();
        int invalid = 0, skipped = 0;
        foreach (var subset in endpoints.Subsets ?? [])
        {
            var ports = (subset.Ports ?? []).Select(p => new EndpointPort { Name = p.Name ?? "", Port = p.Port ?? 0, Protocol = p.Protocol ?? "TCP", AppProtocol = p.AppProtocol }).ToList();
            var portKey = PortMapKey.Of(ports);
            foreach (var type in AddressTypes)
            {
                var typeKey = $"{type}-{portKey}";
                if (!desired.ContainsKey(typeKey))
                {
                    desired[typeKey] = new EndpointSet();
                }
                desiredPorts[typeKey] = ports;
            }
            var total = (subset.Addresses?.Count ?? 0) + (subset.NotReadyAddresses?.Count ?? 0);
            var added = 0;
            foreach (var (address, ready) in (subset.Addresses ?? []).Select(a => (a, true)).Concat((subset.NotReadyAddresses ?? []).Select(a => (a, false))))
            {
                if (added >= maxEndpointsPerSubset)
                {
                    break;
                }
                if (AddressType(address.Ip) is not { } type)
                {
                    invalid++;
                    logger.LogWarning("{Message}", $"Address in {key} Endpoints is not a valid IP, it will not be mirrored to an EndpointSlice: {address.Ip}");
                    continue;
                }
                desired[$"{type}-{portKey}"].Insert(AddressToEndpoint(address, ready));
                added++;
            }
            skipped += total - added;
        }
        metrics.AddressesSkippedPerSync.Observe(skipped);
        if (invalid > 0)
        {
            recorder.Event(endpoints, EventTypes.Warning, "InvalidIPAddress", $"Skipped {invalid} invalid IP addresses when mirroring to EndpointSlices");
        }
        if (skipped > invalid)
        {
            logger.LogWarning("{Message}", $"{skipped} addresses in {key} Endpoints were skipped due to exceeding MaxEndpointsPerSubset");
            recorder.Event(endpoints, EventTypes.Warning, "TooManyAddressesToMirror", $"A max of {maxEndpointsPerSubset} addresses can be mirrored to EndpointSlices per Endpoints subset. {skipped} addresses were skipped");
        }

        var existingByKey = new Dictionary<string, List<EndpointSlice>>();
        foreach (var slice in existingSlices)
        {
            var sliceKey = $"{slice.AddressType}-{PortMapKey.OfExisting(slice.Ports)}";
            if (!existingByKey.TryGetValue(sliceKey, out var list))
            {
                existingByKey[sliceKey] = list = [];
            }
            list.Add(slice);
        }

        var toCreate = new List<EndpointSlice>();
        var toUpdate = new List<EndpointSlice>();
        var toDelete = new List<EndpointSlice>();
        int totalAdded = 0, totalUpdated = 0, totalRemoved = 0;
        var efficiency = new Dictionary<string, EfficiencyInfo>();
        foreach (var (typeKey, set) in desired)
        {
            var numEndpoints = set.Count;
            var existing = existingByKey.GetValueOrDefault(typeKey) ?? [];
            var type = typeKey.StartsWith(EndpointSliceLabels.AddressTypeIPv6, StringComparison.Ordinal) ? EndpointSliceLabels.AddressTypeIPv6 : EndpointSliceLabels.AddressTypeIPv4;
            var (create, update, delete, totals) = ReconcileByPortMapping(endpoints, existing, set, desiredPorts[typeKey], type);
            toCreate.AddRange(create);
            toUpdate.AddRange(update);
            toDelete.AddRange(delete);
            totalAdded += totals.Added;
            totalUpdated += totals.Updated;
            totalRemoved += totals.Removed;
            efficiency[typeKey] = new EfficiencyInfo(numEndpoints, existing.Count + create.Count - delete.Count);
        }
        foreach (var (typeKey, slices) in existingByKey)
        {
            if (!desired.ContainsKey(typeKey))
            {
                toDelete.AddRange(slices);
            }
        }
        metrics.EndpointsAddedPerSync.Observe(totalAdded);
        metrics.EndpointsUpdatedPerSync.Observe(totalUpdated);
        metrics.EndpointsRemovedPerSync.Observe(totalRemoved);
        metricsCache.UpdateEndpoints(key, efficiency);
        await FinalizeAsync(endpoints, toCreate, toUpdate, toDelete, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Deletes every mirrored slice of an Endpoints that should no longer be mirrored.</summary>
    public async Task DeleteEndpointsAsync(ObjectKey key, IReadOnlyList<EndpointSlice> slices, CancellationToken cancellationToken)
    {
        metricsCache.DeleteEndpoints(key);
        var errors = new List<Exception>();
        foreach (var slice in slices)
        {
            try
            {
                await client.DeleteAsync(key.Namespace ?? "", slice.Metadata!.Name!, cancellationToken).ConfigureAwait(false);
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                errors.Add(e);
            }
        }
        if (errors.Count > 0)
        {
            throw new EndpointSliceSyncException($"error(s) deleting {errors.Count}/{slices.Count} EndpointSlices for {key} Endpoints, including: {errors[0].Message}", errors[0]);
        }
    }

    private readonly record struct Totals(int Added, int Updated, int Removed);

    private (List<EndpointSlice> Create, List<EndpointSlice> Update, List<EndpointSlice> Delete, Totals Totals) ReconcileByPortMapping(
        Endpoints endpoints, List<EndpointSlice> existing, EndpointSet desired, List<EndpointPort> ports, string addressType)
    {
        if (desired.Count == 0)
        {
            return ([], [], existing, new Totals(0, 0, existing.Sum(s => s.Endpoints?.Count ?? 0)));
        }
        var toDelete = new List<EndpointSlice>();
        Totals totals;
        if (existing.Count == 0)
        {
            totals = new Totals(desired.Count, 0, 0);
        }
        else
        {
            toDelete = existing.Skip(1).ToList();
            totals = TotalChanges(existing[0], desired);
            var compareAnnotations = Without(endpoints.Metadata?.Annotations, EndpointSliceLabels.LastChangeTriggerTime, EndpointSliceLabels.LastAppliedConfig);
            var compareLabels = Without(existing[0].Metadata?.Labels, EndpointSliceLabels.ManagedBy, EndpointSliceLabels.ServiceName);
            if (totals == default && SameMap(endpoints.Metadata?.Labels, compareLabels) && SameMap(compareAnnotations, existing[0].Metadata?.Annotations))
            {
                return ([], [], toDelete, totals);
            }
        }
        var slice = NewEndpointSlice(endpoints, ports, addressType, existing.Count > 0 ? existing[0].Metadata?.Name : null);
        while (desired.Count > 0 && slice.Endpoints!.Count < maxEndpointsPerSubset)
        {
            slice.Endpoints.Add(desired.PopAny());
        }
        return string.IsNullOrEmpty(slice.Metadata!.Name) ? ([slice], [], toDelete, totals) : ([], [slice], toDelete, totals);
    }

    private static Totals TotalChanges(EndpointSlice existing, EndpointSet desired)
    {
        int removed = 0, updated = 0, matches = 0;
        foreach (var endpoint in existing.Endpoints ?? [])
        {
            if (desired.Get(endpoint) is not { } wanted)
            {
                removed++;
                continue;
            }
            matches++;
            if (!EndpointSet.EqualBeyondKey(wanted, endpoint))
            {
                updated++;
            }
        }
        return new Totals(desired.Count - matches, updated, removed);
    }

    private async Task FinalizeAsync(Endpoints endpoints, List<EndpointSlice> toCreate, List<EndpointSlice> toUpdate, List<EndpointSlice> toDelete, CancellationToken cancellationToken)
    {
        // Per address type, each slice to create takes the name of one to delete: an update instead of two writes.
        foreach (var type in AddressTypes)
        {
            var creates = toCreate.Where(s => s.AddressType == type).ToList();
            var deletes = toDelete.Where(s => s.AddressType == type).ToList();
            for (var i = 0; i < creates.Count && i < deletes.Count; i++)
            {
                toCreate.Remove(creates[i]);
                toDelete.Remove(deletes[i]);
                creates[i].Metadata!.Name = deletes[i].Metadata?.Name;
                toUpdate.Add(creates[i]);
            }
        }
        var key = ObjectKey.Of(endpoints);
        if (endpoints.Metadata?.DeletionTimestamp is null)
        {
            foreach (var slice in toCreate)
            {
                EndpointSlice created;
                try
                {
                    created = await client.CreateAsync(slice, cancellationToken).ConfigureAwait(false);
                }
                catch (Exception e) when (ApiErrors.IsNamespaceTerminating(e))
                {
                    return;
                }
                catch (Exception e) when (e is not OperationCanceledException)
                {
                    throw new EndpointSliceSyncException($"failed to create EndpointSlice for Endpoints {key}: {e.Message}", e);
                }
                tracker.Update(created);
                metrics.Changes.Inc("create");
            }
        }
        foreach (var slice in toUpdate)
        {
            EndpointSlice updated;
            try
            {
                updated = await client.UpdateAsync(slice, cancellationToken).ConfigureAwait(false);
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                throw new EndpointSliceSyncException($"failed to update {slice.Metadata?.Name} EndpointSlice for Endpoints {key}: {e.Message}", e);
            }
            tracker.Update(updated);
            metrics.Changes.Inc("update");
        }
        foreach (var slice in toDelete)
        {
            try
            {
                await client.DeleteAsync(key.Namespace ?? "", slice.Metadata!.Name!, cancellationToken).ConfigureAwait(false);
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                throw new EndpointSliceSyncException($"failed to delete {slice.Metadata?.Name} EndpointSlice for Endpoints {key}: {e.Message}", e);
            }
            tracker.ExpectDeletion(slice);
            metrics.Changes.Inc("delete");
        }
    }

    internal static EndpointSlice NewEndpointSlice(Endpoints endpoints, List<EndpointPort> ports, string addressType, string? name)
    {
        var labels = new Dictionary<string, string>(endpoints.Metadata?.Labels ?? [])
        {
            [EndpointSliceLabels.ServiceName] = endpoints.Metadata?.Name ?? "",
            [EndpointSliceLabels.ManagedBy] = EndpointSliceMirroringController.ManagedByValue,
        };
        var slice = new EndpointSlice
        {
            Metadata = new Kcm.Api.Meta.V1.ObjectMeta
            {
                Labels = labels,
                Annotations = Without(endpoints.Metadata?.Annotations, EndpointSliceLabels.LastChangeTriggerTime, EndpointSliceLabels.LastAppliedConfig),
                OwnerReferences = [ControllerRefs.NewControllerRef(endpoints.Metadata!, Endpoints.Resource)],
                Namespace = endpoints.Metadata?.Namespace,
            },
            Ports = ports,
            AddressType = addressType,
            Endpoints = [],
        };
        if (string.IsNullOrEmpty(name))
        {
            slice.Metadata.GenerateName = endpoints.Metadata?.Name + "-";
        }
        else
        {
            slice.Metadata.Name = name;
        }
        return slice;
    }

    internal static Endpoint AddressToEndpoint(EndpointAddress address, bool ready)
    {
        var endpoint = new Endpoint
        {
            Addresses = [address.Ip!],
            Conditions = new EndpointConditions { Ready = ready },
            TargetRef = address.TargetRef,
        };
        if (address.NodeName is not null)
        {
            endpoint.NodeName = address.NodeName;
        }
        if (!string.IsNullOrEmpty(address.Hostname))
        {
            endpoint.Hostname = address.Hostname;
        }
        return endpoint;
    }

    /// <summary>IPv4 or IPv6 as Go's ParseIPSloppy reads the address (dotted quads may have leading zeros); null when it is not an IP.</summary>
    internal static string? AddressType(string? address)
    {
        if (string.IsNullOrEmpty(address))
        {
            return null;
        }
        if (!address.Contains(':'))
        {
            var parts = address.Split('.');
            return parts.Length == 4 && parts.All(p => p.Length is > 0 and <= 3 && p.All(char.IsAsciiDigit) && int.Parse(p, CultureInfo.InvariantCulture) <= 255)
                ? EndpointSliceLabels.AddressTypeIPv4
                : null;
        }
        if (address.Contains('%') || !IPAddress.TryParse(address, out var ip))
        {
            return null;
        }
        return ip.IsIPv4MappedToIPv6 ? EndpointSliceLabels.AddressTypeIPv4 : EndpointSliceLabels.AddressTypeIPv6;
    }

    private static Dictionary<string, string> Without(Dictionary<string, string>? map, params string[] keys)
    {
        var copy = new Dictionary<string, string>(map ?? []);
        foreach (var key in keys)
        {
            copy.Remove(key);
        }
        return copy;
    }

    /// <summary>apiequality.Semantic.DeepEqual on string maps: nil and empty are equal.</summary>
    private static bool SameMap(IReadOnlyDictionary<string, string>? a, IReadOnlyDictionary<string, string>? b)
        => (a?.Count ?? 0) == (b?.Count ?? 0) && (a is null || a.All(kv => b!.TryGetValue(kv.Key, out var v) && v == kv.Value));
}

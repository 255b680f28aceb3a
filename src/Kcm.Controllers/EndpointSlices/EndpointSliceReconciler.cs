using Kcm.Api.Core.V1;
using Kcm.Api.Discovery.V1;
using Kcm.Controllers.Common;
using Kcm.Runtime.Events;
using Kcm.Runtime.Informers;
using Microsoft.Extensions.Logging;
using EndpointPort = Kcm.Api.Discovery.V1.EndpointPort;

namespace Kcm.Controllers.EndpointSlices;

/// <summary>
/// Upstream's endpointslice reconciler: turns a Service's pods into the slices it should have, per address type and
/// port set, changing as few slices as it can. Existing slices keep the endpoints that are still desired (updated
/// in place when one changed); new endpoints first top up slices that are being updated anyway, then the unchanged
/// slice that they fill best, and only then go into new slices; slices left empty are deleted, or recycled under
/// their name when a new one would be created. A Service without endpoints keeps one empty placeholder slice.
/// </summary>
public sealed partial class EndpointSliceReconciler(
    IEndpointSliceClient client,
    IObjectCache<Node> nodes,
    int maxEndpointsPerSlice,
    EndpointSliceTracker tracker,
    EndpointSliceMetrics metrics,
    EndpointSliceMetricsCache metricsCache,
    IEventRecorder recorder,
    ILogger logger,
    TopologyCache? topologyCache = null)
{
    public async Task ReconcileAsync(Service service, IReadOnlyList<Pod> pods, IReadOnlyList<EndpointSlice> existingSlices, DateTimeOffset? triggerTime, CancellationToken cancellationToken)
    {
        var errors = new List<Exception>();
        var toDelete = new List<EndpointSlice>();
        var byAddressType = new Dictionary<string, List<EndpointSlice>>();
        var addressTypes = AddressTypesFor(service);
        foreach (var slice in existingSlices)
        {
            if (!addressTypes.Contains(slice.AddressType ?? ""))
            {
                topologyCache?.RemoveHints(EndpointSliceTracker.ServiceOf(slice).ToString(), slice.AddressType ?? "");
                toDelete.Add(slice);
                continue;
            }
            if (!byAddressType.TryGetValue(slice.AddressType!, out var list))
            {
                byAddressType[slice.AddressType!] = list = [];
            }
            list.Add(slice);
        }
        foreach (var addressType in addressTypes)
        {
            try
            {
                await ReconcileByAddressTypeAsync(service, pods, byAddressType.GetValueOrDefault(addressType) ?? [], triggerTime, addressType, cancellationToken).ConfigureAwait(false);
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                errors.Add(e);
            }
        }
        foreach (var slice in toDelete)
        {
            try
            {
                await client.DeleteAsync(slice.Metadata!.Namespace!, slice.Metadata.Name!, cancellationToken).ConfigureAwait(false);
                tracker.ExpectDeletion(slice);
                metrics.Changes.Inc("delete");
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                errors.Add(new EndpointSliceSyncException($"error deleting {slice.Metadata?.Name} EndpointSlice for Service {ObjectKey.Of(service)}: {e.Message}", e));
            }
        }
        EndpointSliceSyncException.ThrowIfAny(errors);
    }

    public void DeleteService(ObjectKey service) => metricsCache.DeleteService(service);

    private async Task ReconcileByAddressTypeAsync(Service service, IReadOnlyList<Pod> pods, List<EndpointSlice> existingSlices, DateTimeOffset? triggerTime, string addressType, CancellationToken cancellationToken)
    {
        var errors = new List<Exception>();
        var toCreate = new List<EndpointSlice>();
        var toUpdate = new List<EndpointSlice>();
        var toDelete = new List<EndpointSlice>();
        var existingByPorts = new Dictionary<string, List<EndpointSlice>>();
        foreach (var slice in existingSlices)
        {
            if (OwnedBy(slice, service))
            {
                var key = PortMapKey.OfExisting(slice.Ports);
                if (!existingByPorts.TryGetValue(key, out var list))
                {
                    existingByPorts[key] = list = [];
                }
                list.Add(slice);
            }
            else
            {
                toDelete.Add(slice);
            }
        }

        var desiredPorts = new Dictionary<string, List<EndpointPort>>();
        var desiredByPorts = new Dictionary<string, EndpointSet>();
        foreach (var pod in pods)
        {
            if (!PodEndpoints.ShouldPodBeInEndpoints(pod, includeTerminating: true))
            {
                continue;
            }
            var ports = EndpointPortsFor(service, pod);
            var key = PortMapKey.Of(ports);
            if (!desiredByPorts.TryGetValue(key, out var set))
            {
                desiredByPorts[key] = set = new EndpointSet();
                desiredPorts[key] = ports;
            }
            var nodeName = pod.Spec?.NodeName ?? "";
            var node = nodes.Get(new ObjectKey(null, nodeName));
            if (node is null && service.Spec?.PublishNotReadyAddresses != true)
            {
                logger.LogWarning("{Message}", $"skipping Pod {pod.Metadata?.Name} for Service {ObjectKey.Of(service)}: Node {nodeName} Not Found");
                errors.Add(new EndpointSliceSyncException($"skipping Pod {pod.Metadata?.Name} for Service {ObjectKey.Of(service)}: Node {nodeName} Not Found"));
                continue;
            }
            var endpoint = PodToEndpoint(pod, node, service, addressType);
            if (endpoint.Addresses is { Count: > 0 })
            {
                set.Insert(endpoint);
            }
        }

        var efficiency = new Dictionary<string, EfficiencyInfo>();
        int totalAdded = 0, totalRemoved = 0;
        foreach (var (key, desired) in desiredByPorts)
        {
            var numEndpoints = desired.Count;
            var existing = existingByPorts.GetValueOrDefault(key) ?? [];
            var result = ReconcileByPortMapping(service, existing, desired, desiredPorts[key], addressType);
            totalAdded += result.Added;
            totalRemoved += result.Removed;
            efficiency[key] = new EfficiencyInfo(numEndpoints, existing.Count + result.ToCreate.Count - result.ToDelete.Count);
            toCreate.AddRange(result.ToCreate);
            toUpdate.AddRange(result.ToUpdate);
            toDelete.AddRange(result.ToDelete);
        }
        foreach (var (key, slices) in existingByPorts)
        {
            if (!desiredByPorts.ContainsKey(key))
            {
                toDelete.AddRange(slices);
            }
        }

        if (existingSlices.Count == toDelete.Count && toCreate.Count == 0)
        {
            var placeholder = NewEndpointSlice(service, [], addressType);
            if (toDelete.Count == 1 && IsPlaceholderOf(toDelete[0], placeholder))
            {
                toDelete.Clear();
            }
            else
            {
                toCreate.Add(placeholder);
            }
            efficiency[PortMapKey.Of([])] = new EfficiencyInfo(0, 1);
        }

        metrics.EndpointsAddedPerSync.Observe(totalAdded);
        metrics.EndpointsRemovedPerSync.Observe(totalRemoved);
        metricsCache.UpdateService(ObjectKey.Of(service), efficiency);

        var info = new SliceInfo(ObjectKey.Of(service).ToString(), addressType, toCreate, toUpdate, UnchangedSlices(existingSlices, toUpdate, toDelete));
        var events = new List<TopologyEvent>();
        var hints = topologyCache is not null && HintsEnabled(service);
        if (hints)
        {
            (toCreate, toUpdate, events) = topologyCache!.AddHints(info);
        }
        else
        {
            if (topologyCache is not null)
            {
                if (topologyCache.HasPopulatedHints(info.ServiceKey))
                {
                    logger.LogInformation("TopologyAwareHints annotation has changed, removing hints {ServiceKey} {AddressType}", info.ServiceKey, addressType);
                    events.Add(new TopologyEvent(EventTypes.Warning, "TopologyAwareHintsDisabled", TopologyCache.WithAddressType(TopologyCache.HintsDisabledMessage, addressType)));
                }
                topologyCache.RemoveHints(info.ServiceKey, addressType);
            }
            (toCreate, toUpdate) = TopologyCache.RemoveHintsFromSlices(info);
        }

        try
        {
            await FinalizeAsync(service, toCreate, toUpdate, toDelete, triggerTime, hints, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            errors.Add(e);
        }
        foreach (var e in events)
        {
            recorder.Event(service, e.Type, e.Reason, e.Message);
        }
        EndpointSliceSyncException.ThrowIfAny(errors);
    }

    private async Task FinalizeAsync(Service service, List<EndpointSlice> toCreate, List<EndpointSlice> toUpdate, List<EndpointSlice> toDelete, DateTimeOffset? triggerTime, bool hints, CancellationToken cancellationToken)
    {
        // A slice about to be deleted is reused, under its name, for a slice about to be created: one update instead of two writes.
        for (var i = 0; i < toDelete.Count && toCreate.Count > 0;)
        {
            var old = toDelete[i];
            var created = toCreate[^1];
            if (old.AddressType == created.AddressType && OwnedBy(old, service))
            {
                created.Metadata!.Name = old.Metadata?.Name;
                toCreate.RemoveAt(toCreate.Count - 1);
                toUpdate.Add(created);
                toDelete.RemoveAt(i);
            }
            else
            {
                i++;
            }
        }

        var ns = service.Metadata?.Namespace ?? "";
        if (service.Metadata?.DeletionTimestamp is null)
        {
            foreach (var slice in toCreate)
            {
                SetTriggerTime(slice, triggerTime);
                EndpointSlice created;
                try
                {
                    created = await client.CreateAsync(slice, cancellationToken).ConfigureAwait(false);
                }
                catch (Exception e) when (ApiErrors.IsNamespaceTerminating(e))
                {
                    return; // The namespace is going away with everything in it.
                }
                catch (Exception e) when (e is not OperationCanceledException)
                {
                    throw new EndpointSliceSyncException($"failed to create EndpointSlice for Service {ObjectKey.Of(service)}: {e.Message}", e);
                }
                tracker.Update(created);
                metrics.Changes.Inc("create");
            }
        }
        foreach (var slice in toUpdate)
        {
            SetTriggerTime(slice, triggerTime);
            EndpointSlice updated;
            try
            {
                updated = await client.UpdateAsync(slice, cancellationToken).ConfigureAwait(false);
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                throw new EndpointSliceSyncException($"failed to update {slice.Metadata?.Name} EndpointSlice for Service {ObjectKey.Of(service)}: {e.Message}", e);
            }
            tracker.Update(updated);
            metrics.Changes.Inc("update");
        }
        foreach (var slice in toDelete)
        {
            try
            {
                await client.DeleteAsync(ns, slice.Metadata!.Name!, cancellationToken).ConfigureAwait(false);
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                throw new EndpointSliceSyncException($"failed to delete {slice.Metadata?.Name} EndpointSlice for Service {ObjectKey.Of(service)}: {e.Message}", e);
            }
            tracker.ExpectDeletion(slice);
            metrics.Changes.Inc("delete");
        }
        metrics.SlicesChangedPerSync.Observe(toCreate.Count + toUpdate.Count + toDelete.Count, hints ? "Auto" : "Disabled");
    }

    private sealed record PortMappingResult(List<EndpointSlice> ToCreate, List<EndpointSlice> ToUpdate, List<EndpointSlice> ToDelete, int Added, int Removed);

    private PortMappingResult ReconcileByPortMapping(Service service, List<EndpointSlice> existingSlices, EndpointSet desired, List<EndpointPort> ports, string addressType)
    {
        var byName = new Dictionary<string, EndpointSlice>();
        var unchanged = new List<string>();
        var toUpdate = new List<string>();
        var toDelete = new List<string>();
        var removed = 0;

        foreach (var existing in existingSlices)
        {
            var name = existing.Metadata!.Name!;
            byName[name] = existing;
            var kept = new List<Endpoint>();
            var endpointChanged = false;
            foreach (var endpoint in existing.Endpoints ?? [])
            {
                if (desired.Get(endpoint) is { } wanted)
                {
                    kept.Add(wanted);
                    endpointChanged |= !EndpointSet.EqualBeyondKey(wanted, endpoint);
                    desired.Delete(endpoint);
                }
            }
            var (labels, labelsChanged) = SliceLabels(existing, service);
            var count = existing.Endpoints?.Count ?? 0;
            if (endpointChanged || count != kept.Count)
            {
                removed += Math.Max(0, count - kept.Count);
                if (kept.Count == 0)
                {
                    toDelete.Add(name);
                }
                else
                {
                    var copy = CopyWithoutEndpoints(existing);
                    copy.Endpoints = kept;
                    copy.Metadata!.Labels = labels;
                    byName[name] = copy;
                    toUpdate.Add(name);
                }
            }
            else if (labelsChanged)
            {
                var copy = KubeObjects.Clone(existing);
                copy.Metadata!.Labels = labels;
                byName[name] = copy;
                toUpdate.Add(name);
            }
            else
            {
                unchanged.Add(name);
            }
        }

        var added = desired.Count;
        if (desired.Count > 0 && toUpdate.Count > 0)
        {
            // Fullest first: the endpoints land in as few slices as possible.
            foreach (var slice in toUpdate.Select(n => byName[n]).OrderByDescending(s => s.Endpoints?.Count ?? 0).ToList())
            {
                slice.Endpoints ??= [];
                while (desired.Count > 0 && slice.Endpoints.Count < maxEndpointsPerSlice)
                {
                    slice.Endpoints.Add(desired.PopAny());
                }
            }
        }

        var toCreate = new List<EndpointSlice>();
        while (desired.Count > 0)
        {
            EndpointSlice? sliceToFill = null;
            if (desired.Count < maxEndpointsPerSlice && unchanged.Count > 0)
            {
                sliceToFill = SliceToFill(unchanged.Select(n => byName[n]), desired.Count, maxEndpointsPerSlice);
            }
            if (sliceToFill is null)
            {
                sliceToFill = NewEndpointSlice(service, ports, addressType);
            }
            else
            {
                sliceToFill = KubeObjects.Clone(sliceToFill);
                byName[sliceToFill.Metadata!.Name!] = sliceToFill;
            }
            sliceToFill.Endpoints ??= [];
            while (desired.Count > 0 && sliceToFill.Endpoints.Count < maxEndpointsPerSlice)
            {
                sliceToFill.Endpoints.Add(desired.PopAny());
            }
            if (!string.IsNullOrEmpty(sliceToFill.Metadata?.Name))
            {
                if (!toUpdate.Contains(sliceToFill.Metadata.Name))
                {
                    toUpdate.Add(sliceToFill.Metadata.Name);
                }
                unchanged.Remove(sliceToFill.Metadata.Name);
            }
            else
            {
                toCreate.Add(sliceToFill);
            }
        }
        return new PortMappingResult(toCreate, toUpdate.Select(n => byName[n]).ToList(), toDelete.Select(n => byName[n]).ToList(), added, removed);
    }

    /// <summary>The unchanged slice whose room is closest to the number of endpoints left (upstream's getSliceToFill).</summary>
    internal static EndpointSlice? SliceToFill(IEnumerable<EndpointSlice> slices, int numEndpoints, int maxEndpoints)
    {
        var closestDiff = maxEndpoints;
        EndpointSlice? closest = null;
        foreach (var slice in slices)
        {
            var diff = maxEndpoints - (numEndpoints + (slice.Endpoints?.Count ?? 0));
            if (diff >= 0 && diff < closestDiff)
            {
                closestDiff = diff;
                closest = slice;
                if (diff == 0)
                {
                    return closest;
                }
            }
        }
        return closest;
    }

    private static EndpointSlice CopyWithoutEndpoints(EndpointSlice slice)
    {
        var endpoints = slice.Endpoints;
        slice.Endpoints = null;
        try
        {
            return KubeObjects.Clone(slice);
        }
        finally
        {
            slice.Endpoints = endpoints;
        }
    }

    private static List<EndpointSlice> UnchangedSlices(List<EndpointSlice> existing, List<EndpointSlice> toUpdate, List<EndpointSlice> toDelete)
    {
        var changed = toUpdate.Concat(toDelete).Select(s => s.Metadata?.Name).ToHashSet();
        return existing.Where(s => !changed.Contains(s.Metadata?.Name)).ToList();
    }

    /// <summary>Upstream's placeholderSliceCompare: same namespace, labels and address type, no ports and no endpoints (other metadata ignored).</summary>
    private static bool IsPlaceholderOf(EndpointSlice slice, EndpointSlice placeholder)
    {
        var a = slice.Metadata?.Labels ?? [];
        var b = placeholder.Metadata?.Labels ?? [];
        return slice.Metadata?.Namespace == placeholder.Metadata?.Namespace
            && a.Count == b.Count && a.All(kv => b.TryGetValue(kv.Key, out var v) && v == kv.Value)
            && slice.AddressType == placeholder.AddressType
            && slice.Ports is not { Count: > 0 }
            && slice.Endpoints is not { Count: > 0 };
    }

    private static void SetTriggerTime(EndpointSlice slice, DateTimeOffset? triggerTime)
    {
        slice.Metadata!.Annotations ??= [];
        if (triggerTime is { } time)
        {
            slice.Metadata.Annotations[EndpointSliceLabels.LastChangeTriggerTime] = PodEndpoints.FormatRfc3339Nano(time);
        }
        else
        {
            slice.Metadata.Annotations.Remove(EndpointSliceLabels.LastChangeTriggerTime);
        }
    }
}

/// <summary>A failed EndpointSlice sync (several failures of one sync are joined, as upstream's aggregate error).</summary>
public sealed class EndpointSliceSyncException(string message, Exception? inner = null) : Exception(message, inner)
{
    public static void ThrowIfAny(List<Exception> errors)
    {
        if (errors.Count == 1)
        {
            System.Runtime.ExceptionServices.ExceptionDispatchInfo.Throw(errors[0]);
        }
        if (errors.Count > 1)
        {
            throw new EndpointSliceSyncException("[" + string.Join(", ", errors.Select(e => e.Message)) + "]", errors[0]);
        }
    }
}

/// <summary>The EndpointSlice informer cache has not caught up with this controller's own writes yet.</summary>
public sealed class StaleInformerCacheException(string message) : Exception(message);

using Kcm.Controllers.EndpointSlices;
using Kcm.Runtime.Informers;
using Kcm.Runtime.Metrics;

namespace Kcm.Controllers.EndpointSliceMirroring;

/// <summary>Upstream's endpoint_slice_mirroring_controller_* metrics, same names, labels and buckets.</summary>
public sealed class EndpointSliceMirroringMetrics
{
    public const string Subsystem = "endpoint_slice_mirroring_controller";

    public EndpointSliceMirroringMetrics(MetricsRegistry registry)
    {
        var perSync = Histogram.ExponentialBuckets(2, 2, 15);
        EndpointsAddedPerSync = registry.Histogram($"{Subsystem}_endpoints_added_per_sync", "[ALPHA] Number of endpoints added on each Endpoints sync", perSync);
        EndpointsUpdatedPerSync = registry.Histogram($"{Subsystem}_endpoints_updated_per_sync", "[ALPHA] Number of endpoints updated on each Endpoints sync", perSync);
        EndpointsRemovedPerSync = registry.Histogram($"{Subsystem}_endpoints_removed_per_sync", "[ALPHA] Number of endpoints removed on each Endpoints sync", perSync);
        AddressesSkippedPerSync = registry.Histogram($"{Subsystem}_addresses_skipped_per_sync", "[ALPHA] Number of addresses skipped on each Endpoints sync due to being invalid or exceeding MaxEndpointsPerSubset", perSync);
        EndpointsSyncDuration = registry.Histogram($"{Subsystem}_endpoints_sync_duration", "[ALPHA] Duration of syncEndpoints() in seconds", Histogram.ExponentialBuckets(0.001, 2, 15));
        EndpointsDesired = registry.Gauge($"{Subsystem}_endpoints_desired", "[ALPHA] Number of endpoints desired");
        NumEndpointSlices = registry.Gauge($"{Subsystem}_num_endpoint_slices", "[ALPHA] Number of EndpointSlices");
        DesiredEndpointSlices = registry.Gauge($"{Subsystem}_desired_endpoint_slices", "[ALPHA] Number of EndpointSlices that would exist with perfect endpoint allocation");
        Changes = registry.Counter($"{Subsystem}_changes", "[ALPHA] Number of EndpointSlice changes", "operation");
    }

    public Histogram EndpointsAddedPerSync { get; }
    public Histogram EndpointsUpdatedPerSync { get; }
    public Histogram EndpointsRemovedPerSync { get; }
    public Histogram AddressesSkippedPerSync { get; }
    public Histogram EndpointsSyncDuration { get; }
    public Gauge EndpointsDesired { get; }
    public Gauge NumEndpointSlices { get; }
    public Gauge DesiredEndpointSlices { get; }
    /// <summary>operation: create, update or delete.</summary>
    public Counter Changes { get; }
}

/// <summary>Upstream's mirroring metrics.Cache: endpoints and slices per Endpoints and port set (no placeholder slices here).</summary>
public sealed class EndpointSliceMirroringMetricsCache(EndpointSliceMirroringMetrics metrics, int maxEndpointsPerSubset)
{
    private readonly Dictionary<ObjectKey, Dictionary<string, EfficiencyInfo>> _endpoints = [];
    private readonly Lock _lock = new();
    private int _numEndpoints;

    public void UpdateEndpoints(ObjectKey key, Dictionary<string, EfficiencyInfo> byPortSet)
    {
        lock (_lock)
        {
            var previous = _endpoints.TryGetValue(key, out var old) ? old.Values.Sum(i => i.Endpoints) : 0;
            _numEndpoints += byPortSet.Values.Sum(i => i.Endpoints) - previous;
            _endpoints[key] = byPortSet;
            Publish();
        }
    }

    public void DeleteEndpoints(ObjectKey key)
    {
        lock (_lock)
        {
            if (_endpoints.Remove(key, out var old))
            {
                _numEndpoints -= old.Values.Sum(i => i.Endpoints);
                Publish();
            }
        }
    }

    private void Publish()
    {
        int actual = 0, desired = 0;
        foreach (var info in _endpoints.Values.SelectMany(d => d.Values))
        {
            actual += info.Slices;
            desired += (info.Endpoints + maxEndpointsPerSubset - 1) / maxEndpointsPerSubset;
        }
        metrics.NumEndpointSlices.Set(actual);
        metrics.DesiredEndpointSlices.Set(desired);
        metrics.EndpointsDesired.Set(_numEndpoints);
    }
}

using Kcm.Runtime.Informers;
using Kcm.Runtime.Metrics;

namespace Kcm.Controllers.EndpointSlices;

/// <summary>Upstream's endpoint_slice_controller_* metrics (pkg/controller/endpointslice/metrics), same names, labels and buckets.</summary>
public sealed class EndpointSliceMetrics
{
    public const string Subsystem = "endpoint_slice_controller";

    /// <summary>Prometheus' default buckets (upstream gives endpointslices_changed_per_sync none).</summary>
    private static readonly double[] DefaultBuckets = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

    public EndpointSliceMetrics(MetricsRegistry registry)
    {
        var perSync = Histogram.ExponentialBuckets(2, 2, 15);
        EndpointsAddedPerSync = registry.Histogram($"{Subsystem}_endpoints_added_per_sync", "[ALPHA] Number of endpoints added on each Service sync", perSync);
        EndpointsRemovedPerSync = registry.Histogram($"{Subsystem}_endpoints_removed_per_sync", "[ALPHA] Number of endpoints removed on each Service sync", perSync);
        EndpointsDesired = registry.Gauge($"{Subsystem}_endpoints_desired", "[ALPHA] Number of endpoints desired");
        NumEndpointSlices = registry.Gauge($"{Subsystem}_num_endpoint_slices", "[ALPHA] Number of EndpointSlices");
        DesiredEndpointSlices = registry.Gauge($"{Subsystem}_desired_endpoint_slices", "[ALPHA] Number of EndpointSlices that would exist with perfect endpoint allocation");
        Changes = registry.Counter($"{Subsystem}_changes", "[ALPHA] Number of EndpointSlice changes", "operation");
        SlicesChangedPerSync = registry.Histogram($"{Subsystem}_endpointslices_changed_per_sync", "[ALPHA] Number of EndpointSlices changed on each Service sync", DefaultBuckets, "topology");
        Syncs = registry.Counter($"{Subsystem}_syncs", "[ALPHA] Number of EndpointSlice syncs", "result");
    }

    public Histogram EndpointsAddedPerSync { get; }
    public Histogram EndpointsRemovedPerSync { get; }
    public Gauge EndpointsDesired { get; }
    public Gauge NumEndpointSlices { get; }
    public Gauge DesiredEndpointSlices { get; }
    /// <summary>operation: create, update or delete.</summary>
    public Counter Changes { get; }
    /// <summary>topology: Auto or Disabled.</summary>
    public Histogram SlicesChangedPerSync { get; }
    /// <summary>result: success, stale or error.</summary>
    public Counter Syncs { get; }
}

/// <summary>Endpoints and slices of one port set of a Service, for the efficiency gauges.</summary>
public readonly record struct EfficiencyInfo(int Endpoints, int Slices);

/// <summary>
/// Upstream's metrics.Cache: per Service and port set, the endpoints and slices the last sync left, summed into the
/// endpoints_desired, num_endpoint_slices and desired_endpoint_slices gauges.
/// </summary>
public sealed class EndpointSliceMetricsCache(EndpointSliceMetrics metrics, int maxEndpointsPerSlice)
{
    private readonly Dictionary<ObjectKey, Dictionary<string, EfficiencyInfo>> _services = [];
    private readonly Lock _lock = new();
    private int _endpoints;
    private int _actualSlices;
    private int _desiredSlices;

    public void UpdateService(ObjectKey service, Dictionary<string, EfficiencyInfo> byPortSet)
    {
        lock (_lock)
        {
            var (prevActual, prevDesired, prevEndpoints) = _services.TryGetValue(service, out var previous) ? Totals(previous) : (0, 0, 0);
            var (actual, desired, endpoints) = Totals(byPortSet);
            _endpoints += endpoints - prevEndpoints;
            _desiredSlices += desired - prevDesired;
            _actualSlices += actual - prevActual;
            _services[service] = byPortSet;
            Publish();
        }
    }

    public void DeleteService(ObjectKey service)
    {
        lock (_lock)
        {
            if (!_services.Remove(service, out var previous))
            {
                return;
            }
            var (actual, desired, endpoints) = Totals(previous);
            _endpoints -= endpoints;
            _desiredSlices -= desired;
            _actualSlices -= actual;
            Publish();
        }
    }

    private (int Actual, int Desired, int Endpoints) Totals(Dictionary<string, EfficiencyInfo> byPortSet)
    {
        int actual = 0, desired = 0, endpoints = 0;
        foreach (var info in byPortSet.Values)
        {
            endpoints += info.Endpoints;
            actual += info.Slices;
            desired += info.Endpoints == 0 ? 0 : (info.Endpoints + maxEndpointsPerSlice - 1) / maxEndpointsPerSlice;
        }
        // A Service always has at least its placeholder slice.
        return (actual, Math.Max(desired, 1), endpoints);
    }

    private void Publish()
    {
        metrics.NumEndpointSlices.Set(_actualSlices);
        metrics.DesiredEndpointSlices.Set(_desiredSlices);
        metrics.EndpointsDesired.Set(_endpoints);
    }
}

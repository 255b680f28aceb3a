using Kcm.Runtime.Metrics;

namespace Kcm.Controllers.NodeLifecycle;

/// <summary>
/// Upstream's node_collector_* metrics, same names, help and zone label. node_collector_evictions_number is left out:
/// deprecated in 1.24, it is hidden in 1.26.
/// </summary>
public sealed class NodeLifecycleMetrics(MetricsRegistry registry)
{
    public const string Subsystem = "node_collector";

    public Gauge ZoneHealth { get; } = registry.Gauge($"{Subsystem}_zone_health", "[ALPHA] Gauge measuring percentage of healthy nodes per zone.", "zone");

    public Gauge ZoneSize { get; } = registry.Gauge($"{Subsystem}_zone_size", "[ALPHA] Gauge measuring number of registered Nodes per zones.", "zone");

    public Gauge UnhealthyNodes { get; } = registry.Gauge($"{Subsystem}_unhealthy_nodes_in_zone", "[ALPHA] Gauge measuring number of not Ready Nodes per zones.", "zone");

    public Counter EvictionsTotal { get; } = registry.Counter($"{Subsystem}_evictions_total", "[STABLE] Number of Node evictions that happened since current instance of NodeController started.", "zone");
}

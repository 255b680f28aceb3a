using System.Collections.Concurrent;
using System.Runtime.CompilerServices;
using Kcm.Api.Core.V1;
using Kcm.Runtime.Metrics;

namespace Kcm.Controllers.PersistentVolumes;

/// <summary>
/// The binder's metrics as upstream's persistentvolume/metrics and volume/util: pv_collector_* gauges computed at
/// scrape time from the controller's caches, operation error counts, end-to-end provision/delete latency, plugin
/// operation durations and the retroactive default-class counters.
/// </summary>
public sealed class PersistentVolumeMetrics
{
    private static readonly double[] Buckets = [.1, .25, .5, 1, 2.5, 5, 10, 15, 25, 50, 120, 300, 600];

    // One scrape hook per registry; each leadership term's controller takes it over.
    private static readonly ConditionalWeakTable<MetricsRegistry, CollectorSlot> Slots = [];

    private readonly Gauge _totalPv;
    private readonly Gauge _boundPv;
    private readonly Gauge _unboundPv;
    private readonly Gauge _boundPvc;
    private readonly Gauge _unboundPvc;
    private readonly Counter _operationErrors;
    private readonly Counter _retroactive;
    private readonly Counter _retroactiveErrors;
    private readonly Histogram _endToEnd;
    private readonly ConcurrentDictionary<string, (string Plugin, string Operation, DateTimeOffset Start)> _started = new();
    private readonly TimeProvider _time;

    public PersistentVolumeMetrics(MetricsRegistry registry, TimeProvider time)
    {
        _time = time;
        _totalPv = registry.Gauge("pv_collector_total_pv_count", "[ALPHA] Gauge measuring total number of persistent volumes", "plugin_name", "volume_mode");
        _boundPv = registry.Gauge("pv_collector_bound_pv_count", "[ALPHA] Gauge measuring number of persistent volume currently bound", "storage_class");
        _unboundPv = registry.Gauge("pv_collector_unbound_pv_count", "[ALPHA] Gauge measuring number of persistent volume currently unbound", "storage_class");
        _boundPvc = registry.Gauge("pv_collector_bound_pvc_count", "[ALPHA] Gauge measuring number of persistent volume claim currently bound", "namespace");
        _unboundPvc = registry.Gauge("pv_collector_unbound_pvc_count", "[ALPHA] Gauge measuring number of persistent volume claim currently unbound", "namespace");
        _operationErrors = registry.Counter("volume_operation_total_errors", "[ALPHA] Total volume operation errors", "plugin_name", "operation_name");
        _retroactive = registry.Counter("retroactive_storageclass_total", "[ALPHA] Total number of retroactive StorageClass assignments to persistent volume claim");
        _retroactiveErrors = registry.Counter("retroactive_storageclass_errors_total", "[ALPHA] Total number of failed retroactive StorageClass assignments to persistent volume claim");
        _endToEnd = registry.Histogram("volume_operation_total_seconds", "[ALPHA] Storage operation end to end duration in seconds", Buckets, "plugin_name", "operation_name");
        OperationDuration = registry.Histogram("storage_operation_duration_seconds", "[ALPHA] Storage operation duration", Buckets, "volume_plugin", "operation_name", "status", "migrated");
        Slot = Slots.GetValue(registry, r =>
        {
            var slot = new CollectorSlot();
            r.OnCollect(() => slot.Collect?.Invoke());
            return slot;
        });
    }

    public Histogram OperationDuration { get; }

    private CollectorSlot Slot { get; }

    /// <summary>From now on scrapes count these volumes and claims (the current controller's caches).</summary>
    public void CollectFrom(Func<IReadOnlyList<PersistentVolume>> volumes, Func<IReadOnlyList<PersistentVolumeClaim>> claims, VolumePluginManager plugins)
    {
        var seen = new HashSet<(Gauge, string)>();
        Slot.Collect = () =>
        {
            var values = new Dictionary<(Gauge Gauge, string Key), (string[] Labels, double Value)>();
            void Count(Gauge gauge, params string[] labels)
            {
                var key = (gauge, string.Join('\u0001', labels));
                values[key] = (labels, values.TryGetValue(key, out var v) ? v.Value + 1 : 1);
            }
            foreach (var pv in volumes())
            {
                Count(_totalPv, plugins.MetricPluginName(pv), pv.Spec?.VolumeMode ?? "");
                Count(pv.Status?.Phase == VolumePhases.Bound ? _boundPv : _unboundPv, pv.Spec?.StorageClassName ?? "");
            }
            foreach (var pvc in claims())
            {
                Count(pvc.Status?.Phase == VolumePhases.Bound ? _boundPvc : _unboundPvc, pvc.Metadata?.Namespace ?? "");
            }
            lock (seen)
            {
                // Series that no longer have objects read 0 (upstream's lazy const metrics vanish; ours cannot).
                foreach (var (gauge, key) in seen)
                {
                    if (!values.ContainsKey((gauge, key)))
                    {
                        gauge.Set(0, key.Split('\u0001'));
                    }
                }
                foreach (var ((gauge, key), (labels, value)) in values)
                {
                    gauge.Set(value, labels);
                    seen.Add((gauge, key));
                }
            }
        };
    }

    public void RecordRetroactiveStorageClass(bool success)
    {
        _retroactive.Inc();
        if (!success)
        {
            _retroactiveErrors.Inc();
        }
    }

    /// <summary>OperationStartTimeCache.AddIfNotExist: the start of a provision (key: claim) or delete (key: volume).</summary>
    public void OperationStarted(string key, string plugin, string operation) => _started.TryAdd(key, (plugin, operation, _time.GetUtcNow()));

    public void ForgetOperation(string key) => _started.TryRemove(key, out _);

    /// <summary>RecordMetric: an error counts against the operation; success observes its end-to-end latency and forgets it.</summary>
    public void RecordOperation(string key, Exception? error)
    {
        if (!_started.TryGetValue(key, out var started))
        {
            return;
        }
        if (error is not null)
        {
            _operationErrors.Inc(string.IsNullOrEmpty(started.Plugin) ? "N/A" : started.Plugin, started.Operation);
            return;
        }
        _endToEnd.Observe((_time.GetUtcNow() - started.Start).TotalSeconds, started.Plugin, started.Operation);
        _started.TryRemove(key, out _);
    }

    /// <summary>OperationCompleteHook: a plugin call's duration under storage_operation_duration_seconds.</summary>
    public void ObservePluginOperation(string plugin, string operation, TimeSpan took, bool failed)
        => OperationDuration.Observe(took.TotalSeconds, plugin, operation, failed ? "fail-unknown" : "success", "false");

    private sealed class CollectorSlot
    {
        public Action? Collect { get; set; }
    }
}

using Kcm.Runtime.Queues;

namespace Kcm.Runtime.Metrics;

/// <summary>client-go's workqueue metrics under upstream's names, labelled by queue name.</summary>
public sealed class WorkQueueMetricsProvider : IWorkQueueMetricsProvider
{
    // Upstream's buckets: 10ns to 10s in powers of ten.
    private static readonly double[] DurationBuckets = Histogram.ExponentialBuckets(10e-9, 10, 10);

    private readonly Gauge _depth;
    private readonly Counter _adds;
    private readonly Histogram _latency;
    private readonly Histogram _workDuration;
    private readonly Gauge _unfinished;
    private readonly Gauge _longestRunning;
    private readonly Counter _retries;
    private readonly Gauge _lastSyncError;

    public WorkQueueMetricsProvider(MetricsRegistry registry)
    {
        _depth = registry.Gauge("workqueue_depth", "[ALPHA] Items waiting in the work queue.", "name");
        _adds = registry.Counter("workqueue_adds_total", "[ALPHA] Items added to the work queue.", "name");
        _latency = registry.Histogram("workqueue_queue_duration_seconds", "[ALPHA] Seconds an item waited in the queue before a worker took it.", DurationBuckets, "name");
        _workDuration = registry.Histogram("workqueue_work_duration_seconds", "[ALPHA] Seconds a worker spent on an item.", DurationBuckets, "name");
        _unfinished = registry.Gauge("workqueue_unfinished_work_seconds", "[ALPHA] Seconds of work in progress not yet observed by work_duration; large values suggest stuck workers.", "name");
        _longestRunning = registry.Gauge("workqueue_longest_running_processor_seconds", "[ALPHA] Seconds the longest-running worker of the queue has been busy.", "name");
        _retries = registry.Counter("workqueue_retries_total", "[ALPHA] Rate-limited re-adds of items to the work queue.", "name");
        // Beyond upstream, read by `kube-controller-manager status`: one series per queue, replaced at each new error.
        _lastSyncError = registry.Gauge("kcm_controller_last_sync_error_timestamp_seconds",
            "When a sync of the queue's items last failed (Unix seconds); the error label holds the item and message (first 200 characters).", "name", "error");
    }

    public IGaugeMetric NewDepthMetric(string name) => new GaugeSeries(_depth, name);

    public ICounterMetric NewAddsMetric(string name) => new CounterSeries(_adds, name);

    public IHistogramMetric NewLatencyMetric(string name) => new HistogramSeries(_latency, name);

    public IHistogramMetric NewWorkDurationMetric(string name) => new HistogramSeries(_workDuration, name);

    public ISettableGaugeMetric NewUnfinishedWorkSecondsMetric(string name) => new GaugeSeries(_unfinished, name);

    public ISettableGaugeMetric NewLongestRunningProcessorSecondsMetric(string name) => new GaugeSeries(_longestRunning, name);

    public ICounterMetric NewRetriesMetric(string name) => new CounterSeries(_retries, name);

    public ISyncErrorMetric NewLastSyncErrorMetric(string name) => new SyncErrorSeries(_lastSyncError, name);

    private sealed class SyncErrorSeries(Gauge gauge, string name) : ISyncErrorMetric
    {
        private readonly Lock _gate = new();
        private string? _current;

        public void Set(string error, DateTimeOffset at)
        {
            var text = error.Length > 200 ? error[..200] : error;
            lock (_gate)
            {
                if (_current is not null && _current != text) gauge.Remove(name, _current);
                _current = text;
                gauge.Set(at.ToUnixTimeMilliseconds() / 1000.0, name, text);
            }
        }
    }

    private sealed class GaugeSeries : IGaugeMetric, ISettableGaugeMetric
    {
        private readonly Gauge _gauge;
        private readonly string _name;

        public GaugeSeries(Gauge gauge, string name)
        {
            _gauge = gauge;
            _name = name;
            gauge.Add(0, name); // the series exists from the queue's creation, as upstream's do
        }

        public void Inc() => _gauge.Add(1, _name);

        public void Dec() => _gauge.Add(-1, _name);

        public void Set(double value) => _gauge.Set(value, _name);
    }

    private sealed class CounterSeries : ICounterMetric
    {
        private readonly Counter _counter;
        private readonly string _name;

        public CounterSeries(Counter counter, string name)
        {
            _counter = counter;
            _name = name;
            counter.Add(0, name);
        }

        public void Inc() => _counter.Inc(_name);
    }

    private sealed class HistogramSeries(Histogram histogram, string name) : IHistogramMetric
    {
        public void Observe(double value) => histogram.Observe(value, name);
    }
}

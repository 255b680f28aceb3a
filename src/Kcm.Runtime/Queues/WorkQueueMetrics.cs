namespace Kcm.Runtime.Queues;

public interface ICounterMetric
{
    void Inc();
}

public interface IGaugeMetric
{
    void Inc();

    void Dec();
}

public interface ISettableGaugeMetric
{
    void Set(double value);
}

public interface IHistogramMetric
{
    void Observe(double value);
}

/// <summary>Beyond client-go: the last error a worker's sync of one of the queue's items failed with.</summary>
public interface ISyncErrorMetric
{
    void Set(string error, DateTimeOffset at);
}

/// <summary>
/// client-go's workqueue MetricsProvider: one metric object per queue name. A Prometheus implementation exposes
/// workqueue_depth, workqueue_adds_total, workqueue_queue_duration_seconds, workqueue_work_duration_seconds,
/// workqueue_unfinished_work_seconds, workqueue_longest_running_processor_seconds and workqueue_retries_total.
/// </summary>
public interface IWorkQueueMetricsProvider
{
    IGaugeMetric NewDepthMetric(string name);

    ICounterMetric NewAddsMetric(string name);

    /// <summary>Seconds an item waited in the queue before a worker got it.</summary>
    IHistogramMetric NewLatencyMetric(string name);

    /// <summary>Seconds a worker held an item (Get to Done).</summary>
    IHistogramMetric NewWorkDurationMetric(string name);

    /// <summary>Sum of the ages of all items being processed right now.</summary>
    ISettableGaugeMetric NewUnfinishedWorkSecondsMetric(string name);

    /// <summary>Age of the oldest item being processed right now.</summary>
    ISettableGaugeMetric NewLongestRunningProcessorSecondsMetric(string name);

    ICounterMetric NewRetriesMetric(string name);

    /// <summary>Beyond client-go (for `kube-controller-manager status`); providers without it record nothing.</summary>
    ISyncErrorMetric NewLastSyncErrorMetric(string name) => NoopSyncErrorMetric.Instance;
}

public sealed class NoopSyncErrorMetric : ISyncErrorMetric
{
    public static readonly NoopSyncErrorMetric Instance = new();

    private NoopSyncErrorMetric()
    {
    }

    public void Set(string error, DateTimeOffset at)
    {
    }
}

public sealed class NoopWorkQueueMetricsProvider : IWorkQueueMetricsProvider
{
    public static readonly NoopWorkQueueMetricsProvider Instance = new();

    private NoopWorkQueueMetricsProvider()
    {
    }

    public IGaugeMetric NewDepthMetric(string name) => NoopMetric.Instance;

    public ICounterMetric NewAddsMetric(string name) => NoopMetric.Instance;

    public IHistogramMetric NewLatencyMetric(string name) => NoopMetric.Instance;

    public IHistogramMetric NewWorkDurationMetric(string name) => NoopMetric.Instance;

    public ISettableGaugeMetric NewUnfinishedWorkSecondsMetric(string name) => NoopMetric.Instance;

    public ISettableGaugeMetric NewLongestRunningProcessorSecondsMetric(string name) => NoopMetric.Instance;

    public ICounterMetric NewRetriesMetric(string name) => NoopMetric.Instance;

    private sealed class NoopMetric : ICounterMetric, IGaugeMetric, ISettableGaugeMetric, IHistogramMetric
    {
        public static readonly NoopMetric Instance = new();

        public void Inc()
        {
        }

        public void Dec()
        {
        }

        public void Set(double value)
        {
        }

        public void Observe(double value)
        {
        }
    }
}

/// <summary>Per-queue bookkeeping behind the metrics; callers hold the queue's lock.</summary>
internal sealed class QueueMetrics<T>
    where T : notnull
{
    private readonly TimeProvider _time;
    private readonly IGaugeMetric _depth;
    private readonly ICounterMetric _adds;
    private readonly IHistogramMetric _latency;
    private readonly IHistogramMetric _workDuration;
    private readonly ISettableGaugeMetric _unfinishedWork;
    private readonly ISettableGaugeMetric _longestRunning;
    private readonly Dictionary<T, long> _addTimes = [];
    private readonly Dictionary<T, long> _processingStartTimes = [];

    public QueueMetrics(string name, IWorkQueueMetricsProvider provider, TimeProvider time)
    {
        _time = time;
        _depth = provider.NewDepthMetric(name);
        _adds = provider.NewAddsMetric(name);
        _latency = provider.NewLatencyMetric(name);
        _workDuration = provider.NewWorkDurationMetric(name);
        _unfinishedWork = provider.NewUnfinishedWorkSecondsMetric(name);
        _longestRunning = provider.NewLongestRunningProcessorSecondsMetric(name);
    }

    public void Added(T item)
    {
        _adds.Inc();
        _depth.Inc();
        _addTimes.TryAdd(item, _time.GetTimestamp());
    }

    public void Got(T item)
    {
        _depth.Dec();
        var now = _time.GetTimestamp();
        _processingStartTimes[item] = now;
        if (_addTimes.Remove(item, out var added))
        {
            _latency.Observe(_time.GetElapsedTime(added, now).TotalSeconds);
        }
    }

    public void Done(T item)
    {
        if (_processingStartTimes.Remove(item, out var started))
        {
            _workDuration.Observe(_time.GetElapsedTime(started).TotalSeconds);
        }
    }

    public void UpdateUnfinishedWork()
    {
        var now = _time.GetTimestamp();
        double total = 0, oldest = 0;
        foreach (var started in _processingStartTimes.Values)
        {
            var age = _time.GetElapsedTime(started, now).TotalSeconds;
            total += age;
            oldest = Math.Max(oldest, age);
        }
        _unfinishedWork.Set(total);
        _longestRunning.Set(oldest);
    }
}

using Kcm.Testing;
using System.Collections.Concurrent;
using Kcm.Runtime.Queues;
using Kcm.Runtime.Tests.Support;

namespace Kcm.Runtime.Tests.Queues;

public sealed class WorkQueueMetricsTests
{
    [Fact(Timeout = 10_000)]
    public async Task Metrics_AddGetDone_RecordsDepthAddsLatencyAndWorkDuration()
    {
        var clock = new FakeTimeProvider();
        var metrics = new RecordingMetricsProvider();
        using var queue = new WorkQueue<string>(new WorkQueueOptions { Name = "test", TimeProvider = clock, MetricsProvider = metrics });

        queue.Add("foo");
        queue.Add("foo");
        queue.Add("bar");
        Assert.Equal(2, metrics.Counter("adds:test"));
        Assert.Equal(2, metrics.Gauge("depth:test"));

        clock.Advance(TimeSpan.FromSeconds(2));
        var (item, _) = await queue.GetAsync(CancellationToken.None);
        Assert.Equal(1, metrics.Gauge("depth:test"));
        Assert.Equal([2.0], metrics.Observations("latency:test"));

        clock.Advance(TimeSpan.FromSeconds(3));
        queue.Done(item);
        Assert.Equal([3.0], metrics.Observations("work:test"));
    }

    [Fact(Timeout = 10_000)]
    public async Task Metrics_ItemsProcessing_UnfinishedWorkAndLongestRunningUpdatedPeriodically()
    {
        var clock = new FakeTimeProvider();
        var metrics = new RecordingMetricsProvider();
        using var queue = new WorkQueue<string>(new WorkQueueOptions { Name = "test", TimeProvider = clock, MetricsProvider = metrics });
        queue.Add("old");
        await queue.GetAsync(CancellationToken.None);
        clock.Advance(TimeSpan.FromSeconds(1));
        queue.Add("new");
        await queue.GetAsync(CancellationToken.None);

        clock.Advance(TimeSpan.FromSeconds(1));

        Assert.Equal(3.0, metrics.Settable("unfinished:test"), 3);
        Assert.Equal(2.0, metrics.Settable("longest:test"), 3);
    }

    [Fact(Timeout = 10_000)]
    public async Task Metrics_SeveralQueuesOnOneClock_OneTimerRefreshesEveryQueueUntilTheLastIsDisposed()
    {
        var clock = new FakeTimeProvider();
        var metrics = new RecordingMetricsProvider();
        string[] names = ["a", "b", "c"];
        var queues = names.Select(name => new WorkQueue<string>(new WorkQueueOptions { Name = name, TimeProvider = clock, MetricsProvider = metrics })).ToList();
        foreach (var queue in queues)
        {
            queue.Add("item");
            await queue.GetAsync(CancellationToken.None);
        }

        Assert.Equal(1, clock.ArmedTimers);
        clock.Advance(TimeSpan.FromSeconds(1));
        Assert.All(names, name => Assert.Equal(1.0, metrics.Settable("unfinished:" + name), 3));

        queues[0].Dispose();
        queues[1].Dispose();
        Assert.Equal(1, clock.ArmedTimers);
        queues[2].Dispose();
        Assert.Equal(0, clock.ArmedTimers);
    }

    [Fact]
    public void Metrics_AddAfterAndAddRateLimited_CountRetries()
    {
        var clock = new FakeTimeProvider();
        var metrics = new RecordingMetricsProvider();
        using var queue = new RateLimitingQueue<string>(new ItemFastSlowRateLimiter<string>(TimeSpan.FromMilliseconds(1), TimeSpan.FromSeconds(1), 1),
            new WorkQueueOptions { Name = "test", TimeProvider = clock, MetricsProvider = metrics });

        queue.AddRateLimited("foo");
        queue.AddAfter("bar", TimeSpan.Zero);

        Assert.Equal(2, metrics.Counter("retries:test"));
    }

    private sealed class RecordingMetricsProvider : IWorkQueueMetricsProvider
    {
        private readonly ConcurrentDictionary<string, Metric> _metrics = new();

        public double Counter(string name) => _metrics[name].Value;

        public double Gauge(string name) => _metrics[name].Value;

        public double Settable(string name) => _metrics[name].Value;

        public List<double> Observations(string name) => [.. _metrics[name].Observed];

        public IGaugeMetric NewDepthMetric(string name) => Get("depth:" + name);

        public ICounterMetric NewAddsMetric(string name) => Get("adds:" + name);

        public IHistogramMetric NewLatencyMetric(string name) => Get("latency:" + name);

        public IHistogramMetric NewWorkDurationMetric(string name) => Get("work:" + name);

        public ISettableGaugeMetric NewUnfinishedWorkSecondsMetric(string name) => Get("unfinished:" + name);

        public ISettableGaugeMetric NewLongestRunningProcessorSecondsMetric(string name) => Get("longest:" + name);

        public ICounterMetric NewRetriesMetric(string name) => Get("retries:" + name);

        private Metric Get(string key) => _metrics.GetOrAdd(key, _ => new Metric());

        private sealed class Metric : ICounterMetric, IGaugeMetric, ISettableGaugeMetric, IHistogramMetric
        {
            public double Value { get; private set; }

            public ConcurrentQueue<double> Observed { get; } = new();

            public void Inc() => Value++;

            public void Dec() => Value--;

            public void Set(double value) => Value = value;

            public void Observe(double value) => Observed.Enqueue(value);
        }
    }
}

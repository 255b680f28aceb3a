using Kcm.Runtime.Metrics;
using Kcm.Runtime.Queues;
using Kcm.Testing;

namespace Kcm.Runtime.Tests.Metrics;

public class WorkQueueMetricsProviderTests
{
    [Fact(Timeout = 60_000)]
    public async Task Queue_AddProcessRetry_ExportsUpstreamSeriesThatPassPromtool()
    {
        var registry = new MetricsRegistry();
        // A fake clock: on the system one the 5 ms retry could come back before the render, adding a third add.
        var queue = RateLimitingQueue<string>.WithDefaultControllerRateLimiter(
            new WorkQueueOptions { Name = "deployment", TimeProvider = new FakeTimeProvider(), MetricsProvider = new WorkQueueMetricsProvider(registry) });
        queue.Add("default/web");
        queue.Add("default/db");
        var (item, _) = await queue.GetAsync(CancellationToken.None);
        queue.AddRateLimited(item);
        queue.Done(item);

        var text = registry.Render();

        Assert.Contains("workqueue_adds_total{name=\"deployment\"} 2\n", text);
        Assert.Contains("workqueue_depth{name=\"deployment\"} 1\n", text);
        Assert.Contains("workqueue_retries_total{name=\"deployment\"} 1\n", text);
        Assert.Contains("workqueue_queue_duration_seconds_count{name=\"deployment\"} 1\n", text);
        Assert.Contains("workqueue_work_duration_seconds_count{name=\"deployment\"} 1\n", text);
        Assert.Contains("workqueue_unfinished_work_seconds{name=\"deployment\"} ", text);
        Assert.Contains("workqueue_longest_running_processor_seconds{name=\"deployment\"} ", text);
        Assert.Equal("", await Kcm.Testing.Promtool.CheckAsync(text));
        queue.ShutDown();
    }
}

using Kcm.Controllers.NodeLifecycle;
using Kcm.Runtime.Informers;
using Kcm.Testing;
using Microsoft.Extensions.Logging.Abstractions;

namespace Kcm.Controllers.Tests.NodeLifecycle;

/// <summary>The zone queues (rate-limited, timed) and the taint manager's timed workers, on a fake clock.</summary>
public sealed class NodeLifecycleQueueTests
{
    private readonly FakeTimeProvider _time = new();

    private static Func<TimedValue, Task<(bool, TimeSpan)>> Record(List<string> into, bool done = true, TimeSpan wait = default)
        => value =>
        {
            into.Add(value.Value);
            return Task.FromResult((done, wait));
        };

    [Fact]
    public async Task TryAsync_OnePerSecond_ProcessesOneValuePerToken()
    {
        var queue = new RateLimitedTimedQueue(1, _time);
        queue.Add("a", "uid-a");
        queue.Add("b", "uid-b");
        queue.Add("c", "uid-c");
        var seen = new List<string>();

        await queue.TryAsync(Record(seen));
        Assert.Equal(["a"], seen);

        await queue.TryAsync(Record(seen));
        Assert.Equal(["a"], seen);

        _time.Advance(TimeSpan.FromSeconds(1));
        await queue.TryAsync(Record(seen));
        Assert.Equal(["a", "b"], seen);
    }

    [Fact]
    public async Task TryAsync_LimiterSwappedToZero_ProcessesNothing()
    {
        var queue = new RateLimitedTimedQueue(10, _time);
        queue.SwapLimiter(0);
        queue.Add("a", null);
        var seen = new List<string>();

        _time.Advance(TimeSpan.FromMinutes(10));
        await queue.TryAsync(Record(seen));

        Assert.Empty(seen);
        Assert.Equal(0, queue.Qps);
    }

    [Fact]
    public async Task TryAsync_CreatedAtRateZero_ProcessesOneValueThenNothing()
    {
        // --node-eviction-rate=0: upstream's token bucket at rate 0 still holds its burst of one.
        var queue = new RateLimitedTimedQueue(0, _time);
        queue.Add("a", null);
        queue.Add("b", null);
        var seen = new List<string>();

        await queue.TryAsync(Record(seen));
        _time.Advance(TimeSpan.FromMinutes(10));
        await queue.TryAsync(Record(seen));

        Assert.Equal(["a"], seen);
        Assert.Equal(0, queue.Qps);
    }

    [Fact]
    public async Task SwapLimiter_OldLimiterEmpty_NewOneStartsEmpty()
    {
        var queue = new RateLimitedTimedQueue(1, _time);
        queue.Add("a", null);
        queue.Add("b", null);
        var seen = new List<string>();
        await queue.TryAsync(Record(seen));

        queue.SwapLimiter(0.5f);
        await queue.TryAsync(Record(seen));
        Assert.Equal(["a"], seen);

        _time.Advance(TimeSpan.FromSeconds(2));
        await queue.TryAsync(Record(seen));
        Assert.Equal(["a", "b"], seen);
    }

    [Fact]
    public async Task Add_ProcessedValue_StaysInSetUntilRemoved()
    {
        var queue = new RateLimitedTimedQueue(100, _time);
        Assert.True(queue.Add("a", null));
        Assert.False(queue.Add("a", null));
        await queue.TryAsync(Record([]));

        Assert.Equal(0, queue.Count);
        Assert.False(queue.Add("a", null));
        Assert.True(queue.Remove("a"));
        Assert.True(queue.Add("a", null));
    }

    [Fact]
    public async Task TryAsync_ActionAsksForRetry_ValueWaitsThatLong()
    {
        var queue = new RateLimitedTimedQueue(1000, _time);
        queue.Add("a", null);
        var seen = new List<string>();

        await queue.TryAsync(Record(seen, done: false, wait: TimeSpan.FromSeconds(5)));
        Assert.Equal(["a"], seen);

        _time.Advance(TimeSpan.FromSeconds(4));
        await queue.TryAsync(Record(seen));
        Assert.Equal(["a"], seen);

        _time.Advance(TimeSpan.FromSeconds(2));
        await queue.TryAsync(Record(seen));
        Assert.Equal(["a", "a"], seen);
    }

    [Fact]
    public void AddWork_FireTimeReached_RunsOnceAndKeepsKey()
    {
        var runs = new List<ObjectKey>();
        var workers = new TimedWorkerQueue((key, _) => { runs.Add(key); return Task.CompletedTask; }, _time, NullLogger.Instance);
        var pod = new ObjectKey("ns", "p");
        var now = _time.GetUtcNow();

        workers.AddWork(pod, now, now + TimeSpan.FromSeconds(30));
        _time.Advance(TimeSpan.FromSeconds(29));
        Assert.Empty(runs);

        _time.Advance(TimeSpan.FromSeconds(1));
        Assert.Equal([pod], runs);

        // The key stays (without a worker) so the pod is not deleted twice.
        workers.AddWork(pod, _time.GetUtcNow(), _time.GetUtcNow());
        Assert.Null(workers.GetWorker(pod));
        Assert.Equal(1, workers.Count);
        Assert.False(workers.CancelWork(pod));
        Assert.Equal(0, workers.Count);
    }

    [Fact]
    public void CancelWork_BeforeFireTime_NeverRuns()
    {
        var runs = new List<ObjectKey>();
        var workers = new TimedWorkerQueue((key, _) => { runs.Add(key); return Task.CompletedTask; }, _time, NullLogger.Instance);
        var pod = new ObjectKey("ns", "p");
        var now = _time.GetUtcNow();
        workers.AddWork(pod, now, now + TimeSpan.FromSeconds(10));

        Assert.True(workers.CancelWork(pod));
        _time.Advance(TimeSpan.FromMinutes(1));

        Assert.Empty(runs);
        Assert.Equal(0, workers.Count);
    }

    [Fact]
    public void AddWork_WorkFails_KeyRemovedSoItCanBeScheduledAgain()
    {
        var workers = new TimedWorkerQueue((_, _) => throw new IOException("boom"), _time, NullLogger.Instance);
        var pod = new ObjectKey("ns", "p");
        var now = _time.GetUtcNow();

        workers.AddWork(pod, now, now + TimeSpan.FromSeconds(1));
        _time.Advance(TimeSpan.FromSeconds(1));

        Assert.Equal(0, workers.Count);
    }
}

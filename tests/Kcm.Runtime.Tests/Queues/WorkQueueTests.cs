using System.Collections.Concurrent;
using Kcm.Runtime.Queues;

namespace Kcm.Runtime.Tests.Queues;

public sealed class WorkQueueTests
{
    private static readonly TimeSpan Short = TimeSpan.FromMilliseconds(100);

    [Fact(Timeout = 10_000)]
    public async Task Add_ItemAlreadyQueued_StoredOnce()
    {
        using var queue = new WorkQueue<string>();
        queue.Add("foo");
        queue.Add("foo");
        queue.Add("bar");

        Assert.Equal(2, queue.Count);
        var (first, _) = await queue.GetAsync(CancellationToken.None);
        var (second, _) = await queue.GetAsync(CancellationToken.None);
        Assert.Equal(["foo", "bar"], new[] { first, second });
        Assert.Equal(0, queue.Count);
    }

    [Fact(Timeout = 10_000)]
    public async Task Add_WhileProcessing_QueuedAgainOnlyAfterDone()
    {
        using var queue = new WorkQueue<string>();
        queue.Add("foo");
        var (item, _) = await queue.GetAsync(CancellationToken.None);

        queue.Add("foo");
        queue.Add("foo");
        Assert.Equal(0, queue.Count);
        var next = queue.GetAsync(CancellationToken.None);
        await Task.Delay(Short);
        Assert.False(next.IsCompleted);

        queue.Done(item);
        Assert.Equal(("foo", false), await next);
        queue.Done("foo");
        Assert.Equal(0, queue.Count);
    }

    [Fact(Timeout = 10_000)]
    public async Task Done_ItemReinsertedWhileProcessing_ReturnedAgain()
    {
        using var queue = new WorkQueue<string>();
        queue.Add("foo");
        var (item, _) = await queue.GetAsync(CancellationToken.None);
        queue.Add(item);
        queue.Done(item);

        Assert.Equal(1, queue.Count);
        Assert.Equal(("foo", false), await queue.GetAsync(CancellationToken.None));
    }

    [Fact(Timeout = 10_000)]
    public async Task GetAsync_WaitingWorker_WokenByAdd()
    {
        using var queue = new WorkQueue<int>();
        var pending = queue.GetAsync(CancellationToken.None);
        Assert.False(pending.IsCompleted);

        queue.Add(7);

        Assert.Equal((7, false), await pending);
    }

    [Fact(Timeout = 10_000)]
    public async Task GetAsync_Cancelled_DoesNotSwallowLaterItem()
    {
        using var queue = new WorkQueue<int>();
        using var cts = new CancellationTokenSource();
        var cancelled = queue.GetAsync(cts.Token);
        cts.Cancel();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => cancelled);

        queue.Add(1);

        Assert.Equal((1, false), await queue.GetAsync(CancellationToken.None));
    }

    [Fact(Timeout = 10_000)]
    public async Task ShutDown_QueuedItems_StillHandedOutThenShutdown()
    {
        using var queue = new WorkQueue<string>();
        queue.Add("foo");
        queue.ShutDown();
        queue.Add("bar");

        Assert.Equal(("foo", false), await queue.GetAsync(CancellationToken.None));
        var (_, shutdown) = await queue.GetAsync(CancellationToken.None);
        Assert.True(shutdown);
    }

    [Fact(Timeout = 10_000)]
    public async Task ShutDown_WaitingWorkers_AllReleased()
    {
        using var queue = new WorkQueue<string>();
        var waiting = Enumerable.Range(0, 3).Select(_ => queue.GetAsync(CancellationToken.None)).ToArray();

        queue.ShutDown();

        foreach (var result in await Task.WhenAll(waiting))
        {
            Assert.True(result.Shutdown);
        }
    }

    [Fact(Timeout = 10_000)]
    public async Task ShutDownWithDrainAsync_ItemsProcessing_CompletesAfterLastDone()
    {
        using var queue = new WorkQueue<string>();
        queue.Add("foo");
        queue.Add("bar");
        var (foo, _) = await queue.GetAsync(CancellationToken.None);
        var (bar, _) = await queue.GetAsync(CancellationToken.None);

        var drain = queue.ShutDownWithDrainAsync(CancellationToken.None);
        Assert.True(queue.ShuttingDown);
        queue.Done(foo);
        await Task.Delay(Short);
        Assert.False(drain.IsCompleted);

        queue.Done(bar);
        await drain;
    }

    [Fact(Timeout = 10_000)]
    public async Task ShutDownWithDrainAsync_DirtyItemProcessing_WaitsForItsRerun()
    {
        using var queue = new WorkQueue<string>();
        queue.Add("foo");
        var (foo, _) = await queue.GetAsync(CancellationToken.None);
        queue.Add("foo");

        var drain = queue.ShutDownWithDrainAsync(CancellationToken.None);
        queue.Done(foo);
        Assert.False(drain.IsCompleted);

        var (again, shutdown) = await queue.GetAsync(CancellationToken.None);
        Assert.False(shutdown);
        queue.Done(again);
        await drain;
    }

    [Fact(Timeout = 10_000)]
    public async Task ShutDown_DuringDrain_ReleasesDrainWithoutDone()
    {
        using var queue = new WorkQueue<string>();
        queue.Add("foo");
        await queue.GetAsync(CancellationToken.None);
        var drain = queue.ShutDownWithDrainAsync(CancellationToken.None);

        queue.ShutDown();

        await drain;
    }

    [Fact(Timeout = 30_000)]
    public async Task GetAsync_ConcurrentWorkers_NeverShareAnItem()
    {
        using var queue = new WorkQueue<int>();
        var inFlight = new ConcurrentDictionary<int, bool>();
        var processed = 0;
        var overlaps = 0;

        var producers = Enumerable.Range(0, 4).Select(p => Task.Run(async () =>
        {
            for (var i = 0; i < 200; i++)
            {
                queue.Add(i % 10);
                if (i % 20 == 0)
                {
                    await Task.Yield();
                }
            }
        })).ToArray();
        var workers = Enumerable.Range(0, 8).Select(worker => Task.Run(async () =>
        {
            while (true)
            {
                var (item, shutdown) = await queue.GetAsync(CancellationToken.None);
                if (shutdown)
                {
                    return;
                }
                if (!inFlight.TryAdd(item, true))
                {
                    Interlocked.Increment(ref overlaps);
                }
                await Task.Yield();
                inFlight.TryRemove(item, out _);
                Interlocked.Increment(ref processed);
                queue.Done(item);
            }
        })).ToArray();

        await Task.WhenAll(producers);
        await queue.ShutDownWithDrainAsync(CancellationToken.None);
        queue.ShutDown();
        await Task.WhenAll(workers);

        Assert.Equal(0, overlaps);
        Assert.InRange(processed, 10, 800);
        Assert.Equal(0, queue.Count);
    }
}

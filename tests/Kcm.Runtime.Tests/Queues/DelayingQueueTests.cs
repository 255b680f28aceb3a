using Kcm.Testing;
using Kcm.Runtime.Queues;
using Kcm.Runtime.Tests.Support;

namespace Kcm.Runtime.Tests.Queues;

public sealed class DelayingQueueTests
{
    [Fact]
    public void AddAfter_BeforeDelay_NotQueued_AfterDelay_Queued()
    {
        var clock = new FakeTimeProvider();
        using var queue = new DelayingQueue<string>(new WorkQueueOptions { TimeProvider = clock });

        queue.AddAfter("foo", TimeSpan.FromMilliseconds(50));
        Assert.Equal(0, queue.Count);
        Assert.Equal(1, queue.WaitingCount);

        clock.Advance(TimeSpan.FromMilliseconds(49));
        Assert.Equal(0, queue.Count);
        clock.Advance(TimeSpan.FromMilliseconds(1));
        Assert.Equal(1, queue.Count);
        Assert.Equal(0, queue.WaitingCount);
    }

    [Fact]
    public void AddAfter_SameItemTwice_KeepsEarliestReadyTime()
    {
        var clock = new FakeTimeProvider();
        using var queue = new DelayingQueue<string>(new WorkQueueOptions { TimeProvider = clock });

        queue.AddAfter("foo", TimeSpan.FromMilliseconds(50));
        queue.AddAfter("foo", TimeSpan.FromMilliseconds(70));
        queue.AddAfter("foo", TimeSpan.FromMilliseconds(20));
        Assert.Equal(1, queue.WaitingCount);

        clock.Advance(TimeSpan.FromMilliseconds(20));
        Assert.Equal(1, queue.Count);
        Assert.Equal(0, queue.WaitingCount);
    }

    [Fact(Timeout = 10_000)]
    public async Task AddAfter_SeveralItems_AddedInReadyOrder()
    {
        var clock = new FakeTimeProvider();
        using var queue = new DelayingQueue<string>(new WorkQueueOptions { TimeProvider = clock });

        queue.AddAfter("late", TimeSpan.FromSeconds(3));
        queue.AddAfter("early", TimeSpan.FromSeconds(1));
        queue.AddAfter("middle", TimeSpan.FromSeconds(2));
        clock.Advance(TimeSpan.FromSeconds(1));
        Assert.Equal(1, queue.Count);
        clock.Advance(TimeSpan.FromSeconds(5));
        Assert.Equal(3, queue.Count);

        var order = new List<string>();
        for (var i = 0; i < 3; i++)
        {
            order.Add((await queue.GetAsync(CancellationToken.None)).Item);
        }
        Assert.Equal(["early", "middle", "late"], order);
    }

    [Fact]
    public void AddAfter_NonPositiveDelay_AddedImmediately()
    {
        var clock = new FakeTimeProvider();
        using var queue = new DelayingQueue<string>(new WorkQueueOptions { TimeProvider = clock });

        queue.AddAfter("foo", TimeSpan.Zero);

        Assert.Equal(1, queue.Count);
    }

    [Fact]
    public void AddAfter_ShuttingDown_Ignored()
    {
        var clock = new FakeTimeProvider();
        using var queue = new DelayingQueue<string>(new WorkQueueOptions { TimeProvider = clock });
        queue.ShutDown();

        queue.AddAfter("foo", TimeSpan.FromSeconds(1));
        clock.Advance(TimeSpan.FromSeconds(2));

        Assert.Equal(0, queue.WaitingCount);
        Assert.Equal(0, queue.Count);
    }
}

using Kcm.Testing;
using Kcm.Runtime.Queues;
using Kcm.Runtime.Tests.Support;

namespace Kcm.Runtime.Tests.Queues;

public sealed class RateLimiterTests
{
    private static TimeSpan Ms(double ms) => TimeSpan.FromMilliseconds(ms);

    [Fact]
    public void ItemExponential_RepeatedFailures_DoublesUpToMaxAndForgetResets()
    {
        var limiter = new ItemExponentialFailureRateLimiter<string>(Ms(1), Ms(1000));

        Assert.Equal(Ms(1), limiter.When("one"));
        Assert.Equal(Ms(2), limiter.When("one"));
        Assert.Equal(Ms(4), limiter.When("one"));
        Assert.Equal(Ms(8), limiter.When("one"));
        Assert.Equal(Ms(16), limiter.When("one"));
        Assert.Equal(5, limiter.NumRequeues("one"));
        Assert.Equal(Ms(1), limiter.When("two"));
        Assert.Equal(Ms(2), limiter.When("two"));
        Assert.Equal(2, limiter.NumRequeues("two"));

        limiter.Forget("one");
        Assert.Equal(0, limiter.NumRequeues("one"));
        Assert.Equal(Ms(1), limiter.When("one"));
    }

    [Fact]
    public void ItemExponential_ManyFailures_SaturatesAtMaxWithoutOverflow()
    {
        var limiter = new ItemExponentialFailureRateLimiter<string>(Ms(5), TimeSpan.FromSeconds(1000));
        TimeSpan last = default;
        for (var i = 0; i < 200; i++)
        {
            last = limiter.When("x");
        }

        Assert.Equal(TimeSpan.FromSeconds(1000), last);
    }

    [Fact]
    public void ItemFastSlow_AfterMaxFastAttempts_UsesSlowDelay()
    {
        var limiter = new ItemFastSlowRateLimiter<string>(Ms(5), TimeSpan.FromSeconds(10), 3);

        Assert.Equal(Ms(5), limiter.When("one"));
        Assert.Equal(Ms(5), limiter.When("one"));
        Assert.Equal(Ms(5), limiter.When("one"));
        Assert.Equal(TimeSpan.FromSeconds(10), limiter.When("one"));
        Assert.Equal(4, limiter.NumRequeues("one"));

        limiter.Forget("one");
        Assert.Equal(Ms(5), limiter.When("one"));
    }

    [Fact]
    public void Bucket_BurstExhausted_DelaysAtQpsAndRefillsWithTime()
    {
        var clock = new FakeTimeProvider();
        var limiter = new BucketRateLimiter<string>(10, 100, clock);

        for (var i = 0; i < 100; i++)
        {
            Assert.Equal(TimeSpan.Zero, limiter.When("item"));
        }
        Assert.Equal(Ms(100), limiter.When("one"));
        Assert.Equal(Ms(200), limiter.When("two"));

        clock.Advance(TimeSpan.FromSeconds(1));
        // Ten tokens refilled, two were borrowed: eight left before waiting again.
        for (var i = 0; i < 8; i++)
        {
            Assert.Equal(TimeSpan.Zero, limiter.When("again"));
        }
        Assert.Equal(Ms(100), limiter.When("three"));
    }

    [Fact]
    public void DefaultController_ManyFailures_MaxOfItemBackoffAndBucket()
    {
        var clock = new FakeTimeProvider();
        var limiter = RateLimiters.DefaultController<string>(clock);

        Assert.Equal(Ms(5), limiter.When("one"));
        Assert.Equal(Ms(10), limiter.When("one"));
        Assert.Equal(2, limiter.NumRequeues("one"));
        for (var i = 0; i < 98; i++)
        {
            limiter.When($"other-{i}");
        }
        // The bucket is now empty: a fresh item waits for the bucket, not its 5ms first backoff.
        Assert.Equal(Ms(100), limiter.When("fresh"));

        limiter.Forget("one");
        Assert.Equal(0, limiter.NumRequeues("one"));
    }

    [Fact]
    public void RateLimitingQueue_AddRateLimited_DelayedByLimiterAndCountsRequeues()
    {
        var clock = new FakeTimeProvider();
        using var queue = new RateLimitingQueue<string>(
            new ItemExponentialFailureRateLimiter<string>(Ms(1), Ms(1000)), new WorkQueueOptions { TimeProvider = clock });

        queue.AddRateLimited("one");
        queue.AddRateLimited("one");
        Assert.Equal(0, queue.Count);
        Assert.Equal(2, queue.NumRequeues("one"));

        clock.Advance(Ms(1));
        Assert.Equal(1, queue.Count);

        queue.Forget("one");
        Assert.Equal(0, queue.NumRequeues("one"));
    }
}

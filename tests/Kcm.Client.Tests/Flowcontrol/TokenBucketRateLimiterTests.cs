using Kcm.Testing;
using Kcm.Client.Config;
using Kcm.Client.Flowcontrol;
using Kcm.Client.Tests.Support;

namespace Kcm.Client.Tests.Flowcontrol;

public sealed class TokenBucketRateLimiterTests
{
    [Fact(Timeout = 10000)]
    public async Task WaitAsync_BurstThenQps_FirstBurstImmediateThenSpacedByOneOverQps()
    {
        var time = new FakeTimeProvider();
        var limiter = new TokenBucketRateLimiter(qps: 10, burst: 3, time);

        for (var i = 0; i < 3; i++)
        {
            Assert.Equal(TimeSpan.Zero, await limiter.WaitAsync(CancellationToken.None));
        }

        var fourth = limiter.WaitAsync(CancellationToken.None).AsTask();
        var fifth = limiter.WaitAsync(CancellationToken.None).AsTask();
        Assert.False(fourth.IsCompleted);
        time.Advance(TimeSpan.FromMilliseconds(99));
        Assert.False(fourth.IsCompleted);
        time.Advance(TimeSpan.FromMilliseconds(1));
        Assert.Equal(TimeSpan.FromMilliseconds(100), await fourth);
        Assert.False(fifth.IsCompleted);
        time.Advance(TimeSpan.FromMilliseconds(100));
        Assert.Equal(TimeSpan.FromMilliseconds(200), await fifth);
    }

    [Fact]
    public void TryAccept_RefillsAtQpsUpToBurst()
    {
        var time = new FakeTimeProvider();
        var limiter = new TokenBucketRateLimiter(qps: 2, burst: 2, time);

        Assert.True(limiter.TryAccept());
        Assert.True(limiter.TryAccept());
        Assert.False(limiter.TryAccept());
        time.Advance(TimeSpan.FromMilliseconds(500));
        Assert.True(limiter.TryAccept());
        Assert.False(limiter.TryAccept());
        time.Advance(TimeSpan.FromHours(1));
        Assert.True(limiter.TryAccept());
        Assert.True(limiter.TryAccept());
        Assert.False(limiter.TryAccept());
    }

    [Fact(Timeout = 10000)]
    public async Task WaitAsync_Cancelled_ReturnsReservedToken()
    {
        var time = new FakeTimeProvider();
        var limiter = new TokenBucketRateLimiter(qps: 1, burst: 1, time);
        await limiter.WaitAsync(CancellationToken.None);
        using var cts = new CancellationTokenSource();

        var waiting = limiter.WaitAsync(cts.Token).AsTask();
        cts.Cancel();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => waiting);
        time.Advance(TimeSpan.FromSeconds(1));
        Assert.True(limiter.TryAccept());
    }

    [Fact]
    public void ForConfig_ZeroQpsAndBurst_UsesClientGoDefaults()
    {
        var config = new ClientConfig { Server = new Uri("https://h") };

        var limiter = Assert.IsType<TokenBucketRateLimiter>(TokenBucketRateLimiter.ForConfig(config, new FakeTimeProvider()));

        Assert.Equal(5, limiter.Qps);
        Assert.Equal(10, limiter.Burst);
    }

    [Fact]
    public void ForConfig_KubeApiFlags_UsesThem()
    {
        var config = new ClientConfig { Server = new Uri("https://h"), Qps = 20, Burst = 30 };

        var limiter = Assert.IsType<TokenBucketRateLimiter>(TokenBucketRateLimiter.ForConfig(config, new FakeTimeProvider()));

        Assert.Equal(20, limiter.Qps);
        Assert.Equal(30, limiter.Burst);
    }

    [Fact]
    public void ForConfig_NegativeQps_DisablesLimiting()
    {
        var config = new ClientConfig { Server = new Uri("https://h"), Qps = -1 };

        Assert.IsType<UnlimitedRateLimiter>(TokenBucketRateLimiter.ForConfig(config, new FakeTimeProvider()));
    }
}

using Kcm.Client.Config;

namespace Kcm.Client.Flowcontrol;

/// <summary>
/// client-go's flowcontrol.NewTokenBucketRateLimiter (golang.org/x/time/rate underneath): the bucket holds
/// <c>burst</c> tokens, starts full and refills at <c>qps</c> tokens per second. A caller that finds it empty
/// reserves a future token (the count may go negative), so concurrent waiters are spaced 1/qps apart.
/// </summary>
public sealed class TokenBucketRateLimiter : IRateLimiter
{
    private readonly double _qps;
    private readonly int _burst;
    private readonly TimeProvider _timeProvider;
    private readonly Lock _gate = new();
    private double _tokens;
    private long _lastTimestamp;

    public TokenBucketRateLimiter(double qps, int burst, TimeProvider timeProvider)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(qps);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(burst);
        _qps = qps;
        _burst = burst;
        _timeProvider = timeProvider;
        _tokens = burst;
        _lastTimestamp = timeProvider.GetTimestamp();
    }

    public double Qps => _qps;

    public int Burst => _burst;

    /// <summary>rest.Config semantics: QPS 0 → 5, Burst 0 → 10, negative (or NaN) QPS → no limiting.</summary>
    public static IRateLimiter ForConfig(ClientConfig config, TimeProvider timeProvider)
        => config.EffectiveQps > 0 ? new TokenBucketRateLimiter(config.EffectiveQps, config.EffectiveBurst, timeProvider) : new UnlimitedRateLimiter();

    public bool TryAccept()
    {
        lock (_gate)
        {
            Refill();
            if (_tokens < 1)
            {
                return false;
            }
            _tokens -= 1;
            return true;
        }
    }

    public async ValueTask<TimeSpan> WaitAsync(CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        TimeSpan wait;
        lock (_gate)
        {
            Refill();
            _tokens -= 1;
            wait = _tokens >= 0 ? TimeSpan.Zero : TimeSpan.FromSeconds(-_tokens / _qps);
        }
        if (wait <= TimeSpan.Zero)
        {
            return TimeSpan.Zero;
        }
        try
        {
            await Task.Delay(wait, _timeProvider, cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            // Hand back the reserved token so a cancelled caller does not slow the others down.
            lock (_gate)
            {
                _tokens = Math.Min(_burst, _tokens + 1);
            }
            throw;
        }
        return wait;
    }

    private void Refill()
    {
        var now = _timeProvider.GetTimestamp();
        var elapsed = _timeProvider.GetElapsedTime(_lastTimestamp, now);
        _lastTimestamp = now;
        if (elapsed > TimeSpan.Zero)
        {
            _tokens = Math.Min(_burst, _tokens + elapsed.TotalSeconds * _qps);
        }
    }
}

namespace Kcm.Runtime.Queues;

/// <summary>client-go's workqueue.RateLimiter: how long an item should wait before it is retried.</summary>
public interface IRateLimiter<T>
    where T : notnull
{
    /// <summary>The delay for this retry of the item; counts the retry.</summary>
    TimeSpan When(T item);

    /// <summary>Stops tracking the item (after it succeeded).</summary>
    void Forget(T item);

    int NumRequeues(T item);
}

public static class RateLimiters
{
    /// <summary>client-go's DefaultControllerRateLimiter: per-item 5ms doubling to 1000s, and 10 qps with a burst of 100 overall.</summary>
    public static IRateLimiter<T> DefaultController<T>(TimeProvider? time = null)
        where T : notnull
        => new MaxOfRateLimiter<T>(
            new ItemExponentialFailureRateLimiter<T>(TimeSpan.FromMilliseconds(5), TimeSpan.FromSeconds(1000)),
            new BucketRateLimiter<T>(10, 100, time ?? TimeProvider.System));
}

/// <summary>The per-item failure count that the per-item limiters share.</summary>
public abstract class ItemFailureRateLimiter<T> : IRateLimiter<T>
    where T : notnull
{
    private readonly object _lock = new();
    private readonly Dictionary<T, int> _failures = [];

    public abstract TimeSpan When(T item);

    /// <summary>Counts one more failure of the item and returns how many it had before.</summary>
    protected int RecordFailure(T item)
    {
        lock (_lock)
        {
            var before = _failures.GetValueOrDefault(item);
            _failures[item] = before + 1;
            return before;
        }
    }

    public void Forget(T item)
    {
        lock (_lock)
        {
            _failures.Remove(item);
        }
    }

    public int NumRequeues(T item)
    {
        lock (_lock)
        {
            return _failures.GetValueOrDefault(item);
        }
    }
}

/// <summary>Waits baseDelay * 2^failures for the item, capped at maxDelay.</summary>
public sealed class ItemExponentialFailureRateLimiter<T>(TimeSpan baseDelay, TimeSpan maxDelay) : ItemFailureRateLimiter<T>
    where T : notnull
{
    public override TimeSpan When(T item)
    {
        var exponent = RecordFailure(item);
        // In double so large exponents saturate at the cap instead of overflowing.
        var delayTicks = baseDelay.Ticks * Math.Pow(2, exponent);
        return delayTicks >= maxDelay.Ticks ? maxDelay : TimeSpan.FromTicks((long)delayTicks);
    }
}

/// <summary>A fast delay for the first attempts, then a slow one.</summary>
public sealed class ItemFastSlowRateLimiter<T>(TimeSpan fastDelay, TimeSpan slowDelay, int maxFastAttempts) : ItemFailureRateLimiter<T>
    where T : notnull
{
    public override TimeSpan When(T item)
    {
        var attempts = RecordFailure(item) + 1;
        return attempts <= maxFastAttempts ? fastDelay : slowDelay;
    }
}

/// <summary>
/// An overall token bucket (golang.org/x/time/rate semantics): tokens refill at <c>qps</c> up to <c>burst</c>;
/// every call takes one, and a call that drives the bucket negative waits until it would have refilled.
/// </summary>
public sealed class BucketRateLimiter<T> : IRateLimiter<T>
    where T : notnull
{
    private readonly object _lock = new();
    private readonly double _qps;
    private readonly int _burst;
    private readonly TimeProvider _time;
    private double _tokens;
    private DateTimeOffset _last;

    public BucketRateLimiter(double qps, int burst, TimeProvider? time = null)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(qps);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(burst);
        _qps = qps;
        _burst = burst;
        _time = time ?? TimeProvider.System;
        _tokens = burst;
        _last = _time.GetUtcNow();
    }

    public TimeSpan When(T item)
    {
        lock (_lock)
        {
            var now = _time.GetUtcNow();
            if (now > _last)
            {
                _tokens = Math.Min(_burst, _tokens + (now - _last).TotalSeconds * _qps);
                _last = now;
            }
            _tokens -= 1;
            return _tokens >= 0 ? TimeSpan.Zero : TimeSpan.FromSeconds(-_tokens / _qps);
        }
    }

    public void Forget(T item)
    {
    }

    public int NumRequeues(T item) => 0;
}

/// <summary>The longest delay of several limiters (each still counts the retry).</summary>
public sealed class MaxOfRateLimiter<T>(params IRateLimiter<T>[] limiters) : IRateLimiter<T>
    where T : notnull
{
    public TimeSpan When(T item)
    {
        var longest = TimeSpan.Zero;
        foreach (var limiter in limiters)
        {
            var delay = limiter.When(item);
            if (delay > longest)
            {
                longest = delay;
            }
        }
        return longest;
    }

    public void Forget(T item)
    {
        foreach (var limiter in limiters)
        {
            limiter.Forget(item);
        }
    }

    public int NumRequeues(T item)
    {
        var most = 0;
        foreach (var limiter in limiters)
        {
            most = Math.Max(most, limiter.NumRequeues(item));
        }
        return most;
    }
}

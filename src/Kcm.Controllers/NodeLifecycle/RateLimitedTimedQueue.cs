using Kcm.Client.Flowcontrol;

namespace Kcm.Controllers.NodeLifecycle;

/// <summary>A node name waiting in a zone queue, with when it may be processed next.</summary>
public readonly record struct TimedValue(string Value, string? Uid, DateTimeOffset AddedAt, DateTimeOffset ProcessAt);

/// <summary>
/// Upstream's UniqueQueue: values ordered by ProcessAt (ties by insertion), each present at most once until it is
/// removed with <see cref="Remove"/>. <see cref="RemoveFromQueue"/> drops the entry but keeps the name in the set, so
/// a node processed once is not queued again until its zone's controller cancels it.
/// </summary>
internal sealed class UniqueQueue
{
    private readonly Lock _gate = new();
    private readonly List<TimedValue> _queue = [];
    private readonly HashSet<string> _set = new(StringComparer.Ordinal);

    public bool Add(TimedValue value)
    {
        lock (_gate)
        {
            if (!_set.Add(value.Value))
            {
                return false;
            }
            Insert(value);
            return true;
        }
    }

    public bool Replace(TimedValue value)
    {
        lock (_gate)
        {
            var index = _queue.FindIndex(v => v.Value == value.Value);
            if (index < 0)
            {
                return false;
            }
            _queue.RemoveAt(index);
            Insert(value);
            return true;
        }
    }

    public bool RemoveFromQueue(string value)
    {
        lock (_gate)
        {
            if (!_set.Contains(value))
            {
                return false;
            }
            return _queue.RemoveAll(v => v.Value == value) > 0;
        }
    }

    public bool Remove(string value)
    {
        lock (_gate)
        {
            if (!_set.Remove(value))
            {
                return false;
            }
            _queue.RemoveAll(v => v.Value == value);
            return true;
        }
    }

    public bool TryHead(out TimedValue value)
    {
        lock (_gate)
        {
            if (_queue.Count == 0)
            {
                value = default;
                return false;
            }
            value = _queue[0];
            return true;
        }
    }

    public void Clear()
    {
        lock (_gate)
        {
            _queue.Clear();
            _set.Clear();
        }
    }

    public int Count
    {
        get
        {
            lock (_gate)
            {
                return _queue.Count;
            }
        }
    }

    // Stable: a value goes after all values due at the same time (a zone queue is short, a list is enough).
    private void Insert(TimedValue value)
    {
        var index = _queue.FindIndex(v => v.ProcessAt > value.ProcessAt);
        _queue.Insert(index < 0 ? _queue.Count : index, value);
    }
}

/// <summary>A limiter that never accepts: upstream's fake "never" limiter used for a zone whose evictions are stopped.</summary>
internal sealed class NeverRateLimiter : IRateLimiter
{
    public ValueTask<TimeSpan> WaitAsync(CancellationToken cancellationToken) => ValueTask.FromResult(Timeout.InfiniteTimeSpan);

    public bool TryAccept() => false;
}

/// <summary>
/// golang.org/x/time/rate's limiter at rate 0: it still hands out its burst (one token) and never refills. Upstream
/// creates a zone's queue with NewTokenBucketRateLimiter(--node-eviction-rate, 1) (burst 1), so at rate 0 one node goes
/// through.
/// </summary>
internal sealed class SingleTokenRateLimiter : IRateLimiter
{
    private int _spent;

    public ValueTask<TimeSpan> WaitAsync(CancellationToken cancellationToken)
        => ValueTask.FromResult(TryAccept() ? TimeSpan.Zero : Timeout.InfiniteTimeSpan);

    public bool TryAccept() => Interlocked.Exchange(ref _spent, 1) == 0;
}

/// <summary>
/// Upstream's RateLimitedTimedQueue: a zone's nodes waiting to be tainted (or, without the taint manager, to have
/// their pods deleted), processed in ProcessAt order at most as fast as the zone's limiter allows. The limiter is
/// swapped when the zone's state changes (rate 0: nothing is processed).
/// </summary>
public sealed class RateLimitedTimedQueue
{
    /// <summary>Upstream's EvictionRateLimiterBurst.</summary>
    public const int EvictionRateLimiterBurst = 1;

    private readonly UniqueQueue _queue = new();
    private readonly TimeProvider _time;
    private readonly Lock _limiterGate = new();
    private IRateLimiter _limiter;
    private float _qps;

    public RateLimitedTimedQueue(float qps, TimeProvider time)
    {
        _time = time;
        _qps = qps;
        _limiter = qps <= 0 ? new SingleTokenRateLimiter() : NewLimiter(qps, time);
    }

    /// <summary>The queue's current rate (0 when stopped).</summary>
    public float Qps
    {
        get
        {
            lock (_limiterGate)
            {
                return _qps;
            }
        }
    }

    public int Count => _queue.Count;

    /// <summary>
    /// Processes due values while the limiter allows (one caller at a time: the zone's eviction loop).
    /// <paramref name="action"/> returns true when done with a value (it stays in the set until removed) or false with
    /// a minimum wait before it is tried again.
    /// </summary>
    public async Task TryAsync(Func<TimedValue, Task<(bool Done, TimeSpan Wait)>> action)
    {
        var ok = _queue.TryHead(out var value);
        while (ok)
        {
            if (!Limiter.TryAccept())
            {
                break;
            }
            var now = _time.GetUtcNow();
            if (now < value.ProcessAt)
            {
                break;
            }
            var (done, wait) = await action(value).ConfigureAwait(false);
            if (done)
            {
                _queue.RemoveFromQueue(value.Value);
            }
            else
            {
                // Upstream adds one nanosecond; a tick is our smallest step.
                _queue.Replace(value with { ProcessAt = now + wait + TimeSpan.FromTicks(1) });
            }
            ok = _queue.TryHead(out value);
        }
    }

    private IRateLimiter Limiter
    {
        get
        {
            lock (_limiterGate)
            {
                return _limiter;
            }
        }
    }

    /// <summary>Queues a value unless it is already in the set; true when added.</summary>
    public bool Add(string value, string? uid)
    {
        var now = _time.GetUtcNow();
        return _queue.Add(new TimedValue(value, uid, now, now));
    }

    /// <summary>Removes the value so it may be added again; true when it was in the set.</summary>
    public bool Remove(string value) => _queue.Remove(value);

    public void Clear() => _queue.Clear();

    /// <summary>
    /// Uses a new rate if it differs. As upstream (burst 1): if the old limiter had no token left, the new one starts
    /// empty too, so a swap does not grant an extra eviction.
    /// </summary>
    public void SwapLimiter(float qps)
    {
        lock (_limiterGate)
        {
            if (_qps == qps)
            {
                return;
            }
            var limiter = NewLimiter(qps, _time);
            if (qps > 0 && !_limiter.TryAccept())
            {
                limiter.TryAccept();
            }
            _limiter = limiter;
            _qps = qps;
        }
    }

    private static IRateLimiter NewLimiter(float qps, TimeProvider time)
        => qps <= 0 ? new NeverRateLimiter() : new TokenBucketRateLimiter(qps, EvictionRateLimiterBurst, time);
}

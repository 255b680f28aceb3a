namespace Kcm.Runtime.Queues;

/// <summary>
/// A work queue that can add an item later. Waiting items are deduplicated keeping the earliest ready time, and a
/// single <see cref="TimeProvider"/> timer is armed for the earliest one, so a fake clock drives it deterministically.
/// </summary>
public class DelayingQueue<T> : WorkQueue<T>
    where T : notnull
{
    private readonly object _waitingLock = new();
    private readonly PriorityQueue<T, DateTimeOffset> _waiting = new();
    private readonly Dictionary<T, DateTimeOffset> _readyAt = [];
    private readonly ITimer _timer;
    private readonly ICounterMetric _retries;

    public DelayingQueue(WorkQueueOptions? options = null)
        : base(options)
    {
        _retries = Options.MetricsProvider.NewRetriesMetric(Options.Name);
        _timer = Options.TimeProvider.CreateTimer(_ => AddReadyItems(), null, Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
    }

    /// <summary>Items waiting for their delay to pass.</summary>
    public int WaitingCount
    {
        get
        {
            lock (_waitingLock)
            {
                return _readyAt.Count;
            }
        }
    }

    /// <summary>Adds the item once <paramref name="delay"/> has passed (at once if it is not positive).</summary>
    public void AddAfter(T item, TimeSpan delay)
    {
        if (ShuttingDown)
        {
            return;
        }
        _retries.Inc();
        if (delay <= TimeSpan.Zero)
        {
            Add(item);
            return;
        }
        var readyAt = Options.TimeProvider.GetUtcNow() + delay;
        lock (_waitingLock)
        {
            if (_readyAt.TryGetValue(item, out var existing))
            {
                if (existing <= readyAt)
                {
                    return;
                }
                _waiting.Remove(item, out _, out _);
            }
            _readyAt[item] = readyAt;
            _waiting.Enqueue(item, readyAt);
            ArmTimerLocked();
        }
    }

    public override void Dispose()
    {
        _timer.Dispose();
        base.Dispose();
    }

    private void AddReadyItems()
    {
        var ready = new List<T>();
        lock (_waitingLock)
        {
            var now = Options.TimeProvider.GetUtcNow();
            while (_waiting.TryPeek(out var item, out var readyAt) && readyAt <= now)
            {
                _waiting.Dequeue();
                _readyAt.Remove(item);
                ready.Add(item);
            }
            ArmTimerLocked();
        }
        // Outside the waiting lock: Add takes the queue's own lock.
        foreach (var item in ready)
        {
            Add(item);
        }
    }

    private void ArmTimerLocked()
    {
        if (!_waiting.TryPeek(out _, out var earliest))
        {
            _timer.Change(Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
            return;
        }
        var due = earliest - Options.TimeProvider.GetUtcNow();
        _timer.Change(due < TimeSpan.Zero ? TimeSpan.Zero : due, Timeout.InfiniteTimeSpan);
    }
}

namespace Kcm.Client.Tests.Support;

/// <summary>
/// Deterministic clock. Timers fire when <see cref="Advance"/> passes their due time; with
/// <see cref="AutoAdvance"/> every timer instead jumps the clock forward at once (sleeps become instant and are recorded).
/// </summary>
public sealed class FakeTimeProvider : TimeProvider
{
    private readonly Lock _gate = new();
    private readonly List<FakeTimer> _timers = [];
    private DateTimeOffset _now = new(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);

    public bool AutoAdvance { get; init; }

    public List<TimeSpan> Sleeps { get; } = [];

    public override DateTimeOffset GetUtcNow()
    {
        lock (_gate)
        {
            return _now;
        }
    }

    public override long TimestampFrequency => TimeSpan.TicksPerSecond;

    public override long GetTimestamp() => GetUtcNow().UtcTicks;

    public override ITimer CreateTimer(TimerCallback callback, object? state, TimeSpan dueTime, TimeSpan period)
    {
        var timer = new FakeTimer(this, callback, state);
        timer.Change(dueTime, period);
        return timer;
    }

    public void Advance(TimeSpan by)
    {
        List<FakeTimer> due;
        lock (_gate)
        {
            _now += by;
            due = _timers.Where(t => t.DueAt <= _now).ToList();
            foreach (var timer in due)
            {
                _timers.Remove(timer);
            }
        }
        foreach (var timer in due)
        {
            timer.Fire();
        }
    }

    private void Schedule(FakeTimer timer, TimeSpan dueTime)
    {
        if (AutoAdvance)
        {
            lock (_gate)
            {
                Sleeps.Add(dueTime);
                _now += dueTime;
            }
            ThreadPool.QueueUserWorkItem(_ => timer.Fire());
            return;
        }
        lock (_gate)
        {
            timer.DueAt = _now + dueTime;
            _timers.Add(timer);
        }
    }

    private void Unschedule(FakeTimer timer)
    {
        lock (_gate)
        {
            _timers.Remove(timer);
        }
    }

    private sealed class FakeTimer(FakeTimeProvider owner, TimerCallback callback, object? state) : ITimer
    {
        private bool _disposed;

        public DateTimeOffset DueAt { get; set; }

        public bool Change(TimeSpan dueTime, TimeSpan period)
        {
            owner.Unschedule(this);
            if (_disposed || dueTime == Timeout.InfiniteTimeSpan)
            {
                return !_disposed;
            }
            owner.Schedule(this, dueTime);
            return true;
        }

        public void Fire()
        {
            if (!_disposed)
            {
                callback(state);
            }
        }

        public void Dispose()
        {
            _disposed = true;
            owner.Unschedule(this);
        }

        public ValueTask DisposeAsync()
        {
            Dispose();
            return ValueTask.CompletedTask;
        }
    }
}

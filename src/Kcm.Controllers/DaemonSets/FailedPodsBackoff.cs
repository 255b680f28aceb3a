namespace Kcm.Controllers.DaemonSets;

/// <summary>
/// client-go's flowcontrol.Backoff without jitter, as the DaemonSet controller uses it for failed pods (1 s doubling
/// to 15 min per DaemonSet, generation and node): an entry untouched for twice the maximum starts over.
/// </summary>
public sealed class FailedPodsBackoff(TimeProvider time, TimeSpan initial, TimeSpan max)
{
    private readonly object _lock = new();
    private readonly Dictionary<string, (TimeSpan Backoff, DateTimeOffset LastUpdate)> _entries = new(StringComparer.Ordinal);

    public TimeProvider Time => time;

    /// <summary>The current backoff for the key (zero when none).</summary>
    public TimeSpan Get(string id)
    {
        lock (_lock)
        {
            return _entries.TryGetValue(id, out var e) ? e.Backoff : TimeSpan.Zero;
        }
    }

    /// <summary>Doubles the key's backoff (up to the maximum), or starts it at the initial value.</summary>
    public void Next(string id, DateTimeOffset eventTime)
    {
        lock (_lock)
        {
            var backoff = _entries.TryGetValue(id, out var e) && !HasExpired(eventTime, e.LastUpdate)
                ? TimeSpan.FromTicks(Math.Min(e.Backoff.Ticks * 2, max.Ticks))
                : initial;
            _entries[id] = (backoff, time.GetUtcNow());
        }
    }

    /// <summary>IsInBackOffSinceUpdate: less than the backoff has passed since the key's last update.</summary>
    public bool IsInBackOffSinceUpdate(string id, DateTimeOffset eventTime)
    {
        lock (_lock)
        {
            return _entries.TryGetValue(id, out var e) && !HasExpired(eventTime, e.LastUpdate) && eventTime - e.LastUpdate < e.Backoff;
        }
    }

    /// <summary>Forgets entries not updated for twice the maximum (upstream runs this every minute).</summary>
    public void Gc()
    {
        lock (_lock)
        {
            var now = time.GetUtcNow();
            foreach (var id in _entries.Where(p => now - p.Value.LastUpdate > 2 * max).Select(p => p.Key).ToList())
            {
                _entries.Remove(id);
            }
        }
    }

    internal int Count
    {
        get
        {
            lock (_lock)
            {
                return _entries.Count;
            }
        }
    }

    private bool HasExpired(DateTimeOffset eventTime, DateTimeOffset lastUpdate) => eventTime - lastUpdate > 2 * max;
}

namespace Kcm.Runtime.Queues;

/// <summary>
/// One timer refreshes the unfinished-work gauges of every queue that shares a clock and period. Upstream runs a ticker
/// goroutine per queue, which costs little there; here each queue's timer woke a pool thread twice a second, about 80
/// wake-ups a second for a controller manager's 40 queues even when idle.
/// </summary>
internal sealed class UnfinishedWorkTicker
{
    private static readonly Lock Registry = new();
    private static readonly Dictionary<(TimeProvider Time, TimeSpan Period), UnfinishedWorkTicker> Tickers = [];

    private readonly (TimeProvider Time, TimeSpan Period) _key;
    private readonly HashSet<Action> _refreshers = [];
    private readonly ITimer _timer;
    private volatile Action[] _snapshot = [];

    private UnfinishedWorkTicker((TimeProvider Time, TimeSpan Period) key)
    {
        _key = key;
        _timer = key.Time.CreateTimer(_ => Tick(), null, key.Period, key.Period);
    }

    /// <summary>Calls <paramref name="refresh"/> every <paramref name="period"/> until the returned handle is disposed.</summary>
    public static IDisposable Register(TimeProvider time, TimeSpan period, Action refresh)
    {
        lock (Registry)
        {
            if (!Tickers.TryGetValue((time, period), out var ticker))
            {
                Tickers[(time, period)] = ticker = new UnfinishedWorkTicker((time, period));
            }
            ticker._refreshers.Add(refresh);
            ticker._snapshot = [.. ticker._refreshers];
            return new Registration(ticker, refresh);
        }
    }

    private void Tick()
    {
        foreach (var refresh in _snapshot)
        {
            refresh();
        }
    }

    private void Unregister(Action refresh)
    {
        lock (Registry)
        {
            if (!_refreshers.Remove(refresh))
            {
                return;
            }
            _snapshot = [.. _refreshers];
            if (_refreshers.Count == 0)
            {
                Tickers.Remove(_key);
                _timer.Dispose();
            }
        }
    }

    private sealed class Registration(UnfinishedWorkTicker ticker, Action refresh) : IDisposable
    {
        public void Dispose() => ticker.Unregister(refresh);
    }
}

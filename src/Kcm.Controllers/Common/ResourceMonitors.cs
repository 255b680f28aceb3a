using Kcm.Client;
using Kcm.Runtime.Informers;

namespace Kcm.Controllers.Common;

/// <summary>One monitored resource of a <see cref="ResourceMonitors{TMonitor}"/>.</summary>
public interface IResourceMonitor
{
    bool HasSynced { get; }

    void Start(CancellationToken cancellationToken);

    Task StopAsync();
}

/// <summary>
/// One monitor per discovered resource, kept in step with discovery, as the garbage collector's GraphBuilder and the
/// resource quota controller's QuotaMonitor keep theirs (upstream syncMonitors, startMonitors, IsSynced): a resource
/// newly listed gets a monitor, started at once while the set runs; a monitor whose resource is gone is stopped.
/// </summary>
public sealed class ResourceMonitors<TMonitor>
    where TMonitor : class, IResourceMonitor
{
    private readonly object _lock = new();
    private readonly Dictionary<GroupVersionResource, TMonitor> _monitors = [];
    private CancellationToken _stopping;
    private bool _running;

    public IReadOnlyList<GroupVersionResource> Resources
    {
        get
        {
            lock (_lock)
            {
                return [.. _monitors.Keys];
            }
        }
    }

    public IReadOnlyList<TMonitor> Monitors
    {
        get
        {
            lock (_lock)
            {
                return [.. _monitors.Values];
            }
        }
    }

    /// <summary>Matches the monitors to <paramref name="wanted"/>; <paramref name="create"/> may decline a resource (null).</summary>
    public (int Added, int Kept, int Removed) Sync(IEnumerable<DiscoveredResource> wanted, Func<DiscoveredResource, TMonitor?> create)
    {
        lock (_lock)
        {
            var byResource = wanted.ToDictionary(r => r.Resource);
            var removed = 0;
            foreach (var (resource, monitor) in _monitors.ToList())
            {
                if (byResource.ContainsKey(resource))
                {
                    continue;
                }
                _ = monitor.StopAsync();
                _monitors.Remove(resource);
                removed++;
            }
            var added = 0;
            foreach (var (resource, discovered) in byResource)
            {
                if (_monitors.ContainsKey(resource) || create(discovered) is not { } monitor)
                {
                    continue;
                }
                _monitors[resource] = monitor;
                if (_running)
                {
                    monitor.Start(_stopping);
                }
                added++;
            }
            return (added, _monitors.Count - added, removed);
        }
    }

    /// <summary>Starts every monitor not yet running; monitors added later start at once.</summary>
    public void Start(CancellationToken cancellationToken)
    {
        lock (_lock)
        {
            _stopping = cancellationToken;
            _running = true;
            foreach (var monitor in _monitors.Values)
            {
                monitor.Start(cancellationToken);
            }
        }
    }

    /// <summary>Every monitor has delivered its initial list.</summary>
    public bool IsSynced()
    {
        lock (_lock)
        {
            return _monitors.Values.All(m => m.HasSynced);
        }
    }

    /// <summary>Stops every monitor and waits for their informers to finish.</summary>
    public Task StopAsync()
    {
        lock (_lock)
        {
            _running = false;
            return Task.WhenAll(_monitors.Values.Select(m => m.StopAsync()).ToList());
        }
    }
}

/// <summary>An informer run in the background until stopped (a monitor's own informer, outside the shared factory).</summary>
public sealed class BackgroundInformer(ISharedInformer informer)
{
    private CancellationTokenSource? _stop;
    private Task _running = Task.CompletedTask;

    public void Start(CancellationToken cancellationToken)
    {
        if (_stop is not null)
        {
            return;
        }
        _stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var token = _stop.Token;
        _running = Task.Run(() => informer.RunAsync(token), CancellationToken.None);
    }

    public async Task StopAsync()
    {
        if (_stop is null)
        {
            return;
        }
        await _stop.CancelAsync().ConfigureAwait(false);
        try
        {
            await _running.ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
        }
        _stop.Dispose();
        _stop = null;
    }
}

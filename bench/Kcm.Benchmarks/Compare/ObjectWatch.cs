using System.Collections.Concurrent;
using System.Diagnostics;
using Kcm.Api;
using Kcm.Client;
using Kcm.Client.Errors;
using Kcm.Client.Watch;

namespace Kcm.Benchmarks.Compare;

/// <summary>
/// The latest copy of every object of a kind in a namespace (list, then watch; relists after an expired watch).
/// Convergence checks read it instead of polling lists, so the harness loads the apiserver as little as possible.
/// </summary>
internal sealed class ObjectWatch<T> : IAsyncDisposable where T : class, IListableResource
{
    private readonly ConcurrentDictionary<string, T> _objects = new(StringComparer.Ordinal);
    private readonly CancellationTokenSource _stop = new();
    private readonly TaskCompletionSource _synced = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly Task _loop;
    private long _version;

    private ObjectWatch(KubeApiClient client, string? ns, string? labelSelector)
    {
        _loop = Task.Run(() => LoopAsync(client, ns, labelSelector));
    }

    public ICollection<T> Objects => _objects.Values;

    /// <summary>Bumped on every event: waiters re-check only when something changed.</summary>
    public long Version => Interlocked.Read(ref _version);

    public static async Task<ObjectWatch<T>> StartAsync(KubeApiClient client, string? ns, CancellationToken ct, string? labelSelector = null)
    {
        var watch = new ObjectWatch<T>(client, ns, labelSelector);
        await watch._synced.Task.WaitAsync(TimeSpan.FromSeconds(60), ct);
        return watch;
    }

    private async Task LoopAsync(KubeApiClient client, string? ns, string? labelSelector)
    {
        var ct = _stop.Token;
        while (!ct.IsCancellationRequested)
        {
            try
            {
                var list = await client.ListAllAsync<T>(ns, new ListOptions { LabelSelector = labelSelector }, ct);
                var names = new HashSet<string>(StringComparer.Ordinal);
                foreach (var item in list.Items ?? [])
                {
                    names.Add(item.Metadata!.Name!);
                    _objects[item.Metadata.Name!] = item;
                }
                foreach (var gone in _objects.Keys.Where(k => !names.Contains(k)).ToList()) _objects.TryRemove(gone, out _);
                Interlocked.Increment(ref _version);
                _synced.TrySetResult();
                var options = new ListOptions { LabelSelector = labelSelector, ResourceVersion = list.Metadata?.ResourceVersion, TimeoutSeconds = 1800, AllowWatchBookmarks = true };
                await foreach (var e in client.WatchAsync<T>(ns, options, ct))
                {
                    if (e.Object?.Metadata?.Name is not { } name) continue;
                    if (e.Type == WatchEventType.Deleted) _objects.TryRemove(name, out _);
                    else if (e.Type is WatchEventType.Added or WatchEventType.Modified) _objects[name] = e.Object;
                    Interlocked.Increment(ref _version);
                }
            }
            catch (OperationCanceledException) when (ct.IsCancellationRequested)
            {
                return;
            }
            catch (Exception e) when (e is KubeApiException or HttpRequestException or IOException)
            {
                // Expired watch or a dropped connection: relist after a short pause.
                await Task.Delay(500, CancellationToken.None);
            }
        }
    }

    /// <summary>
    /// Waits until <paramref name="converged"/> holds for the cached objects; on timeout throws with
    /// <paramref name="describe"/>'s account of what was missing.
    /// </summary>
    public static async Task WaitAsync(Func<bool> converged, Func<string> describe, Func<long> version, TimeSpan timeout, CancellationToken ct)
    {
        var clock = Stopwatch.StartNew();
        var seen = -1L;
        while (true)
        {
            var v = version();
            if (v != seen)
            {
                seen = v;
                if (converged()) return;
            }
            if (clock.Elapsed > timeout) throw new CompareTimeoutException($"not converged within {timeout.TotalSeconds:F0} s: {describe()}");
            await Task.Delay(50, ct);
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        try
        {
            await _loop;
        }
        catch (OperationCanceledException)
        {
        }
        _stop.Dispose();
    }
}

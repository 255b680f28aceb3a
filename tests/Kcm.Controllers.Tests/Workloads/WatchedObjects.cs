using Kcm.Api;
using Kcm.Client;
using Kcm.Client.Errors;
using Kcm.Client.Watch;
using Kcm.Testing;

namespace Kcm.Controllers.Tests.Workloads;

/// <summary>
/// A namespace's objects of one kind, mirrored from a list and then a watch from the list's resourceVersion, so no
/// change is missed. After every event the invariant is checked against the state the server held at that
/// resourceVersion; each breach is kept with the event that caused it.
/// </summary>
internal sealed class WatchedObjects<T> : IAsyncDisposable
    where T : class, IListableResource
{
    private readonly Lock _gate = new();
    private readonly Dictionary<string, T> _objects = [];
    private readonly List<string> _violations = [];
    private readonly Func<IReadOnlyCollection<T>, string?> _invariant;
    private readonly CancellationTokenSource _stop = new();
    private Task _loop = Task.CompletedTask;
    private int _events;

    private WatchedObjects(Func<IReadOnlyCollection<T>, string?> invariant) => _invariant = invariant;

    /// <param name="invariant">Returns a description of what is wrong with the state, or null when it holds.</param>
    public static async Task<WatchedObjects<T>> StartAsync(KubeApiClient client, string ns, Func<IReadOnlyCollection<T>, string?> invariant)
    {
        var watched = new WatchedObjects<T>(invariant);
        var list = await client.ListAsync<T>(ns);
        lock (watched._gate)
        {
            foreach (var item in list.Items ?? [])
            {
                watched._objects[item.Metadata!.Name!] = item;
            }
            watched.Check("initial list");
        }
        var resourceVersion = list.Metadata?.ResourceVersion ?? throw new InvalidOperationException("list without a resourceVersion");
        watched._loop = Task.Run(() => watched.WatchAsync(client, ns, resourceVersion, watched._stop.Token));
        return watched;
    }

    /// <summary>Events applied so far.</summary>
    public int Events => Volatile.Read(ref _events);

    public IReadOnlyList<string> Violations
    {
        get
        {
            lock (_gate)
            {
                return [.. _violations];
            }
        }
    }

    public List<T> Snapshot()
    {
        lock (_gate)
        {
            return [.. _objects.Values];
        }
    }

    /// <summary>Waits until the mirrored state satisfies <paramref name="condition"/>; a failed watch fails the wait at once.</summary>
    public Task WaitUntilAsync(string what, Func<IReadOnlyCollection<T>, bool> condition, TimeSpan timeout)
        => Eventually.TrueAsync(what, () =>
        {
            if (_loop.IsFaulted)
            {
                throw new InvalidOperationException($"the {typeof(T).Name} watch failed", _loop.Exception);
            }
            return Task.FromResult(condition(Snapshot()));
        }, timeout);

    private async Task WatchAsync(KubeApiClient client, string ns, string resourceVersion, CancellationToken ct)
    {
        // The server ends a watch after its timeout; resuming from the last resourceVersion seen loses nothing.
        while (!ct.IsCancellationRequested)
        {
            try
            {
                await foreach (var e in client.WatchAsync<T>(ns, new ListOptions { ResourceVersion = resourceVersion, AllowWatchBookmarks = true }, ct))
                {
                    resourceVersion = e.Object.Metadata?.ResourceVersion ?? resourceVersion;
                    if (e.Type == WatchEventType.Bookmark)
                    {
                        continue;
                    }
                    Apply(e);
                }
            }
            catch (OperationCanceledException) when (ct.IsCancellationRequested)
            {
                return;
            }
            catch (Exception ex) when (ex is HttpRequestException or IOException)
            {
                // A dropped connection: resume from the last resourceVersion (a 410 would fail the test, as it should).
            }
        }
    }

    private void Apply(WatchEvent<T> e)
    {
        var meta = e.Object.Metadata!;
        lock (_gate)
        {
            if (e.Type == WatchEventType.Deleted)
            {
                _objects.Remove(meta.Name!);
            }
            else
            {
                _objects[meta.Name!] = e.Object;
            }
            _events++;
            Check($"{e.Type} {meta.Name} at resourceVersion {meta.ResourceVersion}");
        }
    }

    private void Check(string cause)
    {
        if (_invariant(_objects.Values) is { } breach)
        {
            _violations.Add($"after {cause}: {breach}");
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        try
        {
            await _loop.WaitAsync(TimeSpan.FromSeconds(10));
        }
        catch (Exception ex) when (ex is OperationCanceledException or KubeApiException or TimeoutException)
        {
            // The test's own assertions report what matters; disposal must not mask them.
        }
        _stop.Dispose();
    }
}

using System.Runtime.CompilerServices;
using Kcm.Client.Watch;
using Kcm.Runtime.Informers;

namespace Kcm.Runtime.Tests.Support;

/// <summary>
/// Wraps a real list/watch source with a switch that cuts the watch and holds new ones back until reconnected,
/// so a test can change the server while the informer is "disconnected".
/// </summary>
public sealed class DisconnectableListWatcher<T>(IListWatcher<T> inner) : IListWatcher<T>
{
    private readonly object _lock = new();
    private TaskCompletionSource _connected = CompletedSource();
    private CancellationTokenSource _currentWatch = new();
    private int _watchesOpened;

    public int ListCalls { get; private set; }

    public int WatchesOpened => Volatile.Read(ref _watchesOpened);

    public async Task<ListResult<T>> ListAsync(CancellationToken cancellationToken)
    {
        ListCalls++;
        return await inner.ListAsync(cancellationToken);
    }

    public async IAsyncEnumerable<WatchEvent<T>> WatchAsync(string resourceVersion, TimeSpan timeout, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        Task connected;
        CancellationToken cut;
        lock (_lock)
        {
            connected = _connected.Task;
        }
        await connected.WaitAsync(cancellationToken);
        lock (_lock)
        {
            cut = _currentWatch.Token;
        }
        Interlocked.Increment(ref _watchesOpened);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, cut);
        var events = inner.WatchAsync(resourceVersion, timeout, linked.Token).GetAsyncEnumerator(linked.Token);
        try
        {
            while (true)
            {
                try
                {
                    if (!await events.MoveNextAsync())
                    {
                        yield break;
                    }
                }
                catch (OperationCanceledException) when (cut.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
                {
                    yield break; // Cut by the test: looks like the server closing the watch.
                }
                yield return events.Current;
            }
        }
        finally
        {
            await events.DisposeAsync();
        }
    }

    public void Disconnect()
    {
        lock (_lock)
        {
            _connected = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            _currentWatch.Cancel();
            _currentWatch = new CancellationTokenSource();
        }
    }

    public void Reconnect()
    {
        lock (_lock)
        {
            _connected.TrySetResult();
        }
    }

    private static TaskCompletionSource CompletedSource()
    {
        var source = new TaskCompletionSource();
        source.SetResult();
        return source;
    }
}

using System.Runtime.CompilerServices;
using System.Threading.Channels;
using Kcm.Client.Watch;
using Kcm.Runtime.Informers;

namespace Kcm.Runtime.Tests.Support;

/// <summary>A scripted list/watch source: tests set what the next list returns and drive each watch by hand.</summary>
public sealed class FakeListWatcher<T> : IListWatcher<T>
{
    private readonly Channel<WatchSession> _sessions = Channel.CreateUnbounded<WatchSession>();
    private int _listCalls;

    public ListResult<T> NextList { get; set; } = new([], "1");

    public int ListCalls => Volatile.Read(ref _listCalls);

    public Task<ListResult<T>> ListAsync(CancellationToken cancellationToken)
    {
        Interlocked.Increment(ref _listCalls);
        return Task.FromResult(NextList);
    }

    public async IAsyncEnumerable<WatchEvent<T>> WatchAsync(string resourceVersion, TimeSpan timeout, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var session = new WatchSession(resourceVersion);
        _sessions.Writer.TryWrite(session);
        await foreach (var watchEvent in session.Events.Reader.ReadAllAsync(cancellationToken))
        {
            yield return watchEvent;
        }
    }

    /// <summary>The next watch the reflector opens.</summary>
    public async Task<WatchSession> NextWatchAsync() => await _sessions.Reader.ReadAsync().AsTask().WaitAsync(TimeSpan.FromSeconds(10));

    public sealed class WatchSession(string resourceVersion)
    {
        public string ResourceVersion => resourceVersion;

        internal Channel<WatchEvent<T>> Events { get; } = Channel.CreateUnbounded<WatchEvent<T>>();

        public void Send(WatchEventType type, T obj) => Events.Writer.TryWrite(new WatchEvent<T>(type, obj));

        public void End() => Events.Writer.TryComplete();

        public void Fail(Exception error) => Events.Writer.TryComplete(error);
    }
}

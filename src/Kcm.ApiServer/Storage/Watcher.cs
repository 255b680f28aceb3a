using System.Threading.Channels;

namespace Kcm.ApiServer.Storage;

/// <summary>
/// One watch subscription. Writers only TryWrite into a bounded channel; a watcher that cannot keep up
/// is closed (as upstream's cacher terminates blocked watchers) instead of slowing writers down.
/// </summary>
public sealed class Watcher : IDisposable
{
    private readonly Channel<WatchEvent> _channel;
    private readonly Action<Watcher> _unregister;

    internal Watcher(IReadOnlyList<WatchEvent> initial, int capacity, Action<Watcher> unregister)
    {
        Initial = initial;
        _unregister = unregister;
        _channel = Channel.CreateBounded<WatchEvent>(new BoundedChannelOptions(capacity)
        {
            SingleReader = true,
            SingleWriter = false,
            FullMode = BoundedChannelFullMode.Wait,
        });
    }

    /// <summary>Events to send before live ones: synthetic ADDED for a fresh watch, or the replay from the window.</summary>
    public IReadOnlyList<WatchEvent> Initial { get; }

    public ChannelReader<WatchEvent> Events => _channel.Reader;

    public bool Overflowed { get; private set; }

    internal void Offer(WatchEvent e)
    {
        if (!_channel.Writer.TryWrite(e) && !Overflowed)
        {
            Overflowed = true;
            _channel.Writer.TryComplete();
        }
    }

    internal void Close() => _channel.Writer.TryComplete();

    public void Dispose()
    {
        _channel.Writer.TryComplete();
        _unregister(this);
    }
}

using System.Threading.Channels;
using Microsoft.Extensions.Logging;

namespace Kcm.Runtime.Informers;

/// <summary>
/// One handler's mailbox: the informer writes notifications into an unbounded channel (never blocking the watch)
/// and a single pump task delivers them in order.
/// </summary>
internal sealed class ProcessorListener<T> : IEventHandlerRegistration, IDisposable
{
    private readonly Channel<Notification> _channel = Channel.CreateUnbounded<Notification>(new UnboundedChannelOptions { SingleReader = true });
    private readonly IResourceEventHandler<T> _handler;
    private readonly ILogger _logger;
    private readonly CancellationTokenSource _stop = new();
    private volatile bool _hasSynced;
    private readonly bool _skipAdds;
    private readonly bool _skipUpdates;
    private readonly bool _skipDeletes;
    private readonly IUpdateFilter<T>? _updateFilter;

    public ProcessorListener(IResourceEventHandler<T> handler, TimeSpan resyncPeriod, ILogger logger)
    {
        _handler = handler;
        ResyncPeriod = resyncPeriod;
        _logger = logger;
        // A handler without an update delegate (the quota monitors' delete-only ones) would otherwise be woken for
        // every lease renewal only to do nothing.
        if (handler is IHandledNotifications handled)
        {
            _skipAdds = !handled.HandlesAdd;
            _skipUpdates = !handled.HandlesUpdate;
            _skipDeletes = !handled.HandlesDelete;
        }
        _updateFilter = handler as IUpdateFilter<T>;
        Completion = Task.Run(PumpAsync);
    }

    public TimeSpan ResyncPeriod { get; }

    public ITimer? ResyncTimer { get; set; }

    public bool HasSynced => _hasSynced;

    public Task Completion { get; }

    public void Add(T obj, bool isInInitialList)
    {
        if (!_skipAdds) _channel.Writer.TryWrite(new Notification(Kind.Add, obj, default, isInInitialList));
    }

    public void Update(T oldObj, T newObj)
    {
        if (!_skipUpdates && Wanted(oldObj, newObj)) _channel.Writer.TryWrite(new Notification(Kind.Update, newObj, oldObj, false));
    }

    public void Delete(T obj, bool finalStateUnknown)
    {
        if (!_skipDeletes) _channel.Writer.TryWrite(new Notification(Kind.Delete, obj, default, finalStateUnknown));
    }

    private bool Wanted(T oldObj, T newObj)
    {
        if (_updateFilter is null)
        {
            return true;
        }
        try
        {
            return _updateFilter.WantsUpdate(oldObj, newObj);
        }
        catch (Exception ex)
        {
            _logger.LogError(ex, "update filter of {Handler} failed; delivering the update", _handler.GetType().Name);
            return true;
        }
    }

    /// <summary>Everything queued before this point belongs to the initial list.</summary>
    public void MarkSynced() => _channel.Writer.TryWrite(new Notification(Kind.Synced, default, default, false));

    /// <summary>Stops delivery; notifications not yet delivered are dropped.</summary>
    public void Stop()
    {
        ResyncTimer?.Dispose();
        _channel.Writer.TryComplete();
        _stop.Cancel();
    }

    public void Dispose()
    {
        Stop();
        _stop.Dispose();
    }

    private async Task PumpAsync()
    {
        try
        {
            await foreach (var notification in _channel.Reader.ReadAllAsync(_stop.Token).ConfigureAwait(false))
            {
                Deliver(notification);
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    private void Deliver(Notification notification)
    {
        try
        {
            switch (notification.Kind)
            {
                case Kind.Add:
                    _handler.OnAdd(notification.Object!, notification.Flag);
                    break;
                case Kind.Update:
                    _handler.OnUpdate(notification.OldObject!, notification.Object!);
                    break;
                case Kind.Delete:
                    _handler.OnDelete(notification.Object!, notification.Flag);
                    break;
                case Kind.Synced:
                    _hasSynced = true;
                    break;
            }
        }
        catch (Exception ex)
        {
            // A failing handler must not stop the others or later notifications (client-go recovers handler panics too).
            _logger.LogError(ex, "event handler {Handler} failed on {Notification}", _handler.GetType().Name, notification.Kind);
        }
    }

    private enum Kind
    {
        Add,
        Update,
        Delete,
        Synced,
    }

    private readonly record struct Notification(Kind Kind, T? Object, T? OldObject, bool Flag);
}

namespace Kcm.Runtime.Queues;

/// <summary>
/// client-go's workqueue: a FIFO of distinct items. An item waiting in the queue is stored once however often it is
/// added ("dirty"); an item a worker holds ("processing") is never handed to a second worker, and if it is added
/// meanwhile it is queued again only when the worker calls <see cref="Done"/>.
/// </summary>
public class WorkQueue<T> : IDisposable
    where T : notnull
{
    private readonly object _lock = new();
    private readonly Queue<T> _queue = new();
    private readonly HashSet<T> _dirty = [];
    private readonly HashSet<T> _processing = [];
    private readonly LinkedList<TaskCompletionSource<(T, bool)>> _waiters = new();
    private readonly QueueMetrics<T> _metrics;
    private readonly ISyncErrorMetric _lastSyncError;
    private readonly IDisposable? _unfinishedWorkTicks;
    private TaskCompletionSource? _drained;
    private bool _shuttingDown;

    public WorkQueue(WorkQueueOptions? options = null)
    {
        Options = options ?? new WorkQueueOptions();
        _metrics = new QueueMetrics<T>(Options.Name, Options.MetricsProvider, Options.TimeProvider);
        _lastSyncError = Options.MetricsProvider.NewLastSyncErrorMetric(Options.Name);
        if (Options.MetricsProvider is not NoopWorkQueueMetricsProvider)
        {
            _unfinishedWorkTicks = UnfinishedWorkTicker.Register(Options.TimeProvider, Options.UnfinishedWorkUpdatePeriod, UpdateUnfinishedWork);
        }
    }

    protected WorkQueueOptions Options { get; }

    /// <summary>Records the error a sync of one of this queue's items failed with (exported when metrics are on).</summary>
    public void ReportSyncError(string error) => _lastSyncError.Set(error, Options.TimeProvider.GetUtcNow());

    /// <summary>Items waiting (not counting those being processed).</summary>
    public int Count
    {
        get
        {
            lock (_lock)
            {
                return _queue.Count;
            }
        }
    }

    public bool ShuttingDown
    {
        get
        {
            lock (_lock)
            {
                return _shuttingDown;
            }
        }
    }

    /// <summary>Queues the item unless it is already waiting; ignored once shutting down.</summary>
    public void Add(T item)
    {
        lock (_lock)
        {
            if (_shuttingDown || !_dirty.Add(item))
            {
                return;
            }
            _metrics.Added(item);
            if (_processing.Contains(item))
            {
                return; // Done re-queues it.
            }
            Enqueue(item);
        }
    }

    /// <summary>
    /// Waits for the next item and marks it as processing; the caller must call <see cref="Done"/> with it.
    /// Returns Shutdown=true once the queue is shutting down and empty (items still queued at shutdown are handed out).
    /// </summary>
    public Task<(T Item, bool Shutdown)> GetAsync(CancellationToken cancellationToken)
    {
        lock (_lock)
        {
            if (_queue.Count > 0)
            {
                return Task.FromResult((Take(), false));
            }
            if (_shuttingDown)
            {
                return Task.FromResult((default(T)!, true));
            }
            cancellationToken.ThrowIfCancellationRequested();
            var waiter = new TaskCompletionSource<(T, bool)>(TaskCreationOptions.RunContinuationsAsynchronously);
            var node = _waiters.AddLast(waiter);
            if (cancellationToken.CanBeCanceled)
            {
                // A waiter handed an item has already left the list, so cancelling it cannot lose that item.
                var registration = cancellationToken.Register(() =>
                {
                    lock (_lock)
                    {
                        if (node.List is null)
                        {
                            return;
                        }
                        _waiters.Remove(node);
                    }
                    waiter.TrySetCanceled(cancellationToken);
                });
                waiter.Task.ContinueWith(_ => registration.Dispose(), TaskScheduler.Default);
            }
            return waiter.Task;
        }
    }

    /// <summary>Takes the next waiting item without waiting (false when none is queued); the caller must call <see cref="Done"/> with it.</summary>
    public bool TryTake(out T item)
    {
        lock (_lock)
        {
            if (_queue.Count == 0)
            {
                item = default!;
                return false;
            }
            item = Take();
            return true;
        }
    }

    /// <summary>Marks the item as no longer processed; if it was added meanwhile it is queued again.</summary>
    public void Done(T item)
    {
        lock (_lock)
        {
            _metrics.Done(item);
            _processing.Remove(item);
            if (_dirty.Contains(item))
            {
                Enqueue(item);
            }
            else if (_processing.Count == 0 && _drained is not null)
            {
                _drained.TrySetResult();
                _drained = null;
            }
        }
    }

    /// <summary>Stops accepting items; waiting workers get Shutdown=true once the queue is empty.</summary>
    public void ShutDown()
    {
        lock (_lock)
        {
            // An explicit ShutDown also ends any drain wait, as upstream.
            _drained?.TrySetResult();
            _drained = null;
            StopLocked();
        }
    }

    /// <summary>Shuts down and completes once every item handed out has been marked done.</summary>
    public Task ShutDownWithDrainAsync(CancellationToken cancellationToken)
    {
        Task drained;
        lock (_lock)
        {
            StopLocked();
            if (_processing.Count == 0)
            {
                return Task.CompletedTask;
            }
            _drained ??= new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            drained = _drained.Task;
        }
        return drained.WaitAsync(cancellationToken);
    }

    /// <summary>Refreshes the unfinished-work gauges (also done periodically when metrics are on).</summary>
    public void UpdateUnfinishedWork()
    {
        lock (_lock)
        {
            _metrics.UpdateUnfinishedWork();
        }
    }

    public virtual void Dispose()
    {
        _unfinishedWorkTicks?.Dispose();
        ShutDown();
        GC.SuppressFinalize(this);
    }

    private void StopLocked()
    {
        _shuttingDown = true;
        if (_queue.Count > 0)
        {
            return; // Waiters exist only while the queue is empty.
        }
        while (_waiters.First is { } first)
        {
            _waiters.RemoveFirst();
            first.Value.TrySetResult((default!, true));
        }
    }

    private void Enqueue(T item)
    {
        if (_waiters.First is { } first)
        {
            _waiters.RemoveFirst();
            _metrics.Got(item);
            _dirty.Remove(item);
            _processing.Add(item);
            first.Value.TrySetResult((item, false));
            return;
        }
        _queue.Enqueue(item);
    }

    private T Take()
    {
        var item = _queue.Dequeue();
        _metrics.Got(item);
        _dirty.Remove(item);
        _processing.Add(item);
        return item;
    }
}

using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Kcm.Runtime.Informers;

public sealed record SharedInformerOptions
{
    /// <summary>Default period for handlers to get Update(obj, obj) for every cached object; zero disables it.</summary>
    public TimeSpan ResyncPeriod { get; init; } = TimeSpan.Zero;

    public ReflectorOptions Reflector { get; init; } = new();

    public TimeProvider TimeProvider { get; init; } = TimeProvider.System;

    /// <summary>
    /// Whether the cache keeps the namespace and controller-uid indexes controllers list by; a cache nobody lists
    /// from (the garbage collector's monitors) saves their two entries per object.
    /// </summary>
    public bool DefaultIndexers { get; init; } = true;
}

/// <summary>What the factory and controllers need of any informer, whatever its object type.</summary>
public interface ISharedInformer
{
    string Name { get; }

    bool HasSynced { get; }

    bool IsStarted { get; }

    Task RunAsync(CancellationToken cancellationToken);

    Task<bool> WaitForCacheSyncAsync(CancellationToken cancellationToken);
}

public sealed class InformerAlreadyStartedException(string name) : InvalidOperationException($"informer {name} was already started");

/// <summary>
/// client-go's SharedIndexInformer: one reflector fills one indexed cache, and every registered handler is told
/// about each change through its own ordered mailbox. The cache always holds at least what handlers were told.
/// </summary>
public class SharedIndexInformer<T> : ISharedInformer, IReflectorSink<T>
    where T : class
{
    private readonly object _lock = new();
    private readonly ThreadSafeStore<T> _store;
    private readonly List<ProcessorListener<T>> _listeners = [];
    private readonly IObjectMetadataAccessor<T> _metadata;
    private readonly Reflector<T> _reflector;
    private readonly SharedInformerOptions _options;
    private readonly ILogger _logger;
    private readonly TaskCompletionSource _synced = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private int _started;
    private bool _stopped;

    public SharedIndexInformer(string name, IListWatcher<T> listWatcher, IObjectMetadataAccessor<T> metadata, SharedInformerOptions? options = null, ILoggerFactory? loggerFactory = null)
    {
        Name = name;
        _metadata = metadata;
        _options = options ?? new SharedInformerOptions();
        _logger = (loggerFactory ?? NullLoggerFactory.Instance).CreateLogger("Kcm.Runtime.Informers.SharedInformer");
        _store = new ThreadSafeStore<T>(metadata.KeyOf, _options.DefaultIndexers
            ? [
                new(KnownIndexers.Namespace, KnownIndexers.ByNamespace(metadata)),
                new(KnownIndexers.ControllerUid, KnownIndexers.ByControllerUid(metadata)),
            ]
            : null);
        _reflector = new Reflector<T>(name, listWatcher, this, metadata, _options.Reflector, _options.TimeProvider, _logger);
    }

    /// <summary>The resource, for logs ("pods", "deployments.v1.apps").</summary>
    public string Name { get; }

    /// <summary>The cache controllers read (client-go's lister/indexer).</summary>
    public IObjectCache<T> Cache => _store;

    /// <summary>True once the first complete list is in the cache.</summary>
    public bool HasSynced => _synced.Task.IsCompleted;

    public bool IsStarted => Volatile.Read(ref _started) == 1;

    public string LastSyncResourceVersion => _reflector.LastSyncResourceVersion;

    /// <summary>Adds an index; allowed before or after start (existing objects are indexed at once).</summary>
    public void AddIndexer(string indexName, IndexFunc<T> indexFunc) => _store.AddIndexer(indexName, indexFunc);

    /// <summary>
    /// Registers a handler. Added after start, it first gets an Add for every cached object (isInInitialList=true).
    /// <paramref name="resyncPeriod"/> overrides the informer's default; zero disables resync for this handler.
    /// </summary>
    public IEventHandlerRegistration AddEventHandler(IResourceEventHandler<T> handler, TimeSpan? resyncPeriod = null)
    {
        var period = resyncPeriod ?? _options.ResyncPeriod;
        var listener = new ProcessorListener<T>(handler, period, _logger);
        lock (_lock)
        {
            if (_stopped)
            {
                listener.Stop();
                return listener;
            }
            _listeners.Add(listener);
            if (HasSynced)
            {
                foreach (var obj in _store.List())
                {
                    listener.Add(obj, isInInitialList: true);
                }
                listener.MarkSynced();
            }
            if (period > TimeSpan.Zero)
            {
                listener.ResyncTimer = _options.TimeProvider.CreateTimer(_ => Resync(listener), null, period, period);
            }
        }
        return listener;
    }

    public void RemoveEventHandler(IEventHandlerRegistration registration)
    {
        lock (_lock)
        {
            if (registration is ProcessorListener<T> listener && _listeners.Remove(listener))
            {
                listener.Stop();
            }
        }
    }

    /// <summary>Lists, watches and notifies until the token is cancelled. An informer runs once.</summary>
    public async Task RunAsync(CancellationToken cancellationToken)
    {
        if (Interlocked.Exchange(ref _started, 1) == 1)
        {
            throw new InformerAlreadyStartedException(Name);
        }
        try
        {
            await _reflector.RunAsync(cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            ProcessorListener<T>[] listeners;
            lock (_lock)
            {
                _stopped = true;
                listeners = [.. _listeners];
                _listeners.Clear();
            }
            foreach (var listener in listeners)
            {
                listener.Stop();
            }
            await Task.WhenAll(listeners.Select(l => l.Completion)).ConfigureAwait(false);
        }
    }

    /// <summary>Waits for the first complete list; false if the token was cancelled first (client-go's WaitForCacheSync).</summary>
    public async Task<bool> WaitForCacheSyncAsync(CancellationToken cancellationToken)
    {
        try
        {
            await _synced.Task.WaitAsync(cancellationToken).ConfigureAwait(false);
            return true;
        }
        catch (OperationCanceledException)
        {
            return false;
        }
    }

    void IReflectorSink<T>.Replace(IReadOnlyList<T> items, string resourceVersion)
    {
        lock (_lock)
        {
            var initial = !HasSynced;
            var listed = new HashSet<ObjectKey>();
            foreach (var obj in items)
            {
                listed.Add(_metadata.KeyOf(obj));
                Notify(_store.Upsert(obj), obj, initial);
            }
            foreach (var key in _store.ListKeys())
            {
                if (!listed.Contains(key) && _store.Delete(key) is { } vanished)
                {
                    foreach (var listener in _listeners)
                    {
                        listener.Delete(vanished, finalStateUnknown: true);
                    }
                }
            }
            if (initial)
            {
                foreach (var listener in _listeners)
                {
                    listener.MarkSynced();
                }
                _synced.TrySetResult();
            }
        }
    }

    void IReflectorSink<T>.Upsert(T obj)
    {
        lock (_lock)
        {
            Notify(_store.Upsert(obj), obj, isInInitialList: false);
        }
    }

    void IReflectorSink<T>.Delete(T obj)
    {
        lock (_lock)
        {
            _store.Delete(_metadata.KeyOf(obj));
            foreach (var listener in _listeners)
            {
                listener.Delete(obj, finalStateUnknown: false);
            }
        }
    }

    private void Notify(T? old, T current, bool isInInitialList)
    {
        foreach (var listener in _listeners)
        {
            if (old is null)
            {
                listener.Add(current, isInInitialList);
            }
            else
            {
                listener.Update(old, current);
            }
        }
    }

    private void Resync(ProcessorListener<T> listener)
    {
        lock (_lock)
        {
            if (!HasSynced || _stopped || !_listeners.Contains(listener))
            {
                return;
            }
            foreach (var obj in _store.List())
            {
                listener.Update(obj, obj);
            }
        }
    }
}

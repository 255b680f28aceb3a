using Kcm.Api;
using Kcm.Api.Catalog;
using Kcm.Client;
using Microsoft.Extensions.Logging;

namespace Kcm.Runtime.Informers;

public sealed record SharedInformerFactoryOptions
{
    /// <summary>Restricts every informer to one namespace; null watches all.</summary>
    public string? Namespace { get; init; }

    public TimeSpan DefaultResyncPeriod { get; init; } = TimeSpan.Zero;

    public ReflectorOptions Reflector { get; init; } = new();

    public TimeProvider TimeProvider { get; init; } = TimeProvider.System;
}

public sealed class UnknownResourceException(GroupVersionResource resource) : InvalidOperationException($"resource {resource} is not in the API catalog; pass whether it is namespaced");

/// <summary>
/// Hands out one informer per resource so all controllers share its cache and watch (client-go's
/// SharedInformerFactory). Request informers first, then <see cref="Start"/>; later requests start on the next Start.
/// </summary>
public sealed class SharedInformerFactory(KubeApiClient client, SharedInformerFactoryOptions? options = null, ILoggerFactory? loggerFactory = null) : IAsyncDisposable
{
    private readonly object _lock = new();
    private readonly SharedInformerFactoryOptions _options = options ?? new SharedInformerFactoryOptions();
    private readonly Dictionary<object, ISharedInformer> _informers = [];
    private readonly List<Task> _running = [];

    public SharedInformer<T> InformerFor<T>()
        where T : class, IListableResource
    {
        lock (_lock)
        {
            if (!_informers.TryGetValue(typeof(T), out var informer))
            {
                informer = new SharedInformer<T>(client, Scope(), InformerOptions(), loggerFactory);
                _informers[typeof(T)] = informer;
            }
            return (SharedInformer<T>)informer;
        }
    }

    /// <summary>A JSON-object informer for a resource of the built-in catalog.</summary>
    public DynamicSharedInformer DynamicInformerFor(GroupVersionResource resource)
    {
        var entry = ApiCatalog.Find(resource.Group, resource.Version, resource.Resource) ?? throw new UnknownResourceException(resource);
        return DynamicInformerFor(resource, entry.Namespaced);
    }

    public DynamicSharedInformer DynamicInformerFor(GroupVersionResource resource, bool namespaced)
    {
        lock (_lock)
        {
            if (!_informers.TryGetValue(resource, out var informer))
            {
                informer = new DynamicSharedInformer(client, resource, namespaced, namespaced ? Scope() : null, InformerOptions(), loggerFactory);
                _informers[resource] = informer;
            }
            return (DynamicSharedInformer)informer;
        }
    }

    /// <summary>
    /// The typed informer of <paramref name="group"/>/<paramref name="version"/> <paramref name="resource"/> if a
    /// controller asked for it and it runs over all namespaces; null otherwise. Monitors that only read metadata (the
    /// garbage collector's, the quota controller's) share it, as upstream's ObjectOrMetadataInformerFactory hands
    /// them the typed informer, instead of opening a second watch of the same resource.
    /// </summary>
    public IObjectInformer? StartedInformerFor(string group, string version, string resource)
    {
        if (_options.Namespace is not null)
        {
            return null;
        }
        lock (_lock)
        {
            foreach (var informer in _informers.Values)
            {
                if (informer is IObjectInformer { IsStarted: true } typed
                    && typed.Resource.Group == group && typed.Resource.Version == version && typed.Resource.Plural == resource)
                {
                    return typed;
                }
            }
        }
        return null;
    }

    /// <summary>Starts every requested informer not yet running; they stop when the token is cancelled.</summary>
    public void Start(CancellationToken cancellationToken)
    {
        lock (_lock)
        {
            foreach (var informer in _informers.Values.Where(i => !i.IsStarted))
            {
                _running.Add(informer.RunAsync(cancellationToken));
            }
        }
    }

    /// <summary>Waits until every started informer has synced; false if the token was cancelled first.</summary>
    public async Task<bool> WaitForCacheSyncAsync(CancellationToken cancellationToken)
    {
        ISharedInformer[] started;
        lock (_lock)
        {
            started = [.. _informers.Values.Where(i => i.IsStarted)];
        }
        return await CacheSync.WaitAsync(started, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Waits for started informers to finish (after their token was cancelled).</summary>
    public Task ShutdownAsync()
    {
        lock (_lock)
        {
            return Task.WhenAll(_running);
        }
    }

    public async ValueTask DisposeAsync() => await ShutdownAsync().ConfigureAwait(false);

    private ListWatchScope Scope() => new() { Namespace = _options.Namespace };

    private SharedInformerOptions InformerOptions() => new()
    {
        ResyncPeriod = _options.DefaultResyncPeriod,
        Reflector = _options.Reflector,
        TimeProvider = _options.TimeProvider,
    };
}

using System.Diagnostics;
using Kcm.Api.Core.V1;
using Kcm.Api.Discovery.V1;
using Kcm.Controllers.Common;
using Kcm.Controllers.EndpointSlices;
using Kcm.Runtime.Controllers;
using Kcm.Runtime.Events;
using Kcm.Runtime.Informers;
using Kcm.Runtime.Queues;
using Microsoft.Extensions.Logging;

namespace Kcm.Controllers.EndpointSliceMirroring;

public sealed record EndpointSliceMirroringControllerOptions
{
    /// <summary>--mirroring-concurrent-service-endpoint-syncs.</summary>
    public int Workers { get; init; } = 5;

    /// <summary>--mirroring-max-endpoints-per-subset.</summary>
    public int MaxEndpointsPerSubset { get; init; } = 1000;

    /// <summary>--mirroring-endpointslice-updates-batch-period.</summary>
    public TimeSpan BatchPeriod { get; init; }
}

/// <summary>
/// Upstream's endpointslicemirroring controller: mirrors the Endpoints of Services without a selector (custom
/// endpoints) into EndpointSlices managed by endpointslicemirroring-controller.k8s.io and owned by the Endpoints.
/// Endpoints labelled endpointslice.kubernetes.io/skip-mirror=true, leader-election Endpoints, and Endpoints whose
/// Service is missing or has a selector are not mirrored, and their mirrored slices are deleted.
/// </summary>
public sealed class EndpointSliceMirroringController
{
    public const string ControllerName = "endpointslicemirroring";
    public const string ServiceAccountName = "endpointslicemirroring-controller";
    public const string EventComponent = "endpoint-slice-mirroring-controller";
    public const string QueueName = "endpoint_slice_mirroring";
    public const string ManagedByValue = "endpointslicemirroring-controller.k8s.io";

    private readonly EndpointSliceMirroringControllerOptions _options;
    private readonly IObjectCache<Endpoints> _endpoints;
    private readonly IObjectCache<EndpointSlice> _slices;
    private readonly IObjectCache<Service> _services;
    private readonly RateLimitingQueue<ObjectKey> _queue;
    private readonly ILogger _logger;
    private readonly EndpointSliceMirroringMetrics _metrics;
    private readonly TimeProvider _time;

    public EndpointSliceMirroringController(ControllerContext context, EndpointSliceMirroringControllerOptions options)
        : this(context, options, context.Informers.InformerFor<Endpoints>(), context.Informers.InformerFor<EndpointSlice>(), context.Informers.InformerFor<Service>())
    {
    }

    private EndpointSliceMirroringController(ControllerContext context, EndpointSliceMirroringControllerOptions options, SharedInformer<Endpoints> endpoints, SharedInformer<EndpointSlice> slices, SharedInformer<Service> services)
        : this(
            options,
            endpoints.Cache,
            slices.Cache,
            services.Cache,
            new ApiEndpointSliceClient(context.Clients.For(ServiceAccountName)),
            EndpointSliceController.NewQueue(context.QueueOptions(QueueName), context.Time, TimeSpan.FromSeconds(100)),
            context.Events.NewRecorder(EventComponent, EventLogging.Legacy),
            new EndpointSliceMirroringMetrics(context.Metrics),
            context.Loggers.CreateLogger<EndpointSliceMirroringController>(),
            context.Time,
            [endpoints, slices, services])
    {
        endpoints.AddEventHandler(new ResourceEventHandler<Endpoints>
        {
            Added = (e, _) => OnEndpointsAdded(e),
            Updated = OnEndpointsUpdated,
            Deleted = (e, _) => OnEndpointsAdded(e),
        });
        slices.AddEventHandler(new ResourceEventHandler<EndpointSlice>
        {
            Added = (s, _) => OnSliceAdded(s),
            Updated = OnSliceUpdated,
            Deleted = (s, _) => OnSliceDeleted(s),
        });
        services.AddEventHandler(new ResourceEventHandler<Service>
        {
            Added = (s, _) => OnServiceAddedOrDeleted(s),
            Updated = OnServiceUpdated,
            Deleted = (s, _) => OnServiceAddedOrDeleted(s),
        });
    }

    /// <summary>Builds the controller without informers (unit tests feed the caches and call the handlers).</summary>
    internal EndpointSliceMirroringController(
        EndpointSliceMirroringControllerOptions options,
        IObjectCache<Endpoints> endpoints,
        IObjectCache<EndpointSlice> slices,
        IObjectCache<Service> services,
        IEndpointSliceClient client,
        RateLimitingQueue<ObjectKey> queue,
        IEventRecorder recorder,
        EndpointSliceMirroringMetrics metrics,
        ILogger logger,
        TimeProvider time,
        IReadOnlyList<ISharedInformer>? informers = null)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(options.MaxEndpointsPerSubset);
        _options = options;
        _endpoints = endpoints;
        _slices = slices;
        _services = services;
        _queue = queue;
        _logger = logger;
        _metrics = metrics;
        _time = time;
        Tracker = new EndpointSliceTracker();
        Reconciler = new MirroringReconciler(client, options.MaxEndpointsPerSubset, Tracker, metrics,
            new EndpointSliceMirroringMetricsCache(metrics, options.MaxEndpointsPerSubset), recorder, logger);
        var policy = RetryPolicy.DropAfter(15, "endpoints") with
        {
            IsExpected = e => e is StaleInformerCacheException,
            LogFailure = (log, key, error, dropping) =>
            {
                if (!dropping)
                {
                    log.LogWarning("Error mirroring EndpointSlices for \"{Key}\" Endpoints, retrying. Error: {Err}", key, error.Message);
                    return;
                }
                log.LogWarning("Retry budget exceeded, dropping \"{Key}\" Endpoints out of the queue: {Err}", key, error.Message);
                log.LogError("{Message}", error.Message); // utilruntime.HandleError(err)
            },
        };
        Workers = new ControllerWorkers<ObjectKey>(ControllerName, queue, SyncAsync, logger, policy, informers ?? [])
        {
            Description = "EndpointSliceMirroring controller",
            CacheSyncName = "endpoint_slice_mirroring",
        };
    }

    public ControllerWorkers<ObjectKey> Workers { get; }

    internal EndpointSliceTracker Tracker { get; }

    internal MirroringReconciler Reconciler { get; }

    public Task RunAsync(int workers, CancellationToken cancellationToken)
    {
        _logger.LogDebug("{Message}", $"Starting {workers} worker threads");
        return Workers.RunAsync(workers, cancellationToken);
    }

    // ---- Event routing.

    internal void OnServiceAddedOrDeleted(Service service)
    {
        if (!ServiceSelectorCache.HasSelector(service))
        {
            _queue.Add(ObjectKey.Of(service));
        }
    }

    internal void OnServiceUpdated(Service oldService, Service newService)
    {
        if (ServiceSelectorCache.HasSelector(oldService) != ServiceSelectorCache.HasSelector(newService))
        {
            _queue.Add(ObjectKey.Of(newService));
        }
    }

    /// <summary>Adds and deletes: only Endpoints that are mirrored matter.</summary>
    internal void OnEndpointsAdded(Endpoints endpoints)
    {
        if (ShouldMirror(endpoints))
        {
            _queue.Add(ObjectKey.Of(endpoints));
        }
    }

    internal void OnEndpointsUpdated(Endpoints oldEndpoints, Endpoints newEndpoints)
    {
        if (ShouldMirror(oldEndpoints) || ShouldMirror(newEndpoints))
        {
            _queue.Add(ObjectKey.Of(newEndpoints));
        }
    }

    internal void OnSliceAdded(EndpointSlice slice)
    {
        if (ManagedByController(slice) && Tracker.ShouldSync(slice))
        {
            QueueEndpointsForSlice(slice);
        }
    }

    internal void OnSliceUpdated(EndpointSlice oldSlice, EndpointSlice newSlice)
    {
        // Upstream v1.26 swaps the two slices here, so the tracker is asked about the old one: kept as it is.
        var (previous, current) = (newSlice, oldSlice);
        var service = current.Metadata?.Labels?.GetValueOrDefault(EndpointSliceLabels.ServiceName);
        var previousService = previous.Metadata?.Labels?.GetValueOrDefault(EndpointSliceLabels.ServiceName);
        if (service != previousService)
        {
            _logger.LogWarning("{Message}", $"{EndpointSliceLabels.ServiceName} label changed from {previousService} to {service} for {current.Metadata?.Name}");
            QueueEndpointsForSlice(current);
            QueueEndpointsForSlice(previous);
            return;
        }
        if (ManagedByController(previous) != ManagedByController(current) || (ManagedByController(current) && Tracker.ShouldSync(current)))
        {
            QueueEndpointsForSlice(current);
        }
    }

    internal void OnSliceDeleted(EndpointSlice slice)
    {
        if (ManagedByController(slice) && Tracker.Has(slice) && !Tracker.HandleDeletion(slice))
        {
            QueueEndpointsForSlice(slice);
        }
    }

    private void QueueEndpointsForSlice(EndpointSlice slice)
    {
        if (slice.Metadata?.Labels?.GetValueOrDefault(EndpointSliceLabels.ServiceName) is not { Length: > 0 })
        {
            _logger.LogWarning("Couldn't get key for EndpointSlice {Slice}: missing {Label} label", slice.Metadata?.Name, EndpointSliceLabels.ServiceName);
            return;
        }
        _queue.AddAfter(EndpointSliceTracker.ServiceOf(slice), _options.BatchPeriod);
    }

    internal static bool ShouldMirror(Endpoints endpoints)
        => endpoints.Metadata?.Labels?.GetValueOrDefault(EndpointSliceLabels.SkipMirror) != "true"
            && endpoints.Metadata?.Annotations?.ContainsKey(EndpointSliceLabels.LeaderElectionRecord) != true;

    internal static bool ManagedByController(EndpointSlice slice)
        => slice.Metadata?.Labels?.GetValueOrDefault(EndpointSliceLabels.ManagedBy) == ManagedByValue;

    // ---- Reconcile.

    public async Task<ReconcileResult> SyncAsync(ObjectKey key, CancellationToken cancellationToken)
    {
        var start = _time.GetTimestamp();
        try
        {
            await SyncEndpointsAsync(key, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            // Upstream observes whole milliseconds, in seconds.
            _metrics.EndpointsSyncDuration.Observe(Math.Floor(_time.GetElapsedTime(start).TotalMilliseconds) / 1000);
        }
        return ReconcileResult.Done;
    }

    private async Task SyncEndpointsAsync(ObjectKey key, CancellationToken cancellationToken)
    {
        var endpoints = _endpoints.Get(key);
        string? reason = endpoints is null ? "Endpoints not found"
            : !ShouldMirror(endpoints) ? "Endpoints should not be mirrored"
            : _services.Get(key) is not { } service ? "Service not found"
            : ServiceSelectorCache.HasSelector(service) ? "Service now has selector"
            : null;
        if (reason is not null)
        {
            if (_logger.IsEnabled(LogLevel.Trace))
            {
                _logger.LogTrace("{Message}", $"{key} {reason}, cleaning up any mirrored EndpointSlices");
            }
            Tracker.DeleteService(key);
            await Reconciler.DeleteEndpointsAsync(key, MirroredSlices(key), cancellationToken).ConfigureAwait(false);
            return;
        }
        var slices = MirroredSlices(key);
        if (Tracker.StaleSlices(key, slices))
        {
            throw new StaleInformerCacheException("EndpointSlice informer cache is out of date");
        }
        await Reconciler.ReconcileAsync(endpoints!, slices, cancellationToken).ConfigureAwait(false);
    }

    private List<EndpointSlice> MirroredSlices(ObjectKey key)
        => _slices.ByIndex(KnownIndexers.Namespace, key.Namespace ?? "")
            .Where(s => s.Metadata?.Labels?.GetValueOrDefault(EndpointSliceLabels.ServiceName) == key.Name && ManagedByController(s))
            .ToList();
}

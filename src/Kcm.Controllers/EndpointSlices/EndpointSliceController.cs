using System.Diagnostics;
using Kcm.Api.Core.V1;
using Kcm.Api.Codecs;
using Kcm.Api.Discovery.V1;
using Kcm.Controllers.Common;
using Kcm.Runtime.Controllers;
using Kcm.Runtime.Events;
using Kcm.Runtime.Informers;
using Kcm.Runtime.Queues;
using Microsoft.Extensions.Logging;
using LabelSelector = Kcm.Api.Selectors.LabelSelector;

namespace Kcm.Controllers.EndpointSlices;

public sealed record EndpointSliceControllerOptions
{
    /// <summary>--concurrent-service-endpoint-syncs.</summary>
    public int Workers { get; init; } = 5;

    /// <summary>--max-endpoints-per-slice.</summary>
    public int MaxEndpointsPerSlice { get; init; } = 100;

    /// <summary>--endpointslice-updates-batch-period.</summary>
    public TimeSpan BatchPeriod { get; init; }

    /// <summary>The TopologyAwareHints feature gate (beta, on by default in v1.26).</summary>
    public bool TopologyAwareHints { get; init; } = true;
}

/// <summary>
/// Upstream's endpointslice controller: keeps the EndpointSlices of every Service with a selector in line with the
/// pods it selects (see <see cref="EndpointSliceReconciler"/>). Pod changes are batched per Service for the batch
/// period; changes to its own slices are ignored through the <see cref="EndpointSliceTracker"/>, and a sync that
/// sees a cache older than its own writes is retried (counted as "stale").
/// </summary>
public sealed class EndpointSliceController
{
    public const string ControllerName = "endpointslice";
    public const string ServiceAccountName = "endpointslice-controller";
    public const string EventComponent = "endpoint-slice-controller";
    public const string QueueName = "endpoint_slice";
    public const string ManagedByValue = "endpointslice-controller.k8s.io";

    /// <summary>Slice events wait at least this long, so that a burst of them causes one sync.</summary>
    private static readonly TimeSpan SliceChangeMinSyncDelay = TimeSpan.FromSeconds(1);

    private readonly EndpointSliceControllerOptions _options;
    private readonly IObjectCache<Service> _services;
    private readonly IObjectCache<Pod> _pods;
    private readonly IObjectCache<EndpointSlice> _slices;
    private readonly IObjectCache<Node> _nodes;
    private readonly RateLimitingQueue<ObjectKey> _queue;
    private readonly IEventRecorder _recorder;
    private readonly ILogger _logger;
    private readonly EndpointSliceMetrics _metrics;
    private readonly ServiceSelectorCache _selectors = new();
    private readonly EndpointTriggerTimeTracker _triggerTimes = new();
    private readonly TopologyCache? _topology;

    public EndpointSliceController(ControllerContext context, EndpointSliceControllerOptions options)
        : this(context, options, context.Informers.InformerFor<Service>(), context.Informers.InformerFor<Pod>(), context.Informers.InformerFor<EndpointSlice>(), context.Informers.InformerFor<Node>())
    {
    }

    private EndpointSliceController(ControllerContext context, EndpointSliceControllerOptions options, SharedInformer<Service> services, SharedInformer<Pod> pods, SharedInformer<EndpointSlice> slices, SharedInformer<Node> nodes)
        : this(
            options,
            services.Cache,
            pods.Cache,
            slices.Cache,
            nodes.Cache,
            new ApiEndpointSliceClient(context.Clients.For(ServiceAccountName)),
            NewQueue(context.QueueOptions(QueueName), context.Time, TimeSpan.FromSeconds(1000)),
            context.Events.NewRecorder(EventComponent, EventLogging.Legacy),
            new EndpointSliceMetrics(context.Metrics),
            context.Loggers.CreateLogger<EndpointSliceController>(),
            [services, pods, slices, nodes])
    {
        services.AddEventHandler(new ResourceEventHandler<Service>
        {
            Added = (s, _) => OnServiceUpdate(s),
            Updated = (_, s) => OnServiceUpdate(s),
            Deleted = (s, _) => OnServiceDelete(s),
        });
        pods.AddEventHandler(new ResourceEventHandler<Pod>
        {
            Added = (p, _) => OnPodAdded(p),
            Updated = OnPodUpdated,
            Deleted = (p, _) => OnPodAdded(p),
        });
        slices.AddEventHandler(new ResourceEventHandler<EndpointSlice>
        {
            Added = (s, _) => OnSliceAdded(s),
            Updated = OnSliceUpdated,
            Deleted = (s, _) => OnSliceDeleted(s),
        });
        if (_topology is not null)
        {
            nodes.AddEventHandler(new ResourceEventHandler<Node>
            {
                Added = (_, _) => CheckNodeTopologyDistribution(),
                Updated = (o, n) =>
                {
                    if (TopologyCache.NodeReady(o) != TopologyCache.NodeReady(n))
                    {
                        CheckNodeTopologyDistribution();
                    }
                },
                Deleted = (_, _) => CheckNodeTopologyDistribution(),
            });
        }
    }

    /// <summary>Builds the controller without informers (unit tests feed the caches and call the handlers).</summary>
    internal EndpointSliceController(
        EndpointSliceControllerOptions options,
        IObjectCache<Service> services,
        IObjectCache<Pod> pods,
        IObjectCache<EndpointSlice> slices,
        IObjectCache<Node> nodes,
        IEndpointSliceClient client,
        RateLimitingQueue<ObjectKey> queue,
        IEventRecorder recorder,
        EndpointSliceMetrics metrics,
        ILogger logger,
        IReadOnlyList<ISharedInformer>? informers = null)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(options.MaxEndpointsPerSlice);
        _options = options;
        _services = services;
        _pods = pods;
        _slices = slices;
        _nodes = nodes;
        _queue = queue;
        _recorder = recorder;
        _metrics = metrics;
        _logger = logger;
        _topology = options.TopologyAwareHints ? new TopologyCache(logger) : null;
        Tracker = new EndpointSliceTracker();
        Reconciler = new EndpointSliceReconciler(client, nodes, options.MaxEndpointsPerSlice, Tracker, metrics,
            new EndpointSliceMetricsCache(metrics, options.MaxEndpointsPerSlice), recorder, logger, _topology);
        var policy = RetryPolicy.DropAfter(15, "service") with
        {
            IsExpected = e => e is StaleInformerCacheException,
            LogFailure = (log, key, error, dropping) =>
            {
                if (!dropping)
                {
                    log.LogWarning("Error syncing endpoint slices for service \"{Key}\", retrying. Error: {Err}", key, error.Message);
                    return;
                }
                log.LogWarning("Retry budget exceeded, dropping service \"{Key}\" out of the queue: {Err}", key, error.Message);
                log.LogError("{Message}", error.Message); // utilruntime.HandleError(err)
            },
        };
        Workers = new ControllerWorkers<ObjectKey>(ControllerName, queue, SyncAsync, logger, policy, informers ?? [])
        {
            Description = "endpoint slice controller",
            CacheSyncName = "endpoint_slice",
        };
    }

    public ControllerWorkers<ObjectKey> Workers { get; }

    internal EndpointSliceTracker Tracker { get; }

    internal EndpointSliceReconciler Reconciler { get; }

    internal TopologyCache? Topology => _topology;

    public Task RunAsync(int workers, CancellationToken cancellationToken) => Workers.RunAsync(workers, cancellationToken);

    /// <summary>Upstream's queue: per-key backoff from 1s up to <paramref name="maxBackoff"/>, and an overall 10 qps (burst 100) bucket.</summary>
    internal static RateLimitingQueue<ObjectKey> NewQueue(WorkQueueOptions options, TimeProvider time, TimeSpan maxBackoff)
        => new(new MaxOfRateLimiter<ObjectKey>(
            new ItemExponentialFailureRateLimiter<ObjectKey>(TimeSpan.FromSeconds(1), maxBackoff),
            new BucketRateLimiter<ObjectKey>(10, 100, time)), options);

    // ---- Event routing.

    internal void OnServiceUpdate(Service service)
    {
        var key = ObjectKey.Of(service);
        _selectors.Update(key, service.Spec?.Selector);
        _queue.Add(key);
    }

    internal void OnServiceDelete(Service service)
    {
        var key = ObjectKey.Of(service);
        _selectors.Delete(key);
        _queue.Add(key);
    }

    internal void OnPodAdded(Pod pod)
    {
        foreach (var key in _selectors.PodServiceMemberships(_services, pod))
        {
            _queue.AddAfter(key, _options.BatchPeriod);
        }
    }

    internal void OnPodUpdated(Pod oldPod, Pod newPod)
    {
        foreach (var key in _selectors.ServicesToUpdateOnPodChange(_services, oldPod, newPod))
        {
            _queue.AddAfter(key, _options.BatchPeriod);
        }
    }

    internal void OnSliceAdded(EndpointSlice slice)
    {
        if (ManagedByController(slice) && Tracker.ShouldSync(slice))
        {
            QueueServiceForSlice(slice);
        }
    }

    internal void OnSliceUpdated(EndpointSlice oldSlice, EndpointSlice newSlice)
    {
        var service = newSlice.Metadata?.Labels?.GetValueOrDefault(EndpointSliceLabels.ServiceName);
        var oldService = oldSlice.Metadata?.Labels?.GetValueOrDefault(EndpointSliceLabels.ServiceName);
        if (service != oldService)
        {
            _logger.LogWarning("{Message}", $"{EndpointSliceLabels.ServiceName} label changed from {oldService} to {service} for {newSlice.Metadata?.Name}");
            QueueServiceForSlice(newSlice);
            QueueServiceForSlice(oldSlice);
            return;
        }
        if (ManagedByController(oldSlice) != ManagedByController(newSlice) || (ManagedByController(newSlice) && Tracker.ShouldSync(newSlice)))
        {
            QueueServiceForSlice(newSlice);
        }
    }

    internal void OnSliceDeleted(EndpointSlice slice)
    {
        // A deletion of a slice this controller wrote but did not delete itself is repaired; its own deletions are not.
        if (ManagedByController(slice) && Tracker.Has(slice) && !Tracker.HandleDeletion(slice))
        {
            QueueServiceForSlice(slice);
        }
    }

    private void QueueServiceForSlice(EndpointSlice slice)
    {
        if (slice.Metadata?.Labels?.GetValueOrDefault(EndpointSliceLabels.ServiceName) is not { Length: > 0 })
        {
            _logger.LogWarning("Couldn't get key for EndpointSlice {Slice}: missing {Label} label", slice.Metadata?.Name, EndpointSliceLabels.ServiceName);
            return;
        }
        var delay = _options.BatchPeriod > SliceChangeMinSyncDelay ? _options.BatchPeriod : SliceChangeMinSyncDelay;
        _queue.AddAfter(EndpointSliceTracker.ServiceOf(slice), delay);
    }

    internal void CheckNodeTopologyDistribution()
    {
        if (_topology is null)
        {
            return;
        }
        _topology.SetNodes(_nodes.List());
        foreach (var key in _topology.OverloadedServices())
        {
            _logger.LogDebug("{Message}", $"Queuing {key} Service after Node change due to overloading");
            _queue.Add(ObjectKey.Parse(key));
        }
    }

    internal static bool ManagedByController(EndpointSlice slice)
        => slice.Metadata?.Labels?.GetValueOrDefault(EndpointSliceLabels.ManagedBy) == ManagedByValue;

    // ---- Reconcile.

    public async Task<ReconcileResult> SyncAsync(ObjectKey key, CancellationToken cancellationToken)
    {
        var result = "success";
        var started = Stopwatch.GetTimestamp();
        try
        {
            await SyncServiceAsync(key, cancellationToken).ConfigureAwait(false);
        }
        catch (StaleInformerCacheException)
        {
            result = "stale";
            throw;
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            result = "error";
            throw;
        }
        finally
        {
            _metrics.Syncs.Inc(result);
            if (_logger.IsEnabled(LogLevel.Trace))
            {
                _logger.LogTrace("Finished syncing service \"{Key}\" endpoint slices. ({Duration})", key, GoDuration.Format(Stopwatch.GetElapsedTime(started)));
            }
        }
        return ReconcileResult.Done;
    }

    private async Task SyncServiceAsync(ObjectKey key, CancellationToken cancellationToken)
    {
        if (_services.Get(key) is not { } service)
        {
            // Its slices go with it through their owner reference (garbage collector).
            _triggerTimes.DeleteService(key);
            Reconciler.DeleteService(key);
            Tracker.DeleteService(key);
            return;
        }
        if (!ServiceSelectorCache.HasSelector(service))
        {
            return; // Selector-less Services are the mirroring controller's.
        }
        var selector = LabelSelector.FromSet(service.Spec!.Selector);
        var pods = _pods.ByIndex(KnownIndexers.Namespace, key.Namespace ?? "").Where(p => selector.Matches(p.Metadata?.Labels)).ToList();
        var slices = _slices.ByIndex(KnownIndexers.Namespace, key.Namespace ?? "")
            .Where(s => s.Metadata?.Labels?.GetValueOrDefault(EndpointSliceLabels.ServiceName) == key.Name && ManagedByController(s) && s.Metadata.DeletionTimestamp is null)
            .ToList();
        if (Tracker.StaleSlices(key, slices))
        {
            throw new StaleInformerCacheException("EndpointSlice informer cache is out of date");
        }
        var triggerTime = _triggerTimes.ComputeLastChangeTriggerTime(service, pods);
        try
        {
            await Reconciler.ReconcileAsync(service, pods, slices, triggerTime, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            _recorder.Event(service, EventTypes.Warning, "FailedToUpdateEndpointSlices", $"Error updating Endpoint Slices for Service {key}: {e.Message}");
            throw;
        }
    }
}

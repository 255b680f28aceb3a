using Kcm.Runtime.Controllers;
using Kcm.Runtime.Informers;
using Kcm.Runtime.Queues;
using Microsoft.Extensions.Logging;
using CoreNamespace = Kcm.Api.Core.V1.Namespace;

namespace Kcm.Controllers.Namespaces;

public sealed record NamespaceControllerOptions
{
    /// <summary>--namespace-sync-period: how often every namespace is looked at again.</summary>
    public TimeSpan ResyncPeriod { get; init; } = TimeSpan.FromMinutes(5);

    /// <summary>--concurrent-namespace-syncs.</summary>
    public int Workers { get; init; } = 10;

    /// <summary>The spec.finalizers token this controller owns.</summary>
    public string FinalizerToken { get; init; } = "kubernetes";

    /// <summary>
    /// Wait before acting on a deleted namespace, so other API servers see the deletion and stop admitting new
    /// content, and late creations become visible (upstream namespaceDeletionGracePeriod).
    /// </summary>
    public TimeSpan DeletionGracePeriod { get; init; } = TimeSpan.FromSeconds(5);
}

/// <summary>
/// Upstream's namespace controller: queues namespaces that have a deletionTimestamp and hands each to the
/// <see cref="NamespacedResourcesDeleter"/>; while content remains it looks again after half the estimate.
/// </summary>
public sealed class NamespaceController
{
    public const string ControllerName = "namespace";
    public const string ServiceAccountName = "namespace-controller";

    private readonly SharedInformer<CoreNamespace> _namespaces;
    private readonly RateLimitingQueue<ObjectKey> _queue;
    private readonly NamespacedResourcesDeleter _deleter;
    private readonly NamespaceControllerOptions _options;
    private readonly ILogger _logger;
    private readonly ControllerWorkers<ObjectKey> _workers;
    private readonly TimeProvider _time;

    public NamespaceController(ControllerContext context, NamespaceControllerOptions? options = null)
    {
        _options = options ?? new NamespaceControllerOptions();
        _logger = context.Loggers.CreateLogger<NamespaceController>();
        _time = context.Time;
        // Faster than the default limiter's ceiling (retry at least every minute), same overall 10 qps bucket.
        _queue = new RateLimitingQueue<ObjectKey>(
            new MaxOfRateLimiter<ObjectKey>(
                new ItemExponentialFailureRateLimiter<ObjectKey>(TimeSpan.FromMilliseconds(5), TimeSpan.FromSeconds(60)),
                new BucketRateLimiter<ObjectKey>(10, 100, context.Time)),
            context.QueueOptions("namespace"));
        // As upstream's: QPS x20 and burst x100, a namespace's deletion being a burst of discovery, lists and deletes.
        _deleter = new NamespacedResourcesDeleter(context.Clients.For(ServiceAccountName, qpsScale: 20, burstScale: 100), _options.FinalizerToken, context.Time, _logger);
        _namespaces = context.Informers.InformerFor<CoreNamespace>();
        _namespaces.AddEventHandler(new ResourceEventHandler<CoreNamespace>
        {
            Added = (ns, _) => Enqueue(ns),
            Updated = (_, ns) => Enqueue(ns),
        }, _options.ResyncPeriod);
        var policy = RetryPolicy.HandleError((key, error) => $"deletion of namespace {key} failed: {error.Message}");
        _workers = new ControllerWorkers<ObjectKey>(ControllerName, _queue, SyncAsync, _logger, policy, [_namespaces])
        {
            Description = "namespace controller",
            CacheSyncName = "namespace",
        };
    }

    public Task RunAsync(int workers, CancellationToken cancellationToken) => _workers.RunAsync(workers, cancellationToken);

    private void Enqueue(CoreNamespace ns)
    {
        if (ns.Metadata?.DeletionTimestamp is null)
        {
            return;
        }
        _queue.AddAfter(ObjectKey.Of(ns), _options.DeletionGracePeriod);
    }

    internal async Task<ReconcileResult> SyncAsync(ObjectKey key, CancellationToken cancellationToken)
    {
        var started = _time.GetTimestamp();
        try
        {
            if (_namespaces.Cache.Get(key) is null)
            {
                _logger.LogInformation("Namespace has been deleted {Namespace}", key);
                return ReconcileResult.Done;
            }
            await _deleter.DeleteAsync(key.Name, cancellationToken).ConfigureAwait(false);
            return ReconcileResult.Done;
        }
        catch (ResourcesRemainingException remaining)
        {
            var wait = remaining.EstimateSeconds / 2 + 1;
            _logger.LogTrace("{Message}", $"Content remaining in namespace {key}, waiting {wait} seconds");
            return ReconcileResult.After(TimeSpan.FromSeconds(wait));
        }
        finally
        {
            if (_logger.IsEnabled(LogLevel.Trace))
            {
                _logger.LogTrace("Finished syncing namespace \"{Key}\" ({Duration})", key, Kcm.Api.Codecs.GoDuration.Format(_time.GetElapsedTime(started)));
            }
        }
    }
}

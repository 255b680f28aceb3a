using Kcm.Controllers.Clients;
using Kcm.Controllers.Common;
using Kcm.Runtime.Events;
using Kcm.Runtime.Informers;
using Kcm.Runtime.Metrics;
using Kcm.Runtime.Queues;
using Microsoft.Extensions.Logging;

namespace Kcm.Controllers;

/// <summary>
/// What every controller is built from while this instance leads, as upstream's ControllerContext: one
/// shared informer factory (started after all controllers registered their informers), a client per
/// controller (its own ServiceAccount's credentials with --use-service-account-credentials), an event
/// recorder per component, metrics, logging and the clock.
/// </summary>
public sealed class ControllerContext
{
    private SharedMetadataInformers? _metadataInformers;
    private object? _metadataLock;

    public required IControllerClients Clients { get; init; }

    public required SharedInformerFactory Informers { get; init; }

    public required EventBroadcaster Events { get; init; }

    /// <summary>
    /// The metadata-only informers the garbage collector's and the quota controller's monitors share, made on first
    /// use with the controller manager's own credentials (upstream's "metadata-informers" client), one set per term.
    /// </summary>
    public SharedMetadataInformers MetadataInformers => LazyInitializer.EnsureInitialized(ref _metadataInformers, ref _metadataLock,
        () => new SharedMetadataInformers(Clients.RootFor("metadata-informers"), Time, Loggers));

    public required IWorkQueueMetricsProvider QueueMetrics { get; init; }

    public required ILoggerFactory Loggers { get; init; }

    public TimeProvider Time { get; init; } = TimeProvider.System;

    /// <summary>The registry served on /metrics, for a controller's own metrics (registration is get-or-create, so every leadership term shares them).</summary>
    public MetricsRegistry Metrics { get; init; } = new();

    /// <summary>Options for a controller's work queue, named as upstream names it (the workqueue_* `name` label).</summary>
    public WorkQueueOptions QueueOptions(string queueName) => new() { Name = queueName, TimeProvider = Time, MetricsProvider = QueueMetrics };

    /// <summary>The usual controller queue: client-go's default controller rate limiter, metrics under <paramref name="queueName"/>.</summary>
    public RateLimitingQueue<ObjectKey> NewQueue(string queueName) => NewQueue<ObjectKey>(queueName);

    public RateLimitingQueue<TKey> NewQueue<TKey>(string queueName)
        where TKey : notnull
        => RateLimitingQueue<TKey>.WithDefaultControllerRateLimiter(QueueOptions(queueName));
}

/// <summary>A started controller: runs until the token is cancelled (leadership lost or shutdown).</summary>
public delegate Task RunController(CancellationToken cancellationToken);

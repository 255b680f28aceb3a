using Kcm.Runtime.Informers;
using Kcm.Runtime.Logging;
using Kcm.Runtime.Queues;
using Microsoft.Extensions.Logging;

namespace Kcm.Runtime.Controllers;

/// <summary>
/// The worker loop every controller shares: once the informers it reads have synced, N workers take keys from the
/// rate-limiting queue and reconcile them. Done forgets the key's failures (RequeueAfter then adds it again after
/// the delay); Retry or an exception (logged here, once) adds it again with the queue's backoff, until the
/// <see cref="RetryPolicy"/> drops it. When the token is cancelled (e.g. leadership lost) the queue shuts down, no
/// new reconcile starts, and RunAsync returns once in-flight reconciles have finished.
/// </summary>
public sealed class ControllerWorkers<TKey>(
    string name,
    RateLimitingQueue<TKey> queue,
    Reconciler<TKey> reconcile,
    ILogger logger,
    RetryPolicy? policy = null,
    IReadOnlyList<ISharedInformer>? waitFor = null)
    where TKey : notnull
{
    private readonly RetryPolicy _policy = policy ?? RetryPolicy.Forever;

    public string Name => name;

    public RateLimitingQueue<TKey> Queue => queue;

    public RetryPolicy Policy => _policy;

    /// <summary>What upstream's Run calls the controller ("replicaset controller"): logged as "Starting …" and "Shutting down …".</summary>
    public string? Description { get; init; }

    /// <summary>Upstream writes the Starting/Shutting down lines with klog.InfoS (quoted), as the PVC protection and CronJob controllers do.</summary>
    public bool DescriptionStructured { get; init; }

    /// <summary>The name upstream's WaitForNamedCacheSync logs ("Waiting for caches to sync for ReplicaSet").</summary>
    public string? CacheSyncName { get; init; }

    // "Starting <description>" as klog.Infof prints it, or quoted as klog.InfoS does: one whole message either way.
    private void LogDescription(string verb)
    {
        var text = $"{verb} {Description}";
#pragma warning disable CA2254 // The description is fixed per controller; the line carries no values to keep apart.
        if (DescriptionStructured) logger.LogInformation(Klog.InfoS, text);
#pragma warning restore CA2254
        else logger.LogInformation("{Message}", text);
    }

    /// <summary>Waits for the caches, then runs the workers; zero workers only wait, as upstream starts none.</summary>
    public async Task RunAsync(int workers, CancellationToken cancellationToken)
    {
        using var stopQueue = cancellationToken.Register(queue.ShutDown);
        if (Description != null) LogDescription("Starting");
        try
        {
            if (CacheSyncName != null) logger.LogInformation("Waiting for caches to sync for {Name}", CacheSyncName);
            if (!await CacheSync.WaitAsync(waitFor ?? [], cancellationToken).ConfigureAwait(false))
            {
                return; // Stopped before the caches synced.
            }
            if (CacheSyncName != null) logger.LogInformation("Caches are synced for {Name}", CacheSyncName);
            if (workers <= 0)
            {
                logger.LogWarning("{Controller} runs with {Workers} workers: nothing will be synced", name, workers);
                await Task.Delay(Timeout.Infinite, cancellationToken).ContinueWith(_ => { }, TaskScheduler.Default).ConfigureAwait(false);
                return;
            }
            // Upstream has no such line; kept below --v=4 for debugging our own worker pools.
            logger.LogTrace("Starting {Controller} with {Workers} workers", name, workers);
            await Task.WhenAll(Enumerable.Range(0, workers).Select(_ => Task.Run(() => WorkAsync(cancellationToken), CancellationToken.None))).ConfigureAwait(false);
        }
        finally
        {
            queue.ShutDown();
            if (Description != null) LogDescription("Shutting down");
            else logger.LogTrace("Shutting down {Controller}", name);
        }
    }

    /// <summary>Takes and handles one key; false once the queue has shut down. Exposed so tests can step a worker.</summary>
    public async Task<bool> ProcessNextAsync(CancellationToken cancellationToken)
    {
        var (key, shutdown) = await queue.GetAsync(CancellationToken.None).ConfigureAwait(false);
        if (shutdown)
        {
            return false;
        }
        try
        {
            if (cancellationToken.IsCancellationRequested)
            {
                return false; // Stopping: the next leader relists and reconciles everything anyway.
            }
            var result = await reconcile(key, cancellationToken).ConfigureAwait(false);
            switch (result.Action)
            {
                case ReconcileAction.Retry:
                    RetryOrDrop(key, null);
                    break;
                case ReconcileAction.RequeueAfter:
                    queue.Forget(key);
                    queue.AddAfter(key, result.Delay);
                    break;
                case ReconcileAction.DoneKeepFailures:
                    break;
                default:
                    queue.Forget(key);
                    break;
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            return false;
        }
        catch (Exception ex) when (_policy.IsFinal(ex))
        {
            queue.Forget(key);
        }
        catch (Exception ex)
        {
            RetryOrDrop(key, ex);
        }
        finally
        {
            queue.Done(key);
        }
        return true;
    }

    private void RetryOrDrop(TKey key, Exception? error)
    {
        var requeues = queue.NumRequeues(key);
        var dropping = _policy.MaxRetries is { } max && requeues >= max;
        if (error is not null && _policy.LogFailure is { } log)
        {
            log(logger, key, error, dropping);
            if (!_policy.IsExpected(error)) queue.ReportSyncError($"{key}: {error.Message}");
        }
        else if (dropping && _policy.LogFailure is not null)
        {
            // A Retry result out of retries: upstream's tokens controller (retryOrForget) says so at V(4) only.
            logger.LogTrace("retried {Count} times: {Key}", requeues, key);
        }
        else if (dropping)
        {
            logger.LogInformation(error, "{Controller}: dropping {ItemKind} {Key} out of the queue after {Retries} retries", name, _policy.ItemKind, key, requeues);
        }
        else if (error is null)
        {
            // A plain Retry result: the reconcile logged whatever was worth logging.
        }
        else if (_policy.IsExpected(error))
        {
            logger.LogDebug("{Controller}: sync {Key} failed with: {Message}", name, key, error.Message);
        }
        else
        {
            logger.LogError(error, "{Controller}: error syncing {Key}, requeuing, attempt {Attempt}", name, key, requeues + 1);
            queue.ReportSyncError($"{key}: {error.Message}");
        }
        if (dropping)
        {
            queue.Forget(key);
            return;
        }
        queue.AddRateLimited(key);
    }

    private async Task WorkAsync(CancellationToken cancellationToken)
    {
        while (await ProcessNextAsync(cancellationToken).ConfigureAwait(false))
        {
        }
    }
}

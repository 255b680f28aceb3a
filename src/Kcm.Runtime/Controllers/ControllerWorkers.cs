using Kcm.Runtime.Queues;
using Microsoft.Extensions.Logging;

namespace Kcm.Runtime.Controllers;

/// <summary>
/// The worker loop every controller shares: N workers take keys from the rate-limiting queue and reconcile them.
/// Success forgets the key's failures (and honours an explicit requeue-after); an exception is logged once and the
/// key is retried with the queue's rate limit. When the token is cancelled (e.g. leadership lost) the queue shuts
/// down, no new reconcile starts, and RunAsync returns once in-flight reconciles have finished.
/// </summary>
public sealed class ControllerWorkers(string name, RateLimitingQueue<string> queue, Reconciler reconcile, ILogger logger)
{
    public string Name => name;

    public RateLimitingQueue<string> Queue => queue;

    public async Task RunAsync(int workers, CancellationToken cancellationToken)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(workers);
        logger.LogInformation("Starting {Controller} with {Workers} workers", name, workers);
        using var stopQueue = cancellationToken.Register(queue.ShutDown);
        try
        {
            await Task.WhenAll(Enumerable.Range(0, workers).Select(_ => Task.Run(() => WorkAsync(cancellationToken), CancellationToken.None))).ConfigureAwait(false);
        }
        finally
        {
            queue.ShutDown();
            logger.LogInformation("Shutting down {Controller}", name);
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
            queue.Forget(key);
            if (result.RequeueAfter is { } delay)
            {
                queue.AddAfter(key, delay);
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            return false;
        }
        catch (IgnorableReconcileException ex)
        {
            logger.LogDebug("{Controller}: sync {Key} failed with: {Message}", name, key, ex.Message);
            queue.AddRateLimited(key);
        }
        catch (Exception ex)
        {
            logger.LogError(ex, "{Controller}: error syncing {Key}, requeuing (attempt {Attempt})", name, key, queue.NumRequeues(key) + 1);
            queue.AddRateLimited(key);
        }
        finally
        {
            queue.Done(key);
        }
        return true;
    }

    private async Task WorkAsync(CancellationToken cancellationToken)
    {
        while (await ProcessNextAsync(cancellationToken).ConfigureAwait(false))
        {
        }
    }
}

namespace Kcm.Controllers.Common;

/// <summary>How a slow-start run ended: the calls that succeeded and the first failure, if any.</summary>
public readonly record struct SlowStartResult(int Successes, Exception? FirstError);

/// <summary>
/// Upstream's slowStartBatch: makes <c>count</c> calls in batches of 1, 2, 4, … run concurrently; a batch with any
/// failure stops the run after it completes, so a cause that fails every call (quota, admission) costs a few
/// requests and events instead of hundreds.
/// </summary>
public static class SlowStartBatch
{
    /// <summary>Upstream's SlowStartInitialBatchSize.</summary>
    public const int InitialBatchSize = 1;

    public static async Task<SlowStartResult> RunAsync(int count, int initialBatchSize, Func<CancellationToken, Task> call, CancellationToken cancellationToken)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(initialBatchSize);
        var remaining = count;
        var successes = 0;
        for (var batchSize = Math.Min(remaining, initialBatchSize); batchSize > 0; batchSize = Math.Min(2 * batchSize, remaining))
        {
            cancellationToken.ThrowIfCancellationRequested();
            var batch = new Task[batchSize];
            for (var i = 0; i < batchSize; i++)
            {
                batch[i] = Task.Run(() => call(cancellationToken), CancellationToken.None);
            }
            try
            {
                await Task.WhenAll(batch).ConfigureAwait(false);
            }
            catch
            {
                // Inspected below: every task has completed.
            }
            var failed = batch.Where(t => !t.IsCompletedSuccessfully).ToList();
            successes += batchSize - failed.Count;
            if (failed.Count > 0)
            {
                var first = failed[0];
                return new SlowStartResult(successes, first.Exception?.InnerException ?? new TaskCanceledException(first));
            }
            remaining -= batchSize;
        }
        return new SlowStartResult(successes, null);
    }
}

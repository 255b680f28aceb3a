using Microsoft.Extensions.Logging;

namespace Kcm.Controllers.AttachDetach;

/// <summary>An operation that failed: the text for the pods' events (null: no event) and the detailed text for the log.</summary>
public sealed class VolumeOperationException(string? eventMessage, string detailedMessage) : Exception(detailedMessage)
{
    public string? EventMessage { get; } = eventMessage;
}

/// <summary>
/// Upstream's nestedpendingoperations for the attach/detach controller: at most one operation runs per volume (per
/// volume and node when it may be attached to several nodes; an empty node name matches any node), and one that failed
/// waits before the same operation may run again, 500 ms doubling to 2m2s. Operations run in the background; the
/// reconciler only starts them.
/// </summary>
public sealed class PendingOperations(TimeProvider time, ILogger logger)
{
    private static readonly TimeSpan InitialBackoff = TimeSpan.FromMilliseconds(500);
    private static readonly TimeSpan MaxBackoff = TimeSpan.FromSeconds(122);

    private sealed class Operation(string volumeName, string nodeName, string operationName)
    {
        public string VolumeName { get; set; } = volumeName;
        public string NodeName { get; set; } = nodeName;
        public string OperationName { get; set; } = operationName;
        public bool Pending { get; set; }
        public DateTimeOffset LastErrorTime { get; set; }
        public TimeSpan DurationBeforeRetry { get; set; }
    }

    private readonly Lock _gate = new();
    private readonly List<Operation> _operations = [];
    private readonly HashSet<Task> _running = [];

    /// <summary>An operation on the volume (and node, when given) is running now.</summary>
    public bool IsPending(string volumeName, string nodeName)
    {
        lock (_gate)
        {
            return Find(volumeName, nodeName) is { Pending: true };
        }
    }

    /// <summary>Nothing runs for the volume and, if <paramref name="operationName"/> failed last, its backoff has passed.</summary>
    public bool IsSafeToRetry(string volumeName, string nodeName, string operationName)
    {
        lock (_gate)
        {
            return Find(volumeName, nodeName) switch
            {
                null => true,
                { Pending: true } => false,
                var op => op.OperationName != operationName || !InBackoff(op),
            };
        }
    }

    /// <summary>Starts the operation unless one runs for the volume or this one is backing off; returns whether it started.</summary>
    public bool TryStart(string volumeName, string nodeName, string operationName, Func<CancellationToken, Task> operation, Action<VolumeOperationException>? onError, CancellationToken cancellationToken)
    {
        Operation op;
        lock (_gate)
        {
            var existing = Find(volumeName, nodeName);
            if (existing is not null)
            {
                if (existing.Pending)
                {
                    return false;
                }
                if (InBackoff(existing))
                {
                    if (existing.OperationName == operationName)
                    {
                        return false;
                    }
                    existing.DurationBeforeRetry = TimeSpan.Zero;
                }
                existing.OperationName = operationName;
                existing.VolumeName = volumeName;
                existing.NodeName = nodeName;
                op = existing;
            }
            else
            {
                op = new Operation(volumeName, nodeName, operationName);
                _operations.Add(op);
            }
            op.Pending = true;
        }
        var task = Task.Run(() => RunAsync(op, operation, onError, cancellationToken), CancellationToken.None);
        lock (_gate)
        {
            if (!task.IsCompleted)
            {
                _running.Add(task);
            }
        }
        _ = task.ContinueWith(t =>
        {
            lock (_gate)
            {
                _running.Remove(t);
            }
        }, TaskScheduler.Default);
        return true;
    }

    /// <summary>Waits for the operations running now (shutdown, tests).</summary>
    public Task WaitIdleAsync()
    {
        lock (_gate)
        {
            return Task.WhenAll(_running.ToList());
        }
    }

    private async Task RunAsync(Operation op, Func<CancellationToken, Task> operation, Action<VolumeOperationException>? onError, CancellationToken cancellationToken)
    {
        try
        {
            await operation(cancellationToken).ConfigureAwait(false);
            lock (_gate)
            {
                _operations.Remove(op);
            }
        }
        catch (Exception e) when (e is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            var failure = e as VolumeOperationException ?? new VolumeOperationException(null, e.Message);
            DateTimeOffset retryAt;
            TimeSpan backoff;
            lock (_gate)
            {
                op.Pending = false;
                op.LastErrorTime = time.GetUtcNow();
                op.DurationBeforeRetry = op.DurationBeforeRetry == TimeSpan.Zero ? InitialBackoff
                    : TimeSpan.FromTicks(Math.Min(op.DurationBeforeRetry.Ticks * 2, MaxBackoff.Ticks));
                retryAt = op.LastErrorTime + op.DurationBeforeRetry;
                backoff = op.DurationBeforeRetry;
            }
            logger.LogError("Operation for \"{{volumeName:{Volume} podName: nodeName:{Node}}}\" failed. No retries permitted until {RetryAt} (durationBeforeRetry {Backoff}). Error: {Error}",
                op.VolumeName, op.NodeName, retryAt.UtcDateTime.ToString("yyyy-MM-dd HH:mm:ss.fffffff 'UTC'"), backoff, failure.Message);
            onError?.Invoke(failure);
        }
        catch (OperationCanceledException)
        {
            lock (_gate)
            {
                _operations.Remove(op);
            }
        }
    }

    private bool InBackoff(Operation op)
        => op.DurationBeforeRetry > TimeSpan.Zero && time.GetUtcNow() <= op.LastErrorTime + op.DurationBeforeRetry;

    // An empty node name on either side matches any node (upstream's key comparison).
    private Operation? Find(string volumeName, string nodeName)
        => _operations.FirstOrDefault(o => o.VolumeName == volumeName && (o.NodeName.Length == 0 || nodeName.Length == 0 || o.NodeName == nodeName));
}

using Kcm.Runtime.Informers;
using Microsoft.Extensions.Logging;

namespace Kcm.Controllers.NodeLifecycle;

/// <summary>Work scheduled to run for one pod no earlier than <see cref="FireAt"/>.</summary>
public sealed class TimedWorker(ObjectKey key, DateTimeOffset createdAt, DateTimeOffset fireAt, ITimer? timer)
{
    public ObjectKey Key { get; } = key;

    public DateTimeOffset CreatedAt { get; } = createdAt;

    public DateTimeOffset FireAt { get; } = fireAt;

    internal void Cancel() => timer?.Dispose();
}

/// <summary>
/// Upstream's TimedWorkerQueue: per pod, one pending call of the work function at a given time (the taint manager's
/// scheduled deletions). After a successful run the key stays, with no worker, so the same pod is not deleted twice
/// until its entry is cancelled; a failed run removes the key so it can be scheduled again.
/// </summary>
public sealed class TimedWorkerQueue(Func<ObjectKey, CancellationToken, Task> work, TimeProvider time, ILogger logger)
{
    private readonly Lock _gate = new();
    private readonly Dictionary<ObjectKey, TimedWorker?> _workers = [];
    private CancellationToken _stopping;

    /// <summary>The token handed to work started from now on (the controller's run token).</summary>
    public void SetStopping(CancellationToken stopping) => _stopping = stopping;

    /// <summary>Schedules work at <paramref name="fireAt"/> (at once if already due) unless the key is already present.</summary>
    public void AddWork(ObjectKey key, DateTimeOffset createdAt, DateTimeOffset fireAt)
    {
        lock (_gate)
        {
            if (_workers.ContainsKey(key))
            {
                logger.LogWarning("{Message}", $"Trying to add already existing work for &{{NamespacedName:{key}}}. Skipping.");
                return;
            }
            var delay = fireAt - createdAt;
            if (delay <= TimeSpan.Zero)
            {
                _workers[key] = null;
                _ = Task.Run(() => RunAsync(key), CancellationToken.None);
                return;
            }
            // The timer is created stopped and armed after it is stored, so a very short delay cannot fire first.
            var timer = time.CreateTimer(_ => _ = RunAsync(key), null, Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
            _workers[key] = new TimedWorker(key, createdAt, fireAt, timer);
            timer.Change(delay, Timeout.InfiniteTimeSpan);
        }
    }

    /// <summary>Removes the key; true when work was still pending (and is now cancelled).</summary>
    public bool CancelWork(ObjectKey key)
    {
        lock (_gate)
        {
            if (!_workers.Remove(key, out var worker))
            {
                return false;
            }
            if (worker is null)
            {
                return false;
            }
            worker.Cancel();
            return true;
        }
    }

    /// <summary>The pending worker for a key (null when none, or when its work already ran).</summary>
    public TimedWorker? GetWorker(ObjectKey key)
    {
        lock (_gate)
        {
            return _workers.GetValueOrDefault(key);
        }
    }

    public int Count
    {
        get
        {
            lock (_gate)
            {
                return _workers.Count;
            }
        }
    }

    private async Task RunAsync(ObjectKey key)
    {
        Exception? failure = null;
        try
        {
            await work(key, _stopping).ConfigureAwait(false);
        }
        catch (Exception ex)
        {
            failure = ex;
            if (ex is not OperationCanceledException || !_stopping.IsCancellationRequested)
            {
                logger.LogError("NodeLifecycle: timed worker failed with error: \"{Error}\"", ex.Message);
            }
        }
        lock (_gate)
        {
            if (failure is null)
            {
                // Kept, without a worker, so a later add does not run the work twice.
                if (_workers.TryGetValue(key, out var worker))
                {
                    worker?.Cancel();
                    _workers[key] = null;
                }
            }
            else
            {
                _workers.Remove(key);
            }
        }
    }
}

using Microsoft.Extensions.Logging;

namespace Kcm.Controllers.PersistentVolumes;

/// <summary>
/// Upstream's goroutinemap with exponential backoff on error: at most one operation per name runs at a time, and
/// after a failure the name is refused for 500ms, doubling per failure up to 2m2s. A success forgets the name.
/// </summary>
public sealed class OperationMap(TimeProvider time, ILogger logger)
{
    private static readonly TimeSpan InitialBackoff = TimeSpan.FromMilliseconds(500);
    private static readonly TimeSpan MaxBackoff = TimeSpan.FromMinutes(2) + TimeSpan.FromSeconds(2);

    private readonly Lock _gate = new();
    private readonly Dictionary<string, Entry> _operations = [];
    private readonly List<Task> _running = [];

    /// <summary>Starts the operation unless one of that name runs or is backing off; returns whether it started.</summary>
    public bool TryRun(string name, Func<CancellationToken, Task> operation, CancellationToken cancellationToken)
    {
        lock (_gate)
        {
            if (_operations.TryGetValue(name, out var entry))
            {
                if (entry.Running)
                {
                    logger.LogTrace("operation {Operation} is already running, skipping", name);
                    return false;
                }
                if (time.GetUtcNow() < entry.LastError + entry.Backoff)
                {
                    logger.LogTrace("operation {Operation} postponed due to exponential backoff", name);
                    return false;
                }
                entry.Running = true;
            }
            else
            {
                _operations[name] = new Entry { Running = true };
            }
            _running.RemoveAll(t => t.IsCompleted);
            _running.Add(Task.Run(() => RunAsync(name, operation, cancellationToken), CancellationToken.None));
            return true;
        }
    }

    public bool IsRunning(string name)
    {
        lock (_gate) return _operations.TryGetValue(name, out var e) && e.Running;
    }

    /// <summary>Waits for the operations started so far (shutdown, tests).</summary>
    public Task WaitAsync()
    {
        lock (_gate) return Task.WhenAll(_running);
    }

    private async Task RunAsync(string name, Func<CancellationToken, Task> operation, CancellationToken cancellationToken)
    {
        Exception? failure = null;
        try
        {
            await operation(cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
        }
        catch (Exception e)
        {
            failure = e;
        }
        lock (_gate)
        {
            if (failure is null)
            {
                _operations.Remove(name);
                return;
            }
            var entry = _operations[name];
            entry.Running = false;
            entry.Backoff = entry.Backoff == TimeSpan.Zero ? InitialBackoff : TimeSpan.FromTicks(Math.Min(entry.Backoff.Ticks * 2, MaxBackoff.Ticks));
            entry.LastError = time.GetUtcNow();
            logger.LogError("Operation for \"{Operation}\" failed. No retries permitted until {Until} (durationBeforeRetry {Backoff}). Error: {Error}",
                name, (entry.LastError + entry.Backoff).UtcDateTime.ToString("yyyy-MM-dd HH:mm:ss.fffffff '+0000 UTC'", System.Globalization.CultureInfo.InvariantCulture),
                Kcm.Api.Codecs.GoDuration.Format(entry.Backoff), failure.Message);
        }
    }

    private sealed class Entry
    {
        public bool Running { get; set; }

        public DateTimeOffset LastError { get; set; }

        public TimeSpan Backoff { get; set; }
    }
}

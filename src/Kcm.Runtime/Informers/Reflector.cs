using Kcm.Client.Errors;
using Kcm.Client.Watch;
using Microsoft.Extensions.Logging;

namespace Kcm.Runtime.Informers;

public sealed record ReflectorOptions
{
    /// <summary>Each watch asks the server to end it after a random time between this and twice this (client-go: 5 minutes).</summary>
    public TimeSpan MinWatchTimeout { get; init; } = TimeSpan.FromMinutes(5);

    /// <summary>First wait after a failed list or watch; doubles up to <see cref="MaxBackoff"/> (client-go: 800ms to 30s).</summary>
    public TimeSpan InitialBackoff { get; init; } = TimeSpan.FromMilliseconds(800);

    public TimeSpan MaxBackoff { get; init; } = TimeSpan.FromSeconds(30);
}

/// <summary>Receives what a reflector learns, in order, on the reflector's task.</summary>
internal interface IReflectorSink<T>
{
    /// <summary>A complete list: the cache must become exactly these objects.</summary>
    void Replace(IReadOnlyList<T> items, string resourceVersion);

    void Upsert(T obj);

    void Delete(T obj);
}

/// <summary>
/// client-go's Reflector: lists, then watches from the list's resourceVersion, resuming each new watch from the
/// last resourceVersion seen (bookmarks included). A 410 Gone/Expired answer means that version left the server's
/// window, so it relists at once; other failures retry with exponential backoff.
/// </summary>
internal sealed class Reflector<T>(
    string name,
    IListWatcher<T> listWatcher,
    IReflectorSink<T> sink,
    IObjectMetadataAccessor<T> metadata,
    ReflectorOptions options,
    TimeProvider time,
    ILogger logger)
{
    private static readonly TimeSpan ShortWatch = TimeSpan.FromSeconds(1);
    private string? _lastResourceVersion;

    public string LastSyncResourceVersion => Volatile.Read(ref _lastResourceVersion) ?? "";

    public async Task RunAsync(CancellationToken cancellationToken)
    {
        var backoff = options.InitialBackoff;
        while (!cancellationToken.IsCancellationRequested)
        {
            try
            {
                if (_lastResourceVersion is null)
                {
                    await ListAsync(cancellationToken).ConfigureAwait(false);
                    backoff = options.InitialBackoff;
                }
                if (await WatchAsync(cancellationToken).ConfigureAwait(false))
                {
                    backoff = options.InitialBackoff;
                }
                continue;
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                return;
            }
            catch (GoneException ex)
            {
                logger.LogInformation("{Reflector}: resourceVersion {ResourceVersion} expired ({Message}); relisting", name, _lastResourceVersion, ex.Message);
                Volatile.Write(ref _lastResourceVersion, null);
                continue;
            }
            catch (Exception ex)
            {
                logger.LogWarning("{Reflector}: {Phase} failed, retrying in {Backoff}: {Message}",
                    name, _lastResourceVersion is null ? "list" : "watch", backoff, ex.Message);
            }
            try
            {
                await Task.Delay(Jittered(backoff), time, cancellationToken).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                return;
            }
            backoff = TimeSpan.FromTicks(Math.Min(backoff.Ticks * 2, options.MaxBackoff.Ticks));
        }
    }

    private async Task ListAsync(CancellationToken cancellationToken)
    {
        // The whole list, every page, arrives before the cache is touched: a relist diffs against the complete set.
        var list = await listWatcher.ListAsync(cancellationToken).ConfigureAwait(false);
        sink.Replace(list.Items, list.ResourceVersion);
        Volatile.Write(ref _lastResourceVersion, list.ResourceVersion);
    }

    /// <summary>One watch until the server ends it; true if it delivered anything.</summary>
    private async Task<bool> WatchAsync(CancellationToken cancellationToken)
    {
        var timeout = options.MinWatchTimeout * (1 + Random.Shared.NextDouble());
        var started = time.GetTimestamp();
        var events = 0;
        await foreach (var watchEvent in listWatcher.WatchAsync(_lastResourceVersion!, timeout, cancellationToken).ConfigureAwait(false))
        {
            events++;
            switch (watchEvent.Type)
            {
                case WatchEventType.Added:
                case WatchEventType.Modified:
                    sink.Upsert(watchEvent.Object);
                    break;
                case WatchEventType.Deleted:
                    sink.Delete(watchEvent.Object);
                    break;
            }
            if (metadata.ResourceVersionOf(watchEvent.Object) is { Length: > 0 } resourceVersion)
            {
                Volatile.Write(ref _lastResourceVersion, resourceVersion);
            }
        }
        if (events == 0 && time.GetElapsedTime(started) < ShortWatch)
        {
            // A watch the server closes at once, again and again, would otherwise spin.
            throw new ShortWatchException();
        }
        return events > 0;
    }

    private static TimeSpan Jittered(TimeSpan backoff) => backoff * (1 + Random.Shared.NextDouble() * 0.5);

    private sealed class ShortWatchException() : Exception("very short watch: the server closed it at once without events");
}

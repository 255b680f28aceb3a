namespace Kcm.Client.Flowcontrol;

/// <summary>Client-side throttling applied before every request attempt.</summary>
public interface IRateLimiter
{
    /// <summary>Waits for a token; returns how long the caller was held back.</summary>
    ValueTask<TimeSpan> WaitAsync(CancellationToken cancellationToken);

    /// <summary>Takes a token only if one is available now.</summary>
    bool TryAccept();
}

/// <summary>Used when QPS is negative: client-go then installs no rate limiter at all.</summary>
public sealed class UnlimitedRateLimiter : IRateLimiter
{
    public ValueTask<TimeSpan> WaitAsync(CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        return ValueTask.FromResult(TimeSpan.Zero);
    }

    public bool TryAccept() => true;
}

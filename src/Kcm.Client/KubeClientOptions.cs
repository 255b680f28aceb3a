using Kcm.Client.Flowcontrol;
using Kcm.Client.Observability;

namespace Kcm.Client;

/// <summary>Seams for tests and the host: time, metrics, the HTTP transport and throttling.</summary>
public sealed record KubeClientOptions
{
    /// <summary>client-go's maximum number of Retry-After retries per request.</summary>
    public const int DefaultMaxRetries = 10;

    public TimeProvider TimeProvider { get; init; } = TimeProvider.System;

    public IClientMetrics Metrics { get; init; } = NullClientMetrics.Instance;

    /// <summary>Replaces the TLS-configured SocketsHttpHandler (unit tests use a stub). Not disposed by the client.</summary>
    public HttpMessageHandler? Handler { get; init; }

    /// <summary>Shares one handler (one HTTP/2 connection) among clients with equal TLS settings; null gives each client its own.</summary>
    public Transport.TransportCache? Transports { get; init; }

    /// <summary>Replaces the token bucket built from the config's QPS/Burst.</summary>
    public IRateLimiter? RateLimiter { get; init; }

    public int MaxRetries { get; init; } = DefaultMaxRetries;

    /// <summary>Supplies the bearer token per request (e.g. a TokenRequest token renewed before it expires); wins over the config's token.</summary>
    public IBearerTokenProvider? TokenProvider { get; init; }
}

/// <summary>A bearer token that may change over time; called before every request, so it must be cheap when cached.</summary>
public interface IBearerTokenProvider
{
    ValueTask<string> GetTokenAsync(CancellationToken cancellationToken);
}

namespace Kcm.Client.Observability;

/// <summary>
/// What the metrics layer records about client traffic, mirroring client-go's metrics hooks:
/// rest_client_requests_total{code,host,method}, rest_client_request_duration_seconds{verb,host},
/// rest_client_rate_limiter_duration_seconds{verb,host}.
/// </summary>
public interface IClientMetrics
{
    /// <summary>One finished attempt; <paramref name="code"/> is the HTTP status code or "&lt;error&gt;" when no response arrived.</summary>
    void RequestCompleted(string code, string method, string host);

    /// <summary>Time from sending an attempt until its response headers arrived (or it failed).</summary>
    void RequestLatency(string verb, string host, TimeSpan latency);

    /// <summary>Time an attempt waited in the client-side rate limiter.</summary>
    void RateLimiterLatency(string verb, string host, TimeSpan wait);
}

public sealed class NullClientMetrics : IClientMetrics
{
    public static NullClientMetrics Instance { get; } = new();

    public void RequestCompleted(string code, string method, string host)
    {
    }

    public void RequestLatency(string verb, string host, TimeSpan latency)
    {
    }

    public void RateLimiterLatency(string verb, string host, TimeSpan wait)
    {
    }
}

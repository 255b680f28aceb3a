using Kcm.Client.Observability;

namespace Kcm.Runtime.Metrics;

/// <summary>client-go's REST client metrics under upstream's names and labels.</summary>
public sealed class RestClientMetrics : IClientMetrics
{
    private static readonly double[] LatencyBuckets = [0.005, 0.025, 0.1, 0.25, 0.5, 1, 2, 4, 8, 15, 30, 60];

    private readonly Counter _requests;
    private readonly Histogram _latency;
    private readonly Histogram _rateLimiter;

    public RestClientMetrics(MetricsRegistry registry)
    {
        _requests = registry.Counter("rest_client_requests_total", "[ALPHA] HTTP requests the API client sent, by response code, method and host.", "code", "host", "method");
        _latency = registry.Histogram("rest_client_request_duration_seconds", "[ALPHA] Seconds from sending an API request to its response headers, by verb and host.", LatencyBuckets, "host", "verb");
        _rateLimiter = registry.Histogram("rest_client_rate_limiter_duration_seconds", "[ALPHA] Seconds API requests waited in the client-side rate limiter, by verb and host.", LatencyBuckets, "host", "verb");
    }

    public void RequestCompleted(string code, string method, string host) => _requests.Inc(code, host, method);

    public void RequestLatency(string verb, string host, TimeSpan latency) => _latency.Observe(latency.TotalSeconds, host, verb);

    public void RateLimiterLatency(string verb, string host, TimeSpan wait) => _rateLimiter.Observe(wait.TotalSeconds, host, verb);
}

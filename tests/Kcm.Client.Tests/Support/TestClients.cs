using Kcm.Testing;
using Kcm.Client.Config;
using Kcm.Client.Flowcontrol;
using Kcm.Client.Observability;

namespace Kcm.Client.Tests.Support;

public sealed class RecordingMetrics : IClientMetrics
{
    public List<(string Code, string Method, string Host)> Results { get; } = [];

    public List<TimeSpan> RateLimiterWaits { get; } = [];

    public int LatencyCount { get; private set; }

    public void RequestCompleted(string code, string method, string host) => Results.Add((code, method, host));

    public void RequestLatency(string verb, string host, TimeSpan latency) => LatencyCount++;

    public void RateLimiterLatency(string verb, string host, TimeSpan wait) => RateLimiterWaits.Add(wait);
}

public static class TestClients
{
    public static KubeApiClient Create(StubHandler handler, FakeTimeProvider? time = null, IClientMetrics? metrics = null, ClientConfig? config = null)
        => new(config ?? new ClientConfig { Server = new Uri("https://api.test:6443"), BearerToken = "t0k" }, new KubeClientOptions
        {
            Handler = handler,
            TimeProvider = time ?? new FakeTimeProvider { AutoAdvance = true },
            Metrics = metrics ?? NullClientMetrics.Instance,
            RateLimiter = new UnlimitedRateLimiter(),
        });
}

using Kcm.Testing;
using System.Net;
using Kcm.Api.Core.V1;
using Kcm.Client.Config;
using Kcm.Client.Errors;
using Kcm.Client.Flowcontrol;
using Kcm.Client.Tests.Support;
using Kcm.Client.Transport;

namespace Kcm.Client.Tests;

public sealed class RestClientTests
{
    private const string TooMany = """{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"too many requests, please try again later","reason":"TooManyRequests","details":{"retryAfterSeconds":2},"code":429}""";
    private const string PodJson = """{"kind":"Pod","apiVersion":"v1","metadata":{"name":"p","namespace":"ns"}}""";

    [Fact(Timeout = 10000)]
    public async Task SendAsync_429WithRetryAfter_SleepsAndRetries()
    {
        var handler = new StubHandler()
            .Respond(HttpStatusCode.TooManyRequests, TooMany, ("Retry-After", "2"))
            .Respond(HttpStatusCode.TooManyRequests, TooMany, ("Retry-After", "1"))
            .Respond(HttpStatusCode.OK, PodJson);
        var time = new FakeTimeProvider { AutoAdvance = true };
        var metrics = new RecordingMetrics();
        using var client = TestClients.Create(handler, time, metrics);

        var pod = await client.GetAsync<Pod>("ns", "p");

        Assert.Equal("p", pod.Metadata?.Name);
        Assert.Equal(3, handler.Requests.Count);
        Assert.Equal([TimeSpan.FromSeconds(2), TimeSpan.FromSeconds(1)], time.Sleeps);
        Assert.Equal(["429", "429", "200"], metrics.Results.Select(r => r.Code));
        Assert.All(metrics.Results, r => Assert.Equal(("GET", "api.test:6443"), (r.Method, r.Host)));
        Assert.Equal(3, metrics.LatencyCount);
    }

    [Fact(Timeout = 10000)]
    public async Task SendAsync_429BeyondMaxRetries_ThrowsTooManyRequests()
    {
        var handler = new StubHandler { Fallback = _ => StubHandler.Response(HttpStatusCode.TooManyRequests, TooMany, ("Retry-After", "1")) };
        var time = new FakeTimeProvider { AutoAdvance = true };
        using var client = TestClients.Create(handler, time);

        var ex = await Assert.ThrowsAsync<TooManyRequestsException>(() => client.GetAsync<Pod>("ns", "p"));

        Assert.Equal(11, handler.Requests.Count);
        Assert.Equal(10, time.Sleeps.Count);
        Assert.Equal(TimeSpan.FromSeconds(1), ex.RetryAfter);
    }

    [Fact(Timeout = 10000)]
    public async Task SendAsync_429WithoutRetryAfter_FailsImmediately()
    {
        var handler = new StubHandler().Respond(HttpStatusCode.TooManyRequests, TooMany);
        using var client = TestClients.Create(handler);

        await Assert.ThrowsAsync<TooManyRequestsException>(() => client.GetAsync<Pod>("ns", "p"));
        Assert.Single(handler.Requests);
    }

    [Fact(Timeout = 10000)]
    public async Task SendAsync_503WithRetryAfter_Retries()
    {
        var handler = new StubHandler()
            .Respond(HttpStatusCode.ServiceUnavailable, "starting", ("Retry-After", "1"))
            .Respond(HttpStatusCode.OK, PodJson);
        using var client = TestClients.Create(handler);

        await client.GetAsync<Pod>("ns", "p");

        Assert.Equal(2, handler.Requests.Count);
    }

    [Fact(Timeout = 10000)]
    public async Task SendAsync_Headers_CarryUserAgentAcceptAndBearerToken()
    {
        var handler = new StubHandler().Respond(HttpStatusCode.OK, PodJson);
        using var client = TestClients.Create(handler);

        await client.GetAsync<Pod>("ns", "p");

        var request = Assert.Single(handler.Requests);
        Assert.Equal("Bearer t0k", request.Headers["Authorization"]);
        Assert.Equal("application/json", request.Headers["Accept"]);
        Assert.Equal(UserAgent.Default, request.Headers["User-Agent"]);
        Assert.Matches(@"^kube-controller-manager/v1\.26\.3 \(\w+/\w+\) kubernetes/\w+$", UserAgent.Default);
    }

    [Fact(Timeout = 10000)]
    public async Task SendAsync_TokenFileRotated_NewTokenUsedAfterRefreshInterval()
    {
        using var dir = new TempDirectory();
        var tokenFile = dir.Write("token", "first");
        var handler = new StubHandler { Fallback = _ => StubHandler.Response(HttpStatusCode.OK, PodJson) };
        var time = new FakeTimeProvider();
        var config = new ClientConfig { Server = new Uri("https://h"), BearerToken = "first", BearerTokenFile = tokenFile };
        using var client = TestClients.Create(handler, time, config: config);

        await client.GetAsync<Pod>("ns", "p");
        File.WriteAllText(tokenFile, "second");
        await client.GetAsync<Pod>("ns", "p");
        time.Advance(BearerTokenSource.RefreshInterval);
        await client.GetAsync<Pod>("ns", "p");

        Assert.Equal(["Bearer first", "Bearer first", "Bearer second"], handler.Requests.Select(r => r.Headers["Authorization"]));
    }

    [Fact(Timeout = 10000)]
    public async Task SendAsync_RateLimited_ReportsWaitToMetrics()
    {
        var handler = new StubHandler { Fallback = _ => StubHandler.Response(HttpStatusCode.OK, PodJson) };
        var time = new FakeTimeProvider { AutoAdvance = true };
        var metrics = new RecordingMetrics();
        var config = new ClientConfig { Server = new Uri("https://h"), Qps = 2, Burst = 1 };
        using var client = new KubeApiClient(config, new KubeClientOptions { Handler = handler, TimeProvider = time, Metrics = metrics });

        await client.GetAsync<Pod>("ns", "p");
        await client.GetAsync<Pod>("ns", "p");

        Assert.Equal([TimeSpan.Zero, TimeSpan.FromMilliseconds(500)], metrics.RateLimiterWaits);
    }

    [Fact(Timeout = 10000)]
    public async Task SendAsync_ServerWithPathPrefix_AppendsApiPath()
    {
        var handler = new StubHandler().Respond(HttpStatusCode.OK, PodJson);
        using var client = TestClients.Create(handler, config: new ClientConfig { Server = new Uri("https://proxy.example/k8s/clusters/c1/") });

        await client.GetAsync<Pod>("ns", "p");

        Assert.Equal("https://proxy.example/k8s/clusters/c1/api/v1/namespaces/ns/pods/p", handler.Requests[0].Uri.ToString());
    }

    [Fact(Timeout = 10000)]
    public async Task SendAsync_ConfigTimeoutElapses_ThrowsTimeoutException()
    {
        var time = new FakeTimeProvider();
        var blocking = new BlockingHandler();
        var config = new ClientConfig { Server = new Uri("https://h"), Timeout = TimeSpan.FromSeconds(5) };
        using var client = new KubeApiClient(config, new KubeClientOptions { Handler = blocking, TimeProvider = time, RateLimiter = new UnlimitedRateLimiter() });

        var call = client.GetAsync<Pod>("ns", "p");
        await blocking.Entered.Task;
        time.Advance(TimeSpan.FromSeconds(5));

        await Assert.ThrowsAsync<TimeoutException>(() => call);
    }

    private sealed class BlockingHandler : HttpMessageHandler
    {
        public TaskCompletionSource Entered { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            Entered.TrySetResult();
            await Task.Delay(Timeout.Infinite, cancellationToken);
            throw new InvalidOperationException("unreachable");
        }
    }
}

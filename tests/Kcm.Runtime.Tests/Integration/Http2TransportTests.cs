using Kcm.Api.Core.V1;
using Kcm.Api.Meta.V1;
using Kcm.ApiServer.Hosting;
using Kcm.Client;
using Kcm.Client.Config;
using Kcm.Client.Transport;
using Kcm.Client.Watch;
using Kcm.Runtime.Informers;
using Kcm.Runtime.Tests.Support;
using Kcm.Testing;
using Microsoft.Extensions.Logging.Abstractions;

namespace Kcm.Runtime.Tests.Integration;

/// <summary>
/// Clients built from one TLS configuration share a transport (client-go's transport cache), so their requests multiplex
/// over HTTP/2. Watches take an HTTP/1.1 connection each by default (ClientConfig.WatchOverHttp1) and multiplex too when
/// that is off. Connections are counted by a TCP relay in front of the server, outside the client.
/// </summary>
public sealed class Http2TransportTests(EmbeddedServerFixture server) : IClassFixture<EmbeddedServerFixture>
{
    private static readonly ReflectorOptions FastRetry = new()
    {
        InitialBackoff = TimeSpan.FromMilliseconds(20),
        MaxBackoff = TimeSpan.FromMilliseconds(200),
    };

    /// <summary>Clients that differ in user agent (and so would in token and QPS budget) but not in TLS settings.</summary>
    private static List<KubeApiClient> Clients(ClientConfig config, TransportCache transports, int count, bool watchOverHttp1 = false)
        => [.. Enumerable.Range(0, count).Select(i => new KubeApiClient(config with { UserAgent = $"http2-test/client-{i}", Qps = -1, WatchOverHttp1 = watchOverHttp1 },
            new KubeClientOptions { Transports = transports }))];

    private static ConfigMap Cm(string name) => new() { Metadata = new ObjectMeta { Name = name }, Data = new() { ["key"] = "v" } };

    private static async Task<string> FirstAddedAsync(KubeApiClient client, string ns, string resourceVersion, CancellationToken cancellationToken)
    {
        await foreach (var e in client.WatchAsync<ConfigMap>(ns, new ListOptions { ResourceVersion = resourceVersion }, cancellationToken))
        {
            if (e.Type == WatchEventType.Added) return e.Object.Metadata!.Name!;
        }
        throw new InvalidOperationException("the watch ended without an ADDED event");
    }

    [Fact(Timeout = 120_000)]
    public async Task Watches_OverHttp2_SeveralClientsSameTls_MultiplexedOnAtMostTwoConnectionsAndAllSeeEvents()
    {
        await using var proxy = new CountingTcpProxy(server.Url);
        using var transports = new TransportCache();
        var clients = Clients(KubeconfigLoader.LoadFromFile(server.AdminKubeconfigPath) with { Server = proxy.Url }, transports, 3);
        var ns = await TestNamespaces.CreateAsync(clients[0], "h2-watch");
        try
        {
            var resourceVersion = (await clients[1].ListAsync<ConfigMap>(ns)).Metadata!.ResourceVersion!;

            // More than the 250 streams kube-apiserver allows on one connection: the rest overflow to a second one
            // instead of waiting for a watch to end (Go's transport does the same).
            const int watches = 270;
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(90));
            var seen = Enumerable.Range(0, watches).Select(i => FirstAddedAsync(clients[i % clients.Count], ns, resourceVersion, timeout.Token)).ToList();
            await clients[2].CreateAsync(Cm("hello"), ns);

            Assert.All(await Task.WhenAll(seen), name => Assert.Equal("hello", name));
            Assert.InRange(proxy.Accepted, 1, 2);
        }
        finally
        {
            await clients[0].DeleteAsync<Namespace>(null, ns);
            clients.ForEach(c => c.Dispose());
        }
    }

    [Fact(Timeout = 120_000)]
    public async Task Watches_Default_EachOnItsOwnHttp11ConnectionWhileRequestsShareOneHttp2Connection()
    {
        await using var proxy = new CountingTcpProxy(server.Url);
        using var transports = new TransportCache();
        var config = KubeconfigLoader.LoadFromFile(server.AdminKubeconfigPath) with { Server = proxy.Url };
        Assert.True(config.WatchOverHttp1);
        var clients = Clients(config, transports, 3, watchOverHttp1: true);
        var ns = await TestNamespaces.CreateAsync(clients[0], "h1-watch-default");
        try
        {
            var resourceVersion = (await clients[1].ListAsync<ConfigMap>(ns)).Metadata!.ResourceVersion!;
            Assert.Equal(1, proxy.Accepted);

            const int watches = 6;
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(90));
            var seen = Enumerable.Range(0, watches).Select(i => FirstAddedAsync(clients[i % clients.Count], ns, resourceVersion, timeout.Token)).ToList();
            await Eventually.TrueAsync("every watch on its own connection", () => Task.FromResult(proxy.Open >= watches + 1));
            await clients[2].CreateAsync(Cm("hello"), ns);

            Assert.All(await Task.WhenAll(seen), name => Assert.Equal("hello", name));
            Assert.Equal(watches + 1, proxy.Accepted);
        }
        finally
        {
            await clients[0].DeleteAsync<Namespace>(null, ns);
            clients.ForEach(c => c.Dispose());
        }
    }

    [Fact(Timeout = 120_000)]
    public async Task Informers_OverHttp2_SharedConnectionReset_AllWatchesFailTogetherAndEveryInformerRecovers()
    {
        await using var proxy = new CountingTcpProxy(server.Url);
        using var transports = new TransportCache();
        var clients = Clients(KubeconfigLoader.LoadFromFile(server.AdminKubeconfigPath) with { Server = proxy.Url }, transports, 3);
        using var direct = KubeApiClient.FromKubeconfig(server.AdminKubeconfigPath);
        var ns = await TestNamespaces.CreateAsync(direct, "h2-reset");
        using var stop = new CancellationTokenSource();
        var informers = clients.Select(c => new SharedInformer<ConfigMap>(c, new ListWatchScope { Namespace = ns }, new SharedInformerOptions { Reflector = FastRetry })).ToList();
        var handlers = informers.Select(i =>
        {
            var handler = new RecordingHandler<ConfigMap>();
            i.AddEventHandler(handler);
            return handler;
        }).ToList();
        var runs = informers.Select(i => i.RunAsync(stop.Token)).ToList();
        try
        {
            foreach (var informer in informers) Assert.True(await informer.WaitForCacheSyncAsync(CancellationToken.None));
            await direct.CreateAsync(Cm("before"), ns);
            foreach (var handler in handlers) Assert.Equal([$"add {ns}/before"], await handler.NextAsync(1));
            var beforeReset = proxy.Accepted;
            Assert.InRange(beforeReset, 1, 2);

            // The server goes away: one reset ends the one connection, and with it every informer's watch.
            proxy.ResetAll();
            await direct.CreateAsync(Cm("after"), ns);

            foreach (var handler in handlers) Assert.Equal([$"add {ns}/after"], await handler.NextAsync(1));
            Assert.InRange(proxy.Accepted - beforeReset, 1, 2);
            Assert.InRange(proxy.Open, 1, 2);
        }
        finally
        {
            await stop.CancelAsync();
            await Task.WhenAll(runs);
            await direct.DeleteAsync<Namespace>(null, ns);
            clients.ForEach(c => c.Dispose());
        }
    }
}

/// <summary>A server that offers only HTTP/1.1 (no h2 in ALPN): the same clients fall back, one connection per watch.</summary>
public sealed class Http1OnlyServerTests
{
    [Fact(Timeout = 120_000)]
    public async Task Watches_Http1OnlyServer_FallBackToHttp11AndAllSeeEvents()
    {
        var stateDirectory = Path.Combine(Path.GetTempPath(), "kcm-h1-" + Guid.NewGuid().ToString("N")[..10]);
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(90));
        await using var server = await EmbeddedApiServer.StartAsync(
            new EmbeddedApiServerOptions { StateDirectory = stateDirectory, SecurePort = 0, EnableHttp2 = false }, NullLoggerFactory.Instance, timeout.Token);
        try
        {
            await using var proxy = new CountingTcpProxy(server.Url);
            using var transports = new TransportCache();
            var config = KubeconfigLoader.LoadFromFile(server.AdminKubeconfigPath) with { Server = proxy.Url, Qps = -1 };
            Assert.True(config.PreferHttp2);
            using var first = new KubeApiClient(config with { UserAgent = "h1-test/a" }, new KubeClientOptions { Transports = transports });
            using var second = new KubeApiClient(config with { UserAgent = "h1-test/b" }, new KubeClientOptions { Transports = transports });
            var ns = await TestNamespaces.CreateAsync(first, "h1-watch", timeout.Token);
            var resourceVersion = (await second.ListAsync<ConfigMap>(ns, cancellationToken: timeout.Token)).Metadata!.ResourceVersion!;

            const int watches = 6;
            var seen = Enumerable.Range(0, watches)
                .Select(i => FirstAddedAsync(i % 2 == 0 ? first : second, ns, resourceVersion, timeout.Token)).ToList();
            await Eventually.TrueAsync("every watch on its own connection", () => Task.FromResult(proxy.Open >= watches));
            await first.CreateAsync(new ConfigMap { Metadata = new ObjectMeta { Name = "hello" } }, ns, cancellationToken: timeout.Token);

            Assert.All(await Task.WhenAll(seen), name => Assert.Equal("hello", name));
            Assert.True(proxy.Accepted >= watches, $"{proxy.Accepted} connections for {watches} HTTP/1.1 watches");
        }
        finally
        {
            if (Directory.Exists(stateDirectory)) Directory.Delete(stateDirectory, recursive: true);
        }
    }

    private static async Task<string> FirstAddedAsync(KubeApiClient client, string ns, string resourceVersion, CancellationToken cancellationToken)
    {
        await foreach (var e in client.WatchAsync<ConfigMap>(ns, new ListOptions { ResourceVersion = resourceVersion }, cancellationToken))
        {
            if (e.Type == WatchEventType.Added) return e.Object.Metadata!.Name!;
        }
        throw new InvalidOperationException("the watch ended without an ADDED event");
    }
}

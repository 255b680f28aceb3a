using System.Security.Cryptography.X509Certificates;
using Kcm.Client.Config;
using Kcm.Client.Flowcontrol;
using Kcm.Client.Tests.Support;
using Kcm.Client.Transport;

namespace Kcm.Client.Tests.Transport;

public sealed class TransportCacheTests : IDisposable
{
    private readonly TestPki _pki = new();
    private readonly TestPki _otherPki = new("other-ca");

    private static ClientConfig Config(TestPki pki, string user = "admin")
    {
        var pair = pki.Issue(user, KeyPemFormat.EcSec1, server: false);
        return new ClientConfig
        {
            Server = new Uri("https://127.0.0.1:6443"),
            CertificateAuthorities = [pki.Ca],
            ClientCertificate = PemLoader.LoadClientCertificate(pair.CertificatePem, pair.KeyPem),
        };
    }

    [Fact]
    public void Get_SameTlsDifferentTokenUserAgentAndQps_OneSharedHandler()
    {
        using var cache = new TransportCache();
        var anonymous = Config(_pki) with { ClientCertificate = null };

        var first = cache.Get(anonymous with { BearerToken = "token-a", UserAgent = "a", Qps = 5 });
        var second = cache.Get(anonymous with { BearerToken = "token-b", UserAgent = "b", Qps = 50, Timeout = TimeSpan.FromSeconds(7) });
        // Another server URL with the same host: the handler pools per host and port itself.
        var otherPort = cache.Get(anonymous with { Server = new Uri("https://127.0.0.1:7443"), BearerTokenFile = "/tmp/token" });

        Assert.Same(first, second);
        Assert.Same(first, otherPort);
        Assert.Equal(1, cache.Count);
    }

    [Fact]
    public void Get_DifferentCertificateCaServerNameOrVerification_SeparateHandlers()
    {
        using var cache = new TransportCache();
        var admin = Config(_pki);
        // The same certificate loaded twice is the same TLS identity.
        var reloaded = admin with { ClientCertificate = PemLoader.LoadClientCertificate(admin.ClientCertificate!.ExportCertificatePem(), KeyOf(admin)) };

        var handlers = new[]
        {
            cache.Get(admin),
            cache.Get(Config(_pki, "someone-else")),
            cache.Get(admin with { ClientCertificate = null }),
            cache.Get(admin with { CertificateAuthorities = [_otherPki.Ca] }),
            cache.Get(admin with { TlsServerName = "kubernetes.default" }),
            cache.Get(admin with { InsecureSkipTlsVerify = true }),
        };

        Assert.Equal(handlers.Length, handlers.Distinct().Count());
        Assert.Same(handlers[0], cache.Get(reloaded));
    }

    [Fact(Timeout = 30_000)]
    public async Task Dispose_ClientOfSharedHandler_HandlerStaysUsableUntilCacheDisposed()
    {
        using var cache = new TransportCache();
        // Nothing listens on port 1: a live handler fails to connect, a disposed one throws ObjectDisposedException.
        var config = Config(_pki) with { Server = new Uri("https://127.0.0.1:1") };
        var options = new KubeClientOptions { Transports = cache, RateLimiter = new UnlimitedRateLimiter(), MaxRetries = 0 };
        new KubeApiClient(config, options).Dispose();

        using var second = new KubeApiClient(config, options);
        await Assert.ThrowsAsync<HttpRequestException>(() => second.Rest.SendAsync(HttpMethod.Get, "/api", null, null, CancellationToken.None));

        cache.Dispose();
        await Assert.ThrowsAsync<ObjectDisposedException>(() => second.Rest.SendAsync(HttpMethod.Get, "/api", null, null, CancellationToken.None));
        Assert.Throws<ObjectDisposedException>(() => cache.Get(config));
    }

    [Fact]
    public void Parse_NoVariables_ClientGoDefaults()
    {
        var settings = Http2Settings.Parse(_ => null);

        Assert.True(settings.Enabled);
        Assert.Equal(TimeSpan.FromSeconds(30), settings.ReadIdleTimeout);
        Assert.Equal(TimeSpan.FromSeconds(15), settings.PingTimeout);
    }

    [Theory]
    [InlineData("1", "", "", false, 30, 15)]
    [InlineData("", "0", "", true, 0, 15)]
    [InlineData("", "45", "5", true, 45, 5)]
    [InlineData("", "soon", "0", true, 30, 15)]
    public void Parse_Variables_AsClientGo(string disable, string readIdle, string ping, bool enabled, int readIdleSeconds, int pingSeconds)
    {
        var environment = new Dictionary<string, string>
        {
            [Http2Settings.DisableVariable] = disable,
            [Http2Settings.ReadIdleTimeoutVariable] = readIdle,
            [Http2Settings.PingTimeoutVariable] = ping,
        };

        var settings = Http2Settings.Parse(name => environment.GetValueOrDefault(name));

        Assert.Equal(enabled, settings.Enabled);
        Assert.Equal(TimeSpan.FromSeconds(readIdleSeconds), settings.ReadIdleTimeout);
        Assert.Equal(TimeSpan.FromSeconds(pingSeconds), settings.PingTimeout);
    }

    [Fact]
    public void Create_Http2Settings_HealthCheckAndOverflowConnections()
    {
        using var handler = KubeHttpHandlerFactory.Create(Config(_pki), new Http2Settings { ReadIdleTimeout = TimeSpan.FromSeconds(30), PingTimeout = TimeSpan.FromSeconds(15) });
        using var noHealthCheck = KubeHttpHandlerFactory.Create(Config(_pki), new Http2Settings { ReadIdleTimeout = TimeSpan.Zero });

        Assert.Equal(TimeSpan.FromSeconds(30), handler.KeepAlivePingDelay);
        Assert.Equal(TimeSpan.FromSeconds(15), handler.KeepAlivePingTimeout);
        Assert.Equal(HttpKeepAlivePingPolicy.Always, handler.KeepAlivePingPolicy);
        Assert.True(handler.EnableMultipleHttp2Connections);
        Assert.Equal(Timeout.InfiniteTimeSpan, noHealthCheck.KeepAlivePingDelay);
    }

    [Fact]
    public void KeepAliveFor_HealthCheckOn_ProbesEndADeadConnectionWithinItsTime_ElseGoDialerDefaults()
    {
        Assert.Equal(new KubeHttpHandlerFactory.KeepAlive(TimeSpan.FromSeconds(30), TimeSpan.FromSeconds(5), 3),
            KubeHttpHandlerFactory.KeepAliveFor(Http2Settings.Parse(_ => null)));
        Assert.Equal(new KubeHttpHandlerFactory.KeepAlive(TimeSpan.FromSeconds(10), TimeSpan.FromSeconds(2), 3),
            KubeHttpHandlerFactory.KeepAliveFor(new Http2Settings { ReadIdleTimeout = TimeSpan.FromSeconds(10), PingTimeout = TimeSpan.FromSeconds(6) }));
        Assert.Equal(new KubeHttpHandlerFactory.KeepAlive(TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(1), 3),
            KubeHttpHandlerFactory.KeepAliveFor(new Http2Settings { ReadIdleTimeout = TimeSpan.FromMilliseconds(200), PingTimeout = TimeSpan.FromSeconds(1) }));

        var goDefaults = new KubeHttpHandlerFactory.KeepAlive(TimeSpan.FromSeconds(30), TimeSpan.FromSeconds(30), null);
        Assert.Equal(goDefaults, KubeHttpHandlerFactory.KeepAliveFor(new Http2Settings { ReadIdleTimeout = TimeSpan.Zero }));
        Assert.Equal(goDefaults, KubeHttpHandlerFactory.KeepAliveFor(new Http2Settings { Enabled = false }));
    }

    private static string KeyOf(ClientConfig config)
        => config.ClientCertificate!.GetECDsaPrivateKey()!.ExportPkcs8PrivateKeyPem();

    public void Dispose()
    {
        _pki.Dispose();
        _otherPki.Dispose();
    }
}

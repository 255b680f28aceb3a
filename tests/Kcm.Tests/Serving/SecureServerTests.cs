using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Kcm.Runtime.Metrics;
using Kcm.Serving;
using Microsoft.Extensions.Logging.Abstractions;

namespace Kcm.Tests.Serving;

/// <summary>The secure port over real TLS: client certificates, always-allowed health paths, metrics.</summary>
public sealed class SecureServerTests : IAsyncLifetime
{
    private readonly X509Certificate2 _ca;
    private readonly RSA _caKey = RSA.Create(2048);
    private readonly string _certDir = Path.Combine(Path.GetTempPath(), "kcm-serving-" + Guid.NewGuid().ToString("N")[..8]);
    private SecureServer? _server;
    private bool _leaderHealthy = true;

    public SecureServerTests()
    {
        var request = new CertificateRequest("CN=test-ca", _caKey, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign, true));
        _ca = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(30));
    }

    public async Task InitializeAsync()
    {
        var registry = new MetricsRegistry();
        ProcessMetrics.Register(registry);
        registry.Gauge("leader_election_master_status", "[ALPHA] 1 while this instance leads.", "name").Set(1, "kube-controller-manager");
        var health = new HealthChecks([
            new HealthCheck("ping", _ => Task.FromResult<string?>(null)),
            new HealthCheck("leaderElection", _ => Task.FromResult(_leaderHealthy ? null : "renewal overdue")),
        ]);
        var cert = ServingCertificate.Load("", "", _certDir, "127.0.0.1", TimeProvider.System);
        _server = await SecureServer.StartAsync(
            new SecureServingSettings { BindAddress = IPAddress.Loopback, Port = 0, Certificate = cert },
            new DelegatingAuthenticator(new AuthenticationSettings { ClientCa = [_ca] }, TimeProvider.System, NullLogger.Instance),
            new DelegatingAuthorizer(new AuthorizationSettings(), TimeProvider.System, NullLogger.Instance),
            health, registry, () => new Dictionary<string, object?> { ["componentconfig"] = new Dictionary<string, object?> { ["Generic"] = "x" } },
            NullLoggerFactory.Instance, CancellationToken.None);
    }

    public async Task DisposeAsync()
    {
        if (_server != null) await _server.DisposeAsync();
        if (Directory.Exists(_certDir)) Directory.Delete(_certDir, true);
    }

    private HttpClient Client(string? commonName = null, params string[] groups)
    {
        var handler = new HttpClientHandler
        {
            // The self-signed serving certificate is checked in its own test below.
            ServerCertificateCustomValidationCallback = (_, _, _, _) => true,
        };
        if (commonName != null)
        {
            using var key = RSA.Create(2048);
            var subject = "CN=" + commonName + string.Concat(groups.Select(g => ", O=" + g));
            var request = new CertificateRequest(subject, key, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
            request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid("1.3.6.1.5.5.7.3.2")], false));
            using var signed = request.Create(_ca, DateTimeOffset.UtcNow.AddMinutes(-5), DateTimeOffset.UtcNow.AddDays(1), [1, 2, 3, 4]);
            var withKey = X509CertificateLoader.LoadPkcs12(signed.CopyWithPrivateKey(key).Export(X509ContentType.Pkcs12), null);
            handler.ClientCertificates.Add(withKey);
            handler.ClientCertificateOptions = ClientCertificateOption.Manual;
        }
        return new HttpClient(handler) { BaseAddress = new Uri($"https://127.0.0.1:{_server!.Port}") };
    }

    [Theory(Timeout = 30_000)]
    [InlineData("/healthz")]
    [InlineData("/livez")]
    [InlineData("/readyz")]
    public async Task Health_Anonymous_IsAllowedAndOk(string path)
    {
        using var client = Client();
        var response = await client.GetAsync(path);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("ok", await response.Content.ReadAsStringAsync());
    }

    [Fact(Timeout = 30_000)]
    public async Task Health_VerboseAndSingleCheck_ListChecks()
    {
        using var anonymous = Client();
        Assert.Equal("[+]ping ok\n[+]leaderElection ok\nhealthz check passed\n", await anonymous.GetStringAsync("/healthz?verbose"));
        // Only the listed paths are open; a single check's subpath needs authorization, as upstream.
        Assert.Equal(HttpStatusCode.Forbidden, (await anonymous.GetAsync("/healthz/leaderElection")).StatusCode);
        using var admin = Client("admin", "system:masters");
        Assert.Equal("ok", await admin.GetStringAsync("/healthz/leaderElection"));
        Assert.Equal(HttpStatusCode.NotFound, (await admin.GetAsync("/healthz/nope")).StatusCode);
    }

    [Fact(Timeout = 30_000)]
    public async Task Health_FailingCheck_500WithReasonWithheld()
    {
        _leaderHealthy = false;
        using var client = Client();
        var response = await client.GetAsync("/healthz");
        Assert.Equal(HttpStatusCode.InternalServerError, response.StatusCode);
        Assert.Equal("[+]ping ok\n[-]leaderElection failed: reason withheld\nhealthz check failed\n", await response.Content.ReadAsStringAsync());
    }

    [Fact(Timeout = 30_000)]
    public async Task Metrics_Anonymous_403ForSystemAnonymous()
    {
        using var client = Client();
        var response = await client.GetAsync("/metrics");
        Assert.Equal(HttpStatusCode.Forbidden, response.StatusCode);
        Assert.Contains(@"forbidden: User \""system:anonymous\"" cannot get path \""/metrics\""", await response.Content.ReadAsStringAsync());
    }

    [Fact(Timeout = 30_000)]
    public async Task Metrics_CertificateOfUnknownAuthority_401()
    {
        using var key = RSA.Create(2048);
        var request = new CertificateRequest("CN=stranger", key, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid("1.3.6.1.5.5.7.3.2")], false));
        using var selfSigned = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddMinutes(-5), DateTimeOffset.UtcNow.AddDays(1));
        var handler = new HttpClientHandler { ServerCertificateCustomValidationCallback = (_, _, _, _) => true, ClientCertificateOptions = ClientCertificateOption.Manual };
        handler.ClientCertificates.Add(X509CertificateLoader.LoadPkcs12(selfSigned.Export(X509ContentType.Pkcs12), null));
        using var client = new HttpClient(handler) { BaseAddress = new Uri($"https://127.0.0.1:{_server!.Port}") };
        Assert.Equal(HttpStatusCode.Unauthorized, (await client.GetAsync("/metrics")).StatusCode);
    }

    [Fact(Timeout = 30_000)]
    public async Task Metrics_UserWithoutPermission_403()
    {
        using var client = Client("nobody", "some-group");
        Assert.Equal(HttpStatusCode.Forbidden, (await client.GetAsync("/metrics")).StatusCode);
    }

    [Fact(Timeout = 60_000)]
    public async Task Metrics_SystemMasters_ServedAndPassPromtool()
    {
        using var client = Client("admin", "system:masters");
        var response = await client.GetAsync("/metrics");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("text/plain; version=0.0.4; charset=utf-8", response.Content.Headers.ContentType?.ToString());
        var text = await response.Content.ReadAsStringAsync();
        Assert.Contains("leader_election_master_status{name=\"kube-controller-manager\"} 1\n", text);
        Assert.Contains("process_start_time_seconds ", text);
        Assert.Equal("", await Kcm.Testing.Promtool.CheckAsync(text));
    }

    [Fact(Timeout = 30_000)]
    public async Task Configz_Admin_ReturnsJson()
    {
        using var client = Client("admin", "system:masters");
        Assert.Equal("{\"componentconfig\":{\"Generic\":\"x\"}}", await client.GetStringAsync("/configz"));
    }

    [Fact(Timeout = 30_000)]
    public async Task Certificate_SelfSigned_IsKeptInCertDirAndReused()
    {
        var crt = Path.Combine(_certDir, "kube-controller-manager.crt");
        Assert.True(File.Exists(crt));
        Assert.True(File.Exists(Path.Combine(_certDir, "kube-controller-manager.key")));
        var first = await File.ReadAllTextAsync(crt);
        using var again = ServingCertificate.Load("", "", _certDir, "127.0.0.1", TimeProvider.System);
        Assert.Equal(first, await File.ReadAllTextAsync(crt));
        Assert.Equal(X509Certificate2.CreateFromPem(first).Thumbprint, again.Thumbprint);
        var san = again.Extensions.OfType<X509SubjectAlternativeNameExtension>().Single();
        Assert.Contains(IPAddress.Loopback, san.EnumerateIPAddresses());
        Assert.Contains("localhost", san.EnumerateDnsNames());
    }

    [Fact]
    public void Certificate_OnlyCertFile_OneLineError()
    {
        var e = Assert.Throws<ServingCertificateException>(() => ServingCertificate.Load("/x.crt", "", "", "127.0.0.1", TimeProvider.System));
        Assert.Equal("--tls-cert-file and --tls-private-key-file must be given together", e.Message);
    }
}

using System.Net;
using System.Security.Cryptography.X509Certificates;
using Kcm.ApiServer.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Xunit;

namespace Kcm.Testing;

/// <summary>Thrown when a test needs something the fixture cannot give in this mode (e.g. a raw HttpClient against a real cluster).</summary>
public sealed class FixtureUnavailableException(string message) : Exception(message);

/// <summary>
/// Starts an embedded API server on a free port in a temporary state directory for a test class or collection.
/// When KCM_TEST_KUBECONFIG is set, no server is started and that kubeconfig is exposed instead, so suites can
/// run against a real cluster.
/// </summary>
public class EmbeddedServerFixture : IAsyncLifetime
{
    public const string KubeconfigVariable = "KCM_TEST_KUBECONFIG";

    private EmbeddedApiServer? _server;
    private HttpClient? _client;
    private string? _tempDirectory;

    /// <summary>Server settings; override <see cref="Configure"/> in a derived fixture to change them.</summary>
    protected virtual void Configure(EmbeddedApiServerOptions options)
    {
    }

    protected virtual ILoggerFactory LoggerFactory => NullLoggerFactory.Instance;

    public bool UsesExternalCluster { get; private set; }

    public EmbeddedApiServer Server => _server ?? throw new FixtureUnavailableException($"no embedded server: {KubeconfigVariable} points the suite at an external cluster");

    public Uri Url { get; private set; } = new("https://127.0.0.1");

    public string AdminKubeconfigPath { get; private set; } = "";

    public string StateDirectory => Server.StateDirectory;

    /// <summary>An HttpClient that presents the admin client certificate and trusts only the cluster CA.</summary>
    public HttpClient HttpClient => _client ?? throw new FixtureUnavailableException(
        $"no raw HttpClient: {KubeconfigVariable} points the suite at an external cluster; use the kubeconfig instead");

    public async Task InitializeAsync()
    {
        var external = Environment.GetEnvironmentVariable(KubeconfigVariable);
        if (!string.IsNullOrEmpty(external))
        {
            UsesExternalCluster = true;
            AdminKubeconfigPath = external;
            return;
        }
        _tempDirectory = Path.Combine(Path.GetTempPath(), "kcm-test-" + Guid.NewGuid().ToString("N")[..12]);
        var options = new EmbeddedApiServerOptions { StateDirectory = _tempDirectory, SecurePort = 0 };
        Configure(options);
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        _server = await EmbeddedApiServer.StartAsync(options, LoggerFactory, cts.Token);
        Url = _server.Url;
        AdminKubeconfigPath = _server.AdminKubeconfigPath;
        _client = CreateHttpClient(_server.StateDirectory, _server.Url);
    }

    /// <summary>An HttpClient for the server whose certificates are in <paramref name="stateDirectory"/>; null client cert = anonymous.</summary>
    public static HttpClient CreateHttpClient(string stateDirectory, Uri baseAddress, bool withClientCertificate = true)
    {
        var ca = X509Certificate2.CreateFromPem(File.ReadAllText(Path.Combine(stateDirectory, "ca.pem")));
        var handler = new SocketsHttpHandler
        {
            PooledConnectionLifetime = TimeSpan.FromMinutes(5),
            SslOptions =
            {
                RemoteCertificateValidationCallback = (_, cert, _, errors) =>
                {
                    if (cert is null) return false;
                    using var chain = new X509Chain();
                    chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
                    chain.ChainPolicy.CustomTrustStore.Add(ca);
                    chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
                    return chain.Build(new X509Certificate2(cert)) &&
                        (errors & ~System.Net.Security.SslPolicyErrors.RemoteCertificateChainErrors) == System.Net.Security.SslPolicyErrors.None;
                },
            },
        };
        if (withClientCertificate)
        {
            var admin = X509Certificate2.CreateFromPemFile(Path.Combine(stateDirectory, "admin.pem"), Path.Combine(stateDirectory, "admin-key.pem"));
            handler.SslOptions.ClientCertificates = new X509CertificateCollection { admin };
        }
        return new HttpClient(handler) { BaseAddress = baseAddress, Timeout = TimeSpan.FromSeconds(60), DefaultRequestVersion = HttpVersion.Version11 };
    }

    public async Task DisposeAsync()
    {
        _client?.Dispose();
        if (_server is not null) await _server.DisposeAsync();
        if (_tempDirectory is not null)
        {
            try
            {
                Directory.Delete(_tempDirectory, recursive: true);
            }
            catch (IOException)
            {
                // Best effort: a leftover temp directory must not fail the suite.
            }
        }
    }
}

using System.Net;
using System.Net.Http.Headers;
using System.Security.Cryptography.X509Certificates;
using Kcm.ApiServer.Hosting;
using Kcm.Client.Config;
using Kcm.Client.Transport;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Xunit;

namespace Kcm.Testing;

/// <summary>Thrown when a test needs something the fixture cannot give in this mode (e.g. the embedded server object against a real cluster).</summary>
public sealed class FixtureUnavailableException(string message) : Exception(message);

/// <summary>
/// Starts an embedded API server on a free port in a temporary state directory for a test class or collection.
/// When KCM_TEST_KUBECONFIG is set, no server is started and that cluster is used instead: the same HttpClient,
/// kubeconfig and CA are exposed, and the CA key and service-account signing key come from KCM_TEST_CA_KEY and
/// KCM_TEST_SA_KEY (a real cluster's kubeconfig does not carry them).
/// </summary>
public class EmbeddedServerFixture : IAsyncLifetime
{
    public const string KubeconfigVariable = "KCM_TEST_KUBECONFIG";
    public const string CaKeyVariable = "KCM_TEST_CA_KEY";
    public const string ServiceAccountKeyVariable = "KCM_TEST_SA_KEY";

    private EmbeddedApiServer? _server;
    private ClientConfig? _externalConfig;
    private HttpClient? _client;
    private string? _tempDirectory;
    private string _caPath = "";

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

    /// <summary>The cluster CA certificate (PEM file): the embedded server's ca.pem, or the kubeconfig's CA written out.</summary>
    public string CaPath => _caPath;

    /// <summary>The cluster CA's private key (the guides' --cluster-signing-key-file): ca-key.pem, or $KCM_TEST_CA_KEY.</summary>
    public string CaKeyPath => UsesExternalCluster
        ? ExternalFile(CaKeyVariable, "the cluster CA's private key")
        : Path.Combine(StateDirectory, "ca-key.pem");

    /// <summary>
    /// The private key whose public half the server verifies service-account tokens with (--service-account-private-key-file):
    /// the embedded server's ca-key.pem (it verifies with ca.pem unless configured otherwise), or $KCM_TEST_SA_KEY.
    /// </summary>
    public string ServiceAccountKeyPath => UsesExternalCluster
        ? ExternalFile(ServiceAccountKeyVariable, "the service-account signing key")
        : Path.Combine(StateDirectory, "ca-key.pem");

    /// <summary>An HttpClient that presents the admin credentials and trusts only the cluster CA.</summary>
    public HttpClient HttpClient => _client ?? throw new InvalidOperationException("fixture not initialized");

    public async Task InitializeAsync()
    {
        var external = Environment.GetEnvironmentVariable(KubeconfigVariable);
        _tempDirectory = Path.Combine(Path.GetTempPath(), "kcm-test-" + Guid.NewGuid().ToString("N")[..12]);
        if (!string.IsNullOrEmpty(external))
        {
            UsesExternalCluster = true;
            AdminKubeconfigPath = Path.GetFullPath(external);
            _externalConfig = KubeconfigLoader.LoadFromFile(AdminKubeconfigPath);
            Url = _externalConfig.Server;
            Directory.CreateDirectory(_tempDirectory);
            _caPath = Path.Combine(_tempDirectory, "ca.pem");
            await File.WriteAllTextAsync(_caPath, string.Concat(_externalConfig.CertificateAuthorities.Select(c => c.ExportCertificatePem() + "\n")));
            _client = NewHttpClient();
            return;
        }
        var options = new EmbeddedApiServerOptions { StateDirectory = _tempDirectory, SecurePort = 0 };
        Configure(options);
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        _server = await EmbeddedApiServer.StartAsync(options, LoggerFactory, cts.Token);
        Url = _server.Url;
        AdminKubeconfigPath = _server.AdminKubeconfigPath;
        _caPath = Path.Combine(_server.StateDirectory, "ca.pem");
        _client = NewHttpClient();
    }

    /// <summary>
    /// A new HttpClient for this server that trusts the cluster CA: with the admin credentials, with
    /// <paramref name="clientCertificate"/> instead, or anonymous when <paramref name="withCredentials"/> is false.
    /// </summary>
    public HttpClient NewHttpClient(bool withCredentials = true, X509Certificate2? clientCertificate = null)
    {
        if (_externalConfig is null) return CreateHttpClient(StateDirectory, Url, withCredentials, clientCertificate);
        var config = withCredentials && clientCertificate is null
            ? _externalConfig
            : _externalConfig with { ClientCertificate = clientCertificate, BearerToken = null, BearerTokenFile = null, Username = null, Password = null };
        var client = new HttpClient(KubeHttpHandlerFactory.Create(config))
        {
            BaseAddress = config.Server, Timeout = TimeSpan.FromSeconds(60), DefaultRequestVersion = HttpVersion.Version11,
        };
        if (config.BearerToken is { Length: > 0 } token) client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", token);
        return client;
    }

    /// <summary>A directory private to this fixture (the embedded server's state directory), removed with it.</summary>
    public string ScratchDirectory => _tempDirectory ?? throw new InvalidOperationException("fixture not initialized");

    /// <summary>
    /// Writes ScratchDirectory/<paramref name="fileBase"/>.pem, -key.pem and .kubeconfig: a client certificate from the
    /// cluster CA for <paramref name="user"/> in <paramref name="groups"/>, and a kubeconfig using it. Returns the kubeconfig path.
    /// </summary>
    public string WriteUserKubeconfig(string fileBase, string user, params string[] groups)
    {
        using var certificate = TestCertificates.IssueClientCertificate(CaPath, CaKeyPath, user, groups);
        var certPath = Path.Combine(ScratchDirectory, fileBase + ".pem");
        var keyPath = Path.Combine(ScratchDirectory, fileBase + "-key.pem");
        File.WriteAllText(certPath, certificate.ExportCertificatePem() + "\n");
        using (var key = certificate.GetECDsaPrivateKey()!) File.WriteAllText(keyPath, key.ExportPkcs8PrivateKeyPem() + "\n");
        var kubeconfig = Path.Combine(ScratchDirectory, fileBase + ".kubeconfig");
        File.WriteAllText(kubeconfig, $$"""
            apiVersion: v1
            kind: Config
            clusters:
            - name: cluster
              cluster: {server: "{{Url.ToString().TrimEnd('/')}}", certificate-authority: "{{CaPath}}"}
            users:
            - name: {{fileBase}}
              user: {client-certificate: "{{certPath}}", client-key: "{{keyPath}}"}
            contexts:
            - name: {{fileBase}}
              context: {cluster: cluster, user: {{fileBase}}}
            current-context: {{fileBase}}

            """);
        return kubeconfig;
    }

    /// <summary>An HttpClient for the server whose certificates are in <paramref name="stateDirectory"/>; null client cert = anonymous.</summary>
    public static HttpClient CreateHttpClient(string stateDirectory, Uri baseAddress, bool withClientCertificate = true, X509Certificate2? clientCertificate = null)
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
        if (clientCertificate is not null)
        {
            handler.SslOptions.ClientCertificates = new X509CertificateCollection { clientCertificate };
        }
        else if (withClientCertificate)
        {
            var admin = X509Certificate2.CreateFromPemFile(Path.Combine(stateDirectory, "admin.pem"), Path.Combine(stateDirectory, "admin-key.pem"));
            handler.SslOptions.ClientCertificates = new X509CertificateCollection { admin };
        }
        return new HttpClient(handler) { BaseAddress = baseAddress, Timeout = TimeSpan.FromSeconds(60), DefaultRequestVersion = HttpVersion.Version11 };
    }

    private static string ExternalFile(string variable, string what)
    {
        var path = Environment.GetEnvironmentVariable(variable);
        if (string.IsNullOrEmpty(path))
        {
            throw new FixtureUnavailableException($"{KubeconfigVariable} points the suite at an external cluster; set {variable} to {what} (PEM file)");
        }
        return Path.GetFullPath(path);
    }

    public async Task DisposeAsync()
    {
        _client?.Dispose();
        if (_server is not null) await _server.DisposeAsync();
        if (_tempDirectory is not null && Directory.Exists(_tempDirectory))
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

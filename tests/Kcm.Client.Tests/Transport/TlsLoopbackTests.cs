using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using Kcm.Api.Core.V1;
using Kcm.Client.Config;
using Kcm.Client.Tests.Support;

namespace Kcm.Client.Tests.Transport;

/// <summary>Real TLS handshakes on loopback: CA-bundle-only trust, SAN checks, tls-server-name and client certificates.</summary>
public sealed class TlsLoopbackTests : IDisposable
{
    private readonly TestPki _pki = new();
    private readonly TestPki _otherPki = new("unrelated-ca");

    private sealed class TlsServer : IAsyncDisposable
    {
        private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
        private readonly X509Certificate2 _certificate;
        private readonly CancellationTokenSource _stop = new();
        private readonly Task _loop;

        public TlsServer(X509Certificate2 certificate)
        {
            _certificate = certificate;
            _listener.Start();
            _loop = Task.Run(AcceptLoopAsync);
        }

        public Uri Url => new($"https://127.0.0.1:{((IPEndPoint)_listener.LocalEndpoint).Port}");

        private async Task AcceptLoopAsync()
        {
            while (!_stop.IsCancellationRequested)
            {
                TcpClient tcp;
                try
                {
                    tcp = await _listener.AcceptTcpClientAsync(_stop.Token);
                }
                catch (Exception ex) when (ex is OperationCanceledException or SocketException or ObjectDisposedException)
                {
                    return;
                }
                _ = Task.Run(() => ServeAsync(tcp));
            }
        }

        private async Task ServeAsync(TcpClient tcp)
        {
            using (tcp)
            {
                try
                {
                    await using var ssl = new SslStream(tcp.GetStream());
                    await ssl.AuthenticateAsServerAsync(new SslServerAuthenticationOptions
                    {
                        ServerCertificate = _certificate,
                        ClientCertificateRequired = true,
                        RemoteCertificateValidationCallback = (_, _, _, _) => true,
                    }, _stop.Token);
                    var buffer = new byte[8192];
                    var received = new StringBuilder();
                    while (!received.ToString().Contains("\r\n\r\n", StringComparison.Ordinal))
                    {
                        var read = await ssl.ReadAsync(buffer, _stop.Token);
                        if (read == 0)
                        {
                            return;
                        }
                        received.Append(Encoding.ASCII.GetString(buffer, 0, read));
                    }
                    var subject = ssl.RemoteCertificate is X509Certificate2 client ? client.GetNameInfo(X509NameType.SimpleName, false) : "anonymous";
                    var body = "{\"kind\":\"Pod\",\"apiVersion\":\"v1\",\"metadata\":{\"name\":\"" + subject + "\"}}";
                    var response = $"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {Encoding.UTF8.GetByteCount(body)}\r\nConnection: close\r\n\r\n{body}";
                    await ssl.WriteAsync(Encoding.UTF8.GetBytes(response), _stop.Token);
                    await ssl.FlushAsync(_stop.Token);
                }
                catch (Exception ex) when (ex is IOException or System.Security.Authentication.AuthenticationException or OperationCanceledException)
                {
                    // The client refused our certificate: that is what some tests want.
                }
            }
        }

        public async ValueTask DisposeAsync()
        {
            await _stop.CancelAsync();
            _listener.Stop();
            await _loop;
            _stop.Dispose();
        }
    }

    private X509Certificate2 ServerCertificate(string[] dnsNames, IPAddress[] ips)
    {
        var pair = _pki.Issue("kube-apiserver", KeyPemFormat.EcSec1, server: true, dnsNames, ips);
        return PemLoader.LoadClientCertificate(pair.CertificatePem, pair.KeyPem);
    }

    private static async Task<string?> GetPodNameAsync(ClientConfig config)
    {
        using var client = new KubeApiClient(config, new KubeClientOptions { RateLimiter = new Kcm.Client.Flowcontrol.UnlimitedRateLimiter() });
        var pod = await client.GetAsync<Pod>("ns", "p");
        return pod.Metadata?.Name;
    }

    [Theory(Timeout = 30000)]
    [InlineData(KeyPemFormat.RsaPkcs1)]
    [InlineData(KeyPemFormat.EcSec1)]
    [InlineData(KeyPemFormat.RsaPkcs8)]
    public async Task GetAsync_TrustedCaAndClientCertificate_HandshakeSucceedsAndServerSeesClient(KeyPemFormat keyFormat)
    {
        await using var server = new TlsServer(ServerCertificate(["localhost"], [IPAddress.Loopback]));
        var client = _pki.Issue("system:kube-controller-manager", keyFormat, server: false);
        using var dir = new TempDirectory();
        var kubeconfig = dir.Write("kubeconfig", $"""
            apiVersion: v1
            kind: Config
            clusters:
            - name: local
              cluster:
                server: {server.Url}
                certificate-authority-data: {Convert.ToBase64String(Encoding.UTF8.GetBytes(_pki.CaPem))}
            users:
            - name: kcm
              user:
                client-certificate-data: {Convert.ToBase64String(Encoding.UTF8.GetBytes(client.CertificatePem))}
                client-key-data: {Convert.ToBase64String(Encoding.UTF8.GetBytes(client.KeyPem))}
            contexts:
            - name: kcm@local
              context:
                cluster: local
                user: kcm
            current-context: kcm@local
            """);

        Assert.Equal("system:kube-controller-manager", await GetPodNameAsync(KubeconfigLoader.LoadFromFile(kubeconfig)));
    }

    [Fact(Timeout = 30000)]
    public async Task GetAsync_ServerSignedByOtherCa_Rejected()
    {
        await using var server = new TlsServer(ServerCertificate([], [IPAddress.Loopback]));
        var config = new ClientConfig { Server = server.Url, CertificateAuthorities = [_otherPki.Ca] };

        await Assert.ThrowsAsync<HttpRequestException>(() => GetPodNameAsync(config));
    }

    [Fact(Timeout = 30000)]
    public async Task GetAsync_SanDoesNotMatchHost_RejectedUnlessTlsServerNameMatches()
    {
        await using var server = new TlsServer(ServerCertificate(["kubernetes.default.svc"], []));
        var config = new ClientConfig { Server = server.Url, CertificateAuthorities = [_pki.Ca] };

        await Assert.ThrowsAsync<HttpRequestException>(() => GetPodNameAsync(config));
        Assert.Equal("anonymous", await GetPodNameAsync(config with { TlsServerName = "kubernetes.default.svc" }));
    }

    [Fact(Timeout = 30000)]
    public async Task GetAsync_InsecureSkipVerify_AcceptsUntrustedServer()
    {
        await using var server = new TlsServer(ServerCertificate([], []));
        var config = new ClientConfig { Server = server.Url, InsecureSkipTlsVerify = true };

        Assert.Equal("anonymous", await GetPodNameAsync(config));
    }

    public void Dispose()
    {
        _pki.Dispose();
        _otherPki.Dispose();
    }
}

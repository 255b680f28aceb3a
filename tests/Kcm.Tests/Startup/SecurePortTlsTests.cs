using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Authentication;
using Kcm.Tests.Commands;

namespace Kcm.Tests.Startup;

/// <summary>
/// --tls-min-version and --tls-cipher-suites on the real process's secure port, checked with a TLS client as
/// `openssl s_client` would: a refused version gets no handshake, and TLS 1.2 offers only the listed suites.
/// </summary>
public sealed class SecurePortTlsTests : IDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "kcm-tls-" + Guid.NewGuid().ToString("N")[..8]);

    public SecurePortTlsTests()
    {
        Directory.CreateDirectory(_dir);
        var (ca, key) = BadStartupInputs.SelfSigned("kcm-test-ca", ca: true);
        using (key)
        using (ca)
        {
            File.WriteAllText(Path.Combine(_dir, "kubeconfig"), BadStartupInputs.KubeconfigFor("https://127.0.0.1:1", ca));
        }
    }

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact(Timeout = 180_000)]
    public async Task SecurePort_MinVersionTls13_RefusesTls12Handshake()
    {
        var (process, port) = await StartManagerAsync("--tls-min-version=VersionTLS13");
        await using (process)
        {
            var refused = await Record.ExceptionAsync(() => HandshakeAsync(port, SslProtocols.Tls12));
            Assert.True(refused is AuthenticationException or IOException, $"TLS 1.2 was not refused: {refused}");

            await using var tls13 = await HandshakeAsync(port, SslProtocols.Tls13);
            Assert.Equal(SslProtocols.Tls13, tls13.SslProtocol);
        }
    }

    [Fact(Timeout = 180_000)]
    public async Task SecurePort_CipherSuites_Tls12NegotiatesOnlyTheListedSuite()
    {
        var (process, port) = await StartManagerAsync("--tls-cipher-suites=TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256");
        await using (process)
        {
            // A client offering everything still gets the one suite listed (OpenSSL would otherwise pick AES-256).
            await using (var tls12 = await HandshakeAsync(port, SslProtocols.Tls12))
            {
                Assert.Equal(TlsCipherSuite.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256, tls12.NegotiatedCipherSuite);
            }

            var refused = await Record.ExceptionAsync(() => HandshakeAsync(port, SslProtocols.Tls12, TlsCipherSuite.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384));
            Assert.True(refused is AuthenticationException or IOException, $"an unlisted suite was negotiated: {refused}");

            // As Go: TLS 1.3 suites are not configurable, so TLS 1.3 clients are unaffected.
            await using var tls13 = await HandshakeAsync(port, SslProtocols.Tls13);
            Assert.Equal(SslProtocols.Tls13, tls13.SslProtocol);
        }
    }

    private async Task<(KcmProcess Process, int Port)> StartManagerAsync(string tlsFlag)
    {
        var port = FreePort();
        var process = await KcmProcess.StartAsync(
            "--kubeconfig", Path.Combine(_dir, "kubeconfig"), "--leader-elect=false", "--controllers=csrsigning",
            "--bind-address=127.0.0.1", $"--secure-port={port}", "--cert-dir", _dir, tlsFlag);
        await process.WaitForOutputAsync("Serving securely on");
        return (process, port);
    }

    private static int FreePort()
    {
        var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();
        return port;
    }

    private static async Task<SslStream> HandshakeAsync(int port, SslProtocols protocols, params TlsCipherSuite[] suites)
    {
        var tcp = new TcpClient();
        await tcp.ConnectAsync(IPAddress.Loopback, port);
        var tls = new SslStream(tcp.GetStream(), leaveInnerStreamOpen: false, (_, _, _, _) => true);
        var options = new SslClientAuthenticationOptions { TargetHost = "localhost", EnabledSslProtocols = protocols };
        if (suites.Length > 0 && !OperatingSystem.IsWindows()) options.CipherSuitesPolicy = new CipherSuitesPolicy(suites);
        try
        {
            await tls.AuthenticateAsClientAsync(options);
            return tls;
        }
        catch
        {
            await tls.DisposeAsync();
            tcp.Dispose();
            throw;
        }
    }
}

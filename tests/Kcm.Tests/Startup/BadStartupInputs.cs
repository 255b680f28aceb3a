using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Kcm.Tests.Commands;

namespace Kcm.Tests.Startup;

/// <summary>
/// The bad inputs of issue 21, generated once in a temporary directory: broken PEM files of every kind, a
/// kubeconfig for an API server that is never reached, and a TLS server whose certificate the delegated
/// authentication kubeconfig does not trust. <see cref="RunAsync"/> starts the real binary for every case at
/// once (a few at a time) and keeps each result for the test of that case.
/// </summary>
public sealed class BadStartupInputs : IAsyncLifetime
{
    private readonly Lazy<Task<IReadOnlyDictionary<string, CaseResult>>> _results;
    private TcpListener? _untrustedServer;
    private TcpListener? _busyPort;
    private CancellationTokenSource? _stop;

    public BadStartupInputs()
    {
        _results = new(RunAllAsync);
    }

    public string Dir { get; } = Path.Combine(Path.GetTempPath(), "kcm-startup-" + Guid.NewGuid().ToString("N")[..8]);

    public string CaCert => Path.Combine(Dir, "ca.pem");

    public string CaKey => Path.Combine(Dir, "ca-key.pem");

    public string Kubeconfig => Path.Combine(Dir, "kubeconfig");

    public string File(string name) => Path.Combine(Dir, name);

    public int BusyPort => ((IPEndPoint)_busyPort!.LocalEndpoint).Port;

    public record CaseResult(int ExitCode, string Stderr);

    public Task<IReadOnlyDictionary<string, CaseResult>> ResultsAsync => _results.Value;

    public async Task InitializeAsync()
    {
        Directory.CreateDirectory(Dir);
        var (ca, caKey) = SelfSigned("kcm-test-ca", ca: true);
        await System.IO.File.WriteAllTextAsync(CaCert, ca.ExportCertificatePem() + "\n");
        await System.IO.File.WriteAllTextAsync(CaKey, caKey.ExportPkcs8PrivateKeyPem() + "\n");
        using var other = RSA.Create(2048);
        await System.IO.File.WriteAllTextAsync(File("other-key.pem"), other.ExportRSAPrivateKeyPem() + "\n");
        await System.IO.File.WriteAllTextAsync(File("public-key.pem"), caKey.ExportSubjectPublicKeyInfoPem() + "\n");
        await System.IO.File.WriteAllBytesAsync(File("empty.pem"), []);
        await System.IO.File.WriteAllTextAsync(File("garbage.pem"), "this is not a pem file\n");
        await System.IO.File.WriteAllBytesAsync(File("ca.der"), ca.RawData);
        var pem = ca.ExportCertificatePem();
        await System.IO.File.WriteAllTextAsync(File("truncated.pem"), pem[..(pem.Length / 2)]);
        await System.IO.File.WriteAllTextAsync(File("wrong-label.pem"), pem.Replace("CERTIFICATE", "FOO BAR", StringComparison.Ordinal));
        await System.IO.File.WriteAllBytesAsync(File("random.bin"), RandomNumberGenerator.GetBytes(5 * 1024 * 1024));
        await System.IO.File.WriteAllTextAsync(Kubeconfig, KubeconfigFor("https://127.0.0.1:1", ca));

        // A TLS server with a certificate the authentication kubeconfig's CA did not sign.
        var (serverCert, serverKey) = SelfSigned("untrusted-apiserver", ca: false);
        using (serverKey)
        {
            var serving = X509CertificateLoader.LoadPkcs12(serverCert.Export(X509ContentType.Pkcs12), null);
            _stop = new CancellationTokenSource();
            _untrustedServer = new TcpListener(IPAddress.Loopback, 0);
            _untrustedServer.Start();
            _ = ServeTlsAsync(_untrustedServer, serving, _stop.Token);
        }
        var untrustedPort = ((IPEndPoint)_untrustedServer.LocalEndpoint).Port;
        await System.IO.File.WriteAllTextAsync(File("wrong-ca.kubeconfig"), KubeconfigFor($"https://127.0.0.1:{untrustedPort}", ca));

        _busyPort = new TcpListener(IPAddress.Loopback, 0);
        _busyPort.Start();
    }

    public async Task DisposeAsync()
    {
        if (_results.IsValueCreated)
        {
            try
            {
                await _results.Value;
            }
            catch (Exception)
            {
                // Reported by the tests themselves.
            }
        }
        _stop?.Cancel();
        _untrustedServer?.Stop();
        _busyPort?.Stop();
        Directory.Delete(Dir, recursive: true);
    }

    private async Task<IReadOnlyDictionary<string, CaseResult>> RunAllAsync()
    {
        using var slots = new SemaphoreSlim(4);
        var runs = StartupInputCases.All(this).Select(async c =>
        {
            await slots.WaitAsync();
            try
            {
                await using var process = await KcmProcess.StartAsync(c.Args);
                var exit = await process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(90));
                return (c.Name, Result: new CaseResult(exit, process.Stderr));
            }
            finally
            {
                slots.Release();
            }
        });
        return (await Task.WhenAll(runs)).ToDictionary(r => r.Name, r => r.Result);
    }

    internal static (X509Certificate2 Cert, RSA Key) SelfSigned(string commonName, bool ca)
    {
        var key = RSA.Create(2048);
        var request = new CertificateRequest($"CN={commonName}", key, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        if (ca) request.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
        var san = new SubjectAlternativeNameBuilder();
        san.AddIpAddress(IPAddress.Loopback);
        request.CertificateExtensions.Add(san.Build());
        var now = DateTimeOffset.UtcNow;
        return (request.CreateSelfSigned(now.AddMinutes(-5), now.AddDays(1)), key);
    }

    internal static string KubeconfigFor(string server, X509Certificate2 ca) => $"""
        apiVersion: v1
        kind: Config
        clusters:
        - name: test
          cluster:
            server: {server}
            certificate-authority-data: {Convert.ToBase64String(System.Text.Encoding.ASCII.GetBytes(ca.ExportCertificatePem()))}
        users:
        - name: test
          user:
            token: not-a-real-token
        contexts:
        - name: test
          context:
            cluster: test
            user: test
        current-context: test
        """;

    private static async Task ServeTlsAsync(TcpListener listener, X509Certificate2 certificate, CancellationToken ct)
    {
        while (!ct.IsCancellationRequested)
        {
            TcpClient client;
            try
            {
                client = await listener.AcceptTcpClientAsync(ct);
            }
            catch (Exception e) when (e is OperationCanceledException or SocketException or ObjectDisposedException)
            {
                return;
            }
            _ = Task.Run(async () =>
            {
                using (client)
                {
                    try
                    {
                        await using var tls = new SslStream(client.GetStream());
                        await tls.AuthenticateAsServerAsync(new SslServerAuthenticationOptions { ServerCertificate = certificate }, ct);
                        _ = await tls.ReadAsync(new byte[1], ct);
                    }
                    catch (Exception e) when (e is IOException or System.Security.Authentication.AuthenticationException or OperationCanceledException or ObjectDisposedException)
                    {
                        // The client gives up on the certificate, as intended.
                    }
                }
            }, CancellationToken.None);
        }
    }
}

using System.Net;
using System.Security.Cryptography.X509Certificates;
using Kcm.ApiServer.Certificates;
using Kcm.ApiServer.Hosting;
using Kcm.Testing;
using Microsoft.Extensions.Logging.Abstractions;

namespace Kcm.ApiServer.Tests;

public sealed class CertificateTests : IDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "kcm-cert-" + Guid.NewGuid().ToString("N")[..10]);

    public void Dispose()
    {
        if (Directory.Exists(_dir)) Directory.Delete(_dir, recursive: true);
    }

    private Task<EmbeddedApiServer> StartAsync() =>
        EmbeddedApiServer.StartAsync(new EmbeddedApiServerOptions { StateDirectory = _dir, SecurePort = 0 }, NullLoggerFactory.Instance, CancellationToken.None);

    [Fact(Timeout = 60000)]
    public async Task Start_Twice_WritesAndReusesCertificatesAndKubeconfig()
    {
        string caPem;
        string kubeconfig;
        int firstPort;
        await using (var server = await StartAsync())
        {
            firstPort = server.Port;
            caPem = await File.ReadAllTextAsync(Path.Combine(_dir, "ca.pem"));
            Assert.StartsWith("-----BEGIN RSA PRIVATE KEY-----", await File.ReadAllTextAsync(Path.Combine(_dir, "ca-key.pem")));
            using var ca = X509Certificate2.CreateFromPem(caPem);
            Assert.Equal("kubernetes", ca.GetNameInfo(X509NameType.SimpleName, false));
            using var serving = X509Certificate2.CreateFromPem(await File.ReadAllTextAsync(Path.Combine(_dir, "kubernetes.pem")));
            var san = serving.Extensions.OfType<X509SubjectAlternativeNameExtension>().Single();
            Assert.Contains("kubernetes.default.svc.cluster.local", san.EnumerateDnsNames());
            Assert.Contains(IPAddress.Loopback, san.EnumerateIPAddresses());
            using var admin = X509Certificate2.CreateFromPem(await File.ReadAllTextAsync(Path.Combine(_dir, "admin.pem")));
            Assert.Contains("O=system:masters", admin.Subject);
            if (!OperatingSystem.IsWindows())
            {
                Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(Path.Combine(_dir, "admin-key.pem")));
                Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(server.AdminKubeconfigPath));
            }
            kubeconfig = await File.ReadAllTextAsync(server.AdminKubeconfigPath);
            Assert.StartsWith("apiVersion: v1\nclusters:\n- cluster:\n    certificate-authority-data: ", kubeconfig);
            Assert.Contains($"    server: https://127.0.0.1:{server.Port}\n  name: kubernetes\ncontexts:\n- context:\n    cluster: kubernetes\n    user: admin\n  name: kubernetes\ncurrent-context: kubernetes\nkind: Config\npreferences: {{}}\nusers:\n- name: admin\n  user:\n    client-certificate-data: ", kubeconfig);
            using var client = EmbeddedServerFixture.CreateHttpClient(_dir, server.Url);
            Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/healthz")).StatusCode);
        }

        await using (var again = await StartAsync())
        {
            Assert.Equal(caPem, await File.ReadAllTextAsync(Path.Combine(_dir, "ca.pem")));
            var rewritten = await File.ReadAllTextAsync(again.AdminKubeconfigPath);
            Assert.Contains($"server: https://127.0.0.1:{again.Port}\n", rewritten);
            if (again.Port == firstPort) Assert.Equal(kubeconfig, rewritten);
        }
    }

    [Fact(Timeout = 60000)]
    public async Task Start_MalformedCa_FailsNamingFile()
    {
        Directory.CreateDirectory(_dir);
        await File.WriteAllTextAsync(Path.Combine(_dir, "ca.pem"), "garbage");
        await File.WriteAllTextAsync(Path.Combine(_dir, "ca-key.pem"), "garbage");
        var e = await Assert.ThrowsAsync<CertificateFileException>(StartAsync);
        Assert.Contains("ca.pem", e.Message);
        Assert.DoesNotContain("\n", e.Message);
    }
}

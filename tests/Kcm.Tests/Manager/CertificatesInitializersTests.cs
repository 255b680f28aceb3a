using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Kcm.Client;
using Kcm.Client.Config;
using Kcm.Controllers;
using Kcm.Controllers.Clients;
using Kcm.Controllers.Certificates;
using Kcm.Manager;
using Kcm.Options;
using Kcm.Runtime.Events;
using Kcm.Runtime.Informers;
using Kcm.Runtime.Queues;
using Microsoft.Extensions.Logging.Abstractions;

namespace Kcm.Tests.Manager;

public sealed class CertificatesInitializersTests : IDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "kcm-init-" + Guid.NewGuid().ToString("N")[..8]);
    private readonly KubeApiClient _client = new(new ClientConfig { Server = new Uri("https://127.0.0.1:1") });

    public void Dispose()
    {
        _client.Dispose();
        if (Directory.Exists(_dir)) Directory.Delete(_dir, recursive: true);
    }

    // Constructors do no I/O, so an unreachable server is enough to build the controllers.
    private ControllerContext Context() => new()
    {
        Clients = new SharedClients(_client),
        Informers = new SharedInformerFactory(_client),
        Events = new EventBroadcaster(_client, NullLoggerFactory.Instance),
        QueueMetrics = NoopWorkQueueMetricsProvider.Instance,
        Loggers = NullLoggerFactory.Instance,
    };

    private (string Cert, string Key) WriteCa()
    {
        Directory.CreateDirectory(_dir);
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest("CN=test-ca", key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
        using var cert = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddYears(1));
        var certFile = Path.Combine(_dir, "ca.pem");
        var keyFile = Path.Combine(_dir, "ca-key.pem");
        File.WriteAllText(certFile, cert.ExportCertificatePem());
        File.WriteAllText(keyFile, key.ExportECPrivateKeyPem());
        return (certFile, keyFile);
    }

    [Fact]
    public void Signing_NoSigningFiles_NotStarted()
    {
        var options = KubeControllerManagerOptions.Parse([]);

        Assert.Null(CertificatesInitializers.Signing(Context(), options));
    }

    [Fact]
    public void Signing_ClusterSigningPair_Started()
    {
        var (cert, key) = WriteCa();
        var options = KubeControllerManagerOptions.Parse([$"--cluster-signing-cert-file={cert}", $"--cluster-signing-key-file={key}"]);

        Assert.NotNull(CertificatesInitializers.Signing(Context(), options));
    }

    [Fact]
    public void Signing_PerSignerPairOnly_Started()
    {
        var (cert, key) = WriteCa();
        var options = KubeControllerManagerOptions.Parse([$"--cluster-signing-kubelet-client-cert-file={cert}", $"--cluster-signing-kubelet-client-key-file={key}"]);

        Assert.NotNull(CertificatesInitializers.Signing(Context(), options));
    }

    [Fact]
    public void Signing_MissingCaFile_FailsToStartNamingTheSigner()
    {
        var options = KubeControllerManagerOptions.Parse([$"--cluster-signing-cert-file={Path.Combine(_dir, "nope.pem")}", $"--cluster-signing-key-file={Path.Combine(_dir, "nope-key.pem")}"]);

        var e = Assert.Throws<SigningCaLoadException>(() => CertificatesInitializers.Signing(Context(), options));
        Assert.StartsWith("failed to start kubernetes.io/kubelet-serving certificate controller", e.Message);
    }

    [Fact]
    public void Registry_CertificateControllers_Registered()
    {
        Assert.Equal(CertificateDescriptors.Signing, ControllerRegistry.Find("csrsigning")?.Descriptor);
        Assert.Equal(CertificateDescriptors.Approving, ControllerRegistry.Find("csrapproving")?.Descriptor);
        Assert.Equal(CertificateDescriptors.Cleaning, ControllerRegistry.Find("csrcleaner")?.Descriptor);
    }

    [Fact]
    public void Parse_DeprecatedApproveAllFlag_StillAccepted()
    {
        var options = KubeControllerManagerOptions.Parse(["--insecure-experimental-approve-all-kubelet-csrs-for-group=system:bootstrappers"]);

        Assert.Empty(options.Validate());
        Assert.Contains(options.Warnings, w => w.Contains("insecure-experimental-approve-all-kubelet-csrs-for-group", StringComparison.Ordinal));
    }
}

using System.Text;
using Kcm.Api.Core.V1;
using Kcm.Api.Meta.V1;
using Kcm.Client.Errors;
using Kcm.Controllers.RootCaCertPublisher;
using Kcm.Controllers.Tests.Support;
using Kcm.Testing;
using Publisher = Kcm.Controllers.RootCaCertPublisher.RootCaCertPublisher;

namespace Kcm.Controllers.Tests.RootCaCertPublisher;

public sealed class RootCaCertPublisherTests(EmbeddedServerFixture fixture) : IClassFixture<EmbeddedServerFixture>
{
    [Fact(Timeout = 60_000)]
    public async Task Run_NewNamespace_GetsConfigMapRestoredAfterEditAndDelete()
    {
        // Unthrottled: the publisher first fills every namespace of a shared cluster, which at 5 QPS takes longer than the wait.
        await using var host = new ControllerTestHost(fixture, unthrottled: true);
        // The CA the client trusts, as the publisher uses without --root-ca-file (and what a real cluster publishes).
        var rootCa = RootCaBundle.FromClientConfig(host.Client.Config);
        var expected = Encoding.UTF8.GetString(rootCa);
        Assert.StartsWith("-----BEGIN CERTIFICATE-----", expected);
        var publisher = new Publisher(host.Context, rootCa);
        host.Start(publisher.RunAsync);

        var ns = (await host.Client.CreateAsync(new Namespace { Metadata = new ObjectMeta { GenerateName = "rootca-" } })).Metadata!.Name!;
        var cm = await Eventually.GetAsync("kube-root-ca.crt published", () => TryGetAsync(host, ns));
        Assert.Equal(new Dictionary<string, string> { ["ca.crt"] = expected }, cm.Data);
        Assert.Equal(Publisher.Description, cm.Metadata!.Annotations!["kubernetes.io/description"]);

        cm.Data!["ca.crt"] = "tampered";
        cm.Data["extra"] = "x";
        cm.Metadata.Annotations.Remove("kubernetes.io/description");
        await host.Client.UpdateAsync(cm);
        var restored = await Eventually.GetAsync("edit reverted", async () =>
            await TryGetAsync(host, ns) is { } c && c.Data!.Count == 1 && c.Data["ca.crt"] == expected ? c : null);
        Assert.Equal(Publisher.Description, restored.Metadata!.Annotations!["kubernetes.io/description"]);

        await host.Client.DeleteAsync<ConfigMap>(ns, Publisher.ConfigMapName);
        var recreated = await Eventually.GetAsync("deleted ConfigMap recreated", async () =>
            await TryGetAsync(host, ns) is { } c && c.Metadata!.Uid != cm.Metadata.Uid ? c : null);
        Assert.Equal(expected, recreated.Data!["ca.crt"]);
    }

    [Fact]
    public void ReadFile_NotCertificates_OneLineError()
    {
        var path = Path.Combine(Path.GetTempPath(), "kcm-bad-ca-" + Guid.NewGuid().ToString("N") + ".pem");
        File.WriteAllText(path, "not a certificate\n");
        try
        {
            var error = Assert.Throws<RootCaFileException>(() => RootCaBundle.ReadFile(path));
            Assert.Equal($"error parsing root-ca-file at {path}: data does not contain any valid RSA or ECDSA certificates", error.Message);
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void ReadFile_CertificateBundle_ReturnedVerbatim()
    {
        var path = Path.Combine(Path.GetTempPath(), "kcm-ca-" + Guid.NewGuid().ToString("N") + ".pem");
        using var key = System.Security.Cryptography.RSA.Create(2048);
        var request = new System.Security.Cryptography.X509Certificates.CertificateRequest("CN=test-ca", key,
            System.Security.Cryptography.HashAlgorithmName.SHA256, System.Security.Cryptography.RSASignaturePadding.Pkcs1);
        using var cert = request.CreateSelfSigned(DateTimeOffset.UtcNow, DateTimeOffset.UtcNow.AddDays(1));
        var content = "# comment kept\n" + cert.ExportCertificatePem() + "\n";
        File.WriteAllText(path, content);
        try
        {
            Assert.Equal(Encoding.UTF8.GetBytes(content), RootCaBundle.ReadFile(path));
        }
        finally
        {
            File.Delete(path);
        }
    }

    private static async Task<ConfigMap?> TryGetAsync(ControllerTestHost host, string ns)
    {
        try
        {
            return await host.Client.GetAsync<ConfigMap>(ns, Publisher.ConfigMapName);
        }
        catch (NotFoundException)
        {
            return null;
        }
    }
}

using System.Security.Cryptography.X509Certificates;
using Kcm.Client.Config;
using Kcm.Client.Tests.Support;

namespace Kcm.Client.Tests.Config;

public sealed class PemLoaderTests : IDisposable
{
    private readonly TestPki _pki = new();

    [Theory]
    [InlineData(KeyPemFormat.RsaPkcs1, "RSA PRIVATE KEY")]
    [InlineData(KeyPemFormat.RsaPkcs8, "PRIVATE KEY")]
    [InlineData(KeyPemFormat.EcSec1, "EC PRIVATE KEY")]
    [InlineData(KeyPemFormat.EcPkcs8, "PRIVATE KEY")]
    public void LoadClientCertificate_EachKeyFormat_ReturnsCertificateWithUsableKey(KeyPemFormat format, string label)
    {
        var pair = _pki.Issue("client", format, server: false);
        Assert.StartsWith($"-----BEGIN {label}-----", pair.KeyPem);

        using var certificate = PemLoader.LoadClientCertificate(pair.CertificatePem, pair.KeyPem);

        Assert.True(certificate.HasPrivateKey);
        Assert.Equal(pair.Certificate.Thumbprint, certificate.Thumbprint);
        // The PKCS#12 round trip must leave a key that can sign, as the TLS handshake will.
        var data = new byte[] { 1, 2, 3 };
        if (format is KeyPemFormat.RsaPkcs1 or KeyPemFormat.RsaPkcs8)
        {
            using var rsa = certificate.GetRSAPrivateKey()!;
            Assert.NotEmpty(rsa.SignData(data, System.Security.Cryptography.HashAlgorithmName.SHA256, System.Security.Cryptography.RSASignaturePadding.Pkcs1));
        }
        else
        {
            using var ec = certificate.GetECDsaPrivateKey()!;
            Assert.NotEmpty(ec.SignData(data, System.Security.Cryptography.HashAlgorithmName.SHA256));
        }
    }

    [Fact]
    public void LoadClientCertificate_KeyOfAnotherCertificate_ThrowsFormatException()
    {
        var a = _pki.Issue("a", KeyPemFormat.EcSec1, server: false);
        var b = _pki.Issue("b", KeyPemFormat.EcSec1, server: false);

        Assert.Throws<FormatException>(() => PemLoader.LoadClientCertificate(a.CertificatePem, b.KeyPem));
    }

    [Fact]
    public void LoadCertificateBundle_SeveralCertificates_ReturnsAll()
    {
        using var other = new TestPki("other-ca");

        var bundle = PemLoader.LoadCertificateBundle(_pki.CaPem + "\n" + other.CaPem);

        Assert.Equal(2, bundle.Count);
    }

    public void Dispose() => _pki.Dispose();
}

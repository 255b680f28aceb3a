using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using Kcm.Api.Security;

namespace Kcm.Api.Tests.Security;

public class GoPemTests
{
    [Fact]
    public void X509KeyPair_EcdsaPairWithChainAndSec1Key_CarriesTheKey()
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        using var cert = new CertificateRequest("CN=ec", key, HashAlgorithmName.SHA256).CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(1));
        var chain = cert.ExportCertificatePem() + "\n" + cert.ExportCertificatePem() + "\n";

        using var pair = GoPem.X509KeyPair(Encoding.ASCII.GetBytes(chain), Encoding.ASCII.GetBytes(key.ExportECPrivateKeyPem()));

        Assert.True(pair.HasPrivateKey);
        Assert.Equal(cert.Thumbprint, pair.Thumbprint);
    }

    [Fact]
    public void X509KeyPair_RsaCertificateWithEcdsaKey_RefusedAsGoDoes()
    {
        using var rsa = RSA.Create(2048);
        using var cert = new CertificateRequest("CN=rsa", rsa, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1).CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(1));
        using var ec = ECDsa.Create(ECCurve.NamedCurves.nistP256);

        var e = Assert.Throws<FormatException>(() => GoPem.X509KeyPair(Encoding.ASCII.GetBytes(cert.ExportCertificatePem()), Encoding.ASCII.GetBytes(ec.ExportPkcs8PrivateKeyPem())));

        Assert.Equal("tls: private key type does not match public key type", e.Message);
    }

    [Fact]
    public void Decode_BlockWithHeadersAmongText_SkipsTextAndMalformedBlocks()
    {
        var text = "junk\n-----BEGIN A-----\nnot base64 !!\n-----END A-----\n-----BEGIN B-----\nProc-Type: 4,ENCRYPTED\n\nAQID\n-----END B-----\ntrailer";

        var block = Assert.Single(GoPem.Decode(Encoding.ASCII.GetBytes(text)));

        Assert.Equal("B", block.Type);
        Assert.Equal([1, 2, 3], block.Bytes);
    }

    [Fact]
    public void ParseCertificates_NoCertificateBlock_GoMessage()
        => Assert.Equal("data does not contain any valid RSA or ECDSA certificates",
            Assert.Throws<FormatException>(() => GoPem.ParseCertificates("-----BEGIN PUBLIC KEY-----\nAQID\n-----END PUBLIC KEY-----\n"u8)).Message);
}

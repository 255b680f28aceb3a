using System.Security.Cryptography;
using System.Text;
using Kcm.Api.Core.V1;
using Kcm.Api.Meta.V1;
using Kcm.Controllers.ServiceAccounts;

namespace Kcm.Controllers.Tests.ServiceAccounts;

public sealed class LegacyTokenGeneratorTests
{
    public enum KeyKind { RsaPkcs1, RsaPkcs8, EcSec1P256, EcPkcs8P384, EcSec1P521 }

    [Theory]
    [InlineData(KeyKind.RsaPkcs1, "RS256")]
    [InlineData(KeyKind.RsaPkcs8, "RS256")]
    [InlineData(KeyKind.EcSec1P256, "ES256")]
    [InlineData(KeyKind.EcPkcs8P384, "ES384")]
    [InlineData(KeyKind.EcSec1P521, "ES512")]
    public void GenerateToken_SupportedKey_SignedWithKidFromPublicKey(KeyKind kind, string algorithm)
    {
        var (pem, spki, verify) = CreateKey(kind);
        // Other PEM blocks before the key are skipped, as keyutil does (openssl writes EC PARAMETERS first).
        using var generator = LegacyTokenGenerator.FromPem("-----BEGIN EC PARAMETERS-----\nBggqhkjOPQMBBw==\n-----END EC PARAMETERS-----\n" + pem, "test");

        var token = generator.GenerateToken(
            new ServiceAccount { Metadata = new ObjectMeta { Namespace = "ns", Name = "sa", Uid = "uid-1" } },
            new Secret { Metadata = new ObjectMeta { Namespace = "ns", Name = "sa-token" } });

        var parts = token.Split('.');
        var kid = Convert.ToBase64String(SHA256.HashData(spki)).TrimEnd('=').Replace('+', '-').Replace('/', '_');
        Assert.Equal(kid, generator.KeyId);
        Assert.Equal("{\"alg\":\"" + algorithm + "\",\"kid\":\"" + kid + "\"}", Encoding.UTF8.GetString(TokensControllerTests.Base64UrlDecode(parts[0])));
        Assert.True(verify(Encoding.ASCII.GetBytes(parts[0] + "." + parts[1]), TokensControllerTests.Base64UrlDecode(parts[2])));
        Assert.Equal(
            "{\"iss\":\"kubernetes/serviceaccount\",\"kubernetes.io/serviceaccount/namespace\":\"ns\",\"kubernetes.io/serviceaccount/secret.name\":\"sa-token\"," +
            "\"kubernetes.io/serviceaccount/service-account.name\":\"sa\",\"kubernetes.io/serviceaccount/service-account.uid\":\"uid-1\",\"sub\":\"system:serviceaccount:ns:sa\"}",
            Encoding.UTF8.GetString(TokensControllerTests.Base64UrlDecode(parts[1])));
    }

    [Theory]
    [InlineData("", "data does not contain a valid RSA or ECDSA private key")]
    [InlineData("-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n", "data does not contain a valid RSA or ECDSA private key")]
    [InlineData("-----BEGIN RSA PRIVATE KEY-----\nAAAA\n-----END RSA PRIVATE KEY-----\n", "cannot parse RSA PRIVATE KEY")]
    [InlineData("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n", "cannot parse PRIVATE KEY")]
    public void FromPemFile_BadKey_OneLineError(string content, string expected)
    {
        var path = Path.Combine(Path.GetTempPath(), "kcm-bad-key-" + Guid.NewGuid().ToString("N") + ".pem");
        File.WriteAllText(path, content);
        try
        {
            var error = Assert.Throws<ServiceAccountKeyFileException>(() => LegacyTokenGenerator.FromPemFile(path));
            Assert.StartsWith("error reading key for service account token controller: " + path + ": ", error.Message);
            Assert.Contains(expected, error.Message);
            Assert.DoesNotContain('\n', error.Message);
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void FromPemFile_MissingFile_NamesTheFile()
    {
        var error = Assert.Throws<ServiceAccountKeyFileException>(() => LegacyTokenGenerator.FromPemFile("/nonexistent/sa.key"));
        Assert.Contains("/nonexistent/sa.key", error.Message);
    }

    private static (string Pem, byte[] Spki, Func<byte[], byte[], bool> Verify) CreateKey(KeyKind kind)
    {
        switch (kind)
        {
            case KeyKind.RsaPkcs1 or KeyKind.RsaPkcs8:
            {
                var rsa = RSA.Create(2048);
                var pem = kind == KeyKind.RsaPkcs1 ? rsa.ExportRSAPrivateKeyPem() : rsa.ExportPkcs8PrivateKeyPem();
                return (pem, rsa.ExportSubjectPublicKeyInfo(), (data, sig) => rsa.VerifyData(data, sig, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1));
            }
            default:
            {
                var (curve, hash) = kind switch
                {
                    KeyKind.EcSec1P256 => (ECCurve.NamedCurves.nistP256, HashAlgorithmName.SHA256),
                    KeyKind.EcPkcs8P384 => (ECCurve.NamedCurves.nistP384, HashAlgorithmName.SHA384),
                    _ => (ECCurve.NamedCurves.nistP521, HashAlgorithmName.SHA512),
                };
                var ec = ECDsa.Create(curve);
                var pem = kind == KeyKind.EcPkcs8P384 ? ec.ExportPkcs8PrivateKeyPem() : ec.ExportECPrivateKeyPem();
                return (pem, ec.ExportSubjectPublicKeyInfo(), (data, sig) => ec.VerifyData(data, sig, hash, DSASignatureFormat.IeeeP1363FixedFieldConcatenation));
            }
        }
    }
}

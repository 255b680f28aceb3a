using System.Buffers.Text;
using System.Security.Cryptography;
using System.Text;
using Kcm.Api.Security;

namespace Kcm.Api.Tests.Security;

public class JwsTests
{
    [Theory]
    [InlineData(256, "ES256")]
    [InlineData(384, "ES384")]
    [InlineData(521, "ES512")]
    public void Sign_EcdsaKey_VerifiesAsFixedSizeSignature(int curveBits, string algorithm)
    {
        using var ec = ECDsa.Create(curveBits switch { 256 => ECCurve.NamedCurves.nistP256, 384 => ECCurve.NamedCurves.nistP384, _ => ECCurve.NamedCurves.nistP521 });
        Assert.Equal(algorithm, Jws.AlgorithmFor(ec));

        var token = Jws.Sign("{\"alg\":\"" + algorithm + "\"}", "{\"sub\":\"a\"}", ec, algorithm);

        var parts = token.Split('.');
        Assert.Equal("{\"sub\":\"a\"}", Encoding.UTF8.GetString(Base64Url.DecodeFromChars(parts[1])));
        Assert.True(ec.VerifyData(Encoding.ASCII.GetBytes(parts[0] + "." + parts[1]), Base64Url.DecodeFromChars(parts[2]),
            Jws.HashFor(algorithm), DSASignatureFormat.IeeeP1363FixedFieldConcatenation));
    }

    [Fact]
    public void Sign_RsaKey_IsPkcs1Sha256WithoutPadding()
    {
        using var rsa = RSA.Create(2048);
        Assert.Equal("RS256", Jws.AlgorithmFor(rsa));

        var token = Jws.Sign("{\"alg\":\"RS256\"}", "{}", rsa, "RS256");

        Assert.DoesNotContain('=', token);
        var parts = token.Split('.');
        Assert.True(rsa.VerifyData(Encoding.ASCII.GetBytes(parts[0] + "." + parts[1]), Base64Url.DecodeFromChars(parts[2]),
            HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1));
    }

    [Fact]
    public void KeyId_IsUnpaddedBase64UrlOfSpkiSha256()
    {
        using var ec = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var spki = ec.ExportSubjectPublicKeyInfo();

        var kid = Jws.KeyId(spki);

        Assert.Equal(43, kid.Length);
        Assert.Equal(SHA256.HashData(spki), Base64Url.DecodeFromChars(kid));
    }
}

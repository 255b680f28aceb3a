using System.Formats.Asn1;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using Kcm.Controllers.Certificates;

namespace Kcm.Controllers.Tests.Certificates;

public class Ed25519Tests
{
    private static byte[] Der(string pem) => Convert.FromBase64String(string.Concat(pem.Split('\n').Where(l => !l.StartsWith("-----", StringComparison.Ordinal))));

    private static (byte[] Tbs, byte[] Key, byte[] Signature) Parts(string pem)
    {
        var outer = new AsnReader(Der(pem), AsnEncodingRules.DER).ReadSequence();
        var tbs = outer.ReadEncodedValue().ToArray();
        outer.ReadSequence();
        var signature = outer.ReadBitString(out _);
        var info = new AsnReader(tbs, AsnEncodingRules.DER).ReadSequence();
        info.ReadInteger();
        info.ReadEncodedValue();
        var spki = info.ReadSequence();
        spki.ReadSequence();
        return (tbs, spki.ReadBitString(out _), signature);
    }

    private static byte[] Pem(byte[] der) => Encoding.ASCII.GetBytes(PemEncoding.WriteString("CERTIFICATE REQUEST", der));

    [Theory]
    [InlineData(Ed25519Requests.Client)]
    [InlineData(Ed25519Requests.KubeletServing)]
    [InlineData(Ed25519Requests.WithEmailAndUri)]
    public void Verify_RequestSignedByOpenssl_Accepted(string pem)
    {
        var (tbs, key, signature) = Parts(pem);

        Assert.True(Ed25519Verifier.Verify(key, tbs, signature));
    }

    [Fact]
    public void Verify_AlteredMessageOrSignature_Rejected()
    {
        var (tbs, key, signature) = Parts(Ed25519Requests.Client);

        tbs[^1] ^= 1;
        Assert.False(Ed25519Verifier.Verify(key, tbs, signature));
        tbs[^1] ^= 1;
        signature[3] ^= 1;
        Assert.False(Ed25519Verifier.Verify(key, tbs, signature));
    }

    [Fact]
    public void Verify_ScalarNotBelowGroupOrder_Rejected()
    {
        var (tbs, key, signature) = Parts(Ed25519Requests.Client);
        // S + L encodes the same point equation but is not canonical: Go refuses it, so must we.
        var l = System.Numerics.BigInteger.Pow(2, 252) + System.Numerics.BigInteger.Parse("27742317777372353535851937790883648493");
        var s = new System.Numerics.BigInteger(signature.AsSpan(32), isUnsigned: true) + l;
        var bytes = new byte[32];
        s.TryWriteBytes(bytes, out _, isUnsigned: true);
        bytes.CopyTo(signature, 32);

        Assert.False(Ed25519Verifier.Verify(key, tbs, signature));
    }

    [Fact]
    public void Parse_Ed25519Request_ReadsSubjectKeyAndAltNames()
    {
        var request = CertificateRequestInfo.Parse(Ed25519Requests.Bytes(Ed25519Requests.KubeletServing), checkSignature: true);

        Assert.Equal("system:node:n1", request.CommonName);
        Assert.Equal(["system:nodes"], request.Organizations);
        Assert.Equal(["n1.example"], request.DnsNames);
        Assert.Equal("10.0.0.1", Assert.Single(request.IpAddresses).ToString());
        Assert.Equal("1.3.101.112", request.PublicKey.Oid.Value);
        Assert.True(request.PublicKey.EncodedParameters is null || request.PublicKey.EncodedParameters.RawData.Length == 0, "Ed25519 keys carry no parameters");
    }

    [Fact]
    public void Parse_Ed25519RequestWithBadSignature_RefusedOnlyWhenCheckingSignature()
    {
        var der = Der(Ed25519Requests.Client);
        der[^2] ^= 1;

        var unchecked_ = CertificateRequestInfo.Parse(Pem(der), checkSignature: false);
        var e = Assert.Throws<CertificateRequestFormatException>(() => CertificateRequestInfo.Parse(Pem(der), checkSignature: true));

        Assert.Equal("alice", unchecked_.CommonName);
        Assert.Equal("unable to verify certificate request signature: x509: Ed25519 verification failure", e.Message);
    }

    [Fact]
    public void Sign_Ed25519Request_CertificateCarriesTheKeyWithoutParameters()
    {
        using var caKey = RSA.Create(2048);
        var caRequest = new CertificateRequest("CN=test-ca", caKey, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        caRequest.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
        using var caCert = caRequest.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(30));
        using var ca = new CertificateAuthority(caCert, [], []);
        var request = CertificateRequestInfo.Parse(Ed25519Requests.Bytes(Ed25519Requests.Client), checkSignature: true);

        var der = ca.Sign(request, new SigningPolicy(TimeSpan.FromDays(1), ["client auth"], TimeSpan.FromMinutes(5), TimeSpan.FromHours(8)), DateTimeOffset.UtcNow);

        using var cert = X509CertificateLoader.LoadCertificate(der);
        // SubjectPublicKeyInfo ::= SEQUENCE { SEQUENCE { OID 1.3.101.112 }, BIT STRING (32 bytes) } — 44 bytes, as RFC 8410.
        Assert.Equal("302a300506032b6570032100" + Convert.ToHexStringLower(Parts(Ed25519Requests.Client).Key), Convert.ToHexStringLower(cert.PublicKey.ExportSubjectPublicKeyInfo()));
        Assert.Equal("CN=alice, O=devs", cert.Subject);
    }
}

using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using Kcm.Api.Certificates.V1;
using Kcm.Api.Meta.V1;
using Kcm.ApiServer.Hosting;
using Kcm.Testing;

namespace Kcm.Controllers.Tests.Certificates;

/// <summary>The embedded server with RBAC authorization, as the guides' clusters run.</summary>
/// <summary>
/// The classes that create CSRs run one after another: CSRs are cluster-scoped, and the cleaner test deletes every old
/// one it sees, which on a shared real cluster would include the other classes' requests.
/// </summary>
[CollectionDefinition(Name)]
public sealed class CsrCollection
{
    public const string Name = "certificate signing requests";
}

public sealed class RbacServerFixture : EmbeddedServerFixture
{
    protected override void Configure(EmbeddedApiServerOptions options) => options.AuthorizationModes = ["RBAC"];
}

public enum KeyKind
{
    Rsa,
    Ecdsa,
}

/// <summary>Keys, CSRs and CA files for the certificate controller tests.</summary>
internal static class CertificateTestData
{
    public static readonly string[] KubeletClientUsages = ["digital signature", "key encipherment", "client auth"];
    public static readonly string[] KubeletServingUsages = ["digital signature", "key encipherment", "server auth"];

    public static AsymmetricAlgorithm NewKey(KeyKind kind) => kind == KeyKind.Rsa ? RSA.Create(2048) : ECDsa.Create(ECCurve.NamedCurves.nistP256);

    /// <summary>A PEM CSR for the subject (CN plus each O) and SANs, signed by a fresh key of <paramref name="kind"/>.</summary>
    public static byte[] CsrPem(string commonName, IEnumerable<string> organizations, KeyKind kind = KeyKind.Ecdsa,
        IEnumerable<string>? dnsNames = null, IEnumerable<IPAddress>? ips = null, IEnumerable<string>? emails = null)
    {
        using var key = NewKey(kind);
        var request = NewRequest(commonName, organizations, key, dnsNames, ips, emails);
        return Encoding.ASCII.GetBytes(request.CreateSigningRequestPem());
    }

    /// <summary>A well-formed CSR whose signature does not match its content.</summary>
    public static byte[] CsrPemWithBadSignature(string commonName, IEnumerable<string> organizations)
    {
        using var key = NewKey(KeyKind.Rsa);
        var der = NewRequest(commonName, organizations, key, null, null, null).CreateSigningRequest();
        der[^5] ^= 0x5a; // inside the signature bits
        return Encoding.ASCII.GetBytes(PemEncoding.WriteString("CERTIFICATE REQUEST", der));
    }

    private static CertificateRequest NewRequest(string commonName, IEnumerable<string> organizations, AsymmetricAlgorithm key,
        IEnumerable<string>? dnsNames, IEnumerable<IPAddress>? ips, IEnumerable<string>? emails)
    {
        var subject = new X500DistinguishedNameBuilder();
        foreach (var o in organizations) subject.AddOrganizationName(o);
        subject.AddCommonName(commonName);
        var request = key is RSA rsa
            ? new CertificateRequest(subject.Build(), rsa, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1)
            : new CertificateRequest(subject.Build(), (ECDsa)key, HashAlgorithmName.SHA256);
        var san = new SubjectAlternativeNameBuilder();
        var any = false;
        foreach (var d in dnsNames ?? []) { san.AddDnsName(d); any = true; }
        foreach (var ip in ips ?? []) { san.AddIpAddress(ip); any = true; }
        foreach (var e in emails ?? []) { san.AddEmailAddress(e); any = true; }
        if (any) request.CertificateExtensions.Add(san.Build());
        return request;
    }

    /// <summary>A self-signed CA valid over [notBefore, notAfter], written as ca.pem / ca-key.pem into <paramref name="directory"/>.</summary>
    public static (string CertFile, string KeyFile) WriteCa(string directory, KeyKind kind, DateTimeOffset notBefore, DateTimeOffset notAfter, string name = "ca")
    {
        Directory.CreateDirectory(directory);
        using var key = NewKey(kind);
        var subject = new X500DistinguishedName($"CN=test-signer-{kind}, O=Kcm Tests");
        var request = key is RSA rsa
            ? new CertificateRequest(subject, rsa, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1)
            : new CertificateRequest(subject, (ECDsa)key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign, true));
        request.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(request.PublicKey, false));
        using var cert = request.CreateSelfSigned(notBefore, notAfter);
        var certFile = Path.Combine(directory, name + ".pem");
        var keyFile = Path.Combine(directory, name + "-key.pem");
        File.WriteAllText(certFile, cert.ExportCertificatePem() + "\n");
        File.WriteAllText(keyFile, key is RSA r ? r.ExportRSAPrivateKeyPem() : ((ECDsa)key).ExportECPrivateKeyPem());
        return (certFile, keyFile);
    }

    public static CertificateSigningRequest NewCsr(string name, string signerName, byte[] request, IEnumerable<string> usages, int? expirationSeconds = null) => new()
    {
        Metadata = new ObjectMeta { Name = name },
        Spec = new CertificateSigningRequestSpec
        {
            SignerName = signerName,
            Request = request,
            Usages = [.. usages],
            ExpirationSeconds = expirationSeconds,
        },
    };

    public static X509Certificate2 IssuedCertificate(CertificateSigningRequest csr)
        => X509Certificate2.CreateFromPem(Encoding.ASCII.GetString(csr.Status!.Certificate!));

    public static string UniqueName(string prefix) => $"{prefix}-{Guid.NewGuid().ToString("N")[..8]}";
}

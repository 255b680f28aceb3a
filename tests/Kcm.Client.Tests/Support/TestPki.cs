using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace Kcm.Client.Tests.Support;

public enum KeyPemFormat
{
    RsaPkcs1,
    RsaPkcs8,
    EcSec1,
    EcPkcs8,
}

/// <summary>A throwaway certificate with its PEM forms.</summary>
public sealed record PemPair(X509Certificate2 Certificate, string CertificatePem, string KeyPem);

/// <summary>Generates a CA and leaf certificates for tests.</summary>
public sealed class TestPki : IDisposable
{
    private readonly RSA _caKey = RSA.Create(2048);

    public TestPki(string caName = "test-ca")
    {
        var request = new CertificateRequest($"CN={caName}", _caKey, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign, true));
        request.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(request.PublicKey, false));
        Ca = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddYears(1));
    }

    public X509Certificate2 Ca { get; }

    public string CaPem => Ca.ExportCertificatePem();

    public PemPair Issue(string commonName, KeyPemFormat format, bool server, string[]? dnsNames = null, IPAddress[]? ips = null)
    {
        AsymmetricAlgorithm key = format is KeyPemFormat.RsaPkcs1 or KeyPemFormat.RsaPkcs8 ? RSA.Create(2048) : ECDsa.Create(ECCurve.NamedCurves.nistP256);
        using (key)
        {
            var request = key is RSA rsa
                ? new CertificateRequest($"CN={commonName}", rsa, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1)
                : new CertificateRequest($"CN={commonName}", (ECDsa)key, HashAlgorithmName.SHA256);
            request.CertificateExtensions.Add(new X509BasicConstraintsExtension(false, false, 0, false));
            request.CertificateExtensions.Add(X509AuthorityKeyIdentifierExtension.CreateFromCertificate(Ca, true, false));
            request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension(
                [new Oid(server ? "1.3.6.1.5.5.7.3.1" : "1.3.6.1.5.5.7.3.2")], false));
            if (dnsNames is not null || ips is not null)
            {
                var san = new SubjectAlternativeNameBuilder();
                foreach (var dns in dnsNames ?? [])
                {
                    san.AddDnsName(dns);
                }
                foreach (var ip in ips ?? [])
                {
                    san.AddIpAddress(ip);
                }
                request.CertificateExtensions.Add(san.Build());
            }
            var serial = RandomNumberGenerator.GetBytes(12);
            serial[0] &= 0x7f;
            // Signed by the RSA CA whatever the leaf's key type.
            var signer = X509SignatureGenerator.CreateForRSA(_caKey, RSASignaturePadding.Pkcs1);
            using var issued = request.Create(Ca.SubjectName, signer, DateTimeOffset.UtcNow.AddHours(-1), DateTimeOffset.UtcNow.AddDays(30), serial);
            var keyPem = format switch
            {
                KeyPemFormat.RsaPkcs1 => ((RSA)key).ExportRSAPrivateKeyPem(),
                KeyPemFormat.EcSec1 => ((ECDsa)key).ExportECPrivateKeyPem(),
                _ => key.ExportPkcs8PrivateKeyPem(),
            };
            var certificatePem = issued.ExportCertificatePem();
            var withKey = X509Certificate2.CreateFromPem(certificatePem, keyPem);
            return new PemPair(withKey, certificatePem, keyPem);
        }
    }

    public void Dispose()
    {
        _caKey.Dispose();
        Ca.Dispose();
    }
}

/// <summary>A temporary directory removed on dispose.</summary>
public sealed class TempDirectory : IDisposable
{
    public TempDirectory()
    {
        Path = Directory.CreateTempSubdirectory("kcm-client-tests-").FullName;
    }

    public string Path { get; }

    public string Write(string relativePath, string content)
    {
        var full = System.IO.Path.Combine(Path, relativePath);
        Directory.CreateDirectory(System.IO.Path.GetDirectoryName(full)!);
        File.WriteAllText(full, content);
        return full;
    }

    public void Dispose()
    {
        try
        {
            Directory.Delete(Path, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}

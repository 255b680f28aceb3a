using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace Kcm.Testing;

/// <summary>Client certificates from a cluster CA, so tests can act as any user and groups on any apiserver.</summary>
public static class TestCertificates
{
    /// <summary>A client certificate (with its key) for <paramref name="user"/> in <paramref name="groups"/> (subject CN and O, as x509 authentication reads them).</summary>
    public static X509Certificate2 IssueClientCertificate(string caPath, string caKeyPath, string user, params string[] groups)
    {
        using var ca = X509Certificate2.CreateFromPemFile(caPath, caKeyPath);
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var subject = new X500DistinguishedNameBuilder();
        foreach (var group in groups) subject.AddOrganizationName(group);
        subject.AddCommonName(user);
        var request = new CertificateRequest(subject.Build(), key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(false, false, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.DigitalSignature, true));
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid("1.3.6.1.5.5.7.3.2")], false));
        var serial = RandomNumberGenerator.GetBytes(16);
        serial[0] &= 0x7f;
        var now = DateTimeOffset.UtcNow;
        // The CA may be RSA (both the embedded server's and CI's are) while the client key is ECDSA: sign with the CA's own algorithm.
        using var caRsa = ca.GetRSAPrivateKey();
        using var caEc = ca.GetECDsaPrivateKey();
        var signer = caRsa is not null ? X509SignatureGenerator.CreateForRSA(caRsa, RSASignaturePadding.Pkcs1)
            : X509SignatureGenerator.CreateForECDsa(caEc ?? throw new CryptographicException($"{caKeyPath}: neither an RSA nor an ECDSA key"));
        using var issued = request.Create(ca.SubjectName, signer, now.AddMinutes(-5), now.AddHours(1), serial);
        using var withKey = issued.CopyWithPrivateKey(key);
        // A PKCS#12 round trip gives a key SslStream can use as a client credential on every platform.
        return X509CertificateLoader.LoadPkcs12(withKey.Export(X509ContentType.Pkcs12), null);
    }

    /// <summary>A serving certificate from the cluster CA for 127.0.0.1 and localhost, written as PEM files (certificate, key) under <paramref name="directory"/>.</summary>
    public static (string CertPath, string KeyPath) WriteServingCertificate(string caPath, string caKeyPath, string directory, string fileBase)
    {
        using var ca = X509Certificate2.CreateFromPemFile(caPath, caKeyPath);
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest("CN=" + fileBase, key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(false, false, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.DigitalSignature, true));
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid("1.3.6.1.5.5.7.3.1")], false));
        var names = new SubjectAlternativeNameBuilder();
        names.AddIpAddress(System.Net.IPAddress.Loopback);
        names.AddDnsName("localhost");
        request.CertificateExtensions.Add(names.Build());
        var serial = RandomNumberGenerator.GetBytes(16);
        serial[0] &= 0x7f;
        var now = DateTimeOffset.UtcNow;
        using var caRsa = ca.GetRSAPrivateKey();
        using var caEc = ca.GetECDsaPrivateKey();
        var signer = caRsa is not null ? X509SignatureGenerator.CreateForRSA(caRsa, RSASignaturePadding.Pkcs1)
            : X509SignatureGenerator.CreateForECDsa(caEc ?? throw new CryptographicException($"{caKeyPath}: neither an RSA nor an ECDSA key"));
        using var issued = request.Create(ca.SubjectName, signer, now.AddMinutes(-5), now.AddHours(1), serial);
        var certPath = Path.Combine(directory, fileBase + ".pem");
        var keyPath = Path.Combine(directory, fileBase + "-key.pem");
        File.WriteAllText(certPath, issued.ExportCertificatePem() + "\n");
        File.WriteAllText(keyPath, key.ExportPkcs8PrivateKeyPem() + "\n");
        return (certPath, keyPath);
    }
}

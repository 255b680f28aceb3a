using System.Net;
using Kcm.Api.Security;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace Kcm.Serving;

/// <summary>A secure-port certificate problem; the message is one line naming the file.</summary>
public sealed class ServingCertificateException(string message) : Exception(message);

/// <summary>
/// The secure port's certificate: --tls-cert-file/--tls-private-key-file when given, otherwise a
/// self-signed pair as upstream makes one, kept in --cert-dir (kube-controller-manager.crt/.key) so a
/// restart serves the same certificate.
/// </summary>
public static class ServingCertificate
{
    public const string PairName = "kube-controller-manager";

    public static X509Certificate2 Load(string certFile, string keyFile, string certDir, string bindAddress, TimeProvider time)
    {
        if (certFile.Length > 0 || keyFile.Length > 0)
        {
            if (certFile.Length == 0 || keyFile.Length == 0)
            {
                throw new ServingCertificateException("--tls-cert-file and --tls-private-key-file must be given together");
            }
            return FromFiles(certFile, keyFile);
        }
        if (certDir.Length > 0)
        {
            var crt = Path.Combine(certDir, PairName + ".crt");
            var key = Path.Combine(certDir, PairName + ".key");
            if (File.Exists(crt) && File.Exists(key)) return FromFiles(crt, key);
            var (cert, rsa) = CreateSelfSigned(bindAddress, time);
            Directory.CreateDirectory(certDir);
            File.WriteAllText(crt, cert.ExportCertificatePem() + "\n");
            File.WriteAllText(key, rsa.ExportRSAPrivateKeyPem() + "\n");
            if (!OperatingSystem.IsWindows()) File.SetUnixFileMode(key, UnixFileMode.UserRead | UnixFileMode.UserWrite);
            return ToServerCertificate(cert, rsa);
        }
        var (memoryCert, memoryKey) = CreateSelfSigned(bindAddress, time);
        return ToServerCertificate(memoryCert, memoryKey);
    }

    // dynamiccertificates' serving content: unreadable or empty files, then crypto/tls X509KeyPair's checks.
    private static X509Certificate2 FromFiles(string certFile, string keyFile)
    {
        var prefix = $"unable to load server certificate from {certFile} and {keyFile}";
        byte[] cert, key;
        try
        {
            cert = File.ReadAllBytes(certFile);
            key = File.ReadAllBytes(keyFile);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new ServingCertificateException($"{prefix}: {e.Message}");
        }
        if (cert.Length == 0 || key.Length == 0)
        {
            throw new ServingCertificateException($"{prefix}: missing content for serving cert \"serving-cert::{certFile}::{keyFile}\"");
        }
        try
        {
            return ToPkcs12(GoPem.X509KeyPair(cert, key));
        }
        catch (Exception e) when (e is FormatException or CryptographicException)
        {
            throw new ServingCertificateException($"{prefix}: {e.Message}");
        }
    }

    private static (X509Certificate2 Cert, RSA Key) CreateSelfSigned(string bindAddress, TimeProvider time)
    {
        var now = time.GetUtcNow();
        var rsa = RSA.Create(2048);
        var request = new CertificateRequest($"CN=localhost@{now.ToUnixTimeSeconds()}", rsa, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        var san = new SubjectAlternativeNameBuilder();
        san.AddDnsName("localhost");
        san.AddIpAddress(IPAddress.Loopback);
        if (IPAddress.TryParse(bindAddress, out var ip) && !ip.Equals(IPAddress.Any) && !ip.Equals(IPAddress.IPv6Any) && !ip.Equals(IPAddress.Loopback))
        {
            san.AddIpAddress(ip);
        }
        request.CertificateExtensions.Add(san.Build());
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.DigitalSignature | X509KeyUsageFlags.KeyEncipherment, critical: true));
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid("1.3.6.1.5.5.7.3.1")], critical: false));
        var cert = request.CreateSelfSigned(now.AddMinutes(-5), now.AddYears(1));
        return (cert, rsa);
    }

    // CreateSelfSigned already attached the key to the certificate.
    private static X509Certificate2 ToServerCertificate(X509Certificate2 cert, RSA key)
    {
        using (key)
        {
            return ToPkcs12(cert);
        }
    }

    // SslStream on Linux needs the key in a PKCS#12-backed certificate, not an ephemeral one.
    private static X509Certificate2 ToPkcs12(X509Certificate2 cert)
    {
        using (cert)
        {
            return X509CertificateLoader.LoadPkcs12(cert.Export(X509ContentType.Pkcs12), null);
        }
    }
}

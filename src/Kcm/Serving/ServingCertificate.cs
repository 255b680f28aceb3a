using System.Net;
using Kcm.Api.Security;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace Kcm.Serving;

/// <summary>A certificate for the host names an SNI client may ask for (--tls-sni-cert-key).</summary>
public sealed record SniCertificate(IReadOnlyList<string> Names, X509Certificate2 Certificate)
{
    /// <summary>An exact name, or a "*.example.com" name one label above the asked host.</summary>
    public bool Serves(string host) => Names.Any(n => string.Equals(n, host, StringComparison.OrdinalIgnoreCase)
        || (n.StartsWith("*.", StringComparison.Ordinal) && host.IndexOf('.', StringComparison.Ordinal) is var dot and > 0
            && string.Equals(n[2..], host[(dot + 1)..], StringComparison.OrdinalIgnoreCase)));
}

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

    /// <summary>
    /// --tls-sni-cert-key values ("cert,key" or "cert,key:name1,name2"): each pair with the host names it serves,
    /// taken from the certificate's DNS and IP SANs (and a CN that is a host name) when none are given.
    /// </summary>
    public static IReadOnlyList<SniCertificate> LoadSni(IReadOnlyList<string> specs)
    {
        var result = new List<SniCertificate>();
        foreach (var spec in specs)
        {
            var colon = spec.IndexOf(':', StringComparison.Ordinal);
            var files = (colon < 0 ? spec : spec[..colon]).Split(',');
            var names = colon < 0 ? [] : spec[(colon + 1)..].Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
            if (files.Length != 2) throw new ServingCertificateException($"--tls-sni-cert-key {spec}: expected comma separated certificate and key file paths");
            X509Certificate2 certificate;
            try
            {
                certificate = FromFiles(files[0].Trim(), files[1].Trim());
            }
            catch (ServingCertificateException e)
            {
                throw new ServingCertificateException($"--tls-sni-cert-key {spec}: {e.Message}");
            }
            result.Add(new SniCertificate(names.Length > 0 ? names : NamesOf(certificate), certificate));
        }
        return result;
    }

    private static string[] NamesOf(X509Certificate2 certificate)
    {
        var names = new List<string>();
        var cn = certificate.GetNameInfo(X509NameType.SimpleName, false);
        if (Uri.CheckHostName(cn) == UriHostNameType.Dns && cn.Contains('.', StringComparison.Ordinal)) names.Add(cn);
        foreach (var extension in certificate.Extensions.OfType<X509SubjectAlternativeNameExtension>())
        {
            names.AddRange(extension.EnumerateDnsNames());
            names.AddRange(extension.EnumerateIPAddresses().Select(ip => ip.ToString()));
        }
        return [.. names.Distinct(StringComparer.OrdinalIgnoreCase)];
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

using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Kcm.Api.Security;

namespace Kcm.Init;

/// <summary>
/// The certificate work of `init`, in place of the guides' cfssl + cfssljson: read (or create) the CA, and issue
/// the controller manager's certificate (CN and O system:kube-controller-manager, every master and 127.0.0.1 in its
/// SANs, server and client auth, one year as the guides' "kubernetes" profile) on a key that is kept across runs.
/// </summary>
public static class InitCertificates
{
    public const string Subject = "system:kube-controller-manager";
    public static readonly TimeSpan LeafLifetime = TimeSpan.FromHours(8760);

    // Re-issue a kept certificate this long before it expires.
    private static readonly TimeSpan RenewBefore = TimeSpan.FromDays(30);

    /// <summary>The CA pair, checked: readable, safe key permissions, key matching, a CA, not expired.</summary>
    public static X509Certificate2 LoadCa(string certPath, string keyPath, DateTimeOffset now)
    {
        var certPem = ReadFile(certPath, "--ca-cert", " (pass --new-ca to create a CA there)");
        CheckKeyPermissions(keyPath, "--ca-key");
        var keyPem = ReadFile(keyPath, "--ca-key", "");
        X509Certificate2 ca;
        try
        {
            ca = GoPem.X509KeyPair(certPem, keyPem);
        }
        catch (FormatException e)
        {
            throw new InitException($"--ca-cert {certPath} with --ca-key {keyPath}: {e.Message}");
        }
        var constraints = ca.Extensions.OfType<X509BasicConstraintsExtension>().FirstOrDefault();
        if (constraints is null || !constraints.CertificateAuthority)
        {
            ca.Dispose();
            throw new InitException($"--ca-cert {certPath}: not a CA certificate (no basicConstraints CA:TRUE)");
        }
        if (ca.NotAfter < now.UtcDateTime)
        {
            ca.Dispose();
            throw new InitException($"--ca-cert {certPath}: expired on {ca.NotAfter.ToUniversalTime():yyyy-MM-ddTHH:mm:ssZ}");
        }
        return ca;
    }

    /// <summary>A new self-signed CA (RSA 2048, ten years, CN kubernetes as the guides' ca-csr.json).</summary>
    public static void CreateCa(string certPath, string keyPath, DateTimeOffset now)
    {
        using var key = RSA.Create(2048);
        var request = new CertificateRequest(new X500DistinguishedName("CN=kubernetes, O=k8s"), key, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign | X509KeyUsageFlags.DigitalSignature, true));
        request.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(request.PublicKey, false));
        using var cert = request.CreateSelfSigned(now.AddMinutes(-5), now.AddYears(10));
        InitFiles.Write(keyPath, key.ExportRSAPrivateKeyPem() + "\n", secret: true);
        InitFiles.Write(certPath, cert.ExportCertificatePem() + "\n", secret: false);
    }

    /// <summary>
    /// An existing private key (PKCS#1, PKCS#8 or SEC 1), checked for safe permissions; null when the file does not exist.
    /// </summary>
    public static AsymmetricAlgorithm? LoadKey(string path)
    {
        if (!File.Exists(path)) return null;
        CheckKeyPermissions(path, null);
        var pem = ReadFile(path, null, "");
        var text = System.Text.Encoding.ASCII.GetString(pem);
        try
        {
            var rsa = RSA.Create();
            try
            {
                rsa.ImportFromPem(text);
                return rsa;
            }
            catch (Exception e) when (e is ArgumentException or CryptographicException)
            {
                rsa.Dispose();
            }
            var ecdsa = ECDsa.Create();
            ecdsa.ImportFromPem(text);
            return ecdsa;
        }
        catch (Exception e) when (e is CryptographicException or ArgumentException)
        {
            throw new InitException($"{path}: not a PEM private key (RSA or ECDSA): {e.Message}");
        }
    }

    public static RSA NewKey() => RSA.Create(2048);

    public static string KeyPem(AsymmetricAlgorithm key) => key switch
    {
        RSA rsa => rsa.ExportRSAPrivateKeyPem() + "\n",
        ECDsa ecdsa => ecdsa.ExportECPrivateKeyPem() + "\n",
        _ => throw new InitException("unsupported key type"),
    };

    /// <summary>
    /// Why the certificate at <paramref name="certPath"/> cannot be kept for <paramref name="key"/>, or null when it can:
    /// issued by this CA, for this key, with the wanted subject and addresses, and not about to expire.
    /// </summary>
    public static string? WhyReissue(string certPath, AsymmetricAlgorithm key, X509Certificate2 ca, IReadOnlyList<IPAddress> addresses, DateTimeOffset now)
    {
        if (!File.Exists(certPath)) return "new";
        X509Certificate2 cert;
        try
        {
            cert = GoPem.ParseCertificates(ReadFile(certPath, null, ""))[0];
        }
        catch (FormatException e)
        {
            throw new InitException($"{certPath}: {e.Message} (pass --rotate to replace it)");
        }
        using (cert)
        {
            if (!PublicKeyMatches(cert, key))
            {
                throw new InitException($"{certPath}: tls: private key does not match public key (pass --rotate to issue a new key and certificate)");
            }
            if (!CertificateChains.IsTrusted(cert, [ca], CertificateChains.ClientAuth)) return "not issued by the CA";
            if (cert.GetNameInfo(X509NameType.SimpleName, false) != Subject) return "subject changed";
            var sans = cert.Extensions.Where(e => e.Oid?.Value == "2.5.29.17")
                .SelectMany(e => new X509SubjectAlternativeNameExtension(e.RawData, e.Critical).EnumerateIPAddresses()).ToHashSet();
            if (!sans.SetEquals(addresses)) return "masters changed";
            if (cert.NotAfter.ToUniversalTime() - now.UtcDateTime < RenewBefore) return "expires within 30 days";
            return null;
        }
    }

    /// <summary>The controller manager's certificate for <paramref name="key"/>, signed by <paramref name="ca"/>.</summary>
    public static string Issue(X509Certificate2 ca, AsymmetricAlgorithm key, IReadOnlyList<IPAddress> addresses, DateTimeOffset now)
        => IssueLeaf(ca, key, new X500DistinguishedName($"CN={Subject}, O={Subject}"), addresses, now);

    /// <summary>A leaf with server and client auth, for the given subject and IP SANs (none: a client certificate).</summary>
    public static string IssueLeaf(X509Certificate2 ca, AsymmetricAlgorithm key, X500DistinguishedName subject, IReadOnlyList<IPAddress> addresses, DateTimeOffset now)
    {
        var request = key switch
        {
            RSA rsa => new CertificateRequest(subject, rsa, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1),
            ECDsa ecdsa => new CertificateRequest(subject, ecdsa, HashAlgorithmName.SHA256),
            _ => throw new InitException("unsupported key type"),
        };
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(false, false, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.DigitalSignature | X509KeyUsageFlags.KeyEncipherment, true));
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension(
            new OidCollection { new Oid(CertificateChains.ServerAuth), new Oid(CertificateChains.ClientAuth) }, false));
        request.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(request.PublicKey, false));
        if (addresses.Count > 0)
        {
            var san = new SubjectAlternativeNameBuilder();
            foreach (var address in addresses) san.AddIpAddress(address);
            request.CertificateExtensions.Add(san.Build());
        }
        var serial = RandomNumberGenerator.GetBytes(16);
        serial[0] &= 0x7F;
        var notAfter = now + LeafLifetime;
        if (notAfter > ca.NotAfter) notAfter = ca.NotAfter;
        // Backdated for clock skew between masters, but never before the CA's own start (a CA made minutes ago).
        var notBefore = now.AddMinutes(-5);
        if (notBefore < ca.NotBefore) notBefore = ca.NotBefore;
        using var cert = request.Create(ca, notBefore, notAfter, serial);
        return cert.ExportCertificatePem() + "\n";
    }

    private static bool PublicKeyMatches(X509Certificate2 cert, AsymmetricAlgorithm key)
    {
        switch (key)
        {
            case RSA rsa:
                using (var pub = cert.GetRSAPublicKey())
                {
                    return pub is not null && pub.ExportParameters(false).Modulus.AsSpan().SequenceEqual(rsa.ExportParameters(false).Modulus);
                }
            case ECDsa ecdsa:
                using (var pub = cert.GetECDsaPublicKey())
                {
                    if (pub is null) return false;
                    var a = pub.ExportParameters(false).Q;
                    var b = ecdsa.ExportParameters(false).Q;
                    return a.X.AsSpan().SequenceEqual(b.X) && a.Y.AsSpan().SequenceEqual(b.Y);
                }
            default:
                return false;
        }
    }

    /// <summary>Private keys readable by group or others are refused, as ssh refuses such identity files.</summary>
    public static void CheckKeyPermissions(string path, string? flag)
    {
        if (OperatingSystem.IsWindows() || !File.Exists(path)) return;
        var mode = File.GetUnixFileMode(path);
        const UnixFileMode open = UnixFileMode.GroupRead | UnixFileMode.GroupWrite | UnixFileMode.GroupExecute
            | UnixFileMode.OtherRead | UnixFileMode.OtherWrite | UnixFileMode.OtherExecute;
        if ((mode & open) != 0)
        {
            var octal = Convert.ToString((int)mode & 0x1FF, 8).PadLeft(4, '0');
            var name = flag is null ? path : $"{flag} {path}";
            throw new InitException($"{name}: permissions {octal} are too open for a private key (group or others have access); run chmod 600 {path}");
        }
    }

    private static byte[] ReadFile(string path, string? flag, string hint)
    {
        try
        {
            return File.ReadAllBytes(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            var name = flag is null ? path : $"{flag} {path}";
            var reason = e is FileNotFoundException or DirectoryNotFoundException ? "no such file or directory" + hint : e.Message;
            throw new InitException($"{name}: cannot read: {reason}");
        }
    }
}

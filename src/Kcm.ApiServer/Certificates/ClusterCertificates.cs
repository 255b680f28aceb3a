using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace Kcm.ApiServer.Certificates;

/// <summary>
/// The cluster CA and the certificates signed by it, laid out as the cfssl-based deployment guides do
/// (ca.pem/ca-key.pem, admin.pem, kubernetes.pem), so controllers can later sign with the same CA files.
/// </summary>
public sealed class ClusterCertificates : IDisposable
{
    public const string CaCertFile = "ca.pem";
    public const string CaKeyFile = "ca-key.pem";
    public const string AdminCertFile = "admin.pem";
    public const string AdminKeyFile = "admin-key.pem";
    public const string ServingCertFile = "kubernetes.pem";
    public const string ServingKeyFile = "kubernetes-key.pem";

    private static readonly string[] ServingDnsNames =
        ["localhost", "kubernetes", "kubernetes.default", "kubernetes.default.svc", "kubernetes.default.svc.cluster.local"];

    private ClusterCertificates(X509Certificate2 ca, X509Certificate2 serving, X509Certificate2 admin)
    {
        Ca = ca;
        Serving = serving;
        Admin = admin;
    }

    public X509Certificate2 Ca { get; }
    public X509Certificate2 Serving { get; }
    public X509Certificate2 Admin { get; }

    public static ClusterCertificates LoadOrCreate(string directory, TimeProvider time)
    {
        Directory.CreateDirectory(directory);
        var now = time.GetUtcNow();
        var ca = LoadOrCreatePair(directory, CaCertFile, CaKeyFile, () => CreateCa(now), null);
        var serving = LoadOrCreatePair(directory, ServingCertFile, ServingKeyFile, () => CreateServing(ca, now), ca);
        var admin = LoadOrCreatePair(directory, AdminCertFile, AdminKeyFile, () => CreateClient(ca, "admin", "system:masters", now), ca);
        return new ClusterCertificates(ca, serving, admin);
    }

    /// <summary>
    /// A component's certificate (e.g. kube-controller-manager.pem / -key.pem, CN and O as the guides
    /// make them), signed by the CA in <paramref name="directory"/>, usable both as a client certificate
    /// and as the component's serving certificate for 127.0.0.1/localhost. Reused when present.
    /// </summary>
    public X509Certificate2 EnsureComponentCertificate(string directory, string fileBase, string commonName, string organization, DateTimeOffset now)
    {
        var san = new SubjectAlternativeNameBuilder();
        san.AddIpAddress(System.Net.IPAddress.Loopback);
        san.AddDnsName("localhost");
        return LoadOrCreatePair(directory, fileBase + ".pem", fileBase + "-key.pem",
            () => CreateLeaf(Ca, GuideSubject(commonName, organization), san.Build(), now), Ca);
    }

    private static X509Certificate2 LoadOrCreatePair(string dir, string certName, string keyName,
        Func<(X509Certificate2 Cert, RSA Key)> create, X509Certificate2? issuer)
    {
        var certPath = Path.Combine(dir, certName);
        var keyPath = Path.Combine(dir, keyName);
        if (File.Exists(certPath) || File.Exists(keyPath))
        {
            var cert = LoadPem(certPath, keyPath);
            if (issuer is not null && cert.Issuer != issuer.Subject)
            {
                throw new CertificateFileException(certPath, $"not issued by the CA in {CaCertFile}");
            }
            return cert;
        }

        var (created, key) = create();
        using (key)
        {
            WriteFile(certPath, created.ExportCertificatePem() + "\n", secret: false);
            // PKCS#1 "RSA PRIVATE KEY" like cfssl writes, so existing tooling reads it.
            WriteFile(keyPath, key.ExportRSAPrivateKeyPem() + "\n", secret: true);
            return created;
        }
    }

    private static X509Certificate2 LoadPem(string certPath, string keyPath)
    {
        string certPem;
        try
        {
            certPem = File.ReadAllText(certPath);
        }
        catch (IOException e)
        {
            throw new CertificateFileException(certPath, $"cannot read: {e.Message}");
        }
        X509Certificate2 cert;
        try
        {
            cert = X509Certificate2.CreateFromPem(certPem);
        }
        catch (CryptographicException e)
        {
            throw new CertificateFileException(certPath, $"not a PEM certificate: {e.Message}");
        }
        using (cert)
        {
            string keyPem;
            try
            {
                keyPem = File.ReadAllText(keyPath);
            }
            catch (IOException e)
            {
                throw new CertificateFileException(keyPath, $"cannot read: {e.Message}");
            }
            try
            {
                using var rsa = RSA.Create();
                rsa.ImportFromPem(keyPem);
                return cert.CopyWithPrivateKey(rsa);
            }
            catch (Exception e) when (e is CryptographicException or ArgumentException or InvalidOperationException)
            {
                throw new CertificateFileException(keyPath, $"not an RSA private key matching {Path.GetFileName(certPath)}: {e.Message}");
            }
        }
    }

    private static void WriteFile(string path, string content, bool secret)
    {
        var tmp = path + ".tmp";
        var options = new FileStreamOptions { Mode = FileMode.Create, Access = FileAccess.Write };
        if (secret && !OperatingSystem.IsWindows())
        {
            options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
        }
        using (var stream = new FileStream(tmp, options))
        using (var writer = new StreamWriter(stream))
        {
            writer.Write(content);
        }
        File.Move(tmp, path, overwrite: true);
    }

    internal static void WriteTextFile(string path, string content, bool secret) => WriteFile(path, content, secret);

    private static (X509Certificate2, RSA) CreateCa(DateTimeOffset now)
    {
        var key = RSA.Create(2048);
        var subject = new X500DistinguishedName("C=US, L=Portland, O=Kubernetes, OU=CA, ST=Oregon, CN=kubernetes");
        var request = new CertificateRequest(subject, key, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(
            X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign, true));
        request.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(request.PublicKey, false));
        // cfssl's default CA lifetime is 5 years (43800h).
        var cert = request.CreateSelfSigned(now.AddMinutes(-5), now.AddHours(43800));
        return (cert, key);
    }

    private static (X509Certificate2, RSA) CreateServing(X509Certificate2 ca, DateTimeOffset now)
    {
        var san = new SubjectAlternativeNameBuilder();
        san.AddIpAddress(IPAddress.Loopback);
        foreach (var dns in ServingDnsNames) san.AddDnsName(dns);
        return CreateLeaf(ca, GuideSubject("kubernetes", "Kubernetes"), san.Build(), now);
    }

    private static (X509Certificate2, RSA) CreateClient(X509Certificate2 ca, string commonName, string organization, DateTimeOffset now)
        => CreateLeaf(ca, GuideSubject(commonName, organization), null, now);

    /// <summary>The subject fields the deployment guides' CSR files use, with the given CN and O.</summary>
    private static X500DistinguishedName GuideSubject(string commonName, string organization)
        => new($"C=US, L=Portland, O={organization}, OU=Kubernetes The Hard Way, ST=Oregon, CN={commonName}");

    /// <summary>
    /// Signs a leaf for <paramref name="subject"/> with the CA (one year, like the guides' 8760h profile).
    /// Every leaf carries both server and client auth usages, as the guides' "kubernetes" signing profile does.
    /// </summary>
    public static (X509Certificate2 Cert, RSA Key) CreateLeaf(X509Certificate2 ca, X500DistinguishedName subject,
        X509Extension? subjectAltNames, DateTimeOffset now)
    {
        var key = RSA.Create(2048);
        var request = new CertificateRequest(subject, key, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(false, false, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(
            X509KeyUsageFlags.DigitalSignature | X509KeyUsageFlags.KeyEncipherment, true));
        var usages = new OidCollection { new Oid("1.3.6.1.5.5.7.3.1"), new Oid("1.3.6.1.5.5.7.3.2") };
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension(usages, false));
        request.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(request.PublicKey, false));
        if (subjectAltNames is not null) request.CertificateExtensions.Add(subjectAltNames);
        var serial = RandomNumberGenerator.GetBytes(16);
        serial[0] &= 0x7F;
        var notAfter = now.AddHours(8760);
        if (notAfter > ca.NotAfter) notAfter = ca.NotAfter;
        using var signed = request.Create(ca, now.AddMinutes(-5), notAfter, serial);
        var withKey = signed.CopyWithPrivateKey(key);
        return (withKey, key);
    }

    public void Dispose()
    {
        Ca.Dispose();
        Serving.Dispose();
        Admin.Dispose();
    }
}

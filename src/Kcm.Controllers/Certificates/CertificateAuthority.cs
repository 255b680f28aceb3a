using System.Formats.Asn1;
using System.Numerics;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace Kcm.Controllers.Certificates;

/// <summary>The signing CA cannot issue right now (expired, or a lifetime the policy refuses); the request is retried.</summary>
public sealed class SigningRefusedException(string message) : Exception(message);

/// <summary>spec.usages names a usage the certificates API does not define.</summary>
public sealed class UnknownUsageException(string message) : Exception(message);

/// <summary>
/// Upstream's PermissiveSigningPolicy: NotBefore is backdated, long-lived certificates are also ended early by the
/// backdate, short-lived ones are not, and nothing outlives the CA.
/// </summary>
public sealed record SigningPolicy(TimeSpan Ttl, IReadOnlyList<string> Usages, TimeSpan Backdate, TimeSpan Short);

/// <summary>A CA certificate with its private key that issues leaf certificates for CSRs (upstream's authority.CertificateAuthority).</summary>
public sealed class CertificateAuthority : IDisposable
{
    private const string AnyExtendedKeyUsageOid = "2.5.29.37.0";

    private static readonly Dictionary<string, X509KeyUsageFlags> KeyUsages = new()
    {
        ["signing"] = X509KeyUsageFlags.DigitalSignature,
        ["digital signature"] = X509KeyUsageFlags.DigitalSignature,
        ["content commitment"] = X509KeyUsageFlags.NonRepudiation,
        ["key encipherment"] = X509KeyUsageFlags.KeyEncipherment,
        ["key agreement"] = X509KeyUsageFlags.KeyAgreement,
        ["data encipherment"] = X509KeyUsageFlags.DataEncipherment,
        ["cert sign"] = X509KeyUsageFlags.KeyCertSign,
        ["crl sign"] = X509KeyUsageFlags.CrlSign,
        ["encipher only"] = X509KeyUsageFlags.EncipherOnly,
        ["decipher only"] = X509KeyUsageFlags.DecipherOnly,
    };

    // Rank = Go's x509.ExtKeyUsage value, which orders the extension's entries.
    private static readonly Dictionary<string, (int Rank, string Oid)> ExtendedKeyUsages = new()
    {
        ["any"] = (0, AnyExtendedKeyUsageOid),
        ["server auth"] = (1, "1.3.6.1.5.5.7.3.1"),
        ["client auth"] = (2, "1.3.6.1.5.5.7.3.2"),
        ["code signing"] = (3, "1.3.6.1.5.5.7.3.3"),
        ["email protection"] = (4, "1.3.6.1.5.5.7.3.4"),
        ["s/mime"] = (4, "1.3.6.1.5.5.7.3.4"),
        ["ipsec end system"] = (5, "1.3.6.1.5.5.7.3.5"),
        ["ipsec tunnel"] = (6, "1.3.6.1.5.5.7.3.6"),
        ["ipsec user"] = (7, "1.3.6.1.5.5.7.3.7"),
        ["timestamping"] = (8, "1.3.6.1.5.5.7.3.8"),
        ["ocsp signing"] = (9, "1.3.6.1.5.5.7.3.9"),
        ["microsoft sgc"] = (10, "1.3.6.1.4.1.311.10.3.3"),
        ["netscape sgc"] = (11, "2.16.840.1.113730.4.1"),
    };

    public CertificateAuthority(X509Certificate2 certificateWithKey, byte[] rawCertificate, byte[] rawKey)
    {
        if (!certificateWithKey.HasPrivateKey) throw new ArgumentException("the CA certificate has no private key", nameof(certificateWithKey));
        Certificate = certificateWithKey;
        RawCertificate = rawCertificate;
        RawKey = rawKey;
    }

    public X509Certificate2 Certificate { get; }

    /// <summary>The file contents this CA was loaded from, to notice when they change.</summary>
    public byte[] RawCertificate { get; }

    public byte[] RawKey { get; }

    /// <summary>Signs the request's public key and names under the policy; returns the certificate's DER bytes.</summary>
    public byte[] Sign(CertificateRequestInfo request, SigningPolicy policy, DateTimeOffset now)
    {
        var (keyUsage, extendedKeyUsages) = ParseUsages(policy.Usages);
        var (notBefore, notAfter) = Boundaries(policy, now, Certificate.NotAfter.ToUniversalTime());

        var hash = HashFor(Certificate);
        // Upstream copies the parsed subject, so the certificate carries it re-encoded the way Go does.
        var subject = GoName.Parse(request.Subject).Encode();
        var template = new CertificateRequest(subject, request.PublicKey, hash);
        if (keyUsage != X509KeyUsageFlags.None)
        {
            template.CertificateExtensions.Add(new X509KeyUsageExtension(keyUsage, critical: true));
        }
        if (extendedKeyUsages.Count > 0)
        {
            var oids = new OidCollection();
            foreach (var oid in extendedKeyUsages) oids.Add(new Oid(oid));
            template.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension(oids, critical: false));
        }
        template.CertificateExtensions.Add(new X509BasicConstraintsExtension(false, false, 0, critical: true));
        if (Certificate.Extensions.OfType<X509SubjectKeyIdentifierExtension>().Any())
        {
            template.CertificateExtensions.Add(X509AuthorityKeyIdentifierExtension.CreateFromCertificate(Certificate, includeKeyIdentifier: true, includeIssuerAndSerial: false));
        }
        if (SubjectAltNames(request, subject) is { } san)
        {
            template.CertificateExtensions.Add(san);
        }

        using var generator = SignatureGenerator(Certificate);
        using var issued = template.Create(Certificate.SubjectName, generator.Generator, notBefore, notAfter, RandomSerialNumber());
        return issued.RawData;
    }

    /// <summary>NotBefore/NotAfter exactly as upstream's policy computes them, or why it refuses.</summary>
    internal static (DateTimeOffset NotBefore, DateTimeOffset NotAfter) Boundaries(SigningPolicy policy, DateTimeOffset now, DateTimeOffset signerNotAfter)
    {
        var notBefore = now - policy.Backdate;
        // A short-lived certificate keeps its whole requested lifetime; a long one loses the backdate at the end.
        var notAfter = policy.Ttl < policy.Short ? now + policy.Ttl : now + policy.Ttl - policy.Backdate;
        if (notAfter >= signerNotAfter) notAfter = signerNotAfter;
        if (notBefore >= signerNotAfter) throw new SigningRefusedException($"the signer has expired: NotAfter={FormatGoTime(signerNotAfter)}");
        if (now >= signerNotAfter) throw new SigningRefusedException($"refusing to sign a certificate that expired in the past: NotAfter={FormatGoTime(signerNotAfter)}");
        return (notBefore, notAfter);
    }

    internal static (X509KeyUsageFlags KeyUsage, IReadOnlyList<string> ExtendedKeyUsageOids) ParseUsages(IEnumerable<string> usages)
    {
        var keyUsage = X509KeyUsageFlags.None;
        var extended = new SortedDictionary<int, string>();
        var unrecognized = new List<string>();
        foreach (var usage in usages)
        {
            if (KeyUsages.TryGetValue(usage, out var flag)) keyUsage |= flag;
            else if (ExtendedKeyUsages.TryGetValue(usage, out var eku)) extended[eku.Rank] = eku.Oid;
            else unrecognized.Add(usage);
        }
        if (unrecognized.Count > 0)
        {
            throw new UnknownUsageException($"unrecognized usage values: [{string.Join(" ", unrecognized.Select(u => $"\"{u}\""))}]");
        }
        return (keyUsage, extended.Values.ToList());
    }

    private static X509Extension? SubjectAltNames(CertificateRequestInfo request, X500DistinguishedName subject)
    {
        if (request.DnsNames.Count + request.EmailAddresses.Count + request.IpAddresses.Count + request.Uris.Count == 0)
        {
            return null;
        }
        // Go writes DNS, email, IP, URI in that order, and marks the extension critical when the subject is empty.
        var writer = new AsnWriter(AsnEncodingRules.DER);
        using (writer.PushSequence())
        {
            foreach (var dns in request.DnsNames) writer.WriteCharacterString(UniversalTagNumber.IA5String, dns, new Asn1Tag(TagClass.ContextSpecific, 2));
            foreach (var email in request.EmailAddresses) writer.WriteCharacterString(UniversalTagNumber.IA5String, email, new Asn1Tag(TagClass.ContextSpecific, 1));
            foreach (var ip in request.IpAddresses) writer.WriteOctetString(ip.GetAddressBytes(), new Asn1Tag(TagClass.ContextSpecific, 7));
            foreach (var uri in request.Uris) writer.WriteCharacterString(UniversalTagNumber.IA5String, uri, new Asn1Tag(TagClass.ContextSpecific, 6));
        }
        return new X509Extension("2.5.29.17", writer.Encode(), critical: subject.RawData.Length <= 2);
    }

    private static HashAlgorithmName HashFor(X509Certificate2 ca)
    {
        using var ecdsa = ca.GetECDsaPublicKey();
        return ecdsa?.KeySize switch
        {
            null => HashAlgorithmName.SHA256,
            <= 256 => HashAlgorithmName.SHA256,
            <= 384 => HashAlgorithmName.SHA384,
            _ => HashAlgorithmName.SHA512,
        };
    }

    private static OwnedGenerator SignatureGenerator(X509Certificate2 ca)
    {
        if (ca.GetRSAPrivateKey() is { } rsa) return new OwnedGenerator(X509SignatureGenerator.CreateForRSA(rsa, RSASignaturePadding.Pkcs1), rsa);
        if (ca.GetECDsaPrivateKey() is { } ecdsa) return new OwnedGenerator(X509SignatureGenerator.CreateForECDsa(ecdsa), ecdsa);
        throw new SigningRefusedException("the CA private key is neither RSA nor ECDSA");
    }

    // Go: a uniformly random integer below 2^128, encoded as a positive DER INTEGER.
    private static byte[] RandomSerialNumber()
    {
        var value = new BigInteger(RandomNumberGenerator.GetBytes(16), isUnsigned: true, isBigEndian: true);
        if (value.IsZero) value = BigInteger.One;
        return value.ToByteArray(isUnsigned: false, isBigEndian: true);
    }

    private static string FormatGoTime(DateTimeOffset t) => t.UtcDateTime.ToString("yyyy-MM-dd HH:mm:ss '+0000 UTC'", System.Globalization.CultureInfo.InvariantCulture);

    public void Dispose() => Certificate.Dispose();

    private sealed class OwnedGenerator(X509SignatureGenerator generator, AsymmetricAlgorithm key) : IDisposable
    {
        public X509SignatureGenerator Generator => generator;

        public void Dispose() => key.Dispose();
    }
}

using System.Formats.Asn1;
using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;

namespace Kcm.Controllers.Certificates;

/// <summary>A CSR's spec.request could not be used: not one PEM CERTIFICATE REQUEST, not parseable, or a bad signature.</summary>
public sealed class CertificateRequestFormatException(string message, Exception? inner = null) : Exception(message, inner);

/// <summary>
/// The parts of a PKCS#10 request the signers and the approver look at (upstream's x509.CertificateRequest fields):
/// subject, its common name and organizations, the requested subject alternative names and the public key.
/// </summary>
public sealed class CertificateRequestInfo
{
    private const string SubjectAltNameOid = "2.5.29.17";

    private CertificateRequestInfo(CertificateRequest request)
        : this(request.SubjectName, request.PublicKey, request.CertificateExtensions)
    {
    }

    private CertificateRequestInfo(X500DistinguishedName subject, PublicKey publicKey, IEnumerable<X509Extension> extensions)
    {
        Subject = subject;
        PublicKey = publicKey;
        try
        {
            // As Go's pkix.Name: every O in order, the last CN, from every attribute of every RDN.
            var name = GoName.Parse(subject);
            CommonName = name.CommonName;
            Organizations = name.Organizations;
        }
        catch (AsnContentException e)
        {
            throw new CertificateRequestFormatException($"unable to parse certificate request subject: {e.Message}", e);
        }
        foreach (var extension in extensions)
        {
            if (extension.Oid?.Value == SubjectAltNameOid)
            {
                ReadSubjectAltNames(extension.RawData);
            }
        }
    }

    public X500DistinguishedName Subject { get; }

    public string CommonName { get; } = "";

    public IReadOnlyList<string> Organizations { get; }

    public List<string> DnsNames { get; } = [];

    public List<string> EmailAddresses { get; } = [];

    public List<IPAddress> IpAddresses { get; } = [];

    public List<string> Uris { get; } = [];

    public PublicKey PublicKey { get; }

    /// <summary>
    /// Upstream's ParseCSR: the first PEM block must be a CERTIFICATE REQUEST. With <paramref name="checkSignature"/>
    /// the request must also be signed by its own key (what the signer insists on before issuing).
    /// </summary>
    public static CertificateRequestInfo Parse(byte[]? pem, bool checkSignature)
    {
        var text = Encoding.UTF8.GetString(pem ?? []);
        if (!PemEncoding.TryFind(text, out var fields) || text[fields.Label] != "CERTIFICATE REQUEST")
        {
            throw new CertificateRequestFormatException("PEM block type must be CERTIFICATE REQUEST");
        }
        byte[] der;
        try
        {
            der = Convert.FromBase64String(text[fields.Base64Data].ToString());
        }
        catch (FormatException e)
        {
            throw new CertificateRequestFormatException("PEM block type must be CERTIFICATE REQUEST", e);
        }
        if (Ed25519Request.HasEd25519Key(der))
        {
            // The BCL's CertificateRequest knows no Ed25519 keys; Go's x509 (upstream's parser) does.
            var ed25519 = Ed25519Request.Parse(der, checkSignature);
            return new CertificateRequestInfo(ed25519.Subject, ed25519.PublicKey, ed25519.Extensions);
        }
        try
        {
            // Parse without checking first so a malformed request and a forged one get different messages.
            var parsed = CertificateRequest.LoadSigningRequest(der, HashAlgorithmName.SHA256,
                CertificateRequestLoadOptions.SkipSignatureValidation | CertificateRequestLoadOptions.UnsafeLoadCertificateExtensions);
            if (!checkSignature)
            {
                return new CertificateRequestInfo(parsed);
            }
        }
        catch (Exception e) when (e is CryptographicException or AsnContentException)
        {
            throw new CertificateRequestFormatException($"unable to parse certificate request: {e.Message}", e);
        }
        try
        {
            var request = CertificateRequest.LoadSigningRequest(der, HashAlgorithmName.SHA256, CertificateRequestLoadOptions.UnsafeLoadCertificateExtensions);
            return new CertificateRequestInfo(request);
        }
        catch (Exception e) when (e is CryptographicException or AsnContentException)
        {
            throw new CertificateRequestFormatException($"unable to verify certificate request signature: {e.Message}", e);
        }
    }

    // GeneralNames ::= SEQUENCE OF GeneralName; only the kinds Go's x509 exposes are kept.
    private void ReadSubjectAltNames(byte[] raw)
    {
        try
        {
            var names = new AsnReader(raw, AsnEncodingRules.DER).ReadSequence();
            while (names.HasData)
            {
                var tag = names.PeekTag();
                if (tag.TagClass != TagClass.ContextSpecific)
                {
                    names.ReadEncodedValue();
                    continue;
                }
                switch (tag.TagValue)
                {
                    case 1:
                        EmailAddresses.Add(Encoding.ASCII.GetString(names.ReadOctetString(new Asn1Tag(TagClass.ContextSpecific, 1))));
                        break;
                    case 2:
                        DnsNames.Add(Encoding.ASCII.GetString(names.ReadOctetString(new Asn1Tag(TagClass.ContextSpecific, 2))));
                        break;
                    case 6:
                        Uris.Add(Encoding.ASCII.GetString(names.ReadOctetString(new Asn1Tag(TagClass.ContextSpecific, 6))));
                        break;
                    case 7:
                        IpAddresses.Add(new IPAddress(names.ReadOctetString(new Asn1Tag(TagClass.ContextSpecific, 7))));
                        break;
                    default:
                        names.ReadEncodedValue();
                        break;
                }
            }
        }
        catch (Exception e) when (e is AsnContentException or ArgumentException)
        {
            throw new CertificateRequestFormatException($"unable to parse subject alternative names: {e.Message}", e);
        }
    }
}

using System.Formats.Asn1;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace Kcm.Controllers.Certificates;

/// <summary>
/// A PKCS#10 request with an Ed25519 key (RFC 8410), read with AsnReader because the BCL's CertificateRequest rejects
/// the algorithm. Checks and messages follow Go's x509.ParseCertificateRequest and CheckSignature.
/// </summary>
internal sealed record Ed25519Request(X500DistinguishedName Subject, PublicKey PublicKey, IReadOnlyList<X509Extension> Extensions)
{
    public const string Ed25519Oid = "1.3.101.112";
    private const string ExtensionRequestOid = "1.2.840.113549.1.9.14";

    /// <summary>Whether the request's subjectPublicKeyInfo names Ed25519 (false for anything unreadable: the BCL path reports that).</summary>
    public static bool HasEd25519Key(byte[] der)
    {
        try
        {
            var info = new AsnReader(der, AsnEncodingRules.DER).ReadSequence().ReadSequence();
            info.ReadInteger();
            info.ReadEncodedValue();
            return info.ReadSequence().ReadSequence().ReadObjectIdentifier() == Ed25519Oid;
        }
        catch (AsnContentException)
        {
            return false;
        }
    }

    /// <exception cref="CertificateRequestFormatException">Malformed, or (with <paramref name="checkSignature"/>) not signed by its own key.</exception>
    public static Ed25519Request Parse(byte[] der, bool checkSignature)
    {
        ReadOnlyMemory<byte> tbs;
        string signatureAlgorithm;
        byte[] signature;
        Ed25519Request request;
        try
        {
            var outer = new AsnReader(der, AsnEncodingRules.DER).ReadSequence();
            tbs = outer.ReadEncodedValue();
            signatureAlgorithm = outer.ReadSequence().ReadObjectIdentifier();
            signature = outer.ReadBitString(out _);
            request = ReadInfo(tbs);
        }
        catch (AsnContentException e)
        {
            throw new CertificateRequestFormatException($"unable to parse certificate request: {e.Message}", e);
        }
        if (!checkSignature)
        {
            return request;
        }
        if (signatureAlgorithm != Ed25519Oid)
        {
            throw new CertificateRequestFormatException(
                $"unable to verify certificate request signature: x509: signature algorithm {signatureAlgorithm} does not match the public key type ed25519.PublicKey");
        }
        if (!Ed25519Verifier.Verify(request.PublicKey.EncodedKeyValue.RawData, tbs.Span, signature))
        {
            throw new CertificateRequestFormatException("unable to verify certificate request signature: x509: Ed25519 verification failure");
        }
        return request;
    }

    // CertificationRequestInfo ::= SEQUENCE { version, subject Name, subjectPKInfo, attributes [0] IMPLICIT SET OF Attribute }
    private static Ed25519Request ReadInfo(ReadOnlyMemory<byte> tbs)
    {
        var info = new AsnReader(tbs, AsnEncodingRules.DER).ReadSequence();
        info.ReadInteger();
        var subject = new X500DistinguishedName(info.ReadEncodedValue().Span);
        var spki = info.ReadSequence();
        var algorithm = spki.ReadSequence();
        algorithm.ReadObjectIdentifier();
        if (algorithm.HasData)
        {
            throw new CertificateRequestFormatException("unable to parse certificate request: x509: Ed25519 key encoded with illegal parameters");
        }
        var key = spki.ReadBitString(out _);
        if (key.Length != Ed25519Verifier.PublicKeySize)
        {
            throw new CertificateRequestFormatException("unable to parse certificate request: x509: wrong Ed25519 public key size");
        }
        var extensions = new List<X509Extension>();
        if (info.HasData)
        {
            var attributes = info.ReadSetOf(skipSortOrderValidation: true, new Asn1Tag(TagClass.ContextSpecific, 0, isConstructed: true));
            while (attributes.HasData)
            {
                var attribute = attributes.ReadSequence();
                if (attribute.ReadObjectIdentifier() != ExtensionRequestOid)
                {
                    continue;
                }
                var values = attribute.ReadSetOf(skipSortOrderValidation: true);
                while (values.HasData)
                {
                    ReadExtensions(values.ReadSequence(), extensions);
                }
            }
        }
        // Absent parameters (null), as RFC 8410 requires and as the issued certificate must carry them.
        var publicKey = new PublicKey(new Oid(Ed25519Oid), null, new AsnEncodedData(key));
        return new Ed25519Request(subject, publicKey, extensions);
    }

    // Extension ::= SEQUENCE { extnID OID, critical BOOLEAN DEFAULT FALSE, extnValue OCTET STRING }
    private static void ReadExtensions(AsnReader sequence, List<X509Extension> extensions)
    {
        while (sequence.HasData)
        {
            var extension = sequence.ReadSequence();
            var oid = extension.ReadObjectIdentifier();
            var critical = extension.PeekTag().HasSameClassAndValue(Asn1Tag.Boolean) && extension.ReadBoolean();
            extensions.Add(new X509Extension(oid, extension.ReadOctetString(), critical));
        }
    }
}

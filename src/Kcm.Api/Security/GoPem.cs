using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;

namespace Kcm.Api.Security;

/// <summary>A PEM block as Go's encoding/pem decodes it: the label and the base64-decoded body.</summary>
public sealed record PemBlock(string Type, byte[] Bytes);

/// <summary>
/// Reads certificate and key files the way upstream does (Go's pem.Decode, crypto/tls X509KeyPair and client-go's
/// cert.ParseCertsPEM), with the same error texts, so a bad file given to a flag reads as it does upstream
/// ("tls: failed to find any PEM data in certificate input", "tls: private key does not match public key", ...).
/// </summary>
public static class GoPem
{
    private const string Begin = "-----BEGIN ";
    private const string EndMarker = "-----END ";
    private const string Dashes = "-----";

    /// <summary>Every well-formed block, in order; malformed ones are skipped as pem.Decode skips them.</summary>
    public static IReadOnlyList<PemBlock> Decode(ReadOnlySpan<byte> data)
    {
        // Latin-1 keeps one char per byte, so random bytes cannot break the scan.
        var text = Encoding.Latin1.GetString(data);
        var blocks = new List<PemBlock>();
        var position = 0;
        while (position < text.Length)
        {
            int start;
            if (position == 0 && text.StartsWith(Begin, StringComparison.Ordinal))
            {
                start = 0;
            }
            else
            {
                var newline = text.IndexOf("\n" + Begin, position, StringComparison.Ordinal);
                if (newline < 0) break;
                start = newline + 1;
            }
            var typeStart = start + Begin.Length;
            var lineEnd = text.IndexOf('\n', typeStart);
            var typeLine = (lineEnd < 0 ? text[typeStart..] : text[typeStart..lineEnd]).TrimEnd('\r', ' ', '\t');
            position = lineEnd < 0 ? text.Length : lineEnd;
            if (!typeLine.EndsWith(Dashes, StringComparison.Ordinal)) continue;
            var type = typeLine[..^Dashes.Length];
            var bodyStart = position + 1;
            if (bodyStart > text.Length) continue;
            var end = text.IndexOf("\n" + EndMarker + type + Dashes, position, StringComparison.Ordinal);
            if (end < 0) continue;
            var endLineEnd = text.IndexOf('\n', end + 1);
            var restOfEndLine = (endLineEnd < 0 ? text[(end + 1 + EndMarker.Length + type.Length + Dashes.Length)..] : text[(end + 1 + EndMarker.Length + type.Length + Dashes.Length)..endLineEnd]);
            if (restOfEndLine.Trim(' ', '\t', '\r').Length != 0) continue;
            var body = bodyStart <= end ? text[bodyStart..end] : "";
            var bytes = DecodeBody(body);
            if (bytes == null) continue;
            blocks.Add(new PemBlock(type, bytes));
            position = endLineEnd < 0 ? text.Length : endLineEnd;
        }
        return blocks;
    }

    private static byte[]? DecodeBody(string body)
    {
        var lines = body.Split('\n');
        var first = 0;
        // RFC 1421 headers ("Proc-Type: 4,ENCRYPTED") come first; the base64 starts after them.
        while (first < lines.Length && lines[first].Contains(':', StringComparison.Ordinal)) first++;
        var base64 = new StringBuilder();
        foreach (var line in lines.Skip(first))
        {
            foreach (var c in line)
            {
                if (c is not (' ' or '\t' or '\r')) base64.Append(c);
            }
        }
        try
        {
            return Convert.FromBase64String(base64.ToString());
        }
        catch (FormatException)
        {
            return null;
        }
    }

    /// <summary>
    /// client-go's cert.ParseCertsPEM: every CERTIFICATE block, other blocks skipped.
    /// </summary>
    /// <exception cref="FormatException">No certificate, or a CERTIFICATE block that does not parse.</exception>
    public static IReadOnlyList<X509Certificate2> ParseCertificates(ReadOnlySpan<byte> data)
    {
        var certificates = new List<X509Certificate2>();
        foreach (var block in Decode(data).Where(b => b.Type == "CERTIFICATE"))
        {
            certificates.Add(ParseCertificate(block.Bytes));
        }
        if (certificates.Count == 0) throw new FormatException("data does not contain any valid RSA or ECDSA certificates");
        return certificates;
    }

    /// <summary>
    /// crypto/tls X509KeyPair: the first CERTIFICATE block of <paramref name="certPem"/> with the first "PRIVATE KEY"
    /// block of <paramref name="keyPem"/>, which must match it. The certificate carries the key.
    /// </summary>
    /// <exception cref="FormatException">With Go's message for what is wrong.</exception>
    public static X509Certificate2 X509KeyPair(ReadOnlySpan<byte> certPem, ReadOnlySpan<byte> keyPem)
    {
        var certBlocks = Decode(certPem);
        var der = certBlocks.FirstOrDefault(b => b.Type == "CERTIFICATE");
        if (der == null)
        {
            if (certBlocks.Count == 0) throw new FormatException("tls: failed to find any PEM data in certificate input");
            if (certBlocks.Count == 1 && certBlocks[0].Type.EndsWith("PRIVATE KEY", StringComparison.Ordinal))
                throw new FormatException("tls: failed to find certificate PEM data in certificate input, but did find a private key; PEM inputs may have been switched");
            throw new FormatException($"tls: failed to find \"CERTIFICATE\" PEM block in certificate input after skipping PEM blocks of the following types: [{string.Join(' ', certBlocks.Select(b => b.Type))}]");
        }
        var keyBlocks = Decode(keyPem);
        var key = keyBlocks.FirstOrDefault(b => b.Type == "PRIVATE KEY" || b.Type.EndsWith(" PRIVATE KEY", StringComparison.Ordinal));
        if (key == null)
        {
            if (keyBlocks.Count == 0) throw new FormatException("tls: failed to find any PEM data in key input");
            if (keyBlocks.Count == 1 && keyBlocks[0].Type == "CERTIFICATE")
                throw new FormatException("tls: found a certificate rather than a key in the PEM for the private key");
            throw new FormatException($"tls: failed to find PEM block with type ending in \"PRIVATE KEY\" in key input after skipping PEM blocks of the following types: [{string.Join(' ', keyBlocks.Select(b => b.Type))}]");
        }
        using var certificate = ParseCertificate(der.Bytes);
        using var privateKey = ParsePrivateKey(key.Bytes);
        switch (privateKey)
        {
            case RSA rsa:
                using (var publicKey = certificate.GetRSAPublicKey())
                {
                    if (publicKey == null) throw MismatchedType(certificate);
                    if (!publicKey.ExportParameters(false).Modulus.AsSpan().SequenceEqual(rsa.ExportParameters(false).Modulus))
                        throw new FormatException("tls: private key does not match public key");
                    return certificate.CopyWithPrivateKey(rsa);
                }
            case ECDsa ecdsa:
                using (var publicKey = certificate.GetECDsaPublicKey())
                {
                    if (publicKey == null) throw MismatchedType(certificate);
                    var expected = publicKey.ExportParameters(false).Q;
                    var actual = ecdsa.ExportParameters(false).Q;
                    if (!expected.X.AsSpan().SequenceEqual(actual.X) || !expected.Y.AsSpan().SequenceEqual(actual.Y))
                        throw new FormatException("tls: private key does not match public key");
                    return certificate.CopyWithPrivateKey(ecdsa);
                }
            default:
                throw new FormatException("tls: failed to parse private key");
        }
    }

    private static FormatException MismatchedType(X509Certificate2 certificate)
        => certificate.PublicKey.Oid.Value is "1.2.840.113549.1.1.1" or "1.2.840.10045.2.1"
            ? new FormatException("tls: private key type does not match public key type")
            : new FormatException("tls: unknown public key algorithm");

    private static X509Certificate2 ParseCertificate(byte[] der)
    {
        try
        {
            return X509CertificateLoader.LoadCertificate(der);
        }
        catch (CryptographicException)
        {
            throw new FormatException("x509: malformed certificate");
        }
    }

    // Go's parsePrivateKey: PKCS#1, then PKCS#8, then SEC 1, whatever the block's label says.
    private static AsymmetricAlgorithm ParsePrivateKey(byte[] der)
    {
        var rsa = RSA.Create();
        if (TryImport(() => rsa.ImportRSAPrivateKey(der, out _)) || TryImport(() => rsa.ImportPkcs8PrivateKey(der, out _))) return rsa;
        rsa.Dispose();
        var ecdsa = ECDsa.Create();
        if (TryImport(() => ecdsa.ImportPkcs8PrivateKey(der, out _)) || TryImport(() => ecdsa.ImportECPrivateKey(der, out _))) return ecdsa;
        ecdsa.Dispose();
        throw new FormatException("tls: failed to parse private key");
    }

    private static bool TryImport(Action import)
    {
        try
        {
            import();
            return true;
        }
        catch (CryptographicException)
        {
            return false;
        }
    }
}

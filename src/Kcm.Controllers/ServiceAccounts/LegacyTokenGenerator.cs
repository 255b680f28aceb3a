using System.Security.Cryptography;
using System.Text;
using Kcm.Api.Core.V1;
using Kcm.Controllers.Common;

namespace Kcm.Controllers.ServiceAccounts;

/// <summary>--service-account-private-key-file cannot be read or holds no usable key.</summary>
public sealed class ServiceAccountKeyFileException(string path, string detail)
    : Exception($"error reading key for service account token controller: {path}: {detail}");

/// <summary>
/// Upstream's JWTTokenGenerator with the legacy issuer: signs the claims of Secret-based service account tokens
/// (serviceaccount.LegacyClaims) with an RSA key (RS256) or an ECDSA key (ES256/ES384/ES512 by curve). The header
/// carries "kid": base64url of the SHA-256 of the public key's PKIX DER, as keyIDFromPublicKey derives it.
/// </summary>
public sealed class LegacyTokenGenerator : IDisposable
{
    public const string LegacyIssuer = "kubernetes/serviceaccount";

    private readonly AsymmetricAlgorithm _key;
    private readonly string _algorithm;
    private readonly HashAlgorithmName _hash;

    private LegacyTokenGenerator(AsymmetricAlgorithm key, string algorithm, HashAlgorithmName hash, byte[] subjectPublicKeyInfo)
    {
        _key = key;
        _algorithm = algorithm;
        _hash = hash;
        KeyId = JoseEncoding.Base64Url(SHA256.HashData(subjectPublicKeyInfo));
    }

    public string KeyId { get; }

    public string Algorithm => _algorithm;

    /// <summary>
    /// Reads the first private key in a PEM file as keyutil.PrivateKeyFromFile does: "RSA PRIVATE KEY" (PKCS#1),
    /// "EC PRIVATE KEY" (SEC 1) or "PRIVATE KEY" (PKCS#8 holding RSA or ECDSA); other blocks are skipped.
    /// </summary>
    public static LegacyTokenGenerator FromPemFile(string path)
    {
        string pem;
        try
        {
            pem = File.ReadAllText(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new ServiceAccountKeyFileException(path, e.Message);
        }
        return FromPem(pem, path);
    }

    public static LegacyTokenGenerator FromPem(string pem, string source)
    {
        var rest = pem.AsSpan();
        while (PemEncoding.TryFind(rest, out var fields))
        {
            var label = rest[fields.Label].ToString();
            var base64 = rest[fields.Base64Data].ToString();
            rest = rest[fields.Location.End..];
            if (label is not ("RSA PRIVATE KEY" or "EC PRIVATE KEY" or "PRIVATE KEY")) continue;
            byte[] der;
            try
            {
                der = Convert.FromBase64String(base64);
            }
            catch (FormatException e)
            {
                throw new ServiceAccountKeyFileException(source, $"invalid PEM block {label}: {e.Message}");
            }
            try
            {
                return label switch
                {
                    "RSA PRIVATE KEY" => ForRsa(rsa => rsa.ImportRSAPrivateKey(der, out _), source),
                    "EC PRIVATE KEY" => ForEcdsa(ec => ec.ImportECPrivateKey(der, out _), source),
                    _ => FromPkcs8(der, source),
                };
            }
            catch (Exception e) when (e is CryptographicException or System.Formats.Asn1.AsnContentException)
            {
                throw new ServiceAccountKeyFileException(source, $"cannot parse {label}: {e.Message}");
            }
        }
        throw new ServiceAccountKeyFileException(source, "data does not contain a valid RSA or ECDSA private key");
    }

    private static LegacyTokenGenerator FromPkcs8(byte[] der, string source)
    {
        var info = Pkcs8AlgorithmOid(der);
        return info switch
        {
            "1.2.840.113549.1.1.1" => ForRsa(rsa => rsa.ImportPkcs8PrivateKey(der, out _), source),
            "1.2.840.10045.2.1" => ForEcdsa(ec => ec.ImportPkcs8PrivateKey(der, out _), source),
            _ => throw new ServiceAccountKeyFileException(source, $"PKCS#8 key of algorithm {info} is neither RSA nor ECDSA"),
        };
    }

    private static string Pkcs8AlgorithmOid(byte[] der)
    {
        // PrivateKeyInfo ::= SEQUENCE { version INTEGER, privateKeyAlgorithm AlgorithmIdentifier, ... }
        var reader = new System.Formats.Asn1.AsnReader(der, System.Formats.Asn1.AsnEncodingRules.BER);
        var info = reader.ReadSequence();
        info.ReadInteger();
        return info.ReadSequence().ReadObjectIdentifier();
    }

    private static LegacyTokenGenerator ForRsa(Action<RSA> import, string source)
    {
        var rsa = RSA.Create();
        try
        {
            import(rsa);
            return new LegacyTokenGenerator(rsa, "RS256", HashAlgorithmName.SHA256, rsa.ExportSubjectPublicKeyInfo());
        }
        catch
        {
            rsa.Dispose();
            throw;
        }
    }

    private static LegacyTokenGenerator ForEcdsa(Action<ECDsa> import, string source)
    {
        var ec = ECDsa.Create();
        try
        {
            import(ec);
            var (alg, hash) = ec.KeySize switch
            {
                256 => ("ES256", HashAlgorithmName.SHA256),
                384 => ("ES384", HashAlgorithmName.SHA384),
                521 => ("ES512", HashAlgorithmName.SHA512),
                _ => throw new ServiceAccountKeyFileException(source, "unknown private key curve, must be 256, 384, or 521"),
            };
            return new LegacyTokenGenerator(ec, alg, hash, ec.ExportSubjectPublicKeyInfo());
        }
        catch
        {
            ec.Dispose();
            throw;
        }
    }

    /// <summary>
    /// A legacy token for <paramref name="serviceAccount"/> stored in <paramref name="secret"/>: the legacy private
    /// claims, sub system:serviceaccount:&lt;ns&gt;:&lt;name&gt; and iss kubernetes/serviceaccount; no exp, aud or iat.
    /// </summary>
    public string GenerateToken(ServiceAccount serviceAccount, Secret secret)
    {
        var ns = serviceAccount.Metadata?.Namespace ?? "";
        var name = serviceAccount.Metadata?.Name ?? "";
        var claims = JoseEncoding.JsonObject(
        [
            new("iss", LegacyIssuer),
            new("sub", $"system:serviceaccount:{ns}:{name}"),
            new("kubernetes.io/serviceaccount/namespace", ns),
            new("kubernetes.io/serviceaccount/secret.name", secret.Metadata?.Name ?? ""),
            new("kubernetes.io/serviceaccount/service-account.name", name),
            new("kubernetes.io/serviceaccount/service-account.uid", serviceAccount.Metadata?.Uid ?? ""),
        ]);
        var header = JoseEncoding.JsonObject([new("alg", _algorithm), new("kid", KeyId)]);
        var signingInput = JoseEncoding.Base64Url(header) + "." + JoseEncoding.Base64Url(claims);
        var data = Encoding.ASCII.GetBytes(signingInput);
        var signature = _key switch
        {
            RSA rsa => rsa.SignData(data, _hash, RSASignaturePadding.Pkcs1),
            ECDsa ec => ec.SignData(data, _hash, DSASignatureFormat.IeeeP1363FixedFieldConcatenation),
            _ => throw new InvalidOperationException("unreachable: key is RSA or ECDSA"),
        };
        return signingInput + "." + JoseEncoding.Base64Url(signature);
    }

    public void Dispose() => _key.Dispose();
}

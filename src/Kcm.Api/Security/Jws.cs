using System.Buffers.Text;
using System.Security.Cryptography;
using System.Text;

namespace Kcm.Api.Security;

/// <summary>
/// Compact JWS (header.payload.signature, unpadded base64url parts) signed as go-jose signs upstream's service
/// account tokens: RS* with PKCS#1 v1.5, ES* with the fixed-size r||s form, and "kid" derived from the public key.
/// Shared by the apiserver's token signer and the controllers' legacy token generator.
/// </summary>
public static class Jws
{
    /// <summary>The signing algorithm for a key: RS256 for RSA, ES256/384/512 by curve size; null for other keys.</summary>
    public static string? AlgorithmFor(AsymmetricAlgorithm key) => key switch
    {
        RSA => "RS256",
        ECDsa { KeySize: 256 } => "ES256",
        ECDsa { KeySize: 384 } => "ES384",
        ECDsa { KeySize: 521 } => "ES512",
        _ => null,
    };

    /// <summary>The digest of an RS*/ES*/PS* algorithm name (its last three digits); SHA-256 unless 384 or 512.</summary>
    public static HashAlgorithmName HashFor(string algorithm) => algorithm.AsSpan()[^3..] switch
    {
        "384" => HashAlgorithmName.SHA384,
        "512" => HashAlgorithmName.SHA512,
        _ => HashAlgorithmName.SHA256,
    };

    /// <summary>Upstream's keyIDFromPublicKey: unpadded base64url of the SHA-256 of the PKIX (SubjectPublicKeyInfo) DER.</summary>
    public static string KeyId(ReadOnlySpan<byte> subjectPublicKeyInfo) => Base64Url.EncodeToString(SHA256.HashData(subjectPublicKeyInfo));

    /// <summary>Signs the given header and payload JSON texts with an RSA or ECDSA key.</summary>
    public static string Sign(string headerJson, string payloadJson, AsymmetricAlgorithm key, string algorithm)
    {
        var signingInput = Base64Url.EncodeToString(Encoding.UTF8.GetBytes(headerJson)) + "." +
            Base64Url.EncodeToString(Encoding.UTF8.GetBytes(payloadJson));
        var data = Encoding.ASCII.GetBytes(signingInput);
        var hash = HashFor(algorithm);
        var signature = key switch
        {
            RSA rsa => rsa.SignData(data, hash, RSASignaturePadding.Pkcs1),
            ECDsa ec => ec.SignData(data, hash, DSASignatureFormat.IeeeP1363FixedFieldConcatenation),
            _ => throw new ArgumentException($"a JWS key must be RSA or ECDSA, not {key.GetType().Name}", nameof(key)),
        };
        return signingInput + "." + Base64Url.EncodeToString(signature);
    }
}

using System.Buffers.Text;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Kcm.ApiServer.Authentication.ServiceAccounts;

/// <summary>A compact JWS (header.payload.signature) taken apart; the signature is checked separately.</summary>
public sealed class JsonWebToken
{
    private JsonWebToken(JsonObject header, JsonObject payload, byte[] signingInput, byte[] signature)
    {
        Header = header;
        Payload = payload;
        SigningInput = signingInput;
        Signature = signature;
    }

    public JsonObject Header { get; }
    public JsonObject Payload { get; }
    private byte[] SigningInput { get; }
    private byte[] Signature { get; }

    public string Algorithm => StoredObjects.Str(Header["alg"]);

    /// <summary>Null when the text is not a compact JWS with JSON object header and payload.</summary>
    public static JsonWebToken? TryParse(string token)
    {
        var parts = token.Split('.');
        if (parts.Length != 3) return null;
        try
        {
            var header = JsonNode.Parse(Base64Url.DecodeFromChars(parts[0])) as JsonObject;
            var payload = JsonNode.Parse(Base64Url.DecodeFromChars(parts[1])) as JsonObject;
            if (header is null || payload is null) return null;
            return new JsonWebToken(header, payload, Encoding.ASCII.GetBytes(parts[0] + "." + parts[1]), Base64Url.DecodeFromChars(parts[2]));
        }
        catch (Exception e) when (e is FormatException or JsonException)
        {
            return null;
        }
    }

    /// <summary>Checks the signature with one key; the algorithm must suit the key's type as go-jose requires.</summary>
    public bool VerifyWith(ServiceAccountPublicKey key)
    {
        var alg = Algorithm;
        var hash = alg.Length == 5 ? alg[2..] switch
        {
            "256" => HashAlgorithmName.SHA256,
            "384" => HashAlgorithmName.SHA384,
            "512" => HashAlgorithmName.SHA512,
            _ => default,
        } : default;
        if (hash == default) return false;
        try
        {
            switch (alg[..2])
            {
                case "RS" or "PS" when key.IsRsa:
                {
                    using var rsa = RSA.Create();
                    rsa.ImportSubjectPublicKeyInfo(key.SubjectPublicKeyInfo, out _);
                    return rsa.VerifyData(SigningInput, Signature, hash, alg[0] == 'R' ? RSASignaturePadding.Pkcs1 : RSASignaturePadding.Pss);
                }
                case "ES" when !key.IsRsa:
                {
                    using var ec = ECDsa.Create();
                    ec.ImportSubjectPublicKeyInfo(key.SubjectPublicKeyInfo, out _);
                    if (ExpectedCurveBits(alg) != ec.KeySize) return false;
                    return ec.VerifyData(SigningInput, Signature, hash, DSASignatureFormat.IeeeP1363FixedFieldConcatenation);
                }
                default:
                    return false;
            }
        }
        catch (CryptographicException)
        {
            return false;
        }
    }

    private static int ExpectedCurveBits(string alg) => alg switch
    {
        "ES256" => 256,
        "ES384" => 384,
        _ => 521,
    };
}

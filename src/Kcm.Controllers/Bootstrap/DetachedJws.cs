using System.Security.Cryptography;
using System.Text;
using Kcm.Controllers.Common;

namespace Kcm.Controllers.Bootstrap;

/// <summary>
/// The detached JWS (RFC 7515 appendix F) that cluster-bootstrap's jws.ComputeDetachedSignature produces: a compact
/// HS256 JWS keyed by the token secret, protected header {"alg":"HS256","kid":"&lt;token-id&gt;"}, with the payload
/// part left empty: "header..signature".
/// </summary>
public static class DetachedJws
{
    public static string Compute(string content, string tokenId, string tokenSecret)
    {
        // Upstream pads secrets shorter than 32 bytes with zeros for go-jose; HMAC zero-pads keys to the block
        // size anyway, so padding changes nothing, but it keeps the key exactly upstream's.
        var key = Encoding.UTF8.GetBytes(tokenSecret);
        if (key.Length < 32) Array.Resize(ref key, 32);
        var header = JoseEncoding.Base64Url(JoseEncoding.JsonObject([new("alg", "HS256"), new("kid", tokenId)]));
        var payload = JoseEncoding.Base64Url(content);
        var signature = HMACSHA256.HashData(key, Encoding.ASCII.GetBytes(header + "." + payload));
        return header + ".." + JoseEncoding.Base64Url(signature);
    }

    /// <summary>Whether <paramref name="detached"/> is exactly what <see cref="Compute"/> gives (upstream's DetachedTokenIsValid).</summary>
    public static bool IsValid(string detached, string content, string tokenId, string tokenSecret)
        => CryptographicOperations.FixedTimeEquals(Encoding.ASCII.GetBytes(detached), Encoding.ASCII.GetBytes(Compute(content, tokenId, tokenSecret)));
}

using System.Buffers.Text;
using System.Text.Json;
using Kcm.ApiServer.Errors;

namespace Kcm.ApiServer.Storage;

/// <summary>
/// List continuation as upstream encodes it: unpadded base64url of {"v":"meta.k8s.io/v1","rv":N,"start":"key\u0000"},
/// where start is the key after which the next page begins (relative to the resource prefix).
/// </summary>
public readonly record struct ContinueToken(long ResourceVersion, string StartKey)
{
    private const string EncodingVersion = "meta.k8s.io/v1";

    public string Encode()
    {
        var buffer = new System.Buffers.ArrayBufferWriter<byte>(128);
        using (var w = new Utf8JsonWriter(buffer))
        {
            w.WriteStartObject();
            w.WriteString("v", EncodingVersion);
            w.WriteNumber("rv", ResourceVersion);
            w.WriteString("start", StartKey + "\0");
            w.WriteEndObject();
        }
        return Base64Url.EncodeToString(buffer.WrittenSpan);
    }

    /// <summary>Decodes a token, failing with upstream's 400 messages.</summary>
    public static ContinueToken Decode(string token)
    {
        byte[] raw;
        try
        {
            raw = Base64Url.DecodeFromChars(token);
        }
        catch (FormatException)
        {
            throw Invalid("illegal base64 data at input byte 0");
        }
        JsonDocument doc;
        try
        {
            doc = JsonDocument.Parse(raw);
        }
        catch (JsonException)
        {
            var bad = raw.Length > 0 ? (char)raw[0] : ' ';
            throw Invalid($"invalid character '{EscapeChar(bad)}' looking for beginning of value");
        }
        using (doc)
        {
            var root = doc.RootElement;
            if (root.ValueKind != JsonValueKind.Object || !root.TryGetProperty("v", out var v) || v.ValueKind != JsonValueKind.String || v.GetString() != EncodingVersion)
            {
                throw Invalid("server does not recognize this encoded version");
            }
            var rv = root.TryGetProperty("rv", out var rvEl) && rvEl.ValueKind == JsonValueKind.Number ? rvEl.GetInt64() : 0;
            var start = root.TryGetProperty("start", out var s) && s.ValueKind == JsonValueKind.String ? s.GetString()! : "";
            if (start.EndsWith('\0')) start = start[..^1];
            if (start.Length == 0 || start.Contains("..") || start.StartsWith('/'))
            {
                throw Invalid("start key must not be empty or escape the resource prefix");
            }
            return new ContinueToken(rv, start);
        }
    }

    private static ApiException Invalid(string detail) => ApiException.BadRequest($"invalid continue token: continue key is not valid: {detail}");

    private static string EscapeChar(char c) => c < 0x20 || c >= 0x7f ? $"\\u{(int)c:x4}" : c.ToString();
}

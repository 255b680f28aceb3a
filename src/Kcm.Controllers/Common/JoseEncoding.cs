using System.Text;

namespace Kcm.Controllers.Common;

/// <summary>
/// The byte-exact encodings go-jose produces for upstream's tokens: unpadded base64url, and JSON objects written
/// as Go's encoding/json writes a map (keys sorted, HTML-safe escapes), so our signatures match upstream's.
/// </summary>
public static class JoseEncoding
{
    public static string Base64Url(ReadOnlySpan<byte> bytes) => System.Buffers.Text.Base64Url.EncodeToString(bytes);

    public static string Base64Url(string text) => Base64Url(Encoding.UTF8.GetBytes(text));

    /// <summary>A flat JSON object of string members, keys in ordinal order as Go sorts map keys.</summary>
    public static string JsonObject(IEnumerable<KeyValuePair<string, string>> members)
    {
        var sb = new StringBuilder("{");
        foreach (var (key, value) in members.OrderBy(m => m.Key, StringComparer.Ordinal))
        {
            if (sb.Length > 1) sb.Append(',');
            AppendString(sb, key);
            sb.Append(':');
            AppendString(sb, value);
        }
        return sb.Append('}').ToString();
    }

    private static void AppendString(StringBuilder sb, string value)
    {
        sb.Append('"');
        foreach (var c in value)
        {
            switch (c)
            {
                case '"': sb.Append("\\\""); break;
                case '\\': sb.Append("\\\\"); break;
                case '\n': sb.Append("\\n"); break;
                case '\r': sb.Append("\\r"); break;
                case '\t': sb.Append("\\t"); break;
                case '<' or '>' or '&' or '\u2028' or '\u2029' or < ' ': sb.Append($"\\u{(int)c:x4}"); break;
                default: sb.Append(c); break;
            }
        }
        sb.Append('"');
    }
}

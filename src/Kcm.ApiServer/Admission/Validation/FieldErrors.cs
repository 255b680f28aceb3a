using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Kcm.ApiServer.Errors;

namespace Kcm.ApiServer.Admission.Validation;

/// <summary>Collects field errors worded as apimachinery's field.Error (Required value, Invalid value: …, Duplicate value: …).</summary>
internal sealed class FieldErrors
{
    public List<StatusCauseInfo> Causes { get; } = [];

    public void Required(string path, string detail = "")
        => Causes.Add(new("FieldValueRequired", detail.Length == 0 ? "Required value" : $"Required value: {detail}", path));

    public void Invalid(string path, string goValue, string detail)
        => Causes.Add(new("FieldValueInvalid", $"Invalid value: {goValue}: {detail}", path));

    public void Duplicate(string path, string goValue) => Causes.Add(new("FieldValueDuplicate", $"Duplicate value: {goValue}", path));

    /// <summary>A string as Go's %q writes it.</summary>
    public static string Quote(string s)
    {
        var sb = new StringBuilder("\"");
        foreach (var c in s)
        {
            switch (c)
            {
                case '"': sb.Append("\\\""); break;
                case '\\': sb.Append("\\\\"); break;
                case '\n': sb.Append("\\n"); break;
                case '\t': sb.Append("\\t"); break;
                default:
                    if (c < 0x20) sb.Append(CultureInfo.InvariantCulture, $"\\x{(int)c:x2}");
                    else sb.Append(c);
                    break;
            }
        }
        return sb.Append('"').ToString();
    }

    /// <summary>A map[string]string as Go's %#v writes it (keys sorted).</summary>
    public static string GoStringMap(JsonObject? map)
    {
        if (map is null) return "map[string]string(nil)";
        var entries = map.OrderBy(p => p.Key, StringComparer.Ordinal)
            .Select(p => $"{Quote(p.Key)}:{Quote(p.Value is JsonValue v && v.GetValueKind() == JsonValueKind.String ? v.GetValue<string>() : "")}");
        return "map[string]string{" + string.Join(", ", entries) + "}";
    }

    /// <summary>A []byte as Go's %#v writes it.</summary>
    public static string GoBytes(byte[]? bytes)
        => bytes is null or { Length: 0 } ? "[]byte(nil)" : "[]byte{" + string.Join(", ", bytes.Select(b => $"0x{b:x}")) + "}";
}

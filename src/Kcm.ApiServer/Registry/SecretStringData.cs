using System.Text;
using System.Text.Json.Nodes;

namespace Kcm.ApiServer.Registry;

/// <summary>
/// Upstream's v1 → internal Secret conversion: stringData is a write-only convenience; each entry is stored in data
/// (base64 of its UTF-8 bytes), overriding a data entry of the same key, and stringData itself is never stored.
/// </summary>
public static class SecretStringData
{
    public static void MergeIntoData(JsonObject secret)
    {
        if (!secret.ContainsKey("stringData")) return;
        var stringData = secret["stringData"] as JsonObject;
        secret.Remove("stringData");
        if (stringData is null || stringData.Count == 0) return;
        if (secret["data"] is not JsonObject data)
        {
            data = new JsonObject();
            secret["data"] = data;
        }
        foreach (var (key, value) in stringData)
        {
            var text = value is JsonValue v && v.TryGetValue<string>(out var s) ? s : value?.ToJsonString() ?? "";
            data[key] = Convert.ToBase64String(Encoding.UTF8.GetBytes(text));
        }
    }
}

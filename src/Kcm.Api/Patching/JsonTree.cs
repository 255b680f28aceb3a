using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Kcm.Api.Patching;

internal enum NodeKind { Null, Object, Array, Scalar }

/// <summary>Small helpers over <see cref="JsonNode"/> shared by the patch engines.</summary>
internal static class JsonTree
{
    public static NodeKind Kind(JsonNode? node) => node switch
    {
        null => NodeKind.Null,
        JsonObject => NodeKind.Object,
        JsonArray => NodeKind.Array,
        _ => node.GetValueKind() == JsonValueKind.Null ? NodeKind.Null : NodeKind.Scalar,
    };

    public static JsonNode? Clone(JsonNode? node) => node?.DeepClone();

    /// <summary>Structural equality where numbers compare by value (1 == 1.0), as decoded JSON does upstream.</summary>
    public static bool Equal(JsonNode? a, JsonNode? b)
    {
        var kind = Kind(a);
        if (kind != Kind(b)) return false;
        switch (kind)
        {
            case NodeKind.Null:
                return true;
            case NodeKind.Object:
            {
                var oa = (JsonObject)a!;
                var ob = (JsonObject)b!;
                if (oa.Count != ob.Count) return false;
                foreach (var (key, value) in oa)
                {
                    if (!ob.TryGetPropertyValue(key, out var other) || !Equal(value, other)) return false;
                }
                return true;
            }
            case NodeKind.Array:
            {
                var la = (JsonArray)a!;
                var lb = (JsonArray)b!;
                if (la.Count != lb.Count) return false;
                for (var i = 0; i < la.Count; i++)
                {
                    if (!Equal(la[i], lb[i])) return false;
                }
                return true;
            }
            default:
                return ScalarEqual(a!, b!);
        }
    }

    private static bool ScalarEqual(JsonNode a, JsonNode b)
    {
        var ka = a.GetValueKind();
        var kb = b.GetValueKind();
        if (ka != kb) return false;
        return ka switch
        {
            JsonValueKind.String => a.GetValue<string>() == b.GetValue<string>(),
            JsonValueKind.Number => NumberEqual(a.ToJsonString(), b.ToJsonString()),
            _ => true, // true/false are distinct kinds
        };
    }

    private static bool NumberEqual(string a, string b)
    {
        if (a == b) return true;
        if (decimal.TryParse(a, NumberStyles.Float, CultureInfo.InvariantCulture, out var da)
            && decimal.TryParse(b, NumberStyles.Float, CultureInfo.InvariantCulture, out var db))
        {
            return da == db;
        }
        return double.Parse(a, CultureInfo.InvariantCulture) == double.Parse(b, CultureInfo.InvariantCulture);
    }

    /// <summary>Text of a scalar the way Go's %v prints a decoded JSON scalar; used for ordering and messages.</summary>
    public static string ScalarText(JsonNode? node) => node switch
    {
        null => "<nil>",
        JsonValue v when v.GetValueKind() == JsonValueKind.String => v.GetValue<string>(),
        _ => node.ToJsonString(),
    };

    public static string Describe(JsonNode? node) => node?.ToJsonString() ?? "null";
}

using System.Text.Json;
using System.Text.Json.Nodes;

namespace Kcm.Differ;

/// <summary>Compares two runs' normalised objects, keyed by Kind/name, as flattened "path = value" lines.</summary>
public static class ObjectDiff
{
    /// <summary>One line per leaf: "spec.template.metadata.labels.app = web".</summary>
    public static List<string> Flatten(JsonNode? node, string path = "")
    {
        var lines = new List<string>();
        switch (node)
        {
            case JsonObject o when o.Count > 0:
                foreach (var (key, value) in o) lines.AddRange(Flatten(value, path.Length == 0 ? key : $"{path}.{key}"));
                break;
            case JsonArray a when a.Count > 0:
                for (var i = 0; i < a.Count; i++) lines.AddRange(Flatten(a[i], $"{path}[{i}]"));
                break;
            default:
                lines.Add($"{path} = {node?.ToJsonString(new JsonSerializerOptions { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping }) ?? "null"}");
                break;
        }
        return lines;
    }

    /// <summary>A report section per differing object ("-" upstream only, "+" ours only); empty when the runs agree.</summary>
    public static List<string> Compare(IReadOnlyDictionary<string, JsonObject> upstream, IReadOnlyDictionary<string, JsonObject> ours)
    {
        var report = new List<string>();
        foreach (var key in upstream.Keys.Union(ours.Keys).Order(StringComparer.Ordinal))
        {
            if (!ours.TryGetValue(key, out var mine))
            {
                report.Add($"{key}: only upstream has it");
                continue;
            }
            if (!upstream.TryGetValue(key, out var theirs))
            {
                report.Add($"{key}: only ours has it");
                continue;
            }
            var a = Flatten(theirs);
            var b = Flatten(mine);
            var removed = a.Except(b).ToList();
            var added = b.Except(a).ToList();
            if (removed.Count == 0 && added.Count == 0) continue;
            report.Add($"{key}:");
            report.AddRange(removed.Select(l => $"  - {l}"));
            report.AddRange(added.Select(l => $"  + {l}"));
        }
        return report;
    }

    /// <summary>Keys objects; identical keys (several generated names) get #1, #2 in the order of their content.</summary>
    public static Dictionary<string, JsonObject> Index(IEnumerable<(string Key, JsonObject Object)> objects)
    {
        var index = new Dictionary<string, JsonObject>(StringComparer.Ordinal);
        foreach (var group in objects.GroupBy(o => o.Key))
        {
            var items = group.Select(g => g.Object).OrderBy(o => o.ToJsonString(), StringComparer.Ordinal).ToList();
            if (items.Count == 1)
            {
                index[group.Key] = items[0];
                continue;
            }
            for (var i = 0; i < items.Count; i++) index[$"{group.Key} #{i + 1}"] = items[i];
        }
        return index;
    }
}

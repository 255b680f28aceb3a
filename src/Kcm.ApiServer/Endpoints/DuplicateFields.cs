using System.Text.Json;
using System.Text.Json.Nodes;

namespace Kcm.ApiServer.Endpoints;

/// <summary>
/// Members repeated within one JSON object: upstream's strict decoder reports them ("duplicate field \"metadata.name\"")
/// and, as Go's decoder, keeps the last value.
/// </summary>
internal static class DuplicateFields
{
    public static List<string> Find(ReadOnlySpan<byte> json)
    {
        var found = new List<string>();
        var reader = new Utf8JsonReader(json, new JsonReaderOptions { MaxDepth = 10000 });
        // One frame per open container: its path, the member names seen (objects) or the next index (arrays).
        var frames = new Stack<(string Path, HashSet<string>? Names, int Index)>();
        string? pendingName = null;
        while (reader.Read())
        {
            switch (reader.TokenType)
            {
                case JsonTokenType.PropertyName:
                    var name = reader.GetString()!;
                    var top = frames.Peek();
                    if (!top.Names!.Add(name)) found.Add(Join(top.Path, name));
                    pendingName = name;
                    break;
                case JsonTokenType.StartObject:
                case JsonTokenType.StartArray:
                    var path = ChildPath(frames, pendingName);
                    pendingName = null;
                    frames.Push((path, reader.TokenType == JsonTokenType.StartObject ? new HashSet<string>(StringComparer.Ordinal) : null, 0));
                    break;
                case JsonTokenType.EndObject:
                case JsonTokenType.EndArray:
                    frames.Pop();
                    AdvanceArray(frames);
                    break;
                default:
                    pendingName = null;
                    AdvanceArray(frames);
                    break;
            }
        }
        return found;
    }

    /// <summary>A JsonObject for a document with repeated members, the last one winning.</summary>
    public static JsonNode? LastWins(JsonElement e) => e.ValueKind switch
    {
        JsonValueKind.Object => BuildObject(e),
        JsonValueKind.Array => new JsonArray(e.EnumerateArray().Select(LastWins).ToArray()),
        // Cloned: the document the element comes from is disposed after parsing.
        _ => JsonValue.Create(e.Clone()),
    };

    private static JsonObject BuildObject(JsonElement e)
    {
        var obj = new JsonObject();
        foreach (var p in e.EnumerateObject()) obj[p.Name] = LastWins(p.Value);
        return obj;
    }

    private static string ChildPath(Stack<(string Path, HashSet<string>? Names, int Index)> frames, string? name)
    {
        if (frames.Count == 0) return "";
        var parent = frames.Peek();
        return parent.Names is null ? $"{parent.Path}[{parent.Index}]" : Join(parent.Path, name ?? "");
    }

    private static void AdvanceArray(Stack<(string Path, HashSet<string>? Names, int Index)> frames)
    {
        if (frames.Count == 0 || frames.Peek().Names is not null) return;
        var (p, n, i) = frames.Pop();
        frames.Push((p, n, i + 1));
    }

    private static string Join(string path, string name) => path.Length == 0 ? name : $"{path}.{name}";
}

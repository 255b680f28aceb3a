using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Kcm.Api.Patching;

/// <summary>RFC 6902 JSON Patch (application/json-patch+json).</summary>
public static class JsonPatch
{
    /// <summary>Applies <paramref name="patch"/> (a JSON array of operations) to a copy of <paramref name="document"/>.</summary>
    public static JsonNode Apply(JsonNode document, JsonNode patch)
    {
        ArgumentNullException.ThrowIfNull(document);
        ArgumentNullException.ThrowIfNull(patch);
        if (patch is not JsonArray operations)
        {
            throw new PatchException("json patch: the patch must be a JSON array of operations");
        }

        // A holder lets operations on the root pointer ("") replace the whole document.
        var root = new JsonArray(document.DeepClone());
        for (var i = 0; i < operations.Count; i++)
        {
            if (operations[i] is not JsonObject operation)
            {
                throw new PatchException($"json patch: operation {i} is not a JSON object");
            }
            ApplyOperation(root, operation, i);
        }
        return root[0] ?? throw new PatchException("json patch: the patched document is null");
    }

    private static void ApplyOperation(JsonArray root, JsonObject operation, int index)
    {
        var op = RequiredString(operation, "op", index, "?");
        var path = RequiredString(operation, "path", index, op);
        var target = Pointer.Parse(path, op);
        switch (op)
        {
            case "add":
                Add(root, target, RequiredValue(operation, op, path), op);
                break;
            case "remove":
                Remove(root, target, op);
                break;
            case "replace":
            {
                var value = RequiredValue(operation, op, path);
                Remove(root, target, op);
                Add(root, target, value, op);
                break;
            }
            case "move":
            {
                var fromPath = RequiredString(operation, "from", index, op);
                var from = Pointer.Parse(fromPath, op);
                if (fromPath != path && path.StartsWith(fromPath + "/", StringComparison.Ordinal))
                {
                    throw new PatchException($"json patch move operation from \"{fromPath}\" to \"{path}\": a value cannot be moved into one of its own children");
                }
                var value = Remove(root, from, op);
                Add(root, target, value, op);
                break;
            }
            case "copy":
            {
                var fromPath = RequiredString(operation, "from", index, op);
                var value = Get(root, Pointer.Parse(fromPath, op), op);
                Add(root, target, JsonTree.Clone(value), op);
                break;
            }
            case "test":
            {
                var expected = RequiredValue(operation, op, path);
                // Like the json-patch library upstream uses, testing an absent member for null succeeds.
                if (expected is null && target.Tokens.Count > 0
                    && Get(root, target.Parent, op, target) is JsonObject parent && !parent.ContainsKey(target.Tokens[^1]))
                {
                    break;
                }
                var actual = Get(root, target, op);
                if (!JsonTree.Equal(actual, expected))
                {
                    throw new PatchException($"json patch test operation at path \"{path}\" failed: expected {JsonTree.Describe(expected)} but found {JsonTree.Describe(actual)}");
                }
                break;
            }
            default:
                throw new PatchException($"json patch: operation {index} has unsupported op \"{op}\"");
        }
    }

    private static string RequiredString(JsonObject operation, string member, int index, string op)
    {
        if (operation.TryGetPropertyValue(member, out var node) && node is JsonValue value && value.GetValueKind() == JsonValueKind.String)
        {
            return value.GetValue<string>();
        }
        throw new PatchException(op == "?"
            ? $"json patch: operation {index} is missing the \"{member}\" member"
            : $"json patch {op} operation (index {index}) is missing the string \"{member}\" member");
    }

    private static JsonNode? RequiredValue(JsonObject operation, string op, string path)
    {
        if (!operation.TryGetPropertyValue("value", out var value))
        {
            throw new PatchException($"json patch {op} operation at path \"{path}\" is missing the \"value\" member");
        }
        return JsonTree.Clone(value);
    }

    /// <summary>Resolves <paramref name="pointer"/>; errors name <paramref name="reported"/> (the operation's own path).</summary>
    private static JsonNode? Get(JsonArray root, Pointer pointer, string op, Pointer? reported = null)
    {
        reported ??= pointer;
        JsonNode? current = root[0];
        foreach (var token in pointer.Tokens)
        {
            current = current switch
            {
                JsonObject obj when obj.TryGetPropertyValue(token, out var child) => child,
                JsonArray arr => arr[ArrayIndex(arr, token, reported, op, allowEnd: false)],
                _ => throw Missing(op, reported),
            };
        }
        return current;
    }

    private static void Add(JsonArray root, Pointer pointer, JsonNode? value, string op)
    {
        if (pointer.Tokens.Count == 0)
        {
            root[0] = value;
            return;
        }
        var parent = Get(root, pointer.Parent, op, pointer);
        var last = pointer.Tokens[^1];
        switch (parent)
        {
            case JsonObject obj:
                obj[last] = value;
                break;
            case JsonArray arr:
                if (last == "-") arr.Add(value);
                else arr.Insert(ArrayIndex(arr, last, pointer, op, allowEnd: true), value);
                break;
            default:
                throw Missing(op, pointer);
        }
    }

    private static JsonNode? Remove(JsonArray root, Pointer pointer, string op)
    {
        if (pointer.Tokens.Count == 0)
        {
            var whole = root[0];
            root[0] = null;
            return JsonTree.Clone(whole);
        }
        var parent = Get(root, pointer.Parent, op, pointer);
        var last = pointer.Tokens[^1];
        switch (parent)
        {
            case JsonObject obj when obj.TryGetPropertyValue(last, out var value):
                obj.Remove(last);
                return value;
            case JsonArray arr:
            {
                var i = ArrayIndex(arr, last, pointer, op, allowEnd: false);
                var value = arr[i];
                arr.RemoveAt(i);
                return value;
            }
            default:
                throw Missing(op, pointer);
        }
    }

    private static int ArrayIndex(JsonArray array, string token, Pointer pointer, string op, bool allowEnd)
    {
        var wellFormed = token.Length > 0 && token.All(char.IsAsciiDigit) && (token.Length == 1 || token[0] != '0');
        if (!wellFormed || !int.TryParse(token, NumberStyles.None, CultureInfo.InvariantCulture, out var index))
        {
            throw new PatchException($"json patch {op} operation at path \"{pointer.Text}\": \"{token}\" is not a valid array index");
        }
        var limit = allowEnd ? array.Count : array.Count - 1;
        if (index > limit)
        {
            throw new PatchException($"json patch {op} operation at path \"{pointer.Text}\": array index {index} is out of bounds (length {array.Count})");
        }
        return index;
    }

    private static PatchException Missing(string op, Pointer pointer)
        => new($"json patch {op} operation at path \"{pointer.Text}\": the path does not exist in the document");

    /// <summary>An RFC 6901 JSON pointer split into unescaped reference tokens.</summary>
    private sealed record Pointer(string Text, IReadOnlyList<string> Tokens)
    {
        public Pointer Parent => new(Text[..Text.LastIndexOf('/')], Tokens.Take(Tokens.Count - 1).ToArray());

        public static Pointer Parse(string text, string op)
        {
            if (text.Length == 0) return new Pointer(text, []);
            if (text[0] != '/')
            {
                throw new PatchException($"json patch {op} operation: path \"{text}\" is not a JSON pointer (it must be empty or start with '/')");
            }
            var tokens = new List<string>();
            foreach (var raw in text[1..].Split('/'))
            {
                tokens.Add(Unescape(raw, text, op));
            }
            return new Pointer(text, tokens);
        }

        private static string Unescape(string raw, string text, string op)
        {
            if (!raw.Contains('~')) return raw;
            var chars = new System.Text.StringBuilder(raw.Length);
            for (var i = 0; i < raw.Length; i++)
            {
                if (raw[i] != '~')
                {
                    chars.Append(raw[i]);
                    continue;
                }
                var next = i + 1 < raw.Length ? raw[i + 1] : '\0';
                chars.Append(next switch
                {
                    '0' => '~',
                    '1' => '/',
                    _ => throw new PatchException($"json patch {op} operation: path \"{text}\" has an invalid escape ('~' must be followed by '0' or '1')"),
                });
                i++;
            }
            return chars.ToString();
        }
    }
}

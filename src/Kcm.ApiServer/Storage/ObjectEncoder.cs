using System.Buffers;
using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Kcm.ApiServer.Storage;

/// <summary>
/// Serializes an object the way the apiserver lays it out: kind, apiVersion, metadata (in ObjectMeta field
/// order), then the remaining members in their given order. Unknown members are kept as they are.
/// </summary>
public static class ObjectEncoder
{
    private static readonly string[] MetadataOrder =
    [
        "name", "generateName", "namespace", "selfLink", "uid", "resourceVersion", "generation", "creationTimestamp",
        "deletionTimestamp", "deletionGracePeriodSeconds", "labels", "annotations", "ownerReferences", "finalizers", "managedFields",
    ];

    public static readonly JsonWriterOptions WriterOptions = new()
    {
        Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
        SkipValidation = true,
    };

    /// <summary>Encodes <paramref name="obj"/> (whose metadata.resourceVersion is replaced by a placeholder to splice later).</summary>
    public static StoredObject Encode(JsonObject obj, string kind, string apiVersion, string @namespace, string name, string uid,
        Func<JsonObject, IReadOnlyDictionary<string, string>> fields)
    {
        var buffer = new ArrayBufferWriter<byte>(1024);
        int itemStart, rvStart;
        using (var w = new Utf8JsonWriter(buffer, WriterOptions))
        {
            w.WriteStartObject();
            w.WriteString("kind", kind);
            w.WriteString("apiVersion", apiVersion);
            w.Flush();
            itemStart = buffer.WrittenCount;
            var metadata = obj["metadata"] as JsonObject;
            w.WritePropertyName("metadata");
            w.WriteStartObject();
            rvStart = -1;
            foreach (var field in MetadataOrder)
            {
                if (field == "resourceVersion")
                {
                    w.WritePropertyName("resourceVersion");
                    w.Flush();
                    rvStart = buffer.WrittenCount + 1; // after the opening quote
                    w.WriteStringValue("0");
                    continue;
                }
                if (metadata is not null && metadata.TryGetPropertyValue(field, out var v) && v is not null)
                {
                    w.WritePropertyName(field);
                    v.WriteTo(w);
                }
            }
            if (metadata is not null)
            {
                foreach (var (k, v) in metadata)
                {
                    if (Array.IndexOf(MetadataOrder, k) >= 0) continue;
                    w.WritePropertyName(k);
                    if (v is null) w.WriteNullValue(); else v.WriteTo(w);
                }
            }
            w.WriteEndObject();
            foreach (var (k, v) in obj)
            {
                if (k is "kind" or "apiVersion" or "metadata") continue;
                w.WritePropertyName(k);
                if (v is null) w.WriteNullValue(); else v.WriteTo(w);
            }
            w.WriteEndObject();
        }
        var json = buffer.WrittenSpan.ToArray();
        // Skip the comma that separates apiVersion from metadata.
        if (json[itemStart] == (byte)',') itemStart++;
        var labels = ReadLabels(obj);
        return new StoredObject(StoredObject.MakeKey(@namespace, name), @namespace, name, uid, 0, json, itemStart, rvStart, 1,
            labels, fields(obj));
    }

    private static Dictionary<string, string>? ReadLabels(JsonObject obj)
    {
        if (obj["metadata"] is not JsonObject m || m["labels"] is not JsonObject labels || labels.Count == 0) return null;
        var result = new Dictionary<string, string>(labels.Count, StringComparer.Ordinal);
        foreach (var (k, v) in labels)
        {
            if (v is JsonValue jv && jv.TryGetValue<string>(out var s)) result[k] = s;
        }
        return result;
    }

    public static void WriteItem(Utf8JsonWriter w, StoredObject o)
    {
        // "{" + everything after kind/apiVersion.
        var tail = o.ItemTail;
        var bytes = new byte[tail.Length + 1];
        bytes[0] = (byte)'{';
        tail.CopyTo(bytes.AsSpan(1));
        w.WriteRawValue(bytes, skipInputValidation: true);
    }

    public static JsonObject Parse(StoredObject o) => (JsonObject)JsonNode.Parse(o.Json)!;
}

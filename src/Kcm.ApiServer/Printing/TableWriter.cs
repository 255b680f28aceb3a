using System.Text.Json;
using System.Text.Json.Nodes;
using Kcm.ApiServer.Storage;
using Microsoft.AspNetCore.Http;

namespace Kcm.ApiServer.Printing;

/// <summary>Answers get/list with a meta.k8s.io Table when the Accept header asks for one first (as kubectl get does).</summary>
public static class TableWriter
{
    /// <summary>"v1" or "v1beta1" when the client's most preferred acceptable type is a Table; otherwise null.</summary>
    public static string? RequestedVersion(HttpContext ctx)
    {
        var accept = ctx.Request.Headers.Accept.ToString();
        foreach (var range in accept.Split(','))
        {
            var parts = range.Split(';');
            var media = parts[0].Trim().ToLowerInvariant();
            if (media is not ("application/json" or "*/*" or "application/*")) continue;
            string? @as = null, version = null, group = null;
            foreach (var p in parts.Skip(1))
            {
                var kv = p.Split('=', 2);
                if (kv.Length != 2) continue;
                switch (kv[0].Trim())
                {
                    case "as": @as = kv[1].Trim(); break;
                    case "v": version = kv[1].Trim(); break;
                    case "g": group = kv[1].Trim(); break;
                }
            }
            if (@as is null) return null;
            if (@as == "Table" && group == "meta.k8s.io" && version is "v1" or "v1beta1") return version;
        }
        return null;
    }

    public static byte[] Render(string version, string group, string resource, IReadOnlyList<StoredObject> objects, string resourceVersion,
        string? continueToken, long? remaining, DateTimeOffset now, bool includeObject)
    {
        var columns = TablePrinters.ColumnsFor(group, resource);
        var buffer = new System.Buffers.ArrayBufferWriter<byte>(1024);
        using (var w = new Utf8JsonWriter(buffer, ObjectEncoder.WriterOptions))
        {
            w.WriteStartObject();
            w.WriteString("kind", "Table");
            w.WriteString("apiVersion", "meta.k8s.io/" + version);
            w.WriteStartObject("metadata");
            if (resourceVersion.Length > 0) w.WriteString("resourceVersion", resourceVersion);
            if (continueToken is not null) w.WriteString("continue", continueToken);
            if (remaining is { } r) w.WriteNumber("remainingItemCount", r);
            w.WriteEndObject();
            w.WriteStartArray("columnDefinitions");
            foreach (var c in columns)
            {
                w.WriteStartObject();
                w.WriteString("name", c.Name);
                w.WriteString("type", c.Type);
                w.WriteString("format", c.Format);
                w.WriteString("description", "");
                w.WriteNumber("priority", c.Priority);
                w.WriteEndObject();
            }
            w.WriteEndArray();
            w.WriteStartArray("rows");
            foreach (var o in objects)
            {
                var obj = ObjectEncoder.Parse(o);
                w.WriteStartObject();
                w.WriteStartArray("cells");
                foreach (var cell in TablePrinters.Row(group, resource, obj, now))
                {
                    switch (cell)
                    {
                        case null: w.WriteNullValue(); break;
                        case long l: w.WriteNumberValue(l); break;
                        case int i: w.WriteNumberValue(i); break;
                        default: w.WriteStringValue(cell.ToString()); break;
                    }
                }
                w.WriteEndArray();
                w.WritePropertyName("object");
                if (includeObject) obj.WriteTo(w);
                else PartialObjectMetadata(obj, version).WriteTo(w);
                w.WriteEndObject();
            }
            w.WriteEndArray();
            w.WriteEndObject();
        }
        return buffer.WrittenSpan.ToArray();
    }

    private static JsonObject PartialObjectMetadata(JsonObject obj, string version) => new()
    {
        ["kind"] = "PartialObjectMetadata",
        ["apiVersion"] = "meta.k8s.io/" + version,
        ["metadata"] = obj["metadata"]?.DeepClone(),
    };
}

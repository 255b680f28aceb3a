using System.Text.Json;
using Kcm.ApiServer.Endpoints;
using Kcm.ApiServer.Storage;

namespace Kcm.ApiServer.Printing;

/// <summary>Renders get/list/watch results as a meta.k8s.io Table, which kubectl get asks for (see ResponseConversion).</summary>
public static class TableWriter
{
    public static byte[] Render(string version, string group, string resource, IReadOnlyList<StoredObject> objects, string resourceVersion,
        string? continueToken, long? remaining, DateTimeOffset now, bool includeObject, CustomResources.CustomResourceVersion? custom = null)
    {
        var columns = custom is not null ? CustomResources.CustomResourceTable.Columns(custom) : TablePrinters.ColumnsFor(group, resource);
        var buffer = new System.Buffers.ArrayBufferWriter<byte>(1024);
        using (var w = new Utf8JsonWriter(buffer, ObjectEncoder.WriterOptions))
        {
            w.WriteStartObject();
            w.WriteString("kind", "Table");
            w.WriteString("apiVersion", "meta.k8s.io/" + version);
            Endpoints.ResponseWriter.WriteListMeta(w, resourceVersion, continueToken, remaining);
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
                foreach (var cell in custom is not null ? CustomResources.CustomResourceTable.Row(custom, obj, now) : TablePrinters.Row(group, resource, obj, now))
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
                else PartialObjectMetadataWriter.Write(w, o, version);
                w.WriteEndObject();
            }
            w.WriteEndArray();
            w.WriteEndObject();
        }
        return buffer.WrittenSpan.ToArray();
    }
}

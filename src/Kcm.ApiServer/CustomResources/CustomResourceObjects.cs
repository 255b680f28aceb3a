using System.Text;
using System.Text.Json.Nodes;
using Kcm.ApiServer.Endpoints;
using Kcm.ApiServer.Errors;
using Kcm.ApiServer.Registry;
using Kcm.ApiServer.Storage;

namespace Kcm.ApiServer.CustomResources;

/// <summary>
/// What custom resources do differently from built-in kinds once stored: served in every version with apiVersion
/// rewritten (conversion strategy None), list items keep kind/apiVersion (unstructured lists), /status writes only
/// status, and /scale reads and writes the paths the CRD names.
/// </summary>
public static class CustomResourceObjects
{
    /// <summary>The object as the request's version shows it: stored in one version, the apiVersion follows the URL.</summary>
    public static StoredObject ForRequest(ResourceRequest req, StoredObject o)
    {
        if (req.Subresource == "scale") return o;
        var prefix = Encoding.UTF8.GetBytes($"{{\"kind\":\"{Escape(req.Entry.Kind)}\",\"apiVersion\":\"{Escape(req.GroupVersion)}\",");
        var tail = o.ItemTail;
        if (o.Json.AsSpan(0, o.ItemStart).SequenceEqual(prefix)) return o;
        var json = new byte[prefix.Length + tail.Length];
        prefix.CopyTo(json, 0);
        tail.CopyTo(json.AsSpan(prefix.Length));
        var shift = prefix.Length - o.ItemStart;
        return new StoredObject(o.Key, o.Namespace, o.Name, o.Uid, o.ResourceVersion, json, prefix.Length, o.RvStart + shift, o.RvLength,
            o.Labels, o.Fields);
    }

    private static string Escape(string s) => s.Replace("\\", "\\\\").Replace("\"", "\\\"");

    /// <summary>Upstream's custom status strategy: everything but status comes from the stored object, metadata included.</summary>
    public static void PrepareStatusUpdate(JsonObject old, JsonObject desired)
    {
        var status = desired["status"]?.DeepClone();
        var hasStatus = desired.ContainsKey("status");
        var rv = desired["metadata"]?["resourceVersion"]?.DeepClone();
        foreach (var key in desired.Select(p => p.Key).ToList()) desired.Remove(key);
        foreach (var (key, value) in old) desired[key] = value?.DeepClone();
        if (hasStatus) desired["status"] = status; else desired.Remove("status");
        if (rv is not null && desired["metadata"] is JsonObject meta) meta["resourceVersion"] = rv;
    }

    public static JsonObject ScaleOf(JsonObject obj, CustomResourceScale scale)
    {
        var meta = (JsonObject)obj["metadata"]!;
        var scaleMeta = new JsonObject();
        foreach (var f in (string[])["name", "namespace", "uid", "resourceVersion", "creationTimestamp"])
        {
            if (meta[f] is { } v) scaleMeta[f] = v.DeepClone();
        }
        var spec = new JsonObject();
        var replicas = ReadInt(obj, scale.SpecReplicasPath);
        if (replicas != 0) spec["replicas"] = replicas;
        var status = new JsonObject { ["replicas"] = ReadInt(obj, scale.StatusReplicasPath) };
        if (scale.LabelSelectorPath is { } selectorPath && Read(obj, selectorPath) is JsonValue sel && sel.TryGetValue<string>(out var s) && s.Length > 0)
        {
            status["selector"] = s;
        }
        return new JsonObject
        {
            ["kind"] = "Scale",
            ["apiVersion"] = "autoscaling/v1",
            ["metadata"] = scaleMeta,
            ["spec"] = spec,
            ["status"] = status,
        };
    }

    /// <summary>Writes the Scale's replicas at specReplicasPath (creating the objects on the way), as upstream's scale update.</summary>
    public static void ApplyScale(JsonObject desired, CustomResourceScale scale, long replicas)
    {
        var parts = Path(scale.SpecReplicasPath);
        JsonObject node = desired;
        for (var i = 0; i < parts.Length - 1; i++)
        {
            if (node[parts[i]] is not JsonObject next)
            {
                next = new JsonObject();
                node[parts[i]] = next;
            }
            node = next;
        }
        node[parts[^1]] = replicas;
    }

    private static long ReadInt(JsonObject obj, string path)
    {
        var node = Read(obj, path);
        if (node is null) return 0;
        if (node is JsonValue v && v.TryGetValue<long>(out var n)) return n;
        if (node is JsonValue d && d.TryGetValue<double>(out var f) && f == Math.Floor(f)) return (long)f;
        throw ApiException.InternalError($".{string.Join('.', Path(path))} accessor error: {node.ToJsonString()} is of the type {TypeName(node)}, expected int64");
    }

    private static string TypeName(JsonNode node) => node switch
    {
        JsonObject => "map[string]interface {}",
        JsonArray => "[]interface {}",
        JsonValue v when v.TryGetValue<string>(out _) => "string",
        JsonValue v when v.TryGetValue<bool>(out _) => "bool",
        _ => "float64",
    };

    private static JsonNode? Read(JsonObject obj, string path)
    {
        JsonNode? node = obj;
        foreach (var part in Path(path)) node = node is JsonObject o ? o[part] : null;
        return node;
    }

    private static string[] Path(string jsonPath) => jsonPath.TrimStart('.').Split('.', StringSplitOptions.RemoveEmptyEntries);
}

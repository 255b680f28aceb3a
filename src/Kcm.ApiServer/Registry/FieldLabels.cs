using System.Text.Json.Nodes;
using Kcm.ApiServer.Errors;

namespace Kcm.ApiServer.Registry;

/// <summary>
/// The field-selector labels each kind supports (upstream's GetAttrs plus its field label conversion funcs).
/// Kinds with a registered conversion reject other labels as "field label not supported"; the rest fall back
/// to metadata.name/metadata.namespace only, with the default conversion's message.
/// </summary>
public static class FieldLabels
{
    private static readonly Dictionary<(string Group, string Resource), string[]> Registered = new()
    {
        [("", "pods")] =
        [
            "spec.nodeName", "spec.restartPolicy", "spec.schedulerName", "spec.serviceAccountName", "spec.hostNetwork",
            "status.phase", "status.podIP", "status.nominatedNodeName",
        ],
        [("", "nodes")] = ["spec.unschedulable"],
        [("", "replicationcontrollers")] = ["status.replicas"],
        [("", "events")] =
        [
            "involvedObject.kind", "involvedObject.namespace", "involvedObject.name", "involvedObject.uid",
            "involvedObject.apiVersion", "involvedObject.resourceVersion", "involvedObject.fieldPath",
            "reason", "reportingComponent", "source", "type",
        ],
        [("", "namespaces")] = ["status.phase"],
        [("", "secrets")] = ["type"],
        [("apps", "replicasets")] = ["status.replicas"],
        [("batch", "jobs")] = ["status.successful"],
        [("certificates.k8s.io", "certificatesigningrequests")] = ["spec.signerName"],
    };

    private static readonly Dictionary<string, string> Empty = new();

    /// <summary>Throws 400 when <paramref name="label"/> is not selectable on this resource.</summary>
    public static void Validate(string group, string resource, string label)
    {
        if (label is "metadata.name" or "metadata.namespace") return;
        if (Registered.TryGetValue((group, resource), out var extra))
        {
            if (Array.IndexOf(extra, label) >= 0) return;
            throw ApiException.BadRequest($"field label not supported: {label}");
        }
        throw ApiException.BadRequest($"\"{label}\" is not a known field selector: only \"metadata.name\", \"metadata.namespace\"");
    }

    public static IReadOnlyDictionary<string, string> Extract(string group, string resource, JsonObject obj)
    {
        if (!Registered.TryGetValue((group, resource), out var labels)) return Empty;
        var result = new Dictionary<string, string>(labels.Length, StringComparer.Ordinal);
        foreach (var label in labels)
        {
            result[label] = ValueOf(resource, obj, label);
        }
        return result;
    }

    private static string ValueOf(string resource, JsonObject obj, string label)
    {
        if (resource == "events" && label == "source")
        {
            // Upstream selects on source.component, falling back to reportingComponent.
            var component = Scalar(obj["source"]?["component"]);
            return component.Length > 0 ? component : Scalar(obj["reportingComponent"]);
        }
        if (resource == "pods" && label == "spec.hostNetwork")
        {
            return obj["spec"]?["hostNetwork"] is JsonValue v && v.TryGetValue<bool>(out var b) && b ? "true" : "false";
        }
        if (resource == "nodes" && label == "spec.unschedulable")
        {
            return obj["spec"]?["unschedulable"] is JsonValue v && v.TryGetValue<bool>(out var b) && b ? "true" : "false";
        }
        JsonNode? node = obj;
        foreach (var part in label.Split('.'))
        {
            node = node is JsonObject o ? o[part] : null;
        }
        var value = Scalar(node);
        if (value.Length == 0 && label is "status.replicas" or "status.successful") return "0";
        return value;
    }

    private static string Scalar(JsonNode? node) => node switch
    {
        JsonValue v when v.TryGetValue<string>(out var s) => s,
        JsonValue v => v.ToJsonString(),
        _ => "",
    };
}

using System.Text.Json.Nodes;
using Kcm.ApiServer.Authentication;
using Kcm.ApiServer.Endpoints;
using Kcm.ApiServer.Errors;
using Kcm.ApiServer.Storage;

namespace Kcm.ApiServer.Registry;

public sealed partial class GenericStore
{
    /// <summary>
    /// pods/binding, as upstream's BindingREST: only a pod without a node and not being deleted can be
    /// bound (else 409), the target must be a Node; the pod gets spec.nodeName, the binding's annotations and
    /// PodScheduled=True; an optional metadata.uid in the binding is a precondition.
    /// </summary>
    public void Bind(ResourceRequest req, JsonObject binding, UserInfo user)
    {
        var store = StorageFor(req);
        var strategy = _strategies[req.Entry];
        var meta = binding["metadata"] as JsonObject;
        var target = binding["target"] as JsonObject;
        var targetKind = target?["kind"]?.GetValue<string>() ?? "";
        var nodeName = target?["name"]?.GetValue<string>() ?? "";
        var causes = new List<StatusCauseInfo>();
        if (nodeName.Length == 0) causes.Add(new StatusCauseInfo("FieldValueRequired", "Required value", "target.name"));
        if (targetKind.Length > 0 && targetKind != "Node") causes.Add(new StatusCauseInfo("FieldValueNotSupported", $"Unsupported value: \"{targetKind}\": supported values: \"Node\"", "target.kind"));
        if (causes.Count > 0) throw ApiException.Invalid("", "Binding", meta?["name"]?.GetValue<string>() ?? req.Name, causes);
        var uid = meta?["uid"]?.GetValue<string>();
        CommitUpdate(req with { Subresource = "" }, store, strategy, user, current =>
        {
            var pod = ObjectEncoder.Parse(current);
            var podMeta = (JsonObject)pod["metadata"]!;
            if (uid is { Length: > 0 } && uid != current.Uid)
            {
                throw ApiException.Conflict("", "pods", req.Name, $"Precondition failed: UID in precondition: {uid}, UID in object meta: {current.Uid}");
            }
            if (podMeta["deletionTimestamp"] != null)
            {
                throw ApiException.Conflict("", "pods/binding", req.Name, $"pod {req.Name} is being deleted, cannot be assigned to a host");
            }
            var spec = pod["spec"] as JsonObject ?? [];
            var assigned = spec["nodeName"]?.GetValue<string>() ?? "";
            if (assigned.Length > 0)
            {
                throw ApiException.Conflict("", "pods/binding", req.Name, $"pod {req.Name} is already assigned to node \"{assigned}\"");
            }
            spec["nodeName"] = nodeName;
            pod["spec"] = spec;
            if (meta?["annotations"] is JsonObject annotations)
            {
                var podAnnotations = podMeta["annotations"] as JsonObject ?? [];
                foreach (var (k, v) in annotations) podAnnotations[k] = v?.DeepClone();
                podMeta["annotations"] = podAnnotations;
            }
            var status = pod["status"] as JsonObject ?? [];
            var conditions = status["conditions"] as JsonArray ?? [];
            var scheduled = conditions.OfType<JsonObject>().FirstOrDefault(c => c["type"]?.GetValue<string>() == "PodScheduled");
            if (scheduled == null)
            {
                conditions.Add((JsonNode)new JsonObject { ["type"] = "PodScheduled", ["status"] = "True", ["lastProbeTime"] = null, ["lastTransitionTime"] = FormatTime(_time.GetUtcNow()) });
            }
            else if (scheduled["status"]?.GetValue<string>() != "True")
            {
                scheduled["status"] = "True";
                scheduled.Remove("reason");
                scheduled.Remove("message");
                scheduled["lastTransitionTime"] = FormatTime(_time.GetUtcNow());
            }
            status["conditions"] = conditions;
            pod["status"] = status;
            return pod;
        });
    }
}

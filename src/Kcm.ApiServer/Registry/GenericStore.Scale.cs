using System.Text.Json.Nodes;
using Kcm.ApiServer.Authentication;
using Kcm.ApiServer.Endpoints;
using Kcm.ApiServer.Errors;
using Kcm.ApiServer.Storage;

namespace Kcm.ApiServer.Registry;

/// <summary>The scale subresource (autoscaling/v1 Scale) of kinds with spec.replicas, as upstream's ScaleREST.</summary>
public sealed partial class GenericStore
{
    /// <summary>As upstream's ScaleREST, a missing object is reported as "&lt;resource&gt;/scale" (deployments/scale.apps "x" not found).</summary>
    public JsonObject GetScale(ResourceRequest req)
        => ScaleOf(ObjectEncoder.Parse(StorageFor(req).Get(StoredObject.MakeKey(req.Namespace, req.Name))
            ?? throw ApiException.NotFound(req.Group, req.Resource + "/scale", req.Name)), _strategies[req.Entry]);

    /// <summary>Writes the replicas of the Scale that <paramref name="newScale"/> gives from the stored object; returns the new Scale.</summary>
    public JsonObject UpdateScale(ResourceRequest req, Func<StoredObject, JsonObject> newScale, UserInfo user)
    {
        var strategy = _strategies[req.Entry];
        var updated = CommitUpdate(req, StorageFor(req), strategy, user, current => ApplyScale(req, strategy, current, newScale(current)));
        return ScaleOf(ObjectEncoder.Parse(updated), strategy);
    }

    public static JsonObject ScaleOf(JsonObject obj, ResourceStrategy strategy)
    {
        if (!strategy.HasScale) throw ApiException.MethodNotAllowed();
        if (strategy.Custom?.Scale is { } customScale) return CustomResources.CustomResourceObjects.ScaleOf(obj, customScale);
        var meta = (JsonObject)obj["metadata"]!;
        var scaleMeta = new JsonObject();
        foreach (var f in (string[])["name", "namespace", "uid", "resourceVersion", "creationTimestamp"])
        {
            if (meta[f] is { } v) scaleMeta[f] = v.DeepClone();
        }
        var spec = new JsonObject();
        // Stored objects normally carry defaulted replicas; upstream's default is 1.
        var replicas = obj["spec"]?["replicas"]?.GetValue<int>() ?? 1;
        if (replicas != 0) spec["replicas"] = replicas;
        var status = new JsonObject { ["replicas"] = obj["status"]?["replicas"]?.GetValue<int>() ?? 0 };
        var selector = SelectorString(obj["spec"]?["selector"], strategy.Resource == "replicationcontrollers");
        if (selector.Length > 0) status["selector"] = selector;
        return new JsonObject
        {
            ["kind"] = "Scale",
            ["apiVersion"] = "autoscaling/v1",
            ["metadata"] = scaleMeta,
            ["spec"] = spec,
            ["status"] = status,
        };
    }

    private static JsonObject ApplyScale(ResourceRequest req, ResourceStrategy strategy, StoredObject current, JsonObject scale)
    {
        var name = scale["metadata"]?["name"]?.GetValue<string>() ?? "";
        if (name.Length > 0 && name != req.Name)
        {
            throw ApiException.BadRequest($"the name of the object ({name}) does not match the name on the URL ({req.Name})");
        }
        CheckPrecondition(req, current, scale);
        var replicasNode = scale["spec"]?["replicas"];
        var replicas = replicasNode is null ? 0 : replicasNode.GetValue<int>();
        if (replicas < 0)
        {
            throw ApiException.Invalid("autoscaling", "Scale", req.Name,
                [new StatusCauseInfo("FieldValueInvalid", $"Invalid value: {replicas}: must be greater than or equal to 0", "spec.replicas")]);
        }
        var old = ObjectEncoder.Parse(current);
        var desired = (JsonObject)old.DeepClone();
        if (strategy.Custom?.Scale is { } customScale)
        {
            CustomResources.CustomResourceObjects.ApplyScale(desired, customScale, replicas);
        }
        else
        {
            if (desired["spec"] is not JsonObject spec)
            {
                spec = new JsonObject();
                desired["spec"] = spec;
            }
            spec["replicas"] = replicas;
        }
        return MergeSystemMetadata(req with { Subresource = "" }, strategy, old, desired);
    }

    /// <summary>A label selector in its query-string form, as metav1.LabelSelectorAsSelector(...).String() prints it.</summary>
    internal static string SelectorString(JsonNode? selector, bool isMap)
    {
        if (selector is not JsonObject sel) return "";
        var requirements = new List<(string Key, string Text)>();
        if (isMap)
        {
            foreach (var (k, v) in sel) requirements.Add((k, $"{k}={v?.GetValue<string>()}"));
        }
        else
        {
            if (sel["matchLabels"] is JsonObject ml)
            {
                foreach (var (k, v) in ml) requirements.Add((k, $"{k}={v?.GetValue<string>()}"));
            }
            if (sel["matchExpressions"] is JsonArray exprs)
            {
                foreach (var e in exprs)
                {
                    var key = e?["key"]?.GetValue<string>() ?? "";
                    var op = e?["operator"]?.GetValue<string>() ?? "";
                    var values = (e?["values"] as JsonArray)?.Select(v => v!.GetValue<string>()).Order(StringComparer.Ordinal).ToList() ?? [];
                    var text = op switch
                    {
                        "In" => $"{key} in ({string.Join(",", values)})",
                        "NotIn" => $"{key} notin ({string.Join(",", values)})",
                        "Exists" => key,
                        "DoesNotExist" => "!" + key,
                        _ => "",
                    };
                    requirements.Add((key, text));
                }
            }
        }
        return string.Join(",", requirements.OrderBy(r => r.Key, StringComparer.Ordinal).Select(r => r.Text));
    }

}

using System.Text.Json.Nodes;

namespace Kcm.ApiServer.Admission;

/// <summary>
/// As upstream's CSR strategy PrepareForCreate: spec.username/uid/groups/extra are the requesting user's,
/// whatever the client sent.
/// </summary>
public sealed class CsrRequestorAdmission : IMutatingAdmission
{
    public void Admit(AdmissionRequest request)
    {
        if (request.Operation != AdmissionOperation.Create || request.Subresource.Length > 0) return;
        if (request.Strategy.Group != "certificates.k8s.io" || request.Strategy.Resource != "certificatesigningrequests") return;
        if (request.Object is not JsonObject obj) return;
        if (obj["spec"] is not JsonObject spec)
        {
            spec = new JsonObject();
            obj["spec"] = spec;
        }
        var user = request.User;
        SetOrRemove(spec, "username", user.Name.Length > 0 ? JsonValue.Create(user.Name) : null);
        SetOrRemove(spec, "uid", user.Uid.Length > 0 ? JsonValue.Create(user.Uid) : null);
        SetOrRemove(spec, "groups", user.Groups.Count > 0 ? new JsonArray([.. user.Groups.Select(g => (JsonNode)g)]) : null);
        JsonObject? extra = null;
        if (user.Extra.Count > 0)
        {
            extra = new JsonObject();
            foreach (var (key, values) in user.Extra) extra[key] = new JsonArray([.. values.Select(v => (JsonNode)v)]);
        }
        SetOrRemove(spec, "extra", extra);
    }

    private static void SetOrRemove(JsonObject spec, string key, JsonNode? value)
    {
        if (value is null) spec.Remove(key);
        else spec[key] = value;
    }
}

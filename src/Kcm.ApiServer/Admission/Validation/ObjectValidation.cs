using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Kcm.ApiServer.Errors;

namespace Kcm.ApiServer.Admission.Validation;

/// <summary>
/// Required-field and consistency checks of upstream's validation for the common kinds (pods and pod
/// templates, workload selectors, service ports, CSRs, configmap/secret keys), with upstream's field
/// paths and messages. A reasonable subset; the rest of upstream's rules are not enforced.
/// </summary>
public sealed partial class ObjectValidation : IValidatingAdmission
{
    private const string ConfigKeyFmt = "[-._a-zA-Z0-9]+";

    [GeneratedRegex("^" + ConfigKeyFmt + "$")]
    private static partial Regex ConfigKeyRegex();

    public void Validate(AdmissionRequest request)
    {
        if (request.Operation == AdmissionOperation.Delete || request.Object is not JsonObject obj || request.Subresource.Length > 0) return;
        var errors = new FieldErrors();
        var spec = obj["spec"] as JsonObject;
        switch (request.Strategy.Group, request.Strategy.Resource)
        {
            case ("", "pods"):
                PodSpec(spec, "spec", errors);
                break;
            case ("", "podtemplates"):
                PodSpec(obj["template"]?["spec"] as JsonObject, "template.spec", errors);
                break;
            case ("apps", "deployments" or "replicasets" or "daemonsets" or "statefulsets"):
                Workload(spec, request.Strategy.Resource, errors);
                break;
            case ("", "services"):
                Service(spec, errors);
                break;
            case ("", "configmaps"):
                ConfigKeys(obj["data"] as JsonObject, "data", errors);
                ConfigKeys(obj["binaryData"] as JsonObject, "binaryData", errors);
                break;
            case ("", "secrets"):
                ConfigKeys(obj["data"] as JsonObject, "data", errors);
                break;
            case ("certificates.k8s.io", "certificatesigningrequests"):
                CertificateSigningRequest(spec, errors);
                break;
        }
        if (errors.Causes.Count == 0) return;
        var kind = obj["kind"] is JsonValue k && k.GetValueKind() == JsonValueKind.String ? k.GetValue<string>() : request.Strategy.Entry.Kind;
        throw ApiException.Invalid(request.Strategy.Group, kind, request.Name, errors.Causes);
    }

    private static void PodSpec(JsonObject? spec, string path, FieldErrors errors)
    {
        var containers = spec?["containers"] as JsonArray;
        if (containers is null || containers.Count == 0)
        {
            errors.Required($"{path}.containers");
            return;
        }
        var names = new HashSet<string>(StringComparer.Ordinal);
        foreach (var (list, listPath) in new[] { (spec?["initContainers"] as JsonArray, $"{path}.initContainers"), (containers, $"{path}.containers") })
        {
            if (list is null) continue;
            for (var i = 0; i < list.Count; i++)
            {
                var c = list[i] as JsonObject;
                var at = $"{listPath}[{i}]";
                var name = Str(c?["name"]);
                if (name.Length == 0) errors.Required($"{at}.name");
                else
                {
                    foreach (var e in ObjectMetaValidation.NameErrors(Registry.NameRule.Dns1123Label, name)) errors.Invalid($"{at}.name", FieldErrors.Quote(name), e);
                    if (!names.Add(name)) errors.Duplicate($"{at}.name", FieldErrors.Quote(name));
                }
                if (Str(c?["image"]).Length == 0) errors.Required($"{at}.image");
                if (c?["ports"] is JsonArray ports)
                {
                    for (var p = 0; p < ports.Count; p++)
                    {
                        var port = ports[p]?["containerPort"];
                        if (port is null || Int(port) == 0) errors.Required($"{at}.ports[{p}].containerPort");
                        else if (Int(port) is < 1 or > 65535) errors.Invalid($"{at}.ports[{p}].containerPort", Int(port).ToString(System.Globalization.CultureInfo.InvariantCulture), "must be between 1 and 65535, inclusive");
                    }
                }
            }
        }
    }

    private static void Workload(JsonObject? spec, string resource, FieldErrors errors)
    {
        if (spec?["replicas"] is { } replicas && Int(replicas) < 0)
        {
            errors.Invalid("spec.replicas", Int(replicas).ToString(System.Globalization.CultureInfo.InvariantCulture), "must be greater than or equal to 0");
        }
        var selector = spec?["selector"] as JsonObject;
        var template = spec?["template"] as JsonObject;
        var templateLabels = template?["metadata"]?["labels"] as JsonObject;
        if (selector is null) errors.Required("spec.selector");
        else if (!SelectorMatches(selector, templateLabels))
        {
            errors.Invalid("spec.template.metadata.labels", FieldErrors.GoStringMap(templateLabels), "`selector` does not match template `labels`");
        }
        PodSpec(template?["spec"] as JsonObject, "spec.template.spec", errors);
    }

    private static bool SelectorMatches(JsonObject selector, JsonObject? labels)
    {
        var parsed = Kcm.Api.Selectors.LabelSelector.FromApi(Kcm.Api.KubeJson.FromNode<Kcm.Api.Meta.V1.LabelSelector>(selector));
        if (parsed is null) return true;
        var set = labels?.Where(p => p.Value is JsonValue).ToDictionary(p => p.Key, p => p.Value!.GetValue<string>()) ?? [];
        return parsed.Matches(set);
    }

    private static void Service(JsonObject? spec, FieldErrors errors)
    {
        var type = Str(spec?["type"]);
        var ports = spec?["ports"] as JsonArray;
        var headless = Str(spec?["clusterIP"]) == "None";
        if ((ports is null || ports.Count == 0) && !headless && type != "ExternalName")
        {
            errors.Required("spec.ports");
            return;
        }
        if (ports is null) return;
        var names = new HashSet<string>(StringComparer.Ordinal);
        for (var i = 0; i < ports.Count; i++)
        {
            var p = ports[i] as JsonObject;
            var at = $"spec.ports[{i}]";
            var name = Str(p?["name"]);
            if (ports.Count > 1 && name.Length == 0) errors.Required($"{at}.name");
            else if (name.Length > 0 && !names.Add(name)) errors.Duplicate($"{at}.name", FieldErrors.Quote(name));
            var port = Int(p?["port"]);
            if (port is < 1 or > 65535) errors.Invalid($"{at}.port", port.ToString(System.Globalization.CultureInfo.InvariantCulture), "must be between 1 and 65535, inclusive");
        }
    }

    private static void ConfigKeys(JsonObject? data, string path, FieldErrors errors)
    {
        if (data is null) return;
        foreach (var (key, _) in data)
        {
            if (key.Length > 253) errors.Invalid($"{path}[{key}]", FieldErrors.Quote(key), "must be no more than 253 characters");
            if (!ConfigKeyRegex().IsMatch(key))
            {
                errors.Invalid($"{path}[{key}]", FieldErrors.Quote(key),
                    "a valid config key must consist of alphanumeric characters, '-', '_' or '.' (e.g. 'key.name',  or 'KEY_NAME',  or 'key-name', regex used for validation is '" + ConfigKeyFmt + "')");
            }
            else if (key is "." or "..") errors.Invalid($"{path}[{key}]", FieldErrors.Quote(key), $"must not be '{key}'");
        }
    }

    private static void CertificateSigningRequest(JsonObject? spec, FieldErrors errors)
    {
        var request = Str(spec?["request"]);
        byte[]? der = null;
        try
        {
            der = Convert.FromBase64String(request);
        }
        catch (FormatException)
        {
            // Not base64: JSON decoding would already have failed upstream; report it as an invalid request.
        }
        if (der is null || !Encoding.ASCII.GetString(der).Contains("-----BEGIN CERTIFICATE REQUEST-----", StringComparison.Ordinal))
        {
            errors.Invalid("spec.request", FieldErrors.GoBytes(der), "PEM block type must be CERTIFICATE REQUEST");
        }
        var signer = Str(spec?["signerName"]);
        if (signer.Length == 0) errors.Required("spec.signerName");
        else if (signer.IndexOf('/') is <= 0 || signer.EndsWith('/'))
        {
            errors.Invalid("spec.signerName", FieldErrors.Quote(signer), "must be a fully qualified domain and path of the form 'example.com/signer-name'");
        }
        if (spec?["usages"] is not JsonArray { Count: > 0 }) errors.Required("spec.usages", "usages must be provided");
    }

    private static string Str(JsonNode? node) => node is JsonValue v && v.GetValueKind() == JsonValueKind.String ? v.GetValue<string>() : "";

    private static long Int(JsonNode? node) => node is JsonValue v && v.GetValueKind() == JsonValueKind.Number && v.TryGetValue<long>(out var l) ? l : 0;
}

using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Kcm.ApiServer.Admission;
using Kcm.ApiServer.Errors;

namespace Kcm.ApiServer.CustomResources;

/// <summary>
/// The CRD strategy's create/update rules and the basics of its validation, with upstream's wording: v1 defaults
/// (singular, listKind, conversion None), status reset on create with the storage version recorded in storedVersions,
/// and checks of name, group, scope, names, versions (exactly one storage version) and per-version schemas.
/// </summary>
public sealed partial class CustomResourceDefinitionAdmission : IMutatingAdmission, IValidatingAdmission
{
    [GeneratedRegex(@"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")]
    private static partial Regex Dns1123Subdomain();

    private static bool Handles(AdmissionRequest r)
        => r.Strategy.Group == CustomResourceDefinitionController.Group && r.Strategy.Resource == CustomResourceDefinitionController.Resource
            && r.Object is not null && r.Subresource.Length == 0;

    public void Admit(AdmissionRequest request)
    {
        if (!Handles(request)) return;
        var crd = request.Object!;
        var spec = crd["spec"] as JsonObject;
        if (spec is not null)
        {
            if (spec["conversion"] is not JsonObject) spec["conversion"] = new JsonObject { ["strategy"] = "None" };
            if (spec["names"] is JsonObject names)
            {
                var kind = Text(names["kind"]);
                if (Text(names["singular"]).Length == 0) names["singular"] = kind.ToLowerInvariant();
                if (Text(names["listKind"]).Length == 0 && kind.Length > 0) names["listKind"] = kind + "List";
            }
        }
        var storage = (spec?["versions"] as JsonArray)?.OfType<JsonObject>().FirstOrDefault(v => v["storage"]?.GetValue<bool>() == true);
        if (request.Operation == AdmissionOperation.Create)
        {
            var stored = new JsonArray();
            if (storage is not null) stored.Add((JsonNode)Text(storage["name"]));
            crd["status"] = new JsonObject
            {
                ["conditions"] = null,
                ["acceptedNames"] = new JsonObject { ["plural"] = "", ["kind"] = "" },
                ["storedVersions"] = stored.Count > 0 ? stored : null,
            };
        }
        else if (request.Operation == AdmissionOperation.Update && request.OldObject is not null)
        {
            // Spec updates keep the stored status and record a new storage version.
            crd["status"] = request.OldObject["status"]?.DeepClone();
            if (storage is not null && crd["status"] is JsonObject status)
            {
                if (status["storedVersions"] is not JsonArray stored) status["storedVersions"] = stored = new JsonArray();
                var name = Text(storage["name"]);
                if (!stored.Any(s => Text(s) == name)) stored.Add((JsonNode)name);
            }
        }
    }

    public void Validate(AdmissionRequest request)
    {
        if (!Handles(request) || request.Operation == AdmissionOperation.Delete) return;
        var crd = request.Object!;
        var causes = new List<StatusCauseInfo>();
        void Invalid(string field, string value, string detail) => causes.Add(new("FieldValueInvalid", $"Invalid value: {value}: {detail}", field));
        void Required(string field, string detail = "") => causes.Add(new("FieldValueRequired", detail.Length == 0 ? "Required value" : $"Required value: {detail}", field));

        var name = Text(crd["metadata"]?["name"]);
        var spec = crd["spec"] as JsonObject;
        var group = Text(spec?["group"]);
        var names = spec?["names"] as JsonObject;
        var plural = Text(names?["plural"]);
        if (name != $"{plural}.{group}") Invalid("metadata.name", Quote(name), "must be spec.names.plural+\".\"+spec.group");

        if (group.Length == 0) Required("spec.group");
        else if (!Dns1123Subdomain().IsMatch(group)) Invalid("spec.group", Quote(group), "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')");
        else if (!group.Contains('.')) Invalid("spec.group", Quote(group), "should be a domain with at least one dot");

        var scope = Text(spec?["scope"]);
        if (scope.Length == 0) Required("spec.scope");
        else if (scope is not "Cluster" and not "Namespaced") causes.Add(new("FieldValueNotSupported", $"Unsupported value: {Quote(scope)}: supported values: \"Cluster\", \"Namespaced\"", "spec.scope"));

        var versions = (spec?["versions"] as JsonArray)?.OfType<JsonObject>().ToList() ?? [];
        for (var i = 0; i < versions.Count; i++)
        {
            if (versions[i]["schema"]?["openAPIV3Schema"] is not JsonObject) Required($"spec.versions[{i}].schema.openAPIV3Schema", "schemas are required");
        }
        var storage = versions.Where(v => v["storage"]?.GetValue<bool>() == true).ToList();
        if (storage.Count != 1) Invalid("spec.versions", GoVersions(versions), "must have exactly one version marked as storage version");

        if (plural.Length == 0) Required("spec.names.plural");
        if (Text(names?["singular"]).Length == 0) Required("spec.names.singular");
        if (Text(names?["kind"]).Length == 0) Required("spec.names.kind");
        if (Text(names?["listKind"]).Length == 0) Required("spec.names.listKind");

        var stored = (crd["status"]?["storedVersions"] as JsonArray)?.Select(Text).ToHashSet() ?? [];
        if (stored.Count == 0) Invalid("status.storedVersions", "[]string(nil)", "must have at least one stored version");
        else
        {
            foreach (var v in storage.Where(v => !stored.Contains(Text(v["name"]))))
            {
                Invalid("status.storedVersions", GoVersion(v), $"must have the storage version {Text(v["name"])}");
            }
        }
        if (causes.Count > 0) throw ApiException.Invalid(CustomResourceDefinitionController.Group, "CustomResourceDefinition", name, causes);
    }

    private static string Text(JsonNode? node) => node is JsonValue v && v.TryGetValue<string>(out var s) ? s : "";

    private static string Quote(string s) => "\"" + s.Replace("\\", "\\\\").Replace("\"", "\\\"") + "\"";

    // Go's %#v of the internal version list, as upstream's field error prints it (pointers it cannot know show as nil or 0xc000000000).
    private static string GoVersions(List<JsonObject> versions)
        => "[]apiextensions.CustomResourceDefinitionVersion{" + string.Join(", ", versions.Select(GoVersion)) + "}";

    private static string GoVersion(JsonObject v)
    {
        static string Pointer(JsonNode? n, string type) => n is null ? $"(*{type})(nil)" : $"(*{type})(0xc000000000)";
        var deprecated = v["deprecated"]?.GetValue<bool>() == true ? "true" : "false";
        // The schema is not part of the value validation prints (it is checked separately).
        return $"apiextensions.CustomResourceDefinitionVersion{{Name:{Quote(Text(v["name"]))}, Served:{Bool(v["served"])}, Storage:{Bool(v["storage"])}, "
            + $"Deprecated:{deprecated}, DeprecationWarning:{Pointer(v["deprecationWarning"], "string")}, Schema:(*apiextensions.CustomResourceValidation)(nil), "
            + $"Subresources:{Pointer(v["subresources"], "apiextensions.CustomResourceSubresources")}, "
            + $"AdditionalPrinterColumns:[]apiextensions.CustomResourceColumnDefinition(nil)}}";
    }

    private static string Bool(JsonNode? n) => n?.GetValue<bool>() == true ? "true" : "false";
}

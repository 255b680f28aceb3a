using System.Text.Json.Nodes;
using Kcm.Api.Schema;

namespace Kcm.ApiServer.Admission.Validation;

/// <summary>
/// Server-side field validation (the fieldValidation query parameter): the paths of fields the kind's
/// schema does not know, as upstream's strict decoder names them ("spec.template.spec.containers[0].imag").
/// </summary>
public static class UnknownFields
{
    public static List<string> Find(string definition, JsonObject obj)
    {
        var unknown = new List<string>();
        Walk(definition, obj, "", unknown);
        return unknown;
    }

    private static void Walk(string definition, JsonObject obj, string path, List<string> unknown)
    {
        // Definitions without a field list (RawExtension, JSON, …) hold arbitrary content.
        if (TypeSchema.Fields(definition) is not { Count: > 0 } fields) return;
        foreach (var (name, value) in obj)
        {
            var at = path.Length == 0 ? name : $"{path}.{name}";
            if (!fields.TryGetValue(name, out var field))
            {
                unknown.Add(at);
                continue;
            }
            if (field.Ref is null || value is null) continue;
            switch (field.Shape)
            {
                case FieldShape.Object when value is JsonObject child:
                    Walk(field.Ref, child, at, unknown);
                    break;
                case FieldShape.List when value is JsonArray items:
                    for (var i = 0; i < items.Count; i++)
                    {
                        if (items[i] is JsonObject item) Walk(field.Ref, item, $"{at}[{i}]", unknown);
                    }
                    break;
                case FieldShape.Map when value is JsonObject map:
                    foreach (var (key, entry) in map)
                    {
                        if (entry is JsonObject e) Walk(field.Ref, e, $"{at}[{key}]", unknown);
                    }
                    break;
            }
        }
    }
}

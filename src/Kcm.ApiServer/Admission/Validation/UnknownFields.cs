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
        Walk(definition, obj, "", unknown, prune: false);
        return unknown;
    }

    /// <summary>Removes the unknown fields, as decoding into upstream's typed structs drops them; returns their paths.</summary>
    public static List<string> Prune(string definition, JsonObject obj)
    {
        var unknown = new List<string>();
        Walk(definition, obj, "", unknown, prune: true);
        return unknown;
    }

    private static void Walk(string definition, JsonObject obj, string path, List<string> unknown, bool prune)
    {
        // Definitions without a field list (RawExtension, JSON, …) hold arbitrary content.
        if (TypeSchema.Fields(definition) is not { Count: > 0 } fields) return;
        List<string>? drop = null;
        foreach (var (name, value) in obj)
        {
            var at = path.Length == 0 ? name : $"{path}.{name}";
            if (!fields.TryGetValue(name, out var field))
            {
                unknown.Add(at);
                (drop ??= []).Add(name);
                continue;
            }
            if (field.Ref is null || value is null) continue;
            switch (field.Shape)
            {
                case FieldShape.Object when value is JsonObject child:
                    Walk(field.Ref, child, at, unknown, prune);
                    break;
                case FieldShape.List when value is JsonArray items:
                    for (var i = 0; i < items.Count; i++)
                    {
                        if (items[i] is JsonObject item) Walk(field.Ref, item, $"{at}[{i}]", unknown, prune);
                    }
                    break;
                case FieldShape.Map when value is JsonObject map:
                    foreach (var (key, entry) in map)
                    {
                        if (entry is JsonObject e) Walk(field.Ref, e, $"{at}[{key}]", unknown, prune);
                    }
                    break;
            }
        }
        if (prune && drop is not null)
        {
            foreach (var name in drop) obj.Remove(name);
        }
    }
}

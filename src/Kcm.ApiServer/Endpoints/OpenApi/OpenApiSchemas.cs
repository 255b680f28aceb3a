using System.Collections;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization.Metadata;
using Kcm.Api;
using Kcm.Api.Catalog;
using Kcm.Api.Schema;

namespace Kcm.ApiServer.Endpoints.OpenApi;

/// <summary>
/// OpenAPI schemas of the built-in definitions, built from our own generated types: structure and the
/// x-kubernetes patch/list metadata from <see cref="TypeSchema"/>, scalar types from the C# property
/// types, group/version/kind from the catalog. No description text.
/// </summary>
internal sealed class OpenApiSchemas
{
    private const string Meta = "io.k8s.apimachinery.pkg.apis.meta.v1.";

    // Definitions with a JSON encoding of their own rather than an object of fields.
    private static readonly Dictionary<string, Func<JsonObject>> Special = new(StringComparer.Ordinal)
    {
        [Meta + "Time"] = () => new JsonObject { ["type"] = "string", ["format"] = "date-time" },
        [Meta + "MicroTime"] = () => new JsonObject { ["type"] = "string", ["format"] = "date-time" },
        [Meta + "Duration"] = () => new JsonObject { ["type"] = "string" },
        [Meta + "FieldsV1"] = () => new JsonObject { ["type"] = "object" },
        ["io.k8s.apimachinery.pkg.api.resource.Quantity"] = () => new JsonObject { ["type"] = "string" },
        ["io.k8s.apimachinery.pkg.util.intstr.IntOrString"] = () => new JsonObject { ["type"] = "string", ["format"] = "int-or-string" },
        ["io.k8s.apimachinery.pkg.runtime.RawExtension"] = () => new JsonObject { ["type"] = "object" },
        ["io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.JSON"] = () => new JsonObject(),
        ["io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.JSONSchemaPropsOrArray"] = () => new JsonObject(),
        ["io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.JSONSchemaPropsOrBool"] = () => new JsonObject(),
        ["io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.JSONSchemaPropsOrStringArray"] = () => new JsonObject(),
    };

    private readonly Dictionary<string, Type> _types = new(StringComparer.Ordinal);
    private readonly Dictionary<string, List<(string Group, string Version, string Kind)>> _kinds = new(StringComparer.Ordinal);

    public OpenApiSchemas()
    {
        foreach (var r in ApiCatalog.Resources)
        {
            if (r.IsSubresource) continue;
            foreach (var kind in (string[])[r.Kind, r.Kind + "List"])
            {
                if (ApiCatalog.DefinitionFor(r.Group, r.Version, kind) is not { } definition) continue;
                var gvks = _kinds.TryGetValue(definition, out var l) ? l : _kinds[definition] = [];
                if (!gvks.Contains((r.Group, r.Version, kind))) gvks.Add((r.Group, r.Version, kind));
                if (ApiCatalog.TypeFor(r.Group, r.Version, kind) is { } type) Discover(definition, type);
            }
        }
    }

    /// <summary>The definition name of a kind's root schema, when the catalog knows it.</summary>
    public static string? RootOf(string group, string version, string kind) => ApiCatalog.DefinitionFor(group, version, kind);

    /// <summary>Schemas of <paramref name="roots"/> and every definition they reach, keyed by definition name.</summary>
    public SortedDictionary<string, JsonObject> Closure(IEnumerable<string> roots, string refPrefix)
    {
        var result = new SortedDictionary<string, JsonObject>(StringComparer.Ordinal);
        var pending = new Stack<string>(roots);
        while (pending.Count > 0)
        {
            var definition = pending.Pop();
            if (result.ContainsKey(definition)) continue;
            result[definition] = Schema(definition, refPrefix, pending.Push);
        }
        return result;
    }

    private JsonObject Schema(string definition, string refPrefix, Action<string> reference)
    {
        if (Special.TryGetValue(definition, out var special)) return special();
        var schema = new JsonObject { ["type"] = "object" };
        var fields = TypeSchema.Fields(definition);
        if (fields is not null)
        {
            var properties = new JsonObject();
            var clr = _types.GetValueOrDefault(definition);
            var clrProperties = clr is null ? null : PropertiesOf(clr);
            foreach (var (name, field) in fields.OrderBy(f => f.Key, StringComparer.Ordinal))
            {
                var property = clrProperties?.GetValueOrDefault(name);
                properties[name] = Field(field, property, refPrefix, reference);
            }
            schema["properties"] = properties;
            var required = TypeSchema.Required(definition);
            if (required.Count > 0) schema["required"] = new JsonArray([.. required.Select(r => (JsonNode)r)]);
        }
        if (_kinds.TryGetValue(definition, out var gvks))
        {
            schema["x-kubernetes-group-version-kind"] = new JsonArray([.. gvks.Select(g => (JsonNode)Gvk(g.Group, g.Version, g.Kind))]);
        }
        return schema;
    }

    public static JsonObject Gvk(string group, string version, string kind) => new() { ["group"] = group, ["kind"] = kind, ["version"] = version };

    private static JsonObject Field(FieldSchema field, Type? clr, string refPrefix, Action<string> reference)
    {
        JsonObject schema;
        switch (field.Shape)
        {
            case FieldShape.List:
                schema = new JsonObject { ["type"] = "array", ["items"] = Element(field.Ref, ElementType(clr), refPrefix, reference) };
                break;
            case FieldShape.Map:
                schema = new JsonObject { ["type"] = "object", ["additionalProperties"] = Element(field.Ref, ValueType(clr), refPrefix, reference) };
                break;
            default:
                schema = Element(field.Ref, clr, refPrefix, reference);
                break;
        }
        if (field.PatchMergeKey is not null) schema["x-kubernetes-patch-merge-key"] = field.PatchMergeKey;
        if (field.PatchStrategy is not null) schema["x-kubernetes-patch-strategy"] = field.PatchStrategy;
        if (field.ListMapKeys is { Count: > 0 } keys) schema["x-kubernetes-list-map-keys"] = new JsonArray([.. keys.Select(k => (JsonNode)k)]);
        if (field.ListType is not null) schema["x-kubernetes-list-type"] = field.ListType;
        if (field.MapType is not null) schema["x-kubernetes-map-type"] = field.MapType;
        return schema;
    }

    private static JsonObject Element(string? definition, Type? clr, string refPrefix, Action<string> reference)
    {
        if (definition is not null)
        {
            reference(definition);
            return new JsonObject { ["$ref"] = refPrefix + definition };
        }
        return Scalar(clr);
    }

    private static JsonObject Scalar(Type? clr)
    {
        var t = clr is null ? null : Nullable.GetUnderlyingType(clr) ?? clr;
        if (t == typeof(string)) return new JsonObject { ["type"] = "string" };
        if (t == typeof(bool)) return new JsonObject { ["type"] = "boolean" };
        if (t == typeof(int)) return new JsonObject { ["type"] = "integer", ["format"] = "int32" };
        if (t == typeof(long)) return new JsonObject { ["type"] = "integer", ["format"] = "int64" };
        if (t == typeof(double) || t == typeof(float)) return new JsonObject { ["type"] = "number", ["format"] = "double" };
        if (t == typeof(byte[])) return new JsonObject { ["type"] = "string", ["format"] = "byte" };
        if (t == typeof(DateTimeOffset) || t == typeof(DateTime)) return new JsonObject { ["type"] = "string", ["format"] = "date-time" };
        return new JsonObject { ["type"] = "object" };
    }

    private void Discover(string definition, Type type)
    {
        if (!_types.TryAdd(definition, type)) return;
        var fields = TypeSchema.Fields(definition);
        if (fields is null) return;
        var properties = PropertiesOf(type);
        foreach (var (name, field) in fields)
        {
            if (field.Ref is null || !properties.TryGetValue(name, out var property)) continue;
            var target = field.Shape switch
            {
                FieldShape.List => ElementType(property),
                FieldShape.Map => ValueType(property),
                _ => Nullable.GetUnderlyingType(property) ?? property,
            };
            if (target is not null && target.IsClass && target != typeof(string)) Discover(field.Ref, target);
        }
    }

    // The JSON properties' types from the generated serializer metadata (not reflection, which the NativeAOT binary lacks).
    private static Dictionary<string, Type> PropertiesOf(Type type)
    {
        var result = new Dictionary<string, Type>(StringComparer.Ordinal);
        if (KubeJson.Context.GetTypeInfo(type) is not { Kind: JsonTypeInfoKind.Object } info) return result;
        foreach (var p in info.Properties)
        {
            if (!p.IsExtensionData) result[p.Name] = p.PropertyType;
        }
        return result;
    }

    private static Type? ElementType(Type? list)
    {
        if (list is null || list == typeof(byte[])) return null;
        if (list.IsArray) return list.GetElementType();
        return list.IsGenericType && typeof(IEnumerable).IsAssignableFrom(list) ? list.GetGenericArguments()[0] : null;
    }

    private static Type? ValueType(Type? map)
        => map is { IsGenericType: true } && map.GetGenericArguments().Length == 2 ? map.GetGenericArguments()[1] : null;
}

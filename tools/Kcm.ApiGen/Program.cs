using System.Text;
using System.Text.Json;

namespace Kcm.ApiGen;

/// <summary>
/// Generates src/Kcm.Api/Generated from the OpenAPI v2 document and the discovery documents of a
/// real API server. Only structure is carried over (names, types, patch metadata, discovery
/// rows); description text is never copied.
///   dotnet run --project tools/Kcm.ApiGen -- ../shared/kubernetes-api src/Kcm.Api/Generated
/// </summary>
public static class Program
{
    public static int Main(string[] args)
    {
        if (args.Length != 2)
        {
            Console.Error.WriteLine("usage: Kcm.ApiGen <kubernetes-api-dir> <output-dir>");
            return 2;
        }
        var apiDir = args[0];
        var outDir = args[1];
        var openApiPath = Path.Combine(apiDir, "openapi-v2-v1.26.json");
        var discoveryDir = Path.Combine(apiDir, "reference-v1.26", "discovery");
        if (!File.Exists(openApiPath))
        {
            Console.Error.WriteLine($"error: {openApiPath}: file not found");
            return 1;
        }
        using var doc = JsonDocument.Parse(File.ReadAllBytes(openApiPath));
        var model = new Model(doc.RootElement.GetProperty("definitions"));
        var discovery = DiscoveryModel.Load(discoveryDir);

        Directory.CreateDirectory(outDir);
        foreach (var old in Directory.GetFiles(outDir, "*.g.cs")) File.Delete(old);

        foreach (var group in model.Types.GroupBy(t => t.Namespace).OrderBy(g => g.Key, StringComparer.Ordinal))
        {
            var file = group.Key.Replace("Kcm.Api.", "", StringComparison.Ordinal).Replace(".", "", StringComparison.Ordinal) + ".g.cs";
            File.WriteAllText(Path.Combine(outDir, file), TypeWriter.Write(group.Key, group, model, discovery));
        }
        File.WriteAllText(Path.Combine(outDir, "KubeJsonContext.g.cs"), ContextWriter.Write(model));
        File.WriteAllText(Path.Combine(outDir, "TypeSchema.g.cs"), SchemaWriter.Write(model));
        File.WriteAllText(Path.Combine(outDir, "ApiCatalog.g.cs"), CatalogWriter.Write(model, discovery));
        Console.WriteLine($"generated {model.Types.Count} types, {discovery.Resources.Count} discovery rows into {outDir}");
        return 0;
    }
}

internal sealed record Gvk(string Group, string Version, string Kind);

internal sealed record PropModel(
    string JsonName,
    string CsName,
    string CsType,
    string? Converter,
    string Shape,
    string? Ref,
    string? PatchStrategy,
    string? PatchMergeKey,
    string? ListType,
    List<string>? ListMapKeys,
    string? MapType);

internal sealed record TypeModel(string Definition, string Namespace, string Name, List<PropModel> Props, List<Gvk> Gvks, List<string> Required)
{
    public string FullName => $"global::{Namespace}.{Name}";
}

internal sealed class Model
{
    // Definitions that are not objects with properties map onto hand-written or generic types.
    private static readonly Dictionary<string, (string Type, string? Converter)> Special = new()
    {
        ["io.k8s.apimachinery.pkg.api.resource.Quantity"] = ("global::Kcm.Api.Quantity", null),
        ["io.k8s.apimachinery.pkg.util.intstr.IntOrString"] = ("global::Kcm.Api.IntOrString?", null),
        ["io.k8s.apimachinery.pkg.apis.meta.v1.Time"] = ("global::System.DateTimeOffset?", null),
        ["io.k8s.apimachinery.pkg.apis.meta.v1.MicroTime"] = ("global::System.DateTimeOffset?", "global::Kcm.Api.MicroTimeConverter"),
    };

    public List<TypeModel> Types { get; } = [];
    public Dictionary<string, TypeModel> ByDefinition { get; } = new(StringComparer.Ordinal);

    public Model(JsonElement definitions)
    {
        foreach (var def in definitions.EnumerateObject())
        {
            if (Special.ContainsKey(def.Name)) continue;
            if (!def.Value.TryGetProperty("properties", out var props)) continue; // free-form JSON → JsonNode
            var (ns, name) = Names.Split(def.Name);
            var gvks = new List<Gvk>();
            if (def.Value.TryGetProperty("x-kubernetes-group-version-kind", out var gvkArray))
            {
                foreach (var g in gvkArray.EnumerateArray())
                {
                    gvks.Add(new Gvk(g.GetProperty("group").GetString()!, g.GetProperty("version").GetString()!, g.GetProperty("kind").GetString()!));
                }
            }
            var required = new List<string>();
            if (def.Value.TryGetProperty("required", out var req))
            {
                foreach (var r in req.EnumerateArray()) required.Add(r.GetString()!);
            }
            var model = new TypeModel(def.Name, ns, name, [], gvks, required);
            foreach (var p in props.EnumerateObject())
            {
                model.Props.Add(Prop(name, p.Name, p.Value, ns));
            }
            Types.Add(model);
            ByDefinition[def.Name] = model;
        }
    }

    private PropModel Prop(string typeName, string jsonName, JsonElement schema, string ns)
    {
        var csName = Names.Pascal(jsonName);
        if (csName == typeName) csName += "Value";
        string? Str(string key) => schema.TryGetProperty(key, out var v) ? v.GetString() : null;
        List<string>? keys = null;
        if (schema.TryGetProperty("x-kubernetes-list-map-keys", out var k)) keys = k.EnumerateArray().Select(e => e.GetString()!).ToList();

        string shape;
        string? refDef;
        string csType;
        string? converter = null;
        var type = Str("type");
        if (type == "array")
        {
            var (elem, elemRef, _) = Element(schema.GetProperty("items"), ns);
            shape = "List";
            refDef = elemRef;
            csType = $"global::System.Collections.Generic.List<{elem}>?";
        }
        else if (type == "object" && schema.TryGetProperty("additionalProperties", out var addl))
        {
            var (elem, elemRef, _) = Element(addl, ns);
            shape = "Map";
            refDef = elemRef;
            csType = $"global::System.Collections.Generic.Dictionary<string, {elem}>?";
        }
        else
        {
            var (elem, elemRef, conv) = Element(schema, ns);
            shape = elemRef != null && !Special.ContainsKey(elemRef) && !elem.Contains("JsonNode", StringComparison.Ordinal) ? "Object" : "Scalar";
            refDef = elemRef;
            converter = conv;
            csType = elem.EndsWith('?') ? elem : elem + "?";
        }
        return new PropModel(jsonName, csName, csType, converter, shape, refDef, Str("x-kubernetes-patch-strategy"),
            Str("x-kubernetes-patch-merge-key"), Str("x-kubernetes-list-type"), keys, Str("x-kubernetes-map-type"));
    }

    /// <summary>C# type of a schema used as a value (property, list element or map value).</summary>
    private (string Type, string? Ref, string? Converter) Element(JsonElement schema, string ns)
    {
        if (schema.TryGetProperty("$ref", out var r))
        {
            var def = r.GetString()!["#/definitions/".Length..];
            if (Special.TryGetValue(def, out var special)) return (special.Type, def, special.Converter);
            var (refNs, refName) = Names.Split(def);
            // A definition without properties is free-form JSON (RawExtension, FieldsV1, JSON, ...).
            return (IsFreeForm(def) ? "global::System.Text.Json.Nodes.JsonNode?" : $"global::{refNs}.{refName}", def, null);
        }
        var type = schema.TryGetProperty("type", out var t) ? t.GetString() : null;
        var format = schema.TryGetProperty("format", out var f) ? f.GetString() : null;
        return (type, format) switch
        {
            ("string", "byte") => ("byte[]", null, null),
            ("string", _) => ("string", null, null),
            ("integer", "int64") => ("long", null, null),
            ("integer", _) => ("int", null, null),
            ("number", _) => ("double", null, null),
            ("boolean", _) => ("bool", null, null),
            ("array", _) => ($"global::System.Collections.Generic.List<{Element(schema.GetProperty("items"), ns).Type}>", null, null),
            _ => ("global::System.Text.Json.Nodes.JsonNode?", null, null),
        };
    }

    private readonly HashSet<string> _freeForm =
    [
        "io.k8s.apimachinery.pkg.runtime.RawExtension",
        "io.k8s.apimachinery.pkg.apis.meta.v1.FieldsV1",
        "io.k8s.apimachinery.pkg.apis.meta.v1.Patch",
        "io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.JSON",
        "io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.JSONSchemaPropsOrArray",
        "io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.JSONSchemaPropsOrBool",
        "io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.JSONSchemaPropsOrStringArray",
        "io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.CustomResourceSubresourceStatus",
    ];

    private bool IsFreeForm(string def) => _freeForm.Contains(def);
}

internal static class Names
{
    private static readonly Dictionary<string, string> Words = new(StringComparer.Ordinal)
    {
        ["admissionregistration"] = "AdmissionRegistration",
        ["apiextensions"] = "ApiExtensions",
        ["apiregistration"] = "ApiRegistration",
        ["flowcontrol"] = "FlowControl",
        ["rbac"] = "Rbac",
    };

    private static readonly HashSet<string> CsKeywords = ["params"];

    public static (string Namespace, string Name) Split(string definition)
    {
        var parts = definition.Split('.');
        var name = parts[^1];
        var rest = parts[..^1];
        string ns;
        if (definition.StartsWith("io.k8s.api.", StringComparison.Ordinal)) ns = $"Kcm.Api.{Word(rest[3])}.{Word(rest[4])}";
        else if (definition.StartsWith("io.k8s.apimachinery.pkg.apis.meta.", StringComparison.Ordinal)) ns = $"Kcm.Api.Meta.{Word(rest[^1])}";
        else if (definition.StartsWith("io.k8s.apimachinery.pkg.version.", StringComparison.Ordinal)) ns = "Kcm.Api.ServerVersion";
        else if (definition.StartsWith("io.k8s.apimachinery.pkg.runtime.", StringComparison.Ordinal)) ns = "Kcm.Api.Runtime";
        else ns = $"Kcm.Api.{Word(rest[^2])}.{Word(rest[^1])}"; // apiextensions / apiregistration
        return (ns, name);
    }

    private static string Word(string s) => Words.TryGetValue(s, out var w) ? w : char.ToUpperInvariant(s[0]) + s[1..];

    public static string Pascal(string jsonName)
    {
        var sb = new StringBuilder();
        var upper = true;
        foreach (var c in jsonName)
        {
            if (!char.IsLetterOrDigit(c)) { upper = true; continue; }
            sb.Append(upper ? char.ToUpperInvariant(c) : c);
            upper = false;
        }
        var s = sb.ToString();
        if (s.Length == 0 || char.IsDigit(s[0])) s = "_" + s;
        return CsKeywords.Contains(s) ? "@" + s : s;
    }

    public static string Literal(string? s) => s == null ? "null" : "\"" + s.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("\"", "\\\"", StringComparison.Ordinal) + "\"";

    public static string Array(IEnumerable<string> items) => "[" + string.Join(", ", items.Select(i => Literal(i))) + "]";
}

internal sealed record DiscoveryResource(string Group, string Version, string Name, bool Namespaced, string Kind, string? KindGroup,
    string? KindVersion, List<string> Verbs, List<string> ShortNames, List<string> Categories, string? StorageVersionHash);

internal sealed record DiscoveryGroup(string Name, List<string> Versions, string Preferred);

internal sealed class DiscoveryModel
{
    public List<DiscoveryGroup> Groups { get; } = [];
    public List<DiscoveryResource> Resources { get; } = [];

    public static DiscoveryModel Load(string dir)
    {
        var m = new DiscoveryModel();
        using (var apis = JsonDocument.Parse(File.ReadAllBytes(Path.Combine(dir, "apis.json"))))
        {
            foreach (var g in apis.RootElement.GetProperty("groups").EnumerateArray())
            {
                m.Groups.Add(new DiscoveryGroup(
                    g.GetProperty("name").GetString()!,
                    g.GetProperty("versions").EnumerateArray().Select(v => v.GetProperty("version").GetString()!).ToList(),
                    g.GetProperty("preferredVersion").GetProperty("version").GetString()!));
            }
        }
        var files = new List<(string Group, string Version, string File)> { ("", "v1", "api_v1.json") };
        foreach (var g in m.Groups)
        {
            foreach (var v in g.Versions) files.Add((g.Name, v, $"apis_{g.Name.Replace('.', '_')}_{v}.json"));
        }
        foreach (var (group, version, file) in files)
        {
            var path = Path.Combine(dir, file);
            if (!File.Exists(path)) throw new FileNotFoundException($"discovery document missing: {path}");
            using var d = JsonDocument.Parse(File.ReadAllBytes(path));
            foreach (var r in d.RootElement.GetProperty("resources").EnumerateArray())
            {
                string? S(string k) => r.TryGetProperty(k, out var v) ? v.GetString() : null;
                List<string> L(string k) => r.TryGetProperty(k, out var v) ? v.EnumerateArray().Select(e => e.GetString()!).ToList() : [];
                m.Resources.Add(new DiscoveryResource(group, version, S("name")!, r.GetProperty("namespaced").GetBoolean(), S("kind")!,
                    S("group"), S("version"), L("verbs"), L("shortNames"), L("categories"), S("storageVersionHash")));
            }
        }
        return m;
    }
}

internal static class TypeWriter
{
    public static string Write(string ns, IEnumerable<TypeModel> types, Model model, DiscoveryModel discovery)
    {
        var sb = new StringBuilder();
        sb.AppendLine("// <auto-generated>by tools/Kcm.ApiGen from the Kubernetes v1.26 OpenAPI document; do not edit.</auto-generated>");
        sb.AppendLine("#nullable enable");
        sb.AppendLine("using System.Text.Json;");
        sb.AppendLine("using System.Text.Json.Serialization;");
        sb.AppendLine();
        sb.AppendLine($"namespace {ns};");
        foreach (var t in types.OrderBy(t => t.Name, StringComparer.Ordinal))
        {
            sb.AppendLine();
            var interfaces = Interfaces(t, model, discovery, out var resourceRow);
            sb.AppendLine($"public sealed partial class {t.Name}{(interfaces.Count > 0 ? " : " + string.Join(", ", interfaces) : "")}");
            sb.AppendLine("{");
            if (resourceRow != null)
            {
                var gvk = t.Gvks[0];
                sb.AppendLine($"    public static global::Kcm.Api.ResourceInfo Resource {{ get; }} = new({Names.Literal(gvk.Group)}, {Names.Literal(gvk.Version)}, {Names.Literal(gvk.Kind)}, {Names.Literal(resourceRow.Name)}, {(resourceRow.Namespaced ? "true" : "false")});");
                if (interfaces.Contains("global::Kcm.Api.IListableResource")) sb.AppendLine($"    public static global::System.Type ListType => typeof({t.Name}List);");
                sb.AppendLine();
            }
            foreach (var p in t.Props)
            {
                sb.AppendLine($"    [JsonPropertyName({Names.Literal(p.JsonName)})]");
                if (p.Converter != null) sb.AppendLine($"    [JsonConverter(typeof({p.Converter}))]");
                sb.AppendLine($"    public {p.CsType} {p.CsName} {{ get; set; }}");
                sb.AppendLine();
            }
            sb.AppendLine("    /// <summary>Fields this version does not know; written back unchanged.</summary>");
            sb.AppendLine("    [JsonExtensionData]");
            sb.AppendLine("    public global::System.Collections.Generic.Dictionary<string, JsonElement>? ExtensionData { get; set; }");
            sb.AppendLine("}");
        }
        return sb.ToString();
    }

    private static List<string> Interfaces(TypeModel t, Model model, DiscoveryModel discovery, out DiscoveryResource? resourceRow)
    {
        resourceRow = null;
        var list = new List<string>();
        var meta = t.Props.FirstOrDefault(p => p.JsonName == "metadata");
        var hasTypeMeta = t.Props.Any(p => p.JsonName == "apiVersion") && t.Props.Any(p => p.JsonName == "kind");
        if (!hasTypeMeta || meta == null) return list;
        if (meta.Ref == "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta")
        {
            if (t.Gvks.Count == 1)
            {
                var gvk = t.Gvks[0];
                resourceRow = discovery.Resources.FirstOrDefault(r => r.Group == gvk.Group && r.Version == gvk.Version && r.Kind == gvk.Kind
                    && !r.Name.Contains('/') && r.KindGroup == null);
            }
            list.Add(resourceRow == null ? "global::Kcm.Api.IKubernetesObject"
                : model.ByDefinition.ContainsKey(t.Definition + "List") ? "global::Kcm.Api.IListableResource" : "global::Kcm.Api.IResource");
        }
        else if (meta.Ref == "io.k8s.apimachinery.pkg.apis.meta.v1.ListMeta")
        {
            var items = t.Props.FirstOrDefault(p => p.JsonName == "items");
            if (items != null && items.Shape == "List" && items.Ref != null && model.ByDefinition.TryGetValue(items.Ref, out var item))
            {
                list.Add($"global::Kcm.Api.IKubernetesList<{item.FullName}>");
            }
            else
            {
                list.Add("global::Kcm.Api.IKubernetesList");
            }
        }
        return list;
    }
}

internal static class ContextWriter
{
    public static string Write(Model model)
    {
        var sb = new StringBuilder();
        sb.AppendLine("// <auto-generated>by tools/Kcm.ApiGen; do not edit.</auto-generated>");
        sb.AppendLine("#nullable enable");
        sb.AppendLine("using System.Text.Json.Serialization;");
        sb.AppendLine();
        sb.AppendLine("namespace Kcm.Api;");
        sb.AppendLine();
        sb.AppendLine("[JsonSourceGenerationOptions(DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull, Converters = [typeof(global::Kcm.Api.KubeTimeConverter)])]");
        foreach (var t in model.Types.OrderBy(t => t.Namespace + "." + t.Name, StringComparer.Ordinal))
        {
            var prefix = t.Namespace.Replace("Kcm.Api.", "", StringComparison.Ordinal).Replace(".", "", StringComparison.Ordinal);
            sb.AppendLine($"[JsonSerializable(typeof({t.FullName}), TypeInfoPropertyName = \"{prefix}{t.Name}\")]");
        }
        // Collections of generated types get explicit names: the same simple name lives in several groups.
        var collections = model.Types.SelectMany(t => t.Props)
            .Select(p => p.CsType.TrimEnd('?'))
            .Where(t => t.StartsWith("global::System.Collections.Generic.", StringComparison.Ordinal) && t.Contains("global::Kcm.Api.", StringComparison.Ordinal))
            .Distinct(StringComparer.Ordinal)
            .OrderBy(t => t, StringComparer.Ordinal);
        foreach (var c in collections)
        {
            var name = new string(c.Replace("global::System.Collections.Generic.", "", StringComparison.Ordinal)
                .Replace("global::Kcm.Api.", "", StringComparison.Ordinal).Where(char.IsLetterOrDigit).ToArray());
            sb.AppendLine($"[JsonSerializable(typeof({c}), TypeInfoPropertyName = \"{name}\")]");
        }
        sb.AppendLine("[JsonSerializable(typeof(global::System.Text.Json.Nodes.JsonNode))]");
        sb.AppendLine("[JsonSerializable(typeof(global::System.Text.Json.Nodes.JsonObject))]");
        sb.AppendLine("public sealed partial class KubeJsonContext : JsonSerializerContext");
        sb.AppendLine("{");
        sb.AppendLine("}");
        return sb.ToString();
    }
}

internal static class SchemaWriter
{
    public static string Write(Model model)
    {
        var sb = new StringBuilder();
        sb.AppendLine("// <auto-generated>by tools/Kcm.ApiGen; do not edit.</auto-generated>");
        sb.AppendLine("#nullable enable");
        sb.AppendLine("namespace Kcm.Api.Schema;");
        sb.AppendLine();
        sb.AppendLine("public static partial class TypeSchema");
        sb.AppendLine("{");
        sb.AppendLine("    private static readonly global::System.Collections.Generic.Dictionary<string, global::System.Collections.Generic.IReadOnlyDictionary<string, FieldSchema>> Definitions = new()");
        sb.AppendLine("    {");
        foreach (var t in model.Types.OrderBy(t => t.Definition, StringComparer.Ordinal))
        {
            sb.AppendLine($"        [{Names.Literal(t.Definition)}] = new global::System.Collections.Generic.Dictionary<string, FieldSchema>");
            sb.AppendLine("        {");
            foreach (var p in t.Props)
            {
                var args = new List<string> { $"FieldShape.{p.Shape}", Names.Literal(p.Ref) };
                if (p.PatchStrategy != null) args.Add($"PatchStrategy: {Names.Literal(p.PatchStrategy)}");
                if (p.PatchMergeKey != null) args.Add($"PatchMergeKey: {Names.Literal(p.PatchMergeKey)}");
                if (p.ListType != null) args.Add($"ListType: {Names.Literal(p.ListType)}");
                if (p.ListMapKeys != null) args.Add($"ListMapKeys: {Names.Array(p.ListMapKeys)}");
                if (p.MapType != null) args.Add($"MapType: {Names.Literal(p.MapType)}");
                sb.AppendLine($"            [{Names.Literal(p.JsonName)}] = new({string.Join(", ", args)}),");
            }
            sb.AppendLine("        },");
        }
        sb.AppendLine("    };");
        sb.AppendLine();
        sb.AppendLine("    private static readonly global::System.Collections.Generic.Dictionary<string, string[]> RequiredFields = new()");
        sb.AppendLine("    {");
        foreach (var t in model.Types.Where(t => t.Required.Count > 0).OrderBy(t => t.Definition, StringComparer.Ordinal))
        {
            sb.AppendLine($"        [{Names.Literal(t.Definition)}] = {Names.Array(t.Required)},");
        }
        sb.AppendLine("    };");
        sb.AppendLine("}");
        return sb.ToString();
    }
}

internal static class CatalogWriter
{
    public static string Write(Model model, DiscoveryModel discovery)
    {
        var sb = new StringBuilder();
        sb.AppendLine("// <auto-generated>by tools/Kcm.ApiGen from a v1.26 server's discovery documents; do not edit.</auto-generated>");
        sb.AppendLine("#nullable enable");
        sb.AppendLine("namespace Kcm.Api.Catalog;");
        sb.AppendLine();
        sb.AppendLine("public static partial class ApiCatalog");
        sb.AppendLine("{");
        sb.AppendLine("    private static readonly ApiGroupEntry[] GroupsTable =");
        sb.AppendLine("    [");
        foreach (var g in discovery.Groups)
        {
            sb.AppendLine($"        new({Names.Literal(g.Name)}, {Names.Array(g.Versions)}, {Names.Literal(g.Preferred)}),");
        }
        sb.AppendLine("    ];");
        sb.AppendLine();
        sb.AppendLine("    private static readonly ApiResourceEntry[] ResourcesTable =");
        sb.AppendLine("    [");
        foreach (var r in discovery.Resources)
        {
            sb.AppendLine($"        new({Names.Literal(r.Group)}, {Names.Literal(r.Version)}, {Names.Literal(r.Name)}, {(r.Namespaced ? "true" : "false")}, {Names.Literal(r.Kind)}, {Names.Literal(r.KindGroup)}, {Names.Literal(r.KindVersion)}, {Names.Array(r.Verbs)}, {Names.Array(r.ShortNames)}, {Names.Array(r.Categories)}, {Names.Literal(r.StorageVersionHash)}),");
        }
        sb.AppendLine("    ];");
        sb.AppendLine();
        var kinds = model.Types
            .SelectMany(t => t.Gvks.Select(g => (Gvk: g, Type: t)))
            .GroupBy(x => x.Gvk)
            .Select(g => g.First())
            .OrderBy(x => x.Gvk.Group, StringComparer.Ordinal).ThenBy(x => x.Gvk.Version, StringComparer.Ordinal).ThenBy(x => x.Gvk.Kind, StringComparer.Ordinal)
            .ToList();
        sb.AppendLine("    private static readonly global::System.Collections.Generic.Dictionary<(string, string, string), global::System.Type> KindTypes = new()");
        sb.AppendLine("    {");
        foreach (var (gvk, t) in kinds)
        {
            sb.AppendLine($"        [({Names.Literal(gvk.Group)}, {Names.Literal(gvk.Version)}, {Names.Literal(gvk.Kind)})] = typeof({t.FullName}),");
        }
        sb.AppendLine("    };");
        sb.AppendLine();
        sb.AppendLine("    private static readonly global::System.Collections.Generic.Dictionary<(string, string, string), string> KindDefinitions = new()");
        sb.AppendLine("    {");
        foreach (var (gvk, t) in kinds)
        {
            sb.AppendLine($"        [({Names.Literal(gvk.Group)}, {Names.Literal(gvk.Version)}, {Names.Literal(gvk.Kind)})] = {Names.Literal(t.Definition)},");
        }
        sb.AppendLine("    };");
        sb.AppendLine("}");
        return sb.ToString();
    }
}

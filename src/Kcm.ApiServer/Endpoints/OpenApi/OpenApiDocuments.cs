using System.Security.Cryptography;
using System.Text.Json.Nodes;
using Kcm.Api.Catalog;

namespace Kcm.ApiServer.Endpoints.OpenApi;

/// <summary>
/// /openapi/v2 and /openapi/v3 documents of the built-in API, rendered once. kubectl reads them for
/// client-side validation, for "does the server take fieldValidation" checks (PATCH operations tagged
/// with x-kubernetes-group-version-kind), for apply's strategic-merge metadata and for explain.
/// </summary>
public sealed class OpenApiDocuments
{
    private const string V3Ref = "#/components/schemas/";
    private const string V2Ref = "#/definitions/";

    private readonly Dictionary<string, (byte[] Json, string Hash)> _v3 = new(StringComparer.Ordinal);

    public OpenApiDocuments(string serverVersion)
    {
        var schemas = new OpenApiSchemas();
        var versions = new List<(string Group, string Version)> { ("", "v1") };
        foreach (var g in ApiCatalog.Groups) versions.AddRange(g.Versions.Select(v => (g.Name, v)));

        var v2Paths = new JsonObject();
        var allRoots = new List<string>();
        foreach (var (group, version) in versions)
        {
            var resources = ApiCatalog.Resources.Where(r => r.Group == group && r.Version == version && !r.IsSubresource).ToList();
            var roots = resources.Select(r => OpenApiSchemas.RootOf(group, version, r.Kind)).OfType<string>().ToList();
            allRoots.AddRange(roots);
            var doc = new JsonObject
            {
                ["openapi"] = "3.0.0",
                ["info"] = new JsonObject { ["title"] = "Kubernetes", ["version"] = serverVersion },
                ["paths"] = Paths(resources, V3Ref, v3: true),
                ["components"] = new JsonObject { ["schemas"] = ToObject(schemas.Closure(roots, V3Ref)) },
            };
            var json = ResponseWriter.Render(w => doc.WriteTo(w));
            var key = group.Length == 0 ? $"api/{version}" : $"apis/{group}/{version}";
            _v3[key] = (json, Convert.ToHexString(SHA512.HashData(json)));
            foreach (var (path, item) in Paths(resources, V2Ref, v3: false).ToList()) v2Paths[path] = item?.DeepClone();
        }
        V3Root = ResponseWriter.Render(w =>
        {
            w.WriteStartObject();
            w.WriteStartObject("paths");
            foreach (var (key, (_, hash)) in _v3.OrderBy(k => k.Key, StringComparer.Ordinal))
            {
                w.WriteStartObject(key);
                w.WriteString("serverRelativeURL", $"/openapi/v3/{key}?hash={hash}");
                w.WriteEndObject();
            }
            w.WriteEndObject();
            w.WriteEndObject();
        });
        var v2 = new JsonObject
        {
            ["swagger"] = "2.0",
            ["info"] = new JsonObject { ["title"] = "Kubernetes", ["version"] = serverVersion },
            ["paths"] = v2Paths,
            ["definitions"] = ToObject(schemas.Closure(allRoots, V2Ref)),
        };
        V2 = ResponseWriter.Render(w => v2.WriteTo(w));
    }

    public byte[] V2 { get; }
    public byte[] V3Root { get; }

    /// <summary>The v3 document of "api/v1" or "apis/apps/v1"; null when no such group/version is served.</summary>
    public byte[]? V3(string groupVersionPath) => _v3.TryGetValue(groupVersionPath, out var d) ? d.Json : null;

    private static JsonObject ToObject(SortedDictionary<string, JsonObject> schemas)
    {
        var o = new JsonObject();
        foreach (var (name, schema) in schemas) o[name] = schema;
        return o;
    }

    private static JsonObject Paths(List<ApiResourceEntry> resources, string refPrefix, bool v3)
    {
        var paths = new JsonObject();
        foreach (var r in resources)
        {
            if (OpenApiSchemas.RootOf(r.Group, r.Version, r.Kind) is not { } definition) continue;
            var prefix = r.Group.Length == 0 ? $"/api/{r.Version}" : $"/apis/{r.Group}/{r.Version}";
            var collection = r.Namespaced ? $"{prefix}/namespaces/{{namespace}}/{r.Name}" : $"{prefix}/{r.Name}";
            var gvk = OpenApiSchemas.Gvk(r.Group, r.Version, r.Kind);
            var collectionItem = new JsonObject();
            var item = new JsonObject();
            var listDefinition = OpenApiSchemas.RootOf(r.Group, r.Version, r.Kind + "List") ?? definition;
            foreach (var verb in r.Verbs)
            {
                switch (verb)
                {
                    case "list": collectionItem["get"] = Operation("list", gvk, listDefinition, refPrefix, v3, []); break;
                    case "create": collectionItem["post"] = Operation("post", gvk, definition, refPrefix, v3, WriteParameters); break;
                    case "deletecollection": collectionItem["delete"] = Operation("deletecollection", gvk, "io.k8s.apimachinery.pkg.apis.meta.v1.Status", refPrefix, v3, []); break;
                    case "get": item["get"] = Operation("get", gvk, definition, refPrefix, v3, []); break;
                    case "update": item["put"] = Operation("put", gvk, definition, refPrefix, v3, WriteParameters); break;
                    case "patch": item["patch"] = Operation("patch", gvk, definition, refPrefix, v3, [.. WriteParameters, "force"]); break;
                    case "delete": item["delete"] = Operation("delete", gvk, definition, refPrefix, v3, []); break;
                }
            }
            if (collectionItem.Count > 0) paths[collection] = collectionItem;
            if (item.Count > 0) paths[collection + "/{name}"] = item;
        }
        return paths;
    }

    private static readonly string[] WriteParameters = ["dryRun", "fieldManager", "fieldValidation"];

    private static JsonObject Operation(string action, JsonObject gvk, string responseDefinition, string refPrefix, bool v3, string[] queryParameters)
    {
        var parameters = new JsonArray();
        foreach (var name in queryParameters)
        {
            var type = name == "force" ? "boolean" : "string";
            parameters.Add(v3
                ? (JsonNode)new JsonObject { ["name"] = name, ["in"] = "query", ["schema"] = new JsonObject { ["type"] = type, ["uniqueItems"] = true } }
                : new JsonObject { ["name"] = name, ["in"] = "query", ["type"] = type, ["uniqueItems"] = true });
        }
        var schema = new JsonObject { ["$ref"] = refPrefix + responseDefinition };
        var ok = v3
            ? new JsonObject { ["description"] = "OK", ["content"] = new JsonObject { ["application/json"] = new JsonObject { ["schema"] = schema } } }
            : new JsonObject { ["description"] = "OK", ["schema"] = schema };
        return new JsonObject
        {
            ["parameters"] = parameters,
            ["responses"] = new JsonObject { ["200"] = ok },
            ["x-kubernetes-action"] = action,
            ["x-kubernetes-group-version-kind"] = gvk.DeepClone(),
        };
    }
}

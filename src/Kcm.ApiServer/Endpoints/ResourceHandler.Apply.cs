using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Kcm.Api.Catalog;
using Kcm.ApiServer.Apply;
using Kcm.ApiServer.Authentication;
using Kcm.ApiServer.Errors;
using Kcm.ApiServer.Registry;
using Kcm.ApiServer.Storage;
using Microsoft.AspNetCore.Http;
using YamlDotNet.RepresentationModel;

namespace Kcm.ApiServer.Endpoints;

/// <summary>
/// Server-side apply (PATCH with application/apply-patch+yaml, upstream patch.go applyPatcher): the applied
/// configuration is merged into the live object, or creates it when it is missing.
/// </summary>
public sealed partial class ResourceHandler
{
    private const int FieldManagerMaxLength = 128;

    /// <summary>upstream managerOrUserAgent: ?fieldManager (validated), else the user agent up to its first "/".</summary>
    private static string ManagerOf(HttpContext ctx, string optionsKind)
    {
        var manager = ctx.Request.Query["fieldManager"].ToString();
        if (manager.Length > FieldManagerMaxLength)
        {
            throw ApiException.Invalid("meta.k8s.io", optionsKind, "",
                [new StatusCauseInfo("FieldValueTooLong", $"Too long: may not be longer than {FieldManagerMaxLength}", "fieldManager")]);
        }
        for (var i = 0; i < manager.Length; i++)
        {
            if (char.IsControl(manager[i]))
            {
                throw ApiException.Invalid("meta.k8s.io", optionsKind, "",
                    [new StatusCauseInfo("FieldValueInvalid", $"Invalid value: {StringJson.Quote(manager)}: invalid character U+{(int)manager[i]:X4} (at position {i})", "fieldManager")]);
            }
        }
        if (manager.Length > 0) return manager;
        var agent = ctx.Request.Headers.UserAgent.ToString().Split('/')[0];
        var prefix = new StringBuilder();
        foreach (var ch in agent.Where(c => !char.IsControl(c)))
        {
            if (prefix.Length + 1 > FieldManagerMaxLength) break;
            prefix.Append(ch);
        }
        return prefix.ToString();
    }

    private async Task ApplyAsync(HttpContext ctx, ResourceRequest req, byte[]? body, UserInfo user)
    {
        var query = ctx.Request.Query;
        var manager = query["fieldManager"].ToString();
        if (manager.Length == 0)
        {
            throw ApiException.Invalid("meta.k8s.io", "PatchOptions", "",
                [new StatusCauseInfo("FieldValueRequired", "Required value: is required for apply patch", "fieldManager")]);
        }
        var force = query["force"].ToString() is "true" or "1" or "t" or "T" or "TRUE" or "True";
        if (req.Subresource is not ("" or "status")) throw ApiException.UnsupportedMediaType(AcceptedPatchTypes);
        var config = ParseApplyConfiguration(body);
        var definition = ApiCatalog.DefinitionFor(req.Group, req.Version, req.Entry.Kind)
            ?? throw ApiException.UnsupportedMediaType(AcceptedPatchTypes);
        var kind = config["kind"] is JsonValue k && k.TryGetValue<string>(out var ks) ? ks : "";
        if (kind != req.Entry.Kind)
        {
            throw ApiException.BadRequest($"the kind in the applied configuration ({kind}) does not match the expected kind ({req.Entry.Kind})");
        }
        var unknown = PruneUnknown(ctx, definition, config);
        CheckBodyIdentity(req, config);
        var strategy = registry.StrategyFor(req.Entry);
        var fieldContext = GenericStore.FieldContextFor(req, strategy, manager)!;
        // The field manager computes managedFields itself; the store must not record an Update on top.
        var storeRequest = req with { FieldManager = null };
        StoredObject result;
        var statusCode = 200;
        if (registry.StorageFor(req).Get(StoredObject.MakeKey(req.Namespace, req.Name)) is null)
        {
            if (req.Subresource.Length > 0) throw ApiException.NotFound(req.Group, req.Resource, req.Name);
            var created = registry.Fields.Apply(null, config, fieldContext, force);
            result = registry.Create(storeRequest, created, user);
            statusCode = 201;
        }
        else
        {
            result = registry.Update(storeRequest, current => registry.Fields.Apply(ObjectEncoder.Parse(current), config, fieldContext, force), user);
        }
        if (query["fieldValidation"] != "Ignore")
        {
            foreach (var u in unknown) ctx.Response.Headers.Append("Warning", $"299 - \"unknown field \\\"{u}\\\"\"");
        }
        await WriteObjectAsync(ctx, statusCode, req, result);
    }

    /// <summary>The apply body: JSON, or YAML (a JSON superset for this purpose), as one object.</summary>
    private static JsonObject ParseApplyConfiguration(byte[]? body)
    {
        var text = Encoding.UTF8.GetString(body ?? []);
        JsonNode? node;
        try
        {
            node = JsonNode.Parse(text, documentOptions: new JsonDocumentOptions { MaxDepth = 10000 });
        }
        catch (JsonException)
        {
            node = YamlToJson(text);
        }
        return node as JsonObject ?? throw ApiException.BadRequest("error decoding YAML: the applied configuration must be an object");
    }

    private static JsonNode? YamlToJson(string text)
    {
        var stream = new YamlStream();
        try
        {
            stream.Load(new StringReader(text));
        }
        catch (YamlDotNet.Core.YamlException e)
        {
            throw ApiException.BadRequest($"error decoding YAML: {e.Message}");
        }
        return stream.Documents.Count == 0 ? null : Convert(stream.Documents[0].RootNode);
    }

    private static JsonNode? Convert(YamlNode node) => node switch
    {
        YamlMappingNode map => new JsonObject(map.Children.Select(p => new KeyValuePair<string, JsonNode?>(((YamlScalarNode)p.Key).Value ?? "", Convert(p.Value)))),
        YamlSequenceNode seq => new JsonArray(seq.Children.Select(Convert).ToArray()),
        YamlScalarNode s => Scalar(s),
        _ => null,
    };

    private static JsonNode? Scalar(YamlScalarNode s)
    {
        var v = s.Value ?? "";
        if (s.Style is YamlDotNet.Core.ScalarStyle.SingleQuoted or YamlDotNet.Core.ScalarStyle.DoubleQuoted
            or YamlDotNet.Core.ScalarStyle.Literal or YamlDotNet.Core.ScalarStyle.Folded)
        {
            return JsonValue.Create(v);
        }
        switch (v)
        {
            case "" or "~" or "null" or "Null" or "NULL":
                return null;
            case "true" or "True" or "TRUE":
                return JsonValue.Create(true);
            case "false" or "False" or "FALSE":
                return JsonValue.Create(false);
        }
        if (long.TryParse(v, System.Globalization.NumberStyles.AllowLeadingSign, System.Globalization.CultureInfo.InvariantCulture, out var l)) return JsonValue.Create(l);
        if (double.TryParse(v, System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out var d) && v.Any(char.IsDigit)) return JsonValue.Create(d);
        return JsonValue.Create(v);
    }
}

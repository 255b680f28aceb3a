using System.Text.Json;
using System.Text.Json.Nodes;
using Kcm.Api.Catalog;
using Kcm.ApiServer.Errors;
using Microsoft.AspNetCore.Http;

namespace Kcm.ApiServer.Endpoints;

/// <summary>Request body decoding for the resource verbs, with upstream's error messages.</summary>
internal static class RequestBodies
{
    /// <summary>
    /// Upstream ValidateCreateOptions/UpdateOptions/PatchOptions on the query: dryRun and fieldValidation must hold
    /// supported values (422 on the options kind). Returns whether the request is a dry run.
    /// </summary>
    public static bool CheckWriteOptions(IQueryCollection query, string optionsKind)
    {
        var dryRun = DryRunOf(query["dryRun"].ToArray(), optionsKind);
        var mode = query["fieldValidation"].ToString();
        if (mode is not ("" or "Strict" or "Warn" or "Ignore"))
        {
            throw ApiException.InvalidOption(optionsKind, "fieldValidation",
                $"Unsupported value: \"{mode}\": supported values: \"\", \"Ignore\", \"Strict\", \"Warn\"");
        }
        return dryRun;
    }

    public static bool DryRunOf(string?[] values, string optionsKind)
    {
        if (values.Length == 0) return false;
        if (values.All(v => v == "All")) return true;
        var shown = string.Join(", ", values.Select(v => $"\"{v}\""));
        throw ApiException.InvalidOption(optionsKind, "dryRun", $"Unsupported value: []string{{{shown}}}: supported values: \"All\"");
    }

    /// <summary>
    /// Fields the kind's schema does not know are dropped, as upstream's decoder drops them. fieldValidation=Strict
    /// rejects them and duplicated fields (400, as the strict decoder); Warn (the default) reports each in a Warning
    /// header; Ignore drops them silently.
    /// </summary>
    public static JsonObject CheckFields(HttpContext ctx, ResourceRequest req, JsonObject obj, IReadOnlyList<string> duplicates)
    {
        var mode = ctx.Request.Query["fieldValidation"].ToString();
        var kind = req.Subresource == "scale" ? "Scale" : req.Entry.Kind;
        var definition = req.Subresource == "scale" ? ApiCatalog.DefinitionFor("autoscaling", "v1", "Scale") : ApiCatalog.DefinitionFor(req.Group, req.Version, kind);
        var unknown = definition is null ? [] : Admission.Validation.UnknownFields.Prune(definition, obj);
        if (mode == "Ignore" || (unknown.Count == 0 && duplicates.Count == 0)) return obj;
        var problems = duplicates.Select(d => $"duplicate field \"{d}\"").Concat(unknown.Select(u => $"unknown field \"{u}\"")).ToList();
        if (mode == "Strict")
        {
            var version = req.Subresource == "scale" ? "autoscaling/v1" : req.GroupVersion;
            throw ApiException.BadRequest($"{kind} in version \"{version.Split('/')[^1]}\" cannot be handled as a {kind}: strict decoding error: {string.Join(", ", problems)}");
        }
        foreach (var p in problems) ctx.Response.Headers.Append("Warning", $"299 - \"{p.Replace("\"", "\\\"")}\"");
        return obj;
    }

    /// <summary>Decodes a request body for this endpoint, defaulting kind/apiVersion and rejecting other ones as upstream does.</summary>
    public static JsonObject ParseBody(byte[]? body, ResourceRequest req) => ParseBody(body, req, out _);

    /// <summary>As <see cref="ParseBody(byte[], ResourceRequest)"/>, also naming the members the body repeats (the last one is kept).</summary>
    public static JsonObject ParseBody(byte[]? body, ResourceRequest req, out List<string> duplicates)
    {
        duplicates = [];
        var isScale = req.Subresource == "scale";
        var expectedKind = isScale ? "Scale" : req.Entry.Kind;
        var expectedVersion = isScale ? "autoscaling/v1" : req.GroupVersion;
        JsonNode? node;
        try
        {
            node = JsonNode.Parse(body ?? [], documentOptions: new JsonDocumentOptions { MaxDepth = 10000 });
        }
        catch (JsonException e)
        {
            var excerpt = System.Text.Encoding.UTF8.GetString(body ?? []);
            if (excerpt.Length > 100) excerpt = excerpt[..100];
            throw ApiException.BadRequest(
                $"the object provided is unrecognized (must be of type {expectedKind}): couldn't get version/kind; json parse error: {GoStyle(e)} ({excerpt})");
        }
        if (node is JsonObject && body is not null)
        {
            duplicates = DuplicateFields.Find(body);
            if (duplicates.Count > 0)
            {
                using var doc = JsonDocument.Parse(body, new JsonDocumentOptions { MaxDepth = 10000 });
                node = DuplicateFields.LastWins(doc.RootElement);
            }
        }
        if (node is not JsonObject obj)
        {
            throw ApiException.BadRequest(
                $"the object provided is unrecognized (must be of type {expectedKind}): couldn't get version/kind; json parse error: json: cannot unmarshal {JsonKindName(node)} into Go value of type struct {{ APIVersion string \"json:\\\"apiVersion,omitempty\\\"\"; Kind string \"json:\\\"kind,omitempty\\\"\" }}");
        }
        var apiVersion = obj["apiVersion"] is JsonValue av && av.TryGetValue<string>(out var avs) ? avs : "";
        var kind = obj["kind"] is JsonValue kv && kv.TryGetValue<string>(out var ks) ? ks : "";
        if (apiVersion.Length > 0 && apiVersion != expectedVersion)
        {
            throw ApiException.BadRequest($"the API version in the data ({apiVersion}) does not match the expected API version ({expectedVersion})");
        }
        if (kind.Length > 0 && kind != expectedKind)
        {
            throw ApiException.BadRequest($"the kind in the data ({kind}) does not match the expected kind ({expectedKind})");
        }
        obj["kind"] = expectedKind;
        obj["apiVersion"] = expectedVersion;
        if (obj["metadata"] is { } m && m is not JsonObject)
        {
            throw ApiException.BadRequest($"the object provided is unrecognized (must be of type {expectedKind}): metadata must be an object");
        }
        return obj;
    }


    private static string JsonKindName(JsonNode? node) => node switch
    {
        null => "null",
        JsonArray => "array",
        JsonValue v when v.GetValueKind() == JsonValueKind.String => "string",
        JsonValue v when v.GetValueKind() == JsonValueKind.Number => "number",
        _ => "bool",
    };

    private static string GoStyle(JsonException e)
    {
        var message = e.Message;
        var cut = message.IndexOf(" Path:", StringComparison.Ordinal);
        return cut > 0 ? message[..cut] : message;
    }


    public static JsonObject? DeleteOptionsOf(byte[]? body)
    {
        if (body is null || body.Length == 0) return null;
        try
        {
            return JsonNode.Parse(body) as JsonObject ?? throw ApiException.BadRequest("DeleteOptions must be an object");
        }
        catch (JsonException e)
        {
            throw ApiException.BadRequest($"the object provided is unrecognized (must be of type DeleteOptions): couldn't get version/kind; json parse error: {e.Message}");
        }
    }

}

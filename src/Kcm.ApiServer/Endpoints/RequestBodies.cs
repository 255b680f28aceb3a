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
    /// fieldValidation=Strict rejects fields the schema does not know (400, as upstream's strict decoder);
    /// Warn (the default) reports them in Warning headers; Ignore drops the check.
    /// </summary>
    public static JsonObject CheckFields(HttpContext ctx, ResourceRequest req, JsonObject obj)
    {
        var mode = ctx.Request.Query["fieldValidation"].ToString();
        if (mode is not ("" or "Strict" or "Warn" or "Ignore"))
        {
            throw ApiException.BadRequest($"fieldValidation must be one of \"Ignore\", \"Warn\", or \"Strict\"");
        }
        if (mode == "Ignore") return obj;
        var kind = req.Subresource == "scale" ? "Scale" : req.Entry.Kind;
        var definition = req.Subresource == "scale" ? ApiCatalog.DefinitionFor("autoscaling", "v1", "Scale") : ApiCatalog.DefinitionFor(req.Group, req.Version, kind);
        if (definition is null) return obj;
        var unknown = Admission.Validation.UnknownFields.Find(definition, obj);
        if (unknown.Count == 0) return obj;
        if (mode == "Strict")
        {
            var version = req.Subresource == "scale" ? "autoscaling/v1" : req.GroupVersion;
            var fields = string.Join(", ", unknown.Select(u => $"unknown field \"{u}\""));
            throw ApiException.BadRequest($"{kind} in version \"{version.Split('/')[^1]}\" cannot be handled as a {kind}: strict decoding error: {fields}");
        }
        foreach (var u in unknown) ctx.Response.Headers.Append("Warning", $"299 - \"unknown field \\\"{u}\\\"\"");
        return obj;
    }
    /// <summary>Decodes a request body for this endpoint, defaulting kind/apiVersion and rejecting other ones as upstream does.</summary>
    public static JsonObject ParseBody(byte[]? body, ResourceRequest req)
    {
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

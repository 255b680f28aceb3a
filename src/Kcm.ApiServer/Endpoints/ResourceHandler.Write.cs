using System.Text.Json;
using System.Text.Json.Nodes;
using Kcm.Api.Catalog;
using Kcm.Api.Patching;
using Kcm.ApiServer.Authentication;
using Kcm.ApiServer.Errors;
using Kcm.ApiServer.Registry;
using Kcm.ApiServer.Storage;
using Microsoft.AspNetCore.Http;

namespace Kcm.ApiServer.Endpoints;

/// <summary>
/// update, patch and pods/binding (upstream handlers/update.go, patch.go, create.go): the body or patch becomes the
/// new object from the stored one; the store applies the update rules.
/// </summary>
public sealed partial class ResourceHandler
{
    private static readonly string[] AcceptedPatchTypes =
    [
        "application/json-patch+json", "application/merge-patch+json", "application/strategic-merge-patch+json",
    ];

    private async Task UpdateAsync(HttpContext ctx, ResourceRequest req, JsonObject body, UserInfo user)
    {
        if (req.Subresource == "scale")
        {
            await ResponseWriter.WriteJsonAsync(ctx, 200, Encode(registry.UpdateScale(req, _ => body, user)));
            return;
        }
        CheckBodyIdentity(req, body);
        var result = registry.Replace(req, body, user, out var created);
        await WriteObjectAsync(ctx, created ? 201 : 200, req, result);
    }

    private async Task PatchAsync(HttpContext ctx, ResourceRequest req, byte[]? body, UserInfo user)
    {
        var contentType = (ctx.Request.ContentType ?? "").Split(';')[0].Trim().ToLowerInvariant();
        if (req.Custom && contentType == "application/strategic-merge-patch+json")
        {
            // Custom resources have no patch strategies, so upstream refuses strategic merge for them.
            throw ApiException.UnsupportedMediaType(["application/json-patch+json", "application/merge-patch+json", "application/apply-patch+yaml"]);
        }
        if (contentType == "application/apply-patch+yaml")
        {
            await ApplyAsync(ctx, req, body, user);
            return;
        }
        if (Array.IndexOf(AcceptedPatchTypes, contentType) < 0)
        {
            throw ApiException.UnsupportedMediaType(AcceptedPatchTypes);
        }
        if (ctx.Request.Query.ContainsKey("force"))
        {
            throw ApiException.Invalid("meta.k8s.io", "PatchOptions", "",
                [new StatusCauseInfo("FieldValueForbidden", "Forbidden: may not be specified for non-apply patch", "force")]);
        }
        JsonNode patch;
        try
        {
            patch = JsonNode.Parse(body ?? [], documentOptions: new JsonDocumentOptions { MaxDepth = 10000 })
                ?? throw ApiException.BadRequest("error decoding patch: null patch");
        }
        catch (JsonException e)
        {
            throw ApiException.BadRequest($"error decoding patch: {e.Message}");
        }
        var isScale = req.Subresource == "scale";
        var definition = isScale
            ? "io.k8s.api.autoscaling.v1.Scale"
            : ApiCatalog.DefinitionFor(req.Group, req.Version, req.Entry.Kind) ?? "";
        var strategy = registry.StrategyFor(req.Entry);
        List<string> unknown = [];

        JsonObject Patched(StoredObject current)
        {
            JsonNode doc = isScale ? GenericStore.ScaleOf(ObjectEncoder.Parse(current), strategy) : ObjectEncoder.Parse(current);
            JsonNode result;
            try
            {
                result = contentType switch
                {
                    "application/json-patch+json" => JsonPatch.Apply(doc, patch),
                    "application/merge-patch+json" => MergePatch.Apply(doc, patch),
                    _ => StrategicMergePatch.Apply(doc, patch, definition),
                };
            }
            catch (PatchException e)
            {
                throw new ApiException(422, "Invalid", e.Message, emptyDetails: true);
            }
            if (result is not JsonObject patched) throw ApiException.BadRequest("the patch did not produce an object");
            if (!isScale && definition.Length > 0) unknown = PruneUnknown(ctx, definition, patched);
            return patched;
        }

        if (isScale)
        {
            await ResponseWriter.WriteJsonAsync(ctx, 200, Encode(registry.UpdateScale(req, Patched, user)));
            return;
        }
        var result = registry.Update(req, current =>
        {
            var patched = Patched(current);
            CheckBodyIdentity(req, patched);
            return patched;
        }, user);
        if (ctx.Request.Query["fieldValidation"] != "Ignore")
        {
            foreach (var u in unknown) ctx.Response.Headers.Append("Warning", $"299 - \"unknown field \\\"{u}\\\"\"");
        }
        await WriteObjectAsync(ctx, 200, req, result);
    }

    /// <summary>
    /// The patched object decoded as upstream decodes it: unknown fields dropped; with fieldValidation=Strict they fail
    /// the patch (422 on the field "patch", as upstream's patcher reports a strict decoding error).
    /// </summary>
    private static List<string> PruneUnknown(HttpContext ctx, string definition, JsonObject patched)
    {
        var strict = ctx.Request.Query["fieldValidation"] == "Strict";
        var original = strict ? patched.ToJsonString() : "";
        var unknown = Admission.Validation.UnknownFields.Prune(definition, patched);
        if (strict && unknown.Count > 0)
        {
            var detail = $"Invalid value: \"{original.Replace("\"", "\\\"")}\": strict decoding error: "
                + string.Join(", ", unknown.Select(u => $"unknown field \"{u}\""));
            throw ApiException.Invalid("", "", "", [new StatusCauseInfo("FieldValueInvalid", detail, "patch")]);
        }
        return unknown;
    }

    private static void CheckBodyIdentity(ResourceRequest req, JsonObject body)
    {
        var metadata = body["metadata"] as JsonObject;
        var name = metadata?["name"]?.GetValue<string>() ?? "";
        if (name != req.Name)
        {
            throw ApiException.BadRequest($"the name of the object ({name}) does not match the name on the URL ({req.Name})");
        }
        if (req.Entry.Namespaced)
        {
            var ns = metadata?["namespace"]?.GetValue<string>() ?? "";
            if (ns.Length > 0 && ns != req.Namespace)
            {
                throw ApiException.BadRequest("the namespace of the provided object does not match the namespace sent on the request");
            }
        }
    }

    private async Task BindAsync(HttpContext ctx, ResourceRequest req, byte[]? body, UserInfo user)
    {
        JsonObject binding;
        try
        {
            binding = JsonNode.Parse(body ?? []) as JsonObject ?? throw ApiException.BadRequest("the object provided is unrecognized (must be of type Binding)");
        }
        catch (JsonException e)
        {
            throw ApiException.BadRequest($"the object provided is unrecognized (must be of type Binding): {e.Message}");
        }
        registry.Bind(req, binding, user);
        await ResponseWriter.WriteJsonAsync(ctx, 201, System.Text.Encoding.UTF8.GetBytes(
            "{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"metadata\":{},\"status\":\"Success\",\"code\":201}"));
    }
}

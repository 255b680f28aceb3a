using System.Text.Json;
using System.Text.Json.Nodes;
using Kcm.ApiServer.Authentication;
using Kcm.ApiServer.Errors;
using Microsoft.AspNetCore.Http;

namespace Kcm.ApiServer.Endpoints;

/// <summary>pods/eviction (upstream EvictionREST.Create): a policy/v1 or policy/v1beta1 Eviction in, a Success Status out.</summary>
public sealed partial class ResourceHandler
{
    private async Task EvictAsync(HttpContext ctx, ResourceRequest req, byte[]? body, UserInfo user)
    {
        JsonObject eviction;
        try
        {
            eviction = JsonNode.Parse(body ?? []) as JsonObject
                ?? throw ApiException.BadRequest("the object provided is unrecognized (must be of type Eviction)");
        }
        catch (JsonException e)
        {
            throw ApiException.BadRequest($"the object provided is unrecognized (must be of type Eviction): couldn't get version/kind; json parse error: {e.Message}");
        }
        var apiVersion = eviction["apiVersion"]?.GetValue<string>() ?? "";
        var kind = eviction["kind"]?.GetValue<string>() ?? "";
        if (kind.Length == 0) kind = "Eviction";
        if (apiVersion.Length == 0) apiVersion = "policy/v1";
        if (kind != "Eviction" || apiVersion is not ("policy/v1" or "policy/v1beta1"))
        {
            var version = apiVersion.Split('/')[^1];
            throw ApiException.BadRequest($"{kind} in version \"{version}\" cannot be handled as a Eviction: converting ({version}.{kind}) to (policy.Eviction): unknown conversion");
        }
        if ((eviction["metadata"]?["name"]?.GetValue<string>() ?? "") != req.Name)
        {
            throw ApiException.BadRequest("name in URL does not match name in Eviction object");
        }
        var rawOptions = eviction["deleteOptions"] as JsonObject;
        var options = DeletionOptions.From(rawOptions ?? new JsonObject(), QueryCollection.Empty);
        // Upstream propagateDryRun: a dryRun on the query or in deleteOptions makes the whole eviction a dry run
        // (both only accept "All", so they cannot disagree in value).
        registry.Evict(req with { DryRun = req.DryRun || options.DryRun }, options, rawOptions, user);
        await ResponseWriter.WriteJsonAsync(ctx, 201, System.Text.Encoding.UTF8.GetBytes(
            "{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"metadata\":{},\"status\":\"Success\",\"code\":201}"));
    }
}

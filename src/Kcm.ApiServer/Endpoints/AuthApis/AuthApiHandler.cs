using System.Text.Json;
using System.Text.Json.Nodes;
using Kcm.ApiServer.Authentication;
using Kcm.ApiServer.Errors;
using Microsoft.AspNetCore.Http;

namespace Kcm.ApiServer.Endpoints.AuthApis;

/// <summary>
/// The create-only, never-stored auth APIs: TokenReview, the SubjectAccessReview family and
/// SelfSubjectRulesReview, and serviceaccounts/NAME/token (TokenRequest). Authorization of the create itself
/// already happened in the request pipeline, as upstream.
/// </summary>
public sealed class AuthApiHandler(TokenReviewEndpoint tokenReviews, AccessReviewEndpoint accessReviews, TokenRequestEndpoint tokenRequests)
{
    /// <summary>Serves the request when it is one of the auth APIs; false lets the generic resource handler serve it.</summary>
    public async Task<bool> TryHandleAsync(HttpContext ctx, ResourceRequest req, string verb, byte[]? body, UserInfo user)
    {
        if (verb != "create") return false;
        JsonObject? response = (req.Group, req.Resource, req.Subresource) switch
        {
            ("authentication.k8s.io", "tokenreviews", "") => await tokenReviews.CreateAsync(Parse(body, req), ctx.RequestAborted),
            ("authorization.k8s.io", "subjectaccessreviews", "") => await accessReviews.SubjectAccessReviewAsync(Parse(body, req), ctx.RequestAborted),
            ("authorization.k8s.io", "selfsubjectaccessreviews", "") => await accessReviews.SelfSubjectAccessReviewAsync(Parse(body, req), user, ctx.RequestAborted),
            ("authorization.k8s.io", "localsubjectaccessreviews", "") => await accessReviews.LocalSubjectAccessReviewAsync(Parse(body, req), req.Namespace, ctx.RequestAborted),
            ("authorization.k8s.io", "selfsubjectrulesreviews", "") => accessReviews.SelfSubjectRulesReview(Parse(body, req), user),
            ("", "serviceaccounts", "token") => tokenRequests.Create(Parse(body, req), req.Namespace, req.Name),
            _ => null,
        };
        if (response is null) return false;
        await ResponseWriter.WriteJsonAsync(ctx, 201, ResponseWriter.Render(w => response.WriteTo(w)));
        return true;
    }

    /// <summary>The request body, with kind/apiVersion defaulted or checked as for any create.</summary>
    private static JsonObject Parse(byte[]? body, ResourceRequest req)
    {
        var entry = req.SubresourceEntry ?? req.Entry;
        var kind = entry.Kind;
        var apiVersion = entry.KindGroup is { } g ? $"{g}/{entry.KindVersion}" : req.GroupVersion;
        JsonNode? node;
        try
        {
            node = JsonNode.Parse(body ?? []);
        }
        catch (JsonException e)
        {
            throw ApiException.BadRequest($"the object provided is unrecognized (must be of type {kind}): couldn't get version/kind; json parse error: {e.Message}");
        }
        if (node is not JsonObject obj) throw ApiException.BadRequest($"the object provided is unrecognized (must be of type {kind}): not an object");
        var givenVersion = StoredObjects.Str(obj["apiVersion"]);
        var givenKind = StoredObjects.Str(obj["kind"]);
        if (givenVersion.Length > 0 && givenVersion != apiVersion)
        {
            throw ApiException.BadRequest($"the API version in the data ({givenVersion}) does not match the expected API version ({apiVersion})");
        }
        if (givenKind.Length > 0 && givenKind != kind)
        {
            throw ApiException.BadRequest($"the kind in the data ({givenKind}) does not match the expected kind ({kind})");
        }
        var result = new JsonObject { ["kind"] = kind, ["apiVersion"] = apiVersion };
        var metadata = obj["metadata"] as JsonObject ?? new JsonObject();
        obj.Remove("metadata");
        if (!metadata.ContainsKey("creationTimestamp")) metadata["creationTimestamp"] = null;
        result["metadata"] = metadata;
        foreach (var (k, v) in obj.ToList())
        {
            if (k is "kind" or "apiVersion") continue;
            obj.Remove(k);
            result[k] = v;
        }
        return result;
    }

    internal static JsonArray Array(IEnumerable<string> values) => new(values.Select(v => (JsonNode?)JsonValue.Create(v)).ToArray());

    internal static List<string> Strings(JsonNode? node) => node is JsonArray a ? a.Select(StoredObjects.Str).ToList() : [];
}

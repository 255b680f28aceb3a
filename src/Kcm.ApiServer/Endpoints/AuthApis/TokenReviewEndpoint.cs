using System.Text.Json.Nodes;
using Kcm.ApiServer.Authentication;
using Kcm.ApiServer.Errors;

namespace Kcm.ApiServer.Endpoints.AuthApis;

/// <summary>authentication.k8s.io/v1 TokenReview: authenticates spec.token as a request bearing it would be.</summary>
public sealed class TokenReviewEndpoint(BearerTokenAuthenticator tokens, IReadOnlyList<string> apiAudiences)
{
    public async Task<JsonObject> CreateAsync(JsonObject review, CancellationToken cancellationToken)
    {
        var ns = StoredObjects.Str(review["metadata"]?["namespace"]);
        if (ns.Length > 0) throw ApiException.BadRequest($"namespace is not allowed on this type: {ns}");
        var spec = review["spec"] as JsonObject ?? new JsonObject();
        review["spec"] = spec;
        var token = StoredObjects.Str(spec["token"]);
        if (token.Length == 0) throw ApiException.BadRequest("token is required for TokenReview in authentication");
        var audiences = AuthApiHandler.Strings(spec["audiences"]);
        if (audiences.Count == 0) audiences = apiAudiences.ToList();

        var (result, error) = await tokens.AuthenticateTokenAsync(token, audiences, cancellationToken);
        if (result is not null && audiences.Count > 0 && !audiences.Intersect(result.Audiences).Any())
        {
            throw ApiException.InternalError("token authenticator did not return audiences");
        }
        var status = new JsonObject();
        if (result is not null) status["authenticated"] = true;
        var user = new JsonObject();
        if (result is not null)
        {
            if (result.User.Name.Length > 0) user["username"] = result.User.Name;
            if (result.User.Uid.Length > 0) user["uid"] = result.User.Uid;
            if (result.User.Groups.Count > 0) user["groups"] = AuthApiHandler.Array(result.User.Groups);
            if (result.User.Extra.Count > 0)
            {
                var extra = new JsonObject();
                foreach (var (k, v) in result.User.Extra) extra[k] = AuthApiHandler.Array(v);
                user["extra"] = extra;
            }
        }
        status["user"] = user;
        if (result is not null && result.Audiences.Count > 0) status["audiences"] = AuthApiHandler.Array(result.Audiences);
        if (error is not null) status["error"] = error;
        review["status"] = status;
        return review;
    }
}

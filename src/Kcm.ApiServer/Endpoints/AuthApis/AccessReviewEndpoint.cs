using System.Text.Json.Nodes;
using Kcm.ApiServer.Authentication;
using Kcm.ApiServer.Authorization;
using Kcm.ApiServer.Errors;

namespace Kcm.ApiServer.Endpoints.AuthApis;

/// <summary>
/// authorization.k8s.io/v1 SubjectAccessReview, SelfSubjectAccessReview, LocalSubjectAccessReview and
/// SelfSubjectRulesReview, answered by the server's own authorizer chain.
/// </summary>
public sealed class AccessReviewEndpoint(IAuthorizer authorizer, IRuleResolver? rules)
{
    private const string Group = "authorization.k8s.io";

    public async Task<JsonObject> SubjectAccessReviewAsync(JsonObject review, CancellationToken cancellationToken)
    {
        var spec = Spec(review);
        var causes = ValidateAttributes(spec);
        var userName = StoredObjects.Str(spec["user"]);
        var groups = AuthApiHandler.Strings(spec["groups"]);
        if (userName.Length == 0 && groups.Count == 0)
        {
            causes.Add(new StatusCauseInfo("FieldValueInvalid", "Invalid value: \"\": at least one of user or group must be specified", "spec.user"));
        }
        ThrowIfInvalid("SubjectAccessReview", causes);
        var user = new UserInfo(userName, StoredObjects.Str(spec["uid"]), groups, ExtraOf(spec["extra"]));
        return await DecideAsync(review, spec, user, cancellationToken);
    }

    public async Task<JsonObject> SelfSubjectAccessReviewAsync(JsonObject review, UserInfo caller, CancellationToken cancellationToken)
    {
        var spec = Spec(review);
        ThrowIfInvalid("SelfSubjectAccessReview", ValidateAttributes(spec));
        return await DecideAsync(review, spec, caller, cancellationToken);
    }

    public async Task<JsonObject> LocalSubjectAccessReviewAsync(JsonObject review, string requestNamespace, CancellationToken cancellationToken)
    {
        var metadata = (JsonObject)review["metadata"]!;
        var bodyNamespace = StoredObjects.Str(metadata["namespace"]);
        if (bodyNamespace.Length > 0 && bodyNamespace != requestNamespace)
        {
            throw ApiException.BadRequest("the namespace of the provided object does not match the namespace sent on the request");
        }
        metadata["namespace"] = requestNamespace;
        var spec = Spec(review);
        var causes = ValidateAttributes(spec);
        if (spec["resourceAttributes"] is JsonObject ra && StoredObjects.Str(ra["namespace"]) != requestNamespace)
        {
            causes.Add(new StatusCauseInfo("FieldValueInvalid",
                $"Invalid value: \"{StoredObjects.Str(ra["namespace"])}\": must match metadata.namespace", "spec.resourceAttributes.namespace"));
        }
        if (spec["nonResourceAttributes"] is JsonObject)
        {
            causes.Add(new StatusCauseInfo("FieldValueInvalid", "Invalid value: \"\": disallowed on this kind of request", "spec.nonResourceAttributes"));
        }
        var userName = StoredObjects.Str(spec["user"]);
        var groups = AuthApiHandler.Strings(spec["groups"]);
        if (userName.Length == 0 && groups.Count == 0)
        {
            causes.Add(new StatusCauseInfo("FieldValueInvalid", "Invalid value: \"\": at least one of user or group must be specified", "spec.user"));
        }
        ThrowIfInvalid("LocalSubjectAccessReview", causes);
        var user = new UserInfo(userName, StoredObjects.Str(spec["uid"]), groups, ExtraOf(spec["extra"]));
        return await DecideAsync(review, spec, user, cancellationToken);
    }

    public JsonObject SelfSubjectRulesReview(JsonObject review, UserInfo caller)
    {
        var spec = Spec(review);
        var ns = StoredObjects.Str(spec["namespace"]);
        if (ns.Length == 0) throw ApiException.BadRequest("no namespace on request");
        var set = rules?.RulesFor(caller, ns) ?? new RuleSet([], [], true, null);
        var status = new JsonObject
        {
            ["resourceRules"] = new JsonArray(set.ResourceRules.Select(r =>
            {
                var o = new JsonObject { ["verbs"] = AuthApiHandler.Array(r.Verbs) };
                if (r.ApiGroups.Count > 0) o["apiGroups"] = AuthApiHandler.Array(r.ApiGroups);
                if (r.Resources.Count > 0) o["resources"] = AuthApiHandler.Array(r.Resources);
                if (r.ResourceNames.Count > 0) o["resourceNames"] = AuthApiHandler.Array(r.ResourceNames);
                return (JsonNode?)o;
            }).ToArray()),
            ["nonResourceRules"] = new JsonArray(set.NonResourceRules.Select(r => (JsonNode?)new JsonObject
            {
                ["verbs"] = AuthApiHandler.Array(r.Verbs),
                ["nonResourceURLs"] = AuthApiHandler.Array(r.NonResourceUrls),
            }).ToArray()),
            ["incomplete"] = set.Incomplete,
        };
        if (set.EvaluationError is { Length: > 0 } error) status["evaluationError"] = error;
        review["status"] = status;
        return review;
    }

    private async Task<JsonObject> DecideAsync(JsonObject review, JsonObject spec, UserInfo user, CancellationToken cancellationToken)
    {
        AuthorizationAttributes attributes;
        if (spec["resourceAttributes"] is JsonObject ra)
        {
            attributes = new AuthorizationAttributes(user, StoredObjects.Str(ra["verb"]), true, "", StoredObjects.Str(ra["group"]),
                StoredObjects.Str(ra["version"]), StoredObjects.Str(ra["resource"]), StoredObjects.Str(ra["subresource"]),
                StoredObjects.Str(ra["namespace"]), StoredObjects.Str(ra["name"]));
        }
        else
        {
            var nra = (JsonObject)spec["nonResourceAttributes"]!;
            attributes = new AuthorizationAttributes(user, StoredObjects.Str(nra["verb"]), false, StoredObjects.Str(nra["path"]), "", "", "", "", "", "");
        }
        var result = await authorizer.AuthorizeAsync(attributes, cancellationToken);
        var status = new JsonObject { ["allowed"] = result.Decision == AuthorizationDecision.Allow };
        if (result.Decision == AuthorizationDecision.Deny) status["denied"] = true;
        if (result.Reason.Length > 0) status["reason"] = result.Reason;
        if (result.EvaluationError is { Length: > 0 } error) status["evaluationError"] = error;
        review["status"] = status;
        return review;
    }

    private static JsonObject Spec(JsonObject review)
    {
        var spec = review["spec"] as JsonObject ?? new JsonObject();
        review["spec"] = spec;
        return spec;
    }

    private static List<StatusCauseInfo> ValidateAttributes(JsonObject spec)
    {
        var causes = new List<StatusCauseInfo>();
        var hasResource = spec["resourceAttributes"] is JsonObject;
        var hasNonResource = spec["nonResourceAttributes"] is JsonObject;
        if (hasResource && hasNonResource)
        {
            causes.Add(new StatusCauseInfo("FieldValueInvalid", "Invalid value: \"\": cannot be specified in combination with resourceAttributes", "spec.nonResourceAttributes"));
        }
        if (!hasResource && !hasNonResource)
        {
            causes.Add(new StatusCauseInfo("FieldValueInvalid", "Invalid value: \"null\": exactly one of nonResourceAttributes or resourceAttributes must be specified", "spec.resourceAttributes"));
        }
        return causes;
    }

    private static void ThrowIfInvalid(string kind, List<StatusCauseInfo> causes)
    {
        if (causes.Count > 0) throw ApiException.Invalid(Group, kind, "", causes);
    }

    private static IReadOnlyDictionary<string, IReadOnlyList<string>> ExtraOf(JsonNode? node)
    {
        if (node is not JsonObject o) return UserInfo.NoExtra;
        return o.ToDictionary(kv => kv.Key, kv => (IReadOnlyList<string>)AuthApiHandler.Strings(kv.Value));
    }
}

using System.Text.Json.Nodes;
using Kcm.ApiServer.Authentication;
using Kcm.ApiServer.Authentication.ServiceAccounts;
using Kcm.ApiServer.Errors;
using Kcm.ApiServer.Registry;
using Kcm.ApiServer.Storage;

namespace Kcm.ApiServer.Endpoints.AuthApis;

/// <summary>
/// POST serviceaccounts/NAME/token (TokenRequest): signs a bound token for the service account with the
/// service account signing key, as upstream's TokenREST (default 1h, at least 10 minutes, optional Pod/Secret binding).
/// </summary>
public sealed class TokenRequestEndpoint(ServiceAccountTokenSigner? signer, string issuer, IReadOnlyList<string> apiAudiences,
    ObjectStore store, TimeProvider time)
{
    private const string Group = "authentication.k8s.io";
    private const long DefaultExpirationSeconds = 3600;
    private const long MinExpirationSeconds = 600;

    public JsonObject Create(JsonObject request, string @namespace, string serviceAccountName)
    {
        var metadata = (JsonObject)request["metadata"]!;
        var name = StoredObjects.Str(metadata["name"]);
        if (name.Length > 0 && name != serviceAccountName)
        {
            throw ApiException.Invalid(Group, "TokenRequest", serviceAccountName,
                [new StatusCauseInfo("FieldValueInvalid", $"Invalid value: \"{name}\": must match the service account name if specified", "metadata.name")]);
        }
        var bodyNamespace = StoredObjects.Str(metadata["namespace"]);
        if (bodyNamespace.Length > 0 && bodyNamespace != @namespace)
        {
            throw ApiException.Invalid(Group, "TokenRequest", serviceAccountName,
                [new StatusCauseInfo("FieldValueInvalid", $"Invalid value: \"{bodyNamespace}\": must match the service account namespace if specified", "metadata.namespace")]);
        }
        var sa = StoredObjects.Get(store, "", "serviceaccounts", @namespace, serviceAccountName)
            ?? throw ApiException.NotFound("", "serviceaccounts", serviceAccountName);
        if (signer is null) throw ApiException.InternalError("no service account signing key is configured");

        var spec = request["spec"] as JsonObject ?? new JsonObject();
        request["spec"] = spec;
        if (AuthApiHandler.Strings(spec["audiences"]).Count == 0) spec["audiences"] = AuthApiHandler.Array(apiAudiences);
        var expirationSeconds = spec["expirationSeconds"] is JsonValue ev && ev.TryGetValue<long>(out var e) ? e : DefaultExpirationSeconds;
        spec["expirationSeconds"] = expirationSeconds;
        metadata["name"] = serviceAccountName;
        metadata["namespace"] = @namespace;
        var now = time.GetUtcNow();
        metadata["creationTimestamp"] = GenericStore.FormatTime(now);
        request.Remove("status");

        if (expirationSeconds < MinExpirationSeconds)
        {
            throw ApiException.Invalid(Group, "TokenRequest", "",
                [new StatusCauseInfo("FieldValueInvalid", $"Invalid value: {expirationSeconds}: may not specify a duration less than 10 minutes", "spec.expirationSeconds")]);
        }
        if (expirationSeconds > 1L << 32)
        {
            throw ApiException.Invalid(Group, "TokenRequest", "",
                [new StatusCauseInfo("FieldValueInvalid", $"Invalid value: {expirationSeconds}: may not specify a duration larger than 2^32 seconds", "spec.expirationSeconds")]);
        }

        var k8s = new JsonObject
        {
            ["namespace"] = @namespace,
            ["serviceaccount"] = new JsonObject { ["name"] = serviceAccountName, ["uid"] = StoredObjects.Str(sa["metadata"]?["uid"]) },
        };
        if (spec["boundObjectRef"] is JsonObject bound)
        {
            var kind = StoredObjects.Str(bound["kind"]);
            var apiVersion = StoredObjects.Str(bound["apiVersion"]);
            var boundName = StoredObjects.Str(bound["name"]);
            var group = apiVersion.Contains('/') ? apiVersion[..apiVersion.IndexOf('/')] : "";
            JsonObject target;
            switch (group, kind)
            {
                case ("", "Pod"):
                    target = StoredObjects.Get(store, "", "pods", @namespace, boundName) ?? throw ApiException.NotFound("", "pods", boundName);
                    if (StoredObjects.Str(target["spec"]?["serviceAccountName"]) != serviceAccountName)
                    {
                        throw ApiException.BadRequest($"cannot bind token for serviceaccount \"{serviceAccountName}\" to pod running with different serviceaccount name.");
                    }
                    break;
                case ("", "Secret"):
                    target = StoredObjects.Get(store, "", "secrets", @namespace, boundName) ?? throw ApiException.NotFound("", "secrets", boundName);
                    break;
                default:
                    var version = apiVersion.Contains('/') ? apiVersion[(apiVersion.IndexOf('/') + 1)..] : apiVersion;
                    throw ApiException.BadRequest($"cannot bind token to object of type {(group.Length == 0 ? "" : group + "/")}{version}, Kind={kind}");
            }
            var uid = StoredObjects.Str(target["metadata"]?["uid"]);
            var claimedUid = StoredObjects.Str(bound["uid"]);
            if (claimedUid.Length > 0 && claimedUid != uid)
            {
                throw ApiException.Conflict("", kind, boundName,
                    $"the UID in the bound object reference ({claimedUid}) does not match the UID in record. The object might have been deleted and then recreated");
            }
            k8s[kind == "Pod" ? "pod" : "secret"] = new JsonObject { ["name"] = boundName, ["uid"] = uid };
        }

        var issuedAt = now.ToUnixTimeSeconds();
        var expiresAt = now.AddSeconds(expirationSeconds);
        var claims = new JsonObject
        {
            ["aud"] = AuthApiHandler.Array(AuthApiHandler.Strings(spec["audiences"])),
            ["exp"] = expiresAt.ToUnixTimeSeconds(),
            ["iat"] = issuedAt,
            ["iss"] = issuer,
            ["kubernetes.io"] = k8s,
            ["nbf"] = issuedAt,
            ["sub"] = ServiceAccountTokenAuthenticator.UserPrefix + @namespace + ":" + serviceAccountName,
        };
        request["status"] = new JsonObject
        {
            ["token"] = signer.Sign(claims),
            ["expirationTimestamp"] = GenericStore.FormatTime(expiresAt),
        };
        return request;
    }
}

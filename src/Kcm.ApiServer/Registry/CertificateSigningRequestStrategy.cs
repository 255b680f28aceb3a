using System.Globalization;
using System.Text.Json.Nodes;
using Kcm.ApiServer.Authentication;
using Kcm.ApiServer.Errors;

namespace Kcm.ApiServer.Registry;

/// <summary>
/// Upstream's CertificateSigningRequest REST strategies (pkg/registry/certificates/certificates/strategy.go): the
/// requester's identity is recorded on create; the main resource only changes metadata; /status may set the
/// certificate and non-approval conditions but keeps Approved/Denied; /approval only changes Approved/Denied.
/// Condition timestamps are filled in as upstream's populateConditionTimestamps does.
/// </summary>
public static class CertificateSigningRequestStrategy
{
    public const string Group = "certificates.k8s.io";
    public const string Resource = "certificatesigningrequests";

    private const string Approved = "Approved";
    private const string Denied = "Denied";

    public static bool Handles(ResourceStrategy strategy) => strategy.Group == Group && strategy.Resource == Resource;

    /// <summary>Who asked is taken from the authenticated request, never from the body.</summary>
    public static void PrepareForCreate(JsonObject csr, UserInfo user)
    {
        if (csr["spec"] is not JsonObject spec)
        {
            spec = new JsonObject();
            csr["spec"] = spec;
        }
        spec["username"] = user.Name;
        if (user.Uid.Length > 0) spec["uid"] = user.Uid; else spec.Remove("uid");
        if (user.Groups.Count > 0) spec["groups"] = new JsonArray([.. user.Groups.Select(g => (JsonNode?)JsonValue.Create(g))]);
        else spec.Remove("groups");
        if (user.Extra.Count > 0)
        {
            var extra = new JsonObject();
            foreach (var (key, values) in user.Extra) extra[key] = new JsonArray([.. values.Select(v => (JsonNode?)JsonValue.Create(v))]);
            spec["extra"] = extra;
        }
        else
        {
            spec.Remove("extra");
        }
        csr["status"] = new JsonObject();
    }

    /// <summary>
    /// Shapes <paramref name="desired"/> (already holding the stored spec for subresource writes) for an update of
    /// <paramref name="subresource"/> ("" main, "status", "approval") and validates the conditions.
    /// </summary>
    public static void PrepareForUpdate(string subresource, JsonObject old, JsonObject desired, DateTimeOffset now)
    {
        var name = old["metadata"]?["name"]?.GetValue<string>() ?? "";
        desired["spec"] = old["spec"]?.DeepClone();
        var oldStatus = old["status"] as JsonObject ?? new JsonObject();
        switch (subresource)
        {
            case "":
                desired["status"] = oldStatus.DeepClone();
                return;
            case "status":
            {
                var status = desired["status"] as JsonObject ?? new JsonObject();
                desired["status"] = status;
                // The approval conditions are the approver's business: /status keeps the stored ones.
                var conditions = Conditions(status).Where(c => !IsApprovalCondition(c)).ToList();
                conditions.InsertRange(0, Conditions(oldStatus).Where(IsApprovalCondition));
                status["conditions"] = ToArray(conditions);
                ValidateCertificate(name, oldStatus, status);
                break;
            }
            case "approval":
            {
                var requested = desired["status"] as JsonObject ?? new JsonObject();
                var status = (JsonObject)oldStatus.DeepClone();
                var conditions = Conditions(oldStatus).Where(c => !IsApprovalCondition(c)).ToList();
                conditions.InsertRange(0, Conditions(requested).Where(IsApprovalCondition));
                status["conditions"] = ToArray(conditions);
                desired["status"] = status;
                ValidateApproval(name, oldStatus, status);
                break;
            }
            default:
                throw ApiException.MethodNotAllowed();
        }
        PopulateConditionTimestamps((JsonObject)desired["status"]!, oldStatus, now);
        ValidateConditions(name, (JsonObject)desired["status"]!);
    }

    private static bool IsApprovalCondition(JsonObject condition) => TypeOf(condition) is Approved or Denied;

    private static string TypeOf(JsonObject condition) => condition["type"]?.GetValue<string>() ?? "";

    private static List<JsonObject> Conditions(JsonObject status)
        => status["conditions"] is JsonArray a ? a.OfType<JsonObject>().Select(c => (JsonObject)c.DeepClone()).ToList() : [];

    private static JsonArray ToArray(List<JsonObject> conditions) => new([.. conditions.Cast<JsonNode?>()]);

    private static void PopulateConditionTimestamps(JsonObject status, JsonObject oldStatus, DateTimeOffset now)
    {
        var stamp = now.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture);
        var oldConditions = Conditions(oldStatus);
        foreach (var condition in status["conditions"] as JsonArray ?? [])
        {
            if (condition is not JsonObject c) continue;
            if (string.IsNullOrEmpty(c["lastUpdateTime"]?.GetValue<string>())) c["lastUpdateTime"] = stamp;
            if (string.IsNullOrEmpty(c["lastTransitionTime"]?.GetValue<string>()))
            {
                // Same type and status as before: the transition happened then, not now.
                var previous = oldConditions.FirstOrDefault(o => TypeOf(o) == TypeOf(c)
                    && o["status"]?.GetValue<string>() == c["status"]?.GetValue<string>()
                    && !string.IsNullOrEmpty(o["lastTransitionTime"]?.GetValue<string>()));
                c["lastTransitionTime"] = previous?["lastTransitionTime"]?.DeepClone() ?? stamp;
            }
        }
    }

    private static void ValidateApproval(string name, JsonObject oldStatus, JsonObject status)
    {
        var causes = new List<StatusCauseInfo>();
        var now = Conditions(status);
        foreach (var type in (string[])[Approved, Denied])
        {
            var before = Conditions(oldStatus).Count(c => TypeOf(c) == type);
            var after = now.Count(c => TypeOf(c) == type);
            if (after < before)
            {
                causes.Add(new StatusCauseInfo("FieldValueForbidden", $"Forbidden: updates may not remove a condition of type \"{type}\"", "status.conditions"));
            }
        }
        if (causes.Count > 0) throw ApiException.Invalid(Group, "CertificateSigningRequest", name, causes);
    }

    private static void ValidateConditions(string name, JsonObject status)
    {
        var causes = new List<StatusCauseInfo>();
        var conditions = Conditions(status);
        var seen = new HashSet<string>();
        for (var i = 0; i < conditions.Count; i++)
        {
            var type = TypeOf(conditions[i]);
            var state = conditions[i]["status"]?.GetValue<string>() ?? "";
            if (type.Length == 0)
            {
                causes.Add(new StatusCauseInfo("FieldValueRequired", "Required value", $"status.conditions[{i}].type"));
            }
            if (type is Approved or Denied or "Failed" && !seen.Add(type))
            {
                causes.Add(new StatusCauseInfo("FieldValueDuplicate", $"Duplicate value: \"{type}\"", $"status.conditions[{i}].type"));
            }
            if (type is Approved or Denied && state != "True")
            {
                causes.Add(new StatusCauseInfo("FieldValueNotSupported", $"Unsupported value: \"{state}\": supported values: \"True\"", $"status.conditions[{i}].status"));
            }
            else if (state is not "True" and not "False" and not "Unknown")
            {
                causes.Add(new StatusCauseInfo("FieldValueNotSupported", $"Unsupported value: \"{state}\": supported values: \"False\", \"True\", \"Unknown\"", $"status.conditions[{i}].status"));
            }
        }
        if (seen.Contains(Approved) && seen.Contains(Denied))
        {
            causes.Add(new StatusCauseInfo("FieldValueInvalid", "Invalid value: \"Approved\": Approved and Denied conditions are mutually exclusive", "status.conditions"));
        }
        if (causes.Count > 0) throw ApiException.Invalid(Group, "CertificateSigningRequest", name, causes);
    }

    private static void ValidateCertificate(string name, JsonObject oldStatus, JsonObject status)
    {
        var oldCert = oldStatus["certificate"]?.GetValue<string>() ?? "";
        var cert = status["certificate"]?.GetValue<string>() ?? "";
        if (oldCert.Length > 0 && cert != oldCert)
        {
            throw ApiException.Invalid(Group, "CertificateSigningRequest", name,
                [new StatusCauseInfo("FieldValueForbidden", "Forbidden: updates may not modify existing certificate content", "status.certificate")]);
        }
        if (cert.Length == 0 || cert == oldCert) return;
        string pem;
        try
        {
            pem = System.Text.Encoding.UTF8.GetString(Convert.FromBase64String(cert));
        }
        catch (FormatException)
        {
            pem = "";
        }
        if (!pem.Contains("-----BEGIN CERTIFICATE-----", StringComparison.Ordinal))
        {
            throw ApiException.Invalid(Group, "CertificateSigningRequest", name,
                [new StatusCauseInfo("FieldValueInvalid", "Invalid value: \"<certificate data>\": must contain at least one CERTIFICATE PEM block", "status.certificate")]);
        }
        var hasApproved = Conditions(status).Any(c => TypeOf(c) == Approved);
        if (!hasApproved)
        {
            throw ApiException.Invalid(Group, "CertificateSigningRequest", name,
                [new StatusCauseInfo("FieldValueForbidden", "Forbidden: certificate may only be set if the Approved condition is true", "status.certificate")]);
        }
    }
}

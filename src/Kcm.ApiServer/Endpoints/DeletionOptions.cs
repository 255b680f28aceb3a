using System.Globalization;
using System.Text.Json.Nodes;
using Kcm.ApiServer.Errors;
using Microsoft.AspNetCore.Http;

namespace Kcm.ApiServer.Endpoints;

/// <summary>The parts of metav1.DeleteOptions that steer deletion, from the body or (when there is none) the query.</summary>
public sealed record DeletionOptions(long? GracePeriodSeconds, string? PropagationPolicy, bool? OrphanDependents)
{
    /// <summary>dryRun: ["All"].</summary>
    public bool DryRun { get; init; }

    public static DeletionOptions From(JsonObject? body, IQueryCollection query)
    {
        long? grace;
        string? policy;
        bool? orphan;
        string?[] dryRun;
        if (body is not null)
        {
            dryRun = body["dryRun"] is JsonArray values ? values.Select(v => v?.GetValue<string>()).ToArray() : [];
            grace = body["gracePeriodSeconds"]?.GetValue<long>();
            policy = body["propagationPolicy"]?.GetValue<string>();
            orphan = body["orphanDependents"]?.GetValue<bool>();
        }
        else
        {
            grace = long.TryParse(query["gracePeriodSeconds"], NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var g) ? g : null;
            var p = query["propagationPolicy"].ToString();
            policy = p.Length > 0 ? p : null;
            orphan = bool.TryParse(query["orphanDependents"], out var o) ? o : null;
            dryRun = query["dryRun"].ToArray();
        }
        if (orphan is not null && policy is not null)
        {
            throw ApiException.Invalid("meta.k8s.io", "DeleteOptions", "",
                [new StatusCauseInfo("FieldValueInvalid", $"Invalid value: \"{policy}\": orphanDependents and deletionPropagation cannot be both set", "propagationPolicy")]);
        }
        if (policy is not null and not "Orphan" and not "Background" and not "Foreground")
        {
            throw ApiException.Invalid("meta.k8s.io", "DeleteOptions", "",
                [new StatusCauseInfo("FieldValueNotSupported", $"Unsupported value: \"{policy}\": supported values: \"Foreground\", \"Background\", \"Orphan\", \"nil\"", "propagationPolicy")]);
        }
        return new DeletionOptions(grace, policy, orphan) { DryRun = RequestBodies.DryRunOf(dryRun, "DeleteOptions") };
    }
}

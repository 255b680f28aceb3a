using System.Text.Json.Nodes;
using Kcm.Api.Rbac.V1;
using Kcm.Client;
using Kcm.Controllers.Common;

namespace Kcm.Controllers.ClusterRoleAggregation;

/// <summary>Writes an aggregated role's rules (a seam for unit tests).</summary>
public interface IClusterRoleWriter
{
    /// <summary>A forced server-side apply of the rules alone, as the controller's field manager.</summary>
    Task ApplyAsync(string name, IReadOnlyList<PolicyRule> rules, CancellationToken cancellationToken);

    /// <summary>An update of <paramref name="cached"/> with its rules replaced (the fallback where apply is not served).</summary>
    Task UpdateAsync(ClusterRole cached, IReadOnlyList<PolicyRule> rules, CancellationToken cancellationToken);
}

public sealed class ApiClusterRoleWriter(KubeApiClient client) : IClusterRoleWriter
{
    public Task ApplyAsync(string name, IReadOnlyList<PolicyRule> rules, CancellationToken cancellationToken)
        => client.PatchAsync<ClusterRole>(null, name, PatchType.Apply, ApplyPatch(name, rules),
            options: new WriteOptions { FieldManager = ClusterRoleAggregationController.ServiceAccountName, Force = true },
            cancellationToken: cancellationToken);

    public Task UpdateAsync(ClusterRole cached, IReadOnlyList<PolicyRule> rules, CancellationToken cancellationToken)
        => client.UpdateAsync(WithRules(cached, rules), cancellationToken: cancellationToken);

    /// <summary>
    /// The apply configuration upstream sends: kind, apiVersion, the name and the rules, each rule with only its
    /// non-empty lists (JSON, which is YAML).
    /// </summary>
    internal static string ApplyPatch(string name, IReadOnlyList<PolicyRule> rules)
    {
        var body = new JsonObject
        {
            ["kind"] = "ClusterRole",
            ["apiVersion"] = "rbac.authorization.k8s.io/v1",
            ["metadata"] = new JsonObject { ["name"] = name },
        };
        if (rules.Count > 0)
        {
            body["rules"] = new JsonArray(rules.Select(r => (JsonNode?)ApplyRule(r)).ToArray());
        }
        return body.ToJsonString();
    }

    /// <summary>A copy of the cached role (unknown fields kept) with the new rules.</summary>
    internal static ClusterRole WithRules(ClusterRole cached, IReadOnlyList<PolicyRule> rules)
    {
        var copy = KubeObjects.Clone(cached);
        copy.Rules = rules.Count == 0 ? null : rules.Select(KubeObjects.Clone).ToList();
        return copy;
    }

    private static JsonObject ApplyRule(PolicyRule rule)
    {
        var result = new JsonObject();
        Add(result, "verbs", rule.Verbs);
        Add(result, "apiGroups", rule.ApiGroups);
        Add(result, "resources", rule.Resources);
        Add(result, "resourceNames", rule.ResourceNames);
        Add(result, "nonResourceURLs", rule.NonResourceURLs);
        return result;
    }

    private static void Add(JsonObject target, string field, List<string>? values)
    {
        if (values is { Count: > 0 })
        {
            target[field] = new JsonArray(values.Select(v => (JsonNode?)JsonValue.Create(v)).ToArray());
        }
    }
}

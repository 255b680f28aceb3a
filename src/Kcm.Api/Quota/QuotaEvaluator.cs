using System.Text.Json.Nodes;
using Kcm.Api.Core.V1;

namespace Kcm.Api.Quota;

/// <summary>A resource without its version, as quota keys evaluators: ("apps", "deployments").</summary>
public readonly record struct GroupResource(string Group, string Resource)
{
    public override string ToString() => Group.Length == 0 ? Resource : $"{Resource}.{Group}";
}

public enum QuotaOperation
{
    Create,
    Update,
}

/// <summary>A scope selector quota cannot evaluate (e.g. an unknown operator); upstream reports it as an error.</summary>
public sealed class QuotaScopeException(string message) : FormatException(message);

/// <summary>
/// What quota knows about one resource (upstream's quota.Evaluator): which quota resource names it accounts for, how
/// much an object uses, which scopes it falls in, and what a quota requires of it. Objects are the generated types
/// or their JSON (admission sees JSON, the controller's caches hold typed objects).
/// </summary>
public interface IQuotaEvaluator
{
    GroupResource GroupResource { get; }

    /// <summary>Whether admission charges this operation.</summary>
    bool Handles(QuotaOperation operation);

    /// <summary>The names of <paramref name="input"/> this evaluator accounts for.</summary>
    IReadOnlyList<string> MatchingResources(IEnumerable<string> input);

    /// <summary>Upstream Constraints: why the object may not be charged against <paramref name="required"/> (null when it may).</summary>
    string? Constraints(IReadOnlyCollection<string> required, object item);

    /// <summary>Whether the object is in the scope; throws <see cref="QuotaScopeException"/> for a selector that cannot be evaluated.</summary>
    bool MatchesScope(ScopedResourceSelectorRequirement selector, object item);

    /// <summary>What the object uses, per quota resource name.</summary>
    Dictionary<string, Quantity> Usage(object item);
}

/// <summary>The evaluator-independent parts of upstream's generic quota package.</summary>
public static class QuotaEvaluation
{
    /// <summary>"count/&lt;resource&gt;" for the core group, else "count/&lt;resource&gt;.&lt;group&gt;".</summary>
    public static string ObjectCountName(GroupResource resource)
        => resource.Group.Length == 0 ? $"count/{resource.Resource}" : $"count/{resource.Resource}.{resource.Group}";

    /// <summary>The quota's scopes (as Exists selectors) followed by its scopeSelector's expressions.</summary>
    public static List<ScopedResourceSelectorRequirement> ScopeSelectorsOf(ResourceQuota quota)
    {
        var selectors = (quota.Spec?.Scopes ?? []).Select(s => new ScopedResourceSelectorRequirement { ScopeName = s, Operator = "Exists" }).ToList();
        selectors.AddRange(quota.Spec?.ScopeSelector?.MatchExpressions ?? []);
        return selectors;
    }

    /// <summary>Upstream generic.Matches: the quota limits something the evaluator accounts for, and the object is in all its scopes.</summary>
    public static bool Matches(IQuotaEvaluator evaluator, ResourceQuota quota, object item)
    {
        if (evaluator.MatchingResources((quota.Status?.Hard ?? []).Keys).Count == 0) return false;
        var inScope = true;
        foreach (var selector in ScopeSelectorsOf(quota))
        {
            inScope &= evaluator.MatchesScope(selector, item);
        }
        return inScope;
    }

    /// <summary>
    /// Upstream CalculateUsageStats: the summed usage of the objects in the scopes, with every requested resource
    /// present (zero when nothing uses it). As upstream, a scope that cannot be evaluated ends the sum early without
    /// an error.
    /// </summary>
    public static Dictionary<string, Quantity> UsageStats(IQuotaEvaluator evaluator, IEnumerable<object> items, IReadOnlyList<string> resources,
        IReadOnlyList<string>? scopes, ScopeSelector? scopeSelector)
    {
        var used = resources.Distinct(StringComparer.Ordinal).ToDictionary(r => r, _ => Quantity.Zero, StringComparer.Ordinal);
        foreach (var item in items)
        {
            var inScope = true;
            try
            {
                foreach (var scope in scopes ?? [])
                {
                    // Upstream passes the bare scope name here, without an operator.
                    inScope &= evaluator.MatchesScope(new ScopedResourceSelectorRequirement { ScopeName = scope }, item);
                }
                foreach (var selector in scopeSelector?.MatchExpressions ?? [])
                {
                    inScope &= evaluator.MatchesScope(selector, item);
                }
            }
            catch (QuotaScopeException)
            {
                return used;
            }
            if (inScope) used = ResourceLists.Add(used, evaluator.Usage(item));
        }
        return used;
    }

    /// <summary>The object's namespace and name, typed or JSON.</summary>
    public static (string Namespace, string Name) Identity(object item) => item switch
    {
        IKubernetesObject typed => (typed.Metadata?.Namespace ?? "", typed.Metadata?.Name ?? ""),
        JsonObject json => (json["metadata"]?["namespace"]?.GetValue<string>() ?? "", json["metadata"]?["name"]?.GetValue<string>() ?? ""),
        _ => ("", ""),
    };

    internal static T As<T>(object item)
        where T : class
        => item switch
        {
            T typed => typed,
            JsonObject json => KubeJson.FromNode<T>(json) ?? throw new ArgumentException($"expected a {typeof(T).Name}", nameof(item)),
            _ => throw new ArgumentException($"expected a {typeof(T).Name}, got {item.GetType().Name}", nameof(item)),
        };
}

/// <summary>Upstream's object count evaluator: one of each object, under count/&lt;resource&gt;[.&lt;group&gt;] and an optional legacy alias.</summary>
public sealed class ObjectCountEvaluator : IQuotaEvaluator
{
    private readonly string[] _names;

    public ObjectCountEvaluator(GroupResource groupResource, string? alias = null)
    {
        GroupResource = groupResource;
        var count = QuotaEvaluation.ObjectCountName(groupResource);
        _names = alias is null ? [count] : [count, alias];
    }

    public GroupResource GroupResource { get; }

    public bool Handles(QuotaOperation operation) => operation == QuotaOperation.Create;

    public IReadOnlyList<string> MatchingResources(IEnumerable<string> input) => ResourceLists.Intersection(input, _names);

    public string? Constraints(IReadOnlyCollection<string> required, object item) => null;

    public bool MatchesScope(ScopedResourceSelectorRequirement selector, object item) => false;

    public Dictionary<string, Quantity> Usage(object item) => _names.ToDictionary(n => n, _ => Quantity.FromInt64(1), StringComparer.Ordinal);
}

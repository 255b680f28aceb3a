using System.Collections.Concurrent;

namespace Kcm.Api.Quota;

/// <summary>Listing a resource's objects in a namespace failed (e.g. its cache has not synced yet).</summary>
public sealed class QuotaListException(GroupResource resource, string message) : InvalidOperationException($"failed to list content: {message}")
{
    public GroupResource Resource { get; } = resource;
}

/// <summary>
/// The evaluators by resource (upstream's quota registry built by quota/v1/install): pods, services and claims with
/// their own rules, configmaps/secrets/resourcequotas/replicationcontrollers as counts with their legacy names, and
/// plain object counts added as other resources are met.
/// </summary>
public sealed class QuotaRegistry
{
    /// <summary>Upstream's DefaultIgnoredResources: virtual resources, and events.</summary>
    public static IReadOnlySet<GroupResource> IgnoredResources { get; } = new HashSet<GroupResource>
    {
        new("", "bindings"),
        new("", "componentstatuses"),
        new("authentication.k8s.io", "tokenreviews"),
        new("authentication.k8s.io", "selfsubjectreviews"),
        new("authorization.k8s.io", "subjectaccessreviews"),
        new("authorization.k8s.io", "selfsubjectaccessreviews"),
        new("authorization.k8s.io", "localsubjectaccessreviews"),
        new("authorization.k8s.io", "selfsubjectrulesreviews"),
        new("", "events"),
        new("events.k8s.io", "events"),
    };

    private readonly ConcurrentDictionary<GroupResource, IQuotaEvaluator> _evaluators = new();

    public QuotaRegistry(TimeProvider time)
    {
        IQuotaEvaluator[] core =
        [
            new PodEvaluator(time),
            new ServiceEvaluator(),
            new PersistentVolumeClaimEvaluator(),
            new ObjectCountEvaluator(new("", "configmaps"), "configmaps"),
            new ObjectCountEvaluator(new("", "resourcequotas"), "resourcequotas"),
            new ObjectCountEvaluator(new("", "replicationcontrollers"), "replicationcontrollers"),
            new ObjectCountEvaluator(new("", "secrets"), "secrets"),
        ];
        foreach (var evaluator in core) _evaluators[evaluator.GroupResource] = evaluator;
    }

    public IQuotaEvaluator? Get(GroupResource resource) => _evaluators.TryGetValue(resource, out var evaluator) ? evaluator : null;

    /// <summary>The resource's evaluator, a new object count evaluator if it has none.</summary>
    public IQuotaEvaluator GetOrAddObjectCount(GroupResource resource) => _evaluators.GetOrAdd(resource, r => new ObjectCountEvaluator(r));

    public IReadOnlyCollection<IQuotaEvaluator> List() => [.. _evaluators.Values];

    /// <summary>
    /// Upstream quota.CalculateUsage: the usage in <paramref name="namespace"/> of every resource the hard limits name
    /// and some evaluator accounts for. A resource whose objects cannot be listed is left out of the result (the caller
    /// keeps its previous value) and its error is returned.
    /// </summary>
    public (Dictionary<string, Quantity> Usage, IReadOnlyList<Exception> Errors) CalculateUsage(string @namespace, IReadOnlyList<string>? scopes,
        IReadOnlyDictionary<string, Quantity> hard, Core.V1.ScopeSelector? scopeSelector, Func<GroupResource, string, IEnumerable<object>> list)
    {
        var hardNames = hard.Keys.ToList();
        var evaluators = List();
        var matched = ResourceLists.Intersection(hardNames, evaluators.SelectMany(e => e.MatchingResources(hardNames)));
        var errors = new List<Exception>();
        var usage = new Dictionary<string, Quantity>(StringComparer.Ordinal);
        foreach (var evaluator in evaluators)
        {
            var intersection = evaluator.MatchingResources(matched);
            if (intersection.Count == 0) continue;
            try
            {
                var items = list(evaluator.GroupResource, @namespace);
                usage = ResourceLists.Add(usage, QuotaEvaluation.UsageStats(evaluator, items, intersection, scopes, scopeSelector));
            }
            catch (QuotaListException e)
            {
                errors.Add(e);
                matched = matched.Except(intersection, StringComparer.Ordinal).ToList();
            }
        }
        return (ResourceLists.Mask(usage, matched), errors);
    }
}

using System.Collections.Immutable;
using System.Text.Json.Nodes;
using Kcm.ApiServer.Authentication;
using Kcm.ApiServer.Authentication.ServiceAccounts;
using Kcm.ApiServer.Storage;

namespace Kcm.ApiServer.Authorization;

/// <summary>
/// RBAC over the Role/ClusterRole/RoleBinding/ClusterRoleBinding objects in storage, as upstream's
/// plugin/pkg/auth/authorizer/rbac: ClusterRoleBindings first, then the RoleBindings of the request's namespace.
/// Denials are NoOpinion (so later authorizers may still allow), with missing roles reported as the reason.
/// </summary>
public sealed class RbacAuthorizer(ObjectStore store) : IAuthorizer, IRuleResolver
{
    private const string Group = "rbac.authorization.k8s.io";

    private readonly Cached<Dictionary<string, IReadOnlyList<PolicyRule>>> _clusterRoles = new(store.Find(Group, "clusterroles")!, RulesByKey);
    private readonly Cached<Dictionary<string, IReadOnlyList<PolicyRule>>> _roles = new(store.Find(Group, "roles")!, RulesByKey);
    private readonly Cached<List<Binding>> _clusterRoleBindings = new(store.Find(Group, "clusterrolebindings")!, Bindings);
    private readonly Cached<List<Binding>> _roleBindings = new(store.Find(Group, "rolebindings")!, Bindings);

    public ValueTask<AuthorizationResult> AuthorizeAsync(AuthorizationAttributes attributes, CancellationToken cancellationToken)
    {
        var errors = new List<string>();
        foreach (var (binding, subject, rules) in Applicable(attributes.User, attributes.Namespace, errors))
        {
            foreach (var rule in rules)
            {
                if (!rule.Allows(attributes)) continue;
                return ValueTask.FromResult(new AuthorizationResult(AuthorizationDecision.Allow, "RBAC: allowed by " + Describe(binding, subject)));
            }
        }
        var reason = errors.Count == 0 ? "" : "RBAC: " + Aggregate(errors);
        return ValueTask.FromResult(new AuthorizationResult(AuthorizationDecision.NoOpinion, reason, errors.Count == 0 ? null : Aggregate(errors)));
    }

    public RuleSet RulesFor(UserInfo user, string @namespace)
    {
        var errors = new List<string>();
        var resource = new List<PolicyRule>();
        var nonResource = new List<PolicyRule>();
        foreach (var (_, _, rules) in Applicable(user, @namespace, errors))
        {
            foreach (var rule in rules)
            {
                if (rule.Resources.Count > 0) resource.Add(rule);
                if (rule.NonResourceUrls.Count > 0) nonResource.Add(rule);
            }
        }
        return new RuleSet(resource, nonResource, errors.Count > 0, errors.Count == 0 ? null : Aggregate(errors));
    }

    private IEnumerable<(Binding Binding, JsonNode Subject, IReadOnlyList<PolicyRule> Rules)> Applicable(UserInfo user, string @namespace, List<string> errors)
    {
        foreach (var binding in _clusterRoleBindings.Value)
        {
            var subject = AppliesTo(binding, user);
            if (subject is null) continue;
            var rules = RoleRules(binding, errors);
            if (rules is not null) yield return (binding, subject, rules);
        }
        if (@namespace.Length == 0) yield break;
        foreach (var binding in _roleBindings.Value)
        {
            if (binding.Namespace != @namespace) continue;
            var subject = AppliesTo(binding, user);
            if (subject is null) continue;
            var rules = RoleRules(binding, errors);
            if (rules is not null) yield return (binding, subject, rules);
        }
    }

    private IReadOnlyList<PolicyRule>? RoleRules(Binding binding, List<string> errors)
    {
        if (binding.RoleKind == "ClusterRole")
        {
            if (_clusterRoles.Value.TryGetValue(binding.RoleName, out var rules)) return rules;
            errors.Add($"clusterrole.rbac.authorization.k8s.io \"{binding.RoleName}\" not found");
            return null;
        }
        if (binding.RoleKind == "Role" && binding.Namespace.Length > 0)
        {
            if (_roles.Value.TryGetValue(binding.Namespace + "/" + binding.RoleName, out var rules)) return rules;
            errors.Add($"role.rbac.authorization.k8s.io \"{binding.RoleName}\" not found");
            return null;
        }
        errors.Add($"unsupported role reference kind: \"{binding.RoleKind}\"");
        return null;
    }

    private static JsonNode? AppliesTo(Binding binding, UserInfo user)
    {
        foreach (var subject in binding.Subjects)
        {
            if (subject is null) continue;
            var name = StoredObjects.Str(subject["name"]);
            switch (StoredObjects.Str(subject["kind"]))
            {
                case "User" when name == user.Name:
                    return subject;
                case "Group" when user.Groups.Contains(name):
                    return subject;
                case "ServiceAccount":
                    var ns = StoredObjects.Str(subject["namespace"]);
                    if (ns.Length == 0) ns = binding.Namespace;
                    if (ns.Length > 0 && user.Name == ServiceAccountTokenAuthenticator.UserPrefix + ns + ":" + name) return subject;
                    break;
            }
        }
        return null;
    }

    private static string Describe(Binding binding, JsonNode subject)
    {
        var kind = StoredObjects.Str(subject["kind"]);
        var name = StoredObjects.Str(subject["name"]);
        if (kind == "ServiceAccount")
        {
            var ns = StoredObjects.Str(subject["namespace"]);
            name += "/" + (ns.Length > 0 ? ns : binding.Namespace);
        }
        var who = $"{kind} \"{name}\"";
        return binding.Namespace.Length == 0
            ? $"ClusterRoleBinding \"{binding.Name}\" of {binding.RoleKind} \"{binding.RoleName}\" to {who}"
            : $"RoleBinding \"{binding.Name}/{binding.Namespace}\" of {binding.RoleKind} \"{binding.RoleName}\" to {who}";
    }

    private static string Aggregate(List<string> errors)
    {
        var distinct = errors.Distinct().ToList();
        return distinct.Count == 1 ? distinct[0] : "[" + string.Join(", ", distinct) + "]";
    }

    private static Dictionary<string, IReadOnlyList<PolicyRule>> RulesByKey(ImmutableSortedDictionary<string, StoredObject> items)
    {
        var result = new Dictionary<string, IReadOnlyList<PolicyRule>>(StringComparer.Ordinal);
        foreach (var (key, o) in items)
        {
            var obj = ObjectEncoder.Parse(o);
            result[key] = obj["rules"] is JsonArray rules ? rules.Select(PolicyRule.FromJson).ToList() : [];
        }
        return result;
    }

    private static List<Binding> Bindings(ImmutableSortedDictionary<string, StoredObject> items)
    {
        var result = new List<Binding>(items.Count);
        foreach (var o in items.Values)
        {
            var obj = ObjectEncoder.Parse(o);
            var subjects = obj["subjects"] is JsonArray s ? s.ToList() : [];
            result.Add(new Binding(o.Namespace, o.Name, StoredObjects.Str(obj["roleRef"]?["kind"]), StoredObjects.Str(obj["roleRef"]?["name"]), subjects));
        }
        return result;
    }

    private sealed record Binding(string Namespace, string Name, string RoleKind, string RoleName, IReadOnlyList<JsonNode?> Subjects);

    /// <summary>A value derived from one resource's items, rebuilt whenever the items snapshot changes.</summary>
    private sealed class Cached<T>(ResourceStore source, Func<ImmutableSortedDictionary<string, StoredObject>, T> build) where T : class
    {
        private Tuple<ImmutableSortedDictionary<string, StoredObject>, T>? _entry;

        public T Value
        {
            get
            {
                var items = source.Items;
                var entry = Volatile.Read(ref _entry);
                if (entry is not null && ReferenceEquals(entry.Item1, items)) return entry.Item2;
                var built = Tuple.Create(items, build(items));
                Volatile.Write(ref _entry, built);
                return built.Item2;
            }
        }
    }
}

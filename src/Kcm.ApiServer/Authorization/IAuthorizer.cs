using Kcm.ApiServer.Authentication;

namespace Kcm.ApiServer.Authorization;

/// <summary>What a request wants to do, as upstream's authorizer.Attributes.</summary>
public sealed record AuthorizationAttributes(
    UserInfo User,
    string Verb,
    bool IsResourceRequest,
    string Path,
    string ApiGroup,
    string ApiVersion,
    string Resource,
    string Subresource,
    string Namespace,
    string Name);

public enum AuthorizationDecision
{
    Deny,
    Allow,
    NoOpinion,
}

/// <summary>A decision, its reason, and an evaluation error (e.g. a binding to a missing role) as SubjectAccessReview reports it.</summary>
public sealed record AuthorizationResult(AuthorizationDecision Decision, string Reason, string? EvaluationError = null);

/// <summary>Authorization seam (RBAC, Node...) that the request pipeline asks before serving.</summary>
public interface IAuthorizer
{
    ValueTask<AuthorizationResult> AuthorizeAsync(AuthorizationAttributes attributes, CancellationToken cancellationToken);
}

/// <summary>Rules an authorizer grants a user in a namespace (SelfSubjectRulesReview); Incomplete when it cannot list them.</summary>
public sealed record RuleSet(IReadOnlyList<PolicyRule> ResourceRules, IReadOnlyList<PolicyRule> NonResourceRules, bool Incomplete, string? EvaluationError);

/// <summary>An authorizer that can also list what it grants (upstream's RuleResolver).</summary>
public interface IRuleResolver
{
    RuleSet RulesFor(UserInfo user, string @namespace);
}

public sealed class AlwaysAllowAuthorizer : IAuthorizer, IRuleResolver
{
    private static readonly AuthorizationResult Allowed = new(AuthorizationDecision.Allow, "");

    public ValueTask<AuthorizationResult> AuthorizeAsync(AuthorizationAttributes attributes, CancellationToken cancellationToken)
        => ValueTask.FromResult(Allowed);

    public RuleSet RulesFor(UserInfo user, string @namespace) => PrivilegedGroupAuthorizer.Everything;
}

/// <summary>
/// Members of system:masters may do anything, before any other authorizer is asked (upstream's privileged groups).
/// Lists no rules of its own: as upstream, rules reviews show what RBAC grants them (cluster-admin).
/// </summary>
public sealed class PrivilegedGroupAuthorizer : IAuthorizer, IRuleResolver
{
    internal static readonly RuleSet Everything = new(
        [new PolicyRule(["*"], ["*"], ["*"], [], [])], [new PolicyRule(["*"], [], [], [], ["*"])], false, null);

    private static readonly AuthorizationResult Allowed = new(AuthorizationDecision.Allow, "");
    private static readonly AuthorizationResult NoOpinion = new(AuthorizationDecision.NoOpinion, "");

    public ValueTask<AuthorizationResult> AuthorizeAsync(AuthorizationAttributes attributes, CancellationToken cancellationToken)
        => ValueTask.FromResult(attributes.User.Groups.Contains(UserInfo.MastersGroup) ? Allowed : NoOpinion);

    public RuleSet RulesFor(UserInfo user, string @namespace) => new([], [], false, null);
}

/// <summary>
/// Asks authorizers in order as upstream's union authorizer: the first Allow or Deny decides; reasons of
/// those without an opinion are joined for the final answer.
/// </summary>
public sealed class AuthorizerUnion(IReadOnlyList<IAuthorizer> authorizers) : IAuthorizer, IRuleResolver
{
    public async ValueTask<AuthorizationResult> AuthorizeAsync(AuthorizationAttributes attributes, CancellationToken cancellationToken)
    {
        var reasons = new List<string>();
        var errors = new List<string>();
        foreach (var authorizer in authorizers)
        {
            var result = await authorizer.AuthorizeAsync(attributes, cancellationToken);
            if (result.Decision != AuthorizationDecision.NoOpinion) return result;
            if (result.Reason.Length > 0) reasons.Add(result.Reason);
            if (result.EvaluationError is { Length: > 0 } error) errors.Add(error);
        }
        return new AuthorizationResult(AuthorizationDecision.NoOpinion, string.Join("\n", reasons),
            errors.Count == 0 ? null : errors.Count == 1 ? errors[0] : "[" + string.Join(", ", errors) + "]");
    }

    public RuleSet RulesFor(UserInfo user, string @namespace)
    {
        var resource = new List<PolicyRule>();
        var nonResource = new List<PolicyRule>();
        var incomplete = false;
        var errors = new List<string>();
        foreach (var authorizer in authorizers)
        {
            if (authorizer is not IRuleResolver resolver)
            {
                incomplete = true;
                continue;
            }
            var rules = resolver.RulesFor(user, @namespace);
            resource.AddRange(rules.ResourceRules);
            nonResource.AddRange(rules.NonResourceRules);
            incomplete |= rules.Incomplete;
            if (rules.EvaluationError is { Length: > 0 } e) errors.Add(e);
        }
        return new RuleSet(resource, nonResource, incomplete, errors.Count == 0 ? null : string.Join(", ", errors));
    }
}

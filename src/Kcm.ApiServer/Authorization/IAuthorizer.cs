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

public sealed record AuthorizationResult(AuthorizationDecision Decision, string Reason);

/// <summary>Authorization seam (RBAC, Node...) that the request pipeline asks before serving.</summary>
public interface IAuthorizer
{
    ValueTask<AuthorizationResult> AuthorizeAsync(AuthorizationAttributes attributes, CancellationToken cancellationToken);
}

public sealed class AlwaysAllowAuthorizer : IAuthorizer
{
    private static readonly AuthorizationResult Allowed = new(AuthorizationDecision.Allow, "");

    public ValueTask<AuthorizationResult> AuthorizeAsync(AuthorizationAttributes attributes, CancellationToken cancellationToken)
        => ValueTask.FromResult(Allowed);
}

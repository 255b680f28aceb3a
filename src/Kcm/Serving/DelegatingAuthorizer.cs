using System.Collections.Concurrent;
using Kcm.Api.Authorization.V1;
using Kcm.Client;
using Kcm.Client.Errors;
using Microsoft.Extensions.Logging;

namespace Kcm.Serving;

/// <summary>Settings of delegated authorization (upstream's --authorization-*).</summary>
public sealed record AuthorizationSettings
{
    /// <summary>Paths served without authorization; a trailing "*" matches a prefix.</summary>
    public IReadOnlyList<string> AlwaysAllowPaths { get; init; } = ["/healthz", "/readyz", "/livez"];

    public IReadOnlyList<string> AlwaysAllowGroups { get; init; } = [RequestUser.Masters];

    /// <summary>Client for SubjectAccessReview; null denies everything not always allowed.</summary>
    public KubeApiClient? SubjectAccessReviewClient { get; init; }

    public TimeSpan AllowCacheTtl { get; init; } = TimeSpan.FromSeconds(10);

    public TimeSpan DenyCacheTtl { get; init; } = TimeSpan.FromSeconds(10);
}

public enum AuthorizationDecision { Allow, Deny }

/// <summary>Authorizes non-resource requests with a SubjectAccessReview, as upstream's delegating authorizer.</summary>
public sealed class DelegatingAuthorizer(AuthorizationSettings settings, TimeProvider time, ILogger logger)
{
    private readonly ConcurrentDictionary<string, (AuthorizationDecision Decision, DateTimeOffset Expires)> _cache = new(StringComparer.Ordinal);

    public bool IsAlwaysAllowed(string path) => settings.AlwaysAllowPaths.Any(p =>
        p.EndsWith('*') ? path.StartsWith(p[..^1], StringComparison.Ordinal) : path == p);

    public async Task<AuthorizationDecision> AuthorizeAsync(RequestUser user, string verb, string path, CancellationToken ct)
    {
        if (IsAlwaysAllowed(path) || user.Groups.Any(settings.AlwaysAllowGroups.Contains)) return AuthorizationDecision.Allow;
        if (settings.SubjectAccessReviewClient == null) return AuthorizationDecision.Deny;
        var key = $"{user.Name}\u0001{string.Join(',', user.Groups)}\u0001{verb}\u0001{path}";
        var now = time.GetUtcNow();
        if (_cache.TryGetValue(key, out var cached) && cached.Expires > now) return cached.Decision;
        try
        {
            var review = await settings.SubjectAccessReviewClient.CreateAsync(new SubjectAccessReview
            {
                Spec = new SubjectAccessReviewSpec
                {
                    User = user.Name,
                    Uid = user.Uid,
                    Groups = [.. user.Groups],
                    NonResourceAttributes = new NonResourceAttributes { Path = path, Verb = verb },
                },
            }, cancellationToken: ct);
            var decision = review.Status?.Allowed == true ? AuthorizationDecision.Allow : AuthorizationDecision.Deny;
            _cache[key] = (decision, now + (decision == AuthorizationDecision.Allow ? settings.AllowCacheTtl : settings.DenyCacheTtl));
            return decision;
        }
        catch (KubeApiException e)
        {
            logger.LogWarning("SubjectAccessReview failed: {Message}", e.Message);
            return AuthorizationDecision.Deny;
        }
    }
}

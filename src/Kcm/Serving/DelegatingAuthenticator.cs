using Kcm.Api.Security;
using System.Collections.Concurrent;
using System.Security.Cryptography.X509Certificates;
using Kcm.Api.Authentication.V1;
using Kcm.Api.Meta.V1;
using Kcm.Client;
using Kcm.Client.Errors;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace Kcm.Serving;

/// <summary>Settings of delegated authentication (upstream's --client-ca-file, --requestheader-*, --authentication-*).</summary>
public sealed record AuthenticationSettings
{
    public IReadOnlyList<X509Certificate2> ClientCa { get; init; } = [];
    public IReadOnlyList<X509Certificate2> RequestHeaderClientCa { get; init; } = [];
    public IReadOnlyList<string> RequestHeaderAllowedNames { get; init; } = [];
    public IReadOnlyList<string> RequestHeaderUsernameHeaders { get; init; } = ["X-Remote-User"];
    public IReadOnlyList<string> RequestHeaderGroupHeaders { get; init; } = ["X-Remote-Group"];
    public IReadOnlyList<string> RequestHeaderExtraHeaderPrefixes { get; init; } = ["X-Remote-Extra-"];

    /// <summary>Client for TokenReview; null disables bearer tokens (no --authentication-kubeconfig).</summary>
    public KubeApiClient? TokenReviewClient { get; init; }

    public TimeSpan TokenCacheTtl { get; init; } = TimeSpan.FromSeconds(10);
}

/// <summary>Authentication settings that a reload can replace while requests are served (CA bundles from the cluster).</summary>
public sealed class DynamicAuthenticationSettings(AuthenticationSettings initial)
{
    private volatile AuthenticationSettings _current = initial;

    public AuthenticationSettings Current => _current;

    /// <summary>Replaces the settings; false when nothing that matters changed.</summary>
    public bool Update(AuthenticationSettings next)
    {
        var current = _current;
        var same = Same(current.ClientCa, next.ClientCa) && Same(current.RequestHeaderClientCa, next.RequestHeaderClientCa)
            && current.RequestHeaderAllowedNames.SequenceEqual(next.RequestHeaderAllowedNames)
            && current.RequestHeaderUsernameHeaders.SequenceEqual(next.RequestHeaderUsernameHeaders)
            && current.RequestHeaderGroupHeaders.SequenceEqual(next.RequestHeaderGroupHeaders)
            && current.RequestHeaderExtraHeaderPrefixes.SequenceEqual(next.RequestHeaderExtraHeaderPrefixes);
        if (same) return false;
        _current = next;
        return true;
    }

    private static bool Same(IReadOnlyList<X509Certificate2> a, IReadOnlyList<X509Certificate2> b)
        => a.Select(c => c.Thumbprint).SequenceEqual(b.Select(c => c.Thumbprint));
}

/// <summary>
/// Authenticates requests to the secure port as upstream's delegating authenticator does: front-proxy
/// request headers (only from a client certificate signed by the request-header CA, with an allowed
/// CN), then client certificates signed by the client CA, then bearer tokens via TokenReview. A request
/// with no credentials is system:anonymous (left to authorization, which upstream denies with 403); one whose
/// credentials fail (certificate of an unknown authority, token the review rejects) gets null, a 401.
/// </summary>
public sealed class DelegatingAuthenticator(DynamicAuthenticationSettings dynamicSettings, TimeProvider time, ILogger logger)
{
    public static readonly RequestUser Anonymous = new("system:anonymous", ["system:unauthenticated"]);

    private readonly ConcurrentDictionary<string, (RequestUser? User, DateTimeOffset Expires)> _tokenCache = new(StringComparer.Ordinal);

    public DelegatingAuthenticator(AuthenticationSettings settings, TimeProvider time, ILogger logger)
        : this(new DynamicAuthenticationSettings(settings), time, logger)
    {
    }

    public async Task<RequestUser?> AuthenticateAsync(HttpContext context, CancellationToken ct)
    {
        var settings = dynamicSettings.Current;
        var failed = false;
        var cert = context.Connection.ClientCertificate;
        if (cert != null)
        {
            if (settings.RequestHeaderClientCa.Count > 0 && Chains(cert, settings.RequestHeaderClientCa))
            {
                var cn = cert.GetNameInfo(X509NameType.SimpleName, false);
                if (settings.RequestHeaderAllowedNames.Count == 0 || settings.RequestHeaderAllowedNames.Contains(cn))
                {
                    var name = settings.RequestHeaderUsernameHeaders.Select(h => context.Request.Headers[h].ToString()).FirstOrDefault(v => v.Length > 0);
                    if (name != null)
                    {
                        var groups = settings.RequestHeaderGroupHeaders.SelectMany(h => context.Request.Headers[h].SelectMany(v => (v ?? "").Split(','))).Where(g => g.Length > 0).ToList();
                        return new RequestUser(name, groups);
                    }
                }
            }
            if (settings.ClientCa.Count > 0 && Chains(cert, settings.ClientCa))
            {
                var groups = cert.SubjectName.EnumerateRelativeDistinguishedNames()
                    .Where(r => r.GetSingleElementType().Value == "2.5.4.10")
                    .Select(r => r.GetSingleElementValue() ?? "")
                    .Where(g => g.Length > 0)
                    .Append("system:authenticated")
                    .ToList();
                return new RequestUser(cert.GetNameInfo(X509NameType.SimpleName, false), groups);
            }
            // Upstream's x509 authenticator fails the request for a certificate its CA did not sign.
            failed |= settings.ClientCa.Count > 0;
        }
        var authorization = context.Request.Headers.Authorization.ToString();
        if (authorization.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase) && settings.TokenReviewClient != null)
        {
            var user = await ReviewTokenAsync(settings, authorization[7..].Trim(), ct);
            if (user != null) return user;
            failed = true;
        }
        return failed ? null : Anonymous;
    }

    private async Task<RequestUser?> ReviewTokenAsync(AuthenticationSettings settings, string token, CancellationToken ct)
    {
        var now = time.GetUtcNow();
        if (_tokenCache.TryGetValue(token, out var cached) && cached.Expires > now) return cached.User;
        RequestUser? user = null;
        try
        {
            var review = await settings.TokenReviewClient!.CreateAsync(new TokenReview { Spec = new TokenReviewSpec { Token = token } }, cancellationToken: ct);
            if (review.Status?.Authenticated == true && review.Status.User?.Username is { Length: > 0 } name)
            {
                user = new RequestUser(name, review.Status.User.Groups ?? [], review.Status.User.Uid);
            }
        }
        catch (KubeApiException e)
        {
            // Upstream answers 401 when the review cannot be made; do not cache the failure.
            logger.LogWarning("TokenReview failed: {Message}", e.Message);
            return null;
        }
        _tokenCache[token] = (user, now + settings.TokenCacheTtl);
        return user;
    }

    private static bool Chains(X509Certificate2 cert, IReadOnlyList<X509Certificate2> roots)
        => CertificateChains.IsTrusted(cert, roots, CertificateChains.ClientAuth);
}

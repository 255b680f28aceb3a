using Kcm.ApiServer.Errors;
using Microsoft.AspNetCore.Http;

namespace Kcm.ApiServer.Authentication;

/// <summary>
/// "Authorization: Bearer &lt;token&gt;" authentication (upstream's bearertoken). A present but unknown or
/// invalid token fails the request with 401 even when anonymous access is on, as upstream.
/// </summary>
public sealed class BearerTokenAuthenticator(ITokenAuthenticator tokens, IReadOnlyList<string> apiAudiences) : IAuthenticator
{
    public const string InvalidTokenMessage = "invalid bearer token";

    public async ValueTask<UserInfo?> AuthenticateAsync(HttpContext context, CancellationToken cancellationToken)
    {
        var token = TokenOf(context.Request.Headers.Authorization.ToString());
        if (token is null) return null;
        var outcome = await AuthenticateTokenAsync(token, apiAudiences, cancellationToken);
        if (outcome.Result is null) throw ApiException.Unauthorized();
        return outcome.Result.User;
    }

    /// <summary>The bearer token of an Authorization header value, or null when there is none (as upstream: empty tokens count as none).</summary>
    public static string? TokenOf(string header)
    {
        header = header.Trim();
        if (header.Length == 0) return null;
        var parts = header.Split(' ', 3);
        if (parts.Length < 2 || !parts[0].Equals("bearer", StringComparison.OrdinalIgnoreCase)) return null;
        return parts[1].Length == 0 ? null : parts[1];
    }

    /// <summary>Authenticates a token as a request bearing it would be (what TokenReview reports); Error is set on failure.</summary>
    public async ValueTask<(TokenAuthResult? Result, string? Error)> AuthenticateTokenAsync(string token, IReadOnlyList<string> audiences,
        CancellationToken cancellationToken)
    {
        try
        {
            var result = await tokens.AuthenticateTokenAsync(token, audiences, cancellationToken);
            if (result is null) return (null, InvalidTokenMessage);
            return (result with { User = result.User.WithAuthenticatedGroup() }, null);
        }
        catch (InvalidTokenException e)
        {
            return (null, e.Message);
        }
    }
}

/// <summary>Anonymous access (--anonymous-auth=true): requests without credentials become system:anonymous.</summary>
public sealed class AnonymousAuthenticator : IAuthenticator
{
    private static readonly UserInfo Anonymous = new(UserInfo.AnonymousUser, "", [UserInfo.UnauthenticatedGroup], UserInfo.NoExtra);

    public ValueTask<UserInfo?> AuthenticateAsync(HttpContext context, CancellationToken cancellationToken)
        => ValueTask.FromResult<UserInfo?>(Anonymous);
}

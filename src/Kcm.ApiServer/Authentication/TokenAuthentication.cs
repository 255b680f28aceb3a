namespace Kcm.ApiServer.Authentication;

/// <summary>A bearer token that an authenticator recognised as its kind but rejected (expired, bad signature...).</summary>
public sealed class InvalidTokenException(string message) : Exception(message);

/// <summary>Who a token belongs to and which of the requested audiences it is valid for.</summary>
public sealed record TokenAuthResult(UserInfo User, IReadOnlyList<string> Audiences);

/// <summary>
/// One kind of bearer token. Returns null when the token is not of its kind (or unknown to it);
/// throws <see cref="InvalidTokenException"/> when it is of its kind but invalid.
/// </summary>
public interface ITokenAuthenticator
{
    ValueTask<TokenAuthResult?> AuthenticateTokenAsync(string token, IReadOnlyList<string> audiences, CancellationToken cancellationToken);
}

/// <summary>
/// Tries token authenticators in order as upstream's token union: the first success wins; the errors of
/// those that failed are reported together when none succeeded.
/// </summary>
public sealed class TokenAuthenticatorUnion(IReadOnlyList<ITokenAuthenticator> authenticators) : ITokenAuthenticator
{
    public async ValueTask<TokenAuthResult?> AuthenticateTokenAsync(string token, IReadOnlyList<string> audiences, CancellationToken cancellationToken)
    {
        List<string>? errors = null;
        foreach (var authenticator in authenticators)
        {
            try
            {
                var result = await authenticator.AuthenticateTokenAsync(token, audiences, cancellationToken);
                if (result is not null) return result;
            }
            catch (InvalidTokenException e)
            {
                (errors ??= []).Add(e.Message);
            }
        }
        if (errors is null) return null;
        // utilerrors.Aggregate prints one error bare and several as a bracketed list.
        throw new InvalidTokenException(errors.Count == 1 ? errors[0] : "[" + string.Join(", ", errors) + "]");
    }
}

/// <summary>
/// Wraps a token authenticator that knows nothing of audiences, as upstream's WrapAudienceAgnosticToken:
/// its tokens are valid only for the API server's own audiences.
/// </summary>
public sealed class AudienceAgnosticTokenAuthenticator(IReadOnlyList<string> apiAudiences, ITokenAuthenticator inner) : ITokenAuthenticator
{
    public async ValueTask<TokenAuthResult?> AuthenticateTokenAsync(string token, IReadOnlyList<string> audiences, CancellationToken cancellationToken)
    {
        IReadOnlyList<string> granted = apiAudiences;
        if (audiences.Count > 0 && apiAudiences.Count > 0)
        {
            granted = apiAudiences.Where(audiences.Contains).ToList();
            if (granted.Count == 0) return null;
        }
        var result = await inner.AuthenticateTokenAsync(token, audiences, cancellationToken);
        return result is null ? null : result with { Audiences = granted };
    }
}

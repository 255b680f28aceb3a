using Microsoft.AspNetCore.Http;

namespace Kcm.ApiServer.Authentication;

/// <summary>
/// One request authenticator (x509, bearer token, anonymous...). Returns null when its kind of
/// credential is absent, so the chain tries the next one; throws <see cref="Errors.ApiException"/>
/// when the credential is present but invalid.
/// </summary>
public interface IAuthenticator
{
    ValueTask<UserInfo?> AuthenticateAsync(HttpContext context, CancellationToken cancellationToken);
}

/// <summary>Tries authenticators in order, like upstream's union authenticator; the first user wins.</summary>
public sealed class AuthenticatorChain(IReadOnlyList<IAuthenticator> authenticators) : IAuthenticator
{
    public async ValueTask<UserInfo?> AuthenticateAsync(HttpContext context, CancellationToken cancellationToken)
    {
        foreach (var authenticator in authenticators)
        {
            var user = await authenticator.AuthenticateAsync(context, cancellationToken);
            if (user is not null) return user;
        }
        return null;
    }
}

using Kcm.Api.Authentication.V1;
using Kcm.Api.Core.V1;
using Kcm.Api.Meta.V1;
using Kcm.Client;
using Kcm.Client.Errors;

namespace Kcm.Controllers.Clients;

/// <summary>Thrown when no usable token could be obtained for a controller's ServiceAccount.</summary>
public sealed class ServiceAccountTokenException(string message, Exception? inner = null) : Exception(message, inner);

/// <summary>
/// Upstream's controller token source: ensures the ServiceAccount exists, asks TokenRequest for a token of one hour
/// (what the server grants is taken from status.expirationTimestamp) and reuses it until 20 % of its lifetime is
/// left. Failures are retried with backoff (0.5 s doubling, 4 tries) before the request fails.
/// </summary>
public sealed class ServiceAccountTokenProvider(KubeApiClient rootClient, string @namespace, string serviceAccountName, TimeProvider time) : IBearerTokenProvider
{
    public const long ExpirationSeconds = 3600;
    public const int LeewayPercent = 20;
    private static readonly TimeSpan MinimumLifetime = TimeSpan.FromMinutes(10);

    private readonly SemaphoreSlim _gate = new(1, 1);
    private string? _token;
    private DateTimeOffset _renewAt;

    public async ValueTask<string> GetTokenAsync(CancellationToken cancellationToken)
    {
        if (_token is { } cached && time.GetUtcNow() < _renewAt) return cached;
        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (_token is { } fresh && time.GetUtcNow() < _renewAt) return fresh;
            var delay = TimeSpan.FromMilliseconds(500);
            for (var attempt = 1; ; attempt++)
            {
                try
                {
                    var (token, expires) = await RequestTokenAsync(cancellationToken).ConfigureAwait(false);
                    var lifetime = expires - time.GetUtcNow();
                    if (lifetime < MinimumLifetime)
                    {
                        throw new ServiceAccountTokenException($"token for {@namespace}/{serviceAccountName} expires in {lifetime}, less than {MinimumLifetime}");
                    }
                    _token = token;
                    _renewAt = expires - lifetime * LeewayPercent / 100;
                    return token;
                }
                catch (Exception ex) when (ex is KubeApiException or HttpRequestException && attempt < 4)
                {
                    await Task.Delay(delay, time, cancellationToken).ConfigureAwait(false);
                    delay *= 2;
                }
                catch (Exception ex) when (ex is KubeApiException or HttpRequestException)
                {
                    throw new ServiceAccountTokenException($"failed to get a token for service account {@namespace}/{serviceAccountName}: {ex.Message}", ex);
                }
            }
        }
        finally
        {
            _gate.Release();
        }
    }

    private async Task<(string Token, DateTimeOffset Expires)> RequestTokenAsync(CancellationToken ct)
    {
        await EnsureServiceAccountAsync(ct).ConfigureAwait(false);
        var response = await rootClient.CreateTokenAsync(@namespace, serviceAccountName, new TokenRequest
        {
            Spec = new TokenRequestSpec { ExpirationSeconds = ExpirationSeconds },
        }, cancellationToken: ct).ConfigureAwait(false);
        var token = response.Status?.Token;
        if (string.IsNullOrEmpty(token) || response.Status?.ExpirationTimestamp is not { } expires)
        {
            throw new ServiceAccountTokenException($"TokenRequest for {@namespace}/{serviceAccountName} returned no token or expiration");
        }
        return (token, expires);
    }

    /// <summary>Upstream's getOrCreateServiceAccount, including its tolerant attempt to create a missing namespace.</summary>
    private async Task EnsureServiceAccountAsync(CancellationToken ct)
    {
        try
        {
            await rootClient.GetAsync<ServiceAccount>(@namespace, serviceAccountName, ct).ConfigureAwait(false);
            return;
        }
        catch (NotFoundException)
        {
        }
        try
        {
            await rootClient.GetAsync<Namespace>(null, @namespace, ct).ConfigureAwait(false);
        }
        catch (NotFoundException)
        {
            try
            {
                await rootClient.CreateAsync(new Namespace { Metadata = new ObjectMeta { Name = @namespace } }, cancellationToken: ct).ConfigureAwait(false);
            }
            catch (KubeApiException)
            {
                // Tolerated as upstream: the controller manager may not be allowed to create namespaces.
            }
        }
        try
        {
            await rootClient.CreateAsync(new ServiceAccount { Metadata = new ObjectMeta { Name = serviceAccountName, Namespace = @namespace } }, @namespace, cancellationToken: ct).ConfigureAwait(false);
        }
        catch (AlreadyExistsException)
        {
        }
    }
}

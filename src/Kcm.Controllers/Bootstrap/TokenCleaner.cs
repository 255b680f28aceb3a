using Kcm.Api.Core.V1;
using Kcm.Api.Meta.V1;
using Kcm.Client;
using Kcm.Client.Errors;
using Kcm.Runtime.Controllers;
using Kcm.Runtime.Informers;
using Microsoft.Extensions.Logging;

namespace Kcm.Controllers.Bootstrap;

public sealed record TokenCleanerOptions
{
    public string TokenSecretNamespace { get; init; } = BootstrapTokens.TokenSecretNamespace;
}

/// <summary>
/// Upstream's token cleaner: deletes bootstrap token Secrets whose "expiration" has passed (or cannot be parsed),
/// with a UID precondition so a recreated Secret of the same name survives, and looks again at unexpired tokens
/// when they expire.
/// </summary>
public sealed class TokenCleaner
{
    public const string ControllerName = "tokencleaner";
    public const string ClientName = "token-cleaner";

    private readonly KubeApiClient _client;
    private readonly TokenCleanerOptions _options;
    private readonly SharedInformer<Secret> _secrets;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly ControllerWorkers<ObjectKey> _workers;

    public TokenCleaner(ControllerContext context, TokenCleanerOptions? options = null)
    {
        _options = options ?? new TokenCleanerOptions();
        _client = context.Clients.For(ClientName);
        _time = context.Time;
        _logger = context.Loggers.CreateLogger(ControllerName);
        var queue = context.NewQueue("token_cleaner");
        _secrets = context.Informers.InformerFor<Secret>();
        _secrets.AddEventHandler(new ResourceEventHandler<Secret>
        {
            Added = (s, _) => Enqueue(s),
            Updated = (_, s) => Enqueue(s),
        });
        var policy = RetryPolicy.HandleError((key, error) => $"Sync {key} failed with : {error.Message}");
        _workers = new ControllerWorkers<ObjectKey>(ControllerName, queue, SyncAsync, _logger, policy, [_secrets])
        {
            Description = "token cleaner controller",
            CacheSyncName = "token_cleaner",
        };
    }

    public Task RunAsync(CancellationToken cancellationToken) => _workers.RunAsync(1, cancellationToken);

    private void Enqueue(Secret secret)
    {
        if (BootstrapTokens.IsBootstrapToken(secret, _options.TokenSecretNamespace)) _workers.Queue.Add(ObjectKey.Of(secret));
    }

    internal async Task<ReconcileResult> SyncAsync(ObjectKey key, CancellationToken cancellationToken)
    {
        var secret = _secrets.Cache.Get(key);
        if (secret is null)
        {
            _logger.LogDebug("secret has been deleted: {Key}", key);
            return ReconcileResult.Done;
        }
        if (secret.Type != BootstrapTokens.SecretType) return ReconcileResult.Done;

        var (remaining, expired) = BootstrapTokens.Expiration(secret, _time.GetUtcNow());
        if (!expired)
        {
            return remaining > TimeSpan.Zero ? ReconcileResult.After(remaining) : ReconcileResult.Done;
        }

        _logger.LogDebug("Deleting expired secret {Secret}", key);
        var uid = secret.Metadata?.Uid;
        var options = string.IsNullOrEmpty(uid) ? new DeleteOptions() : new DeleteOptions { Preconditions = new Preconditions { Uid = uid } };
        try
        {
            await _client.DeleteAsync<Secret>(secret.Metadata?.Namespace, secret.Metadata!.Name!, options, cancellationToken);
        }
        catch (Exception e) when (e is NotFoundException or ConflictException)
        {
            // Already gone, or the UID precondition failed: a different Secret now has this name.
        }
        catch (KubeApiException e)
        {
            _logger.LogDebug("Error deleting Secret: {Error}", e.Message);
        }
        return ReconcileResult.Done;
    }
}

using Kcm.Api;
using Kcm.Api.Core.V1;
using Kcm.Client;
using Kcm.Client.Errors;
using Kcm.Runtime.Controllers;
using Kcm.Runtime.Informers;
using Kcm.Runtime.Logging;
using Microsoft.Extensions.Logging;

namespace Kcm.Controllers.Bootstrap;

public sealed record BootstrapSignerOptions
{
    public string ConfigMapNamespace { get; init; } = BootstrapTokens.ConfigMapNamespace;
    public string ConfigMapName { get; init; } = BootstrapTokens.ClusterInfoConfigMap;
    public string TokenSecretNamespace { get; init; } = BootstrapTokens.TokenSecretNamespace;
}

/// <summary>
/// Upstream's bootstrap signer: keeps one "jws-kubeconfig-&lt;token-id&gt;" entry in kube-public/cluster-info per
/// valid signing bootstrap token, each a detached JWS over the "kubeconfig" entry, and drops the entries of tokens
/// that are gone. All events collapse into a single queue key; the ConfigMap is written only when a signature changed.
/// </summary>
public sealed class BootstrapSigner
{
    public const string ControllerName = "bootstrapsigner";
    public const string ClientName = "bootstrap-signer";

    private readonly KubeApiClient _client;
    private readonly BootstrapSignerOptions _options;
    private readonly SharedInformer<Secret> _secrets;
    private readonly SharedInformer<ConfigMap> _configMaps;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly ControllerWorkers<ObjectKey> _workers;
    private readonly ObjectKey _configMapKey;

    public BootstrapSigner(ControllerContext context, BootstrapSignerOptions? options = null)
    {
        _options = options ?? new BootstrapSignerOptions();
        _client = context.Clients.For(ClientName);
        _time = context.Time;
        _logger = context.Loggers.CreateLogger(ControllerName);
        _configMapKey = new ObjectKey(_options.ConfigMapNamespace, _options.ConfigMapName);
        var queue = context.NewQueue("bootstrap_signer_queue");
        _configMaps = context.Informers.InformerFor<ConfigMap>();
        _configMaps.AddEventHandler(new ResourceEventHandler<ConfigMap>
        {
            Added = (cm, _) => { if (IsClusterInfo(cm)) Poke(); },
            Updated = (_, cm) => { if (IsClusterInfo(cm)) Poke(); },
        });
        _secrets = context.Informers.InformerFor<Secret>();
        _secrets.AddEventHandler(new ResourceEventHandler<Secret>
        {
            Added = (s, _) => { if (IsToken(s)) Poke(); },
            Updated = (_, s) => { if (IsToken(s)) Poke(); },
            Deleted = (s, _) => { if (IsToken(s)) Poke(); },
        });
        var policy = RetryPolicy.HandleError((_, error) => error.Message);
        _workers = new ControllerWorkers<ObjectKey>(ControllerName, queue, (_, ct) => SignConfigMapAsync(ct), _logger, policy, [_configMaps, _secrets])
        {
            CacheSyncName = "bootstrap_signer",
        };
    }

    // One worker: there is only ever the one key.
    public Task RunAsync(CancellationToken cancellationToken) => _workers.RunAsync(1, cancellationToken);

    private bool IsClusterInfo(ConfigMap cm) => cm.Metadata?.Name == _options.ConfigMapName && cm.Metadata?.Namespace == _options.ConfigMapNamespace;

    private bool IsToken(Secret secret) => BootstrapTokens.IsBootstrapToken(secret, _options.TokenSecretNamespace);

    private void Poke() => _workers.Queue.Add(_configMapKey);

    /// <summary>Recomputes the signatures from the caches and writes the ConfigMap back when any changed.</summary>
    internal async Task<ReconcileResult> SignConfigMapAsync(CancellationToken cancellationToken)
    {
        var cached = _configMaps.Cache.Get(_configMapKey);
        if (cached is null) return ReconcileResult.Done;
        if (cached.Data is null || !cached.Data.TryGetValue(BootstrapTokens.KubeconfigKey, out var content))
        {
            _logger.LogDebug("{Message}", $"No {BootstrapTokens.KubeconfigKey} key in {_configMapKey} ConfigMap");
            return ReconcileResult.Done;
        }

        var updated = KubeJson.Deserialize<ConfigMap>(KubeJson.Serialize(cached))!;
        var data = updated.Data!;
        var oldSignatures = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var key in data.Keys.Where(k => k.StartsWith(BootstrapTokens.JwsSignatureKeyPrefix, StringComparison.Ordinal)).ToList())
        {
            oldSignatures[key[BootstrapTokens.JwsSignatureKeyPrefix.Length..]] = data[key];
            data.Remove(key);
        }

        var now = _time.GetUtcNow();
        var needUpdate = false;
        foreach (var (tokenId, tokenSecret) in SigningTokens(now))
        {
            var signature = DetachedJws.Compute(content, tokenId, tokenSecret);
            if (!oldSignatures.Remove(tokenId, out var old) || old != signature) needUpdate = true;
            data[BootstrapTokens.JwsSignatureKeyPrefix + tokenId] = signature;
        }
        // Signatures left over belong to tokens that are gone.
        if (oldSignatures.Count > 0) needUpdate = true;

        if (needUpdate)
        {
            try
            {
                await _client.UpdateAsync(updated, cancellationToken: cancellationToken);
            }
            catch (Exception e) when (e is ConflictException or NotFoundException)
            {
                // The newer ConfigMap (or its deletion) arrives as an event and is signed then.
            }
            catch (KubeApiException e)
            {
                _logger.LogDebug("Error updating ConfigMap: {Error}", e.Message);
            }
        }

        // Upstream relies on the token cleaner's delete event to drop an expired token's signature; looking again
        // at the next expiry drops it on time even when the cleaner is not running.
        var nextExpiry = NextExpiry(now);
        return nextExpiry is { } delay ? ReconcileResult.After(delay) : ReconcileResult.Done;
    }

    private Dictionary<string, string> SigningTokens(DateTimeOffset now)
    {
        var tokens = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var secret in _secrets.Cache.ByIndex(KnownIndexers.Namespace, _options.TokenSecretNamespace).Where(IsToken))
        {
            if (ValidForSigning(secret, now) is not { } token) continue;
            if (!tokens.TryAdd(token.Id, token.Secret))
            {
                _logger.LogInformation(Klog.V1, "{Message}", $"Duplicate bootstrap tokens found for id {token.Id}, ignoring on in {ObjectKey.Of(secret)}");
            }
        }
        return tokens;
    }

    private TimeSpan? NextExpiry(DateTimeOffset now)
    {
        TimeSpan? next = null;
        foreach (var secret in _secrets.Cache.ByIndex(KnownIndexers.Namespace, _options.TokenSecretNamespace).Where(IsToken))
        {
            if (ValidForSigning(secret, now) is null) continue;
            var (remaining, _) = BootstrapTokens.Expiration(secret, now);
            if (remaining > TimeSpan.Zero && (next is null || remaining < next)) next = remaining;
        }
        return next;
    }

    /// <summary>Upstream's validateSecretForSigning: name, id, secret, not expired, and usage-bootstrap-signing "true".</summary>
    private (string Id, string Secret)? ValidForSigning(Secret secret, DateTimeOffset now)
    {
        var name = secret.Metadata?.Name;
        if (BootstrapTokens.TokenIdFromSecretName(name) is not { } nameTokenId)
        {
            _logger.LogDebug("{Message}", $"Invalid secret name: {name}. Must be of form {BootstrapTokens.SecretNamePrefix}<secret-id>.");
            return null;
        }
        var tokenId = BootstrapTokens.Data(secret, BootstrapTokens.TokenIdKey);
        if (tokenId.Length == 0)
        {
            _logger.LogDebug("{Message}", $"No {BootstrapTokens.TokenIdKey} key in {name} Secret");
            return null;
        }
        if (tokenId != nameTokenId)
        {
            _logger.LogDebug("{Message}", $"Token ID ({tokenId}) doesn't match secret name: {name}");
            return null;
        }
        var tokenSecret = BootstrapTokens.Data(secret, BootstrapTokens.TokenSecretKey);
        if (tokenSecret.Length == 0)
        {
            _logger.LogDebug("{Message}", $"No {BootstrapTokens.TokenSecretKey} key in {name} Secret");
            return null;
        }
        if (BootstrapTokens.HasExpired(secret, now)) return null;
        if (BootstrapTokens.Data(secret, BootstrapTokens.UsageSigningKey) != "true") return null;
        return (tokenId, tokenSecret);
    }
}

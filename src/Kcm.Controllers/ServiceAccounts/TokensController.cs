using System.Text;
using Kcm.Api;
using Kcm.Api.Core.V1;
using Kcm.Api.Meta.V1;
using Kcm.Client;
using Kcm.Client.Errors;
using Kcm.Runtime.Controllers;
using Kcm.Runtime.Informers;
using Kcm.Runtime.Queues;
using Microsoft.Extensions.Logging;

namespace Kcm.Controllers.ServiceAccounts;

public sealed record TokensControllerOptions
{
    /// <summary>Signs the tokens put into Secrets (--service-account-private-key-file).</summary>
    public required LegacyTokenGenerator TokenGenerator { get; init; }

    /// <summary>The CA bundle put into each token Secret as ca.crt (--root-ca-file, else the kubeconfig's CA); empty = none.</summary>
    public byte[] RootCa { get; init; } = [];

    public const int DefaultMaxRetries = 10;

    /// <summary>Retries of one key before it is dropped (upstream's default 10).</summary>
    public int MaxRetries { get; init; } = DefaultMaxRetries;

    /// <summary>--concurrent-serviceaccount-token-syncs.</summary>
    public int Workers { get; init; } = 5;
}

/// <summary>
/// Upstream's tokens controller ("serviceaccount-token") as v1.26 runs it with LegacyServiceAccountTokenNoAutoGeneration
/// on: it no longer creates token Secrets for service accounts, but fills in legacy token Secrets that users create
/// (token, ca.crt, namespace), deletes token Secrets whose service account is gone (name or UID), and removes a
/// deleted Secret from its service account's secrets list.
/// </summary>
public sealed class TokensController
{
    public const string ControllerName = "serviceaccount-token";
    public const string ClientName = "tokens-controller";

    public const string SecretType = "kubernetes.io/service-account-token";
    public const string ServiceAccountNameKey = "kubernetes.io/service-account.name";
    public const string ServiceAccountUidKey = "kubernetes.io/service-account.uid";
    public const string TokenKey = "token";
    public const string RootCaKey = "ca.crt";
    public const string NamespaceKey = "namespace";

    private readonly KubeApiClient _client;
    private readonly TokensControllerOptions _options;
    private readonly SharedInformer<ServiceAccount> _serviceAccounts;
    private readonly SharedInformer<Secret> _secrets;
    private readonly RateLimitingQueue<ServiceAccountQueueKey> _serviceAccountQueue;
    private readonly RateLimitingQueue<SecretQueueKey> _secretQueue;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;

    public TokensController(ControllerContext context, TokensControllerOptions options)
    {
        _options = options;
        _client = context.Clients.RootFor(ClientName);
        _time = context.Time;
        _logger = context.Loggers.CreateLogger(ControllerName);
        _serviceAccountQueue = context.NewQueue<ServiceAccountQueueKey>("serviceaccount_tokens_service");
        _secretQueue = context.NewQueue<SecretQueueKey>("serviceaccount_tokens_secret");

        _serviceAccounts = context.Informers.InformerFor<ServiceAccount>();
        _serviceAccounts.AddEventHandler(new ResourceEventHandler<ServiceAccount>
        {
            Added = (sa, _) => _serviceAccountQueue.Add(ServiceAccountQueueKey.Of(sa)),
            Updated = (_, sa) => _serviceAccountQueue.Add(ServiceAccountQueueKey.Of(sa)),
            Deleted = (sa, _) => _serviceAccountQueue.Add(ServiceAccountQueueKey.Of(sa)),
        });
        _secrets = context.Informers.InformerFor<Secret>();
        _secrets.AddEventHandler(new ResourceEventHandler<Secret>
        {
            Added = (s, _) => { if (s.Type == SecretType) _secretQueue.Add(SecretQueueKey.Of(s)); },
            Updated = (_, s) => { if (s.Type == SecretType) _secretQueue.Add(SecretQueueKey.Of(s)); },
            Deleted = (s, _) => { if (s.Type == SecretType) _secretQueue.Add(SecretQueueKey.Of(s)); },
        });
    }

    /// <summary>Both queues' workers; upstream gives a key up after MaxRetries (retryOrForget).</summary>
    public Task RunAsync(CancellationToken cancellationToken)
    {
        var policy = RetryPolicy.DropAfter(_options.MaxRetries, "key") with
        {
            LogFailure = (logger, _, error, _) => logger.LogError("{Message}", error.Message),
        };
        var informers = new ISharedInformer[] { _serviceAccounts, _secrets };
        var workers = Math.Max(1, _options.Workers);
        return Task.WhenAll(
            new ControllerWorkers<ServiceAccountQueueKey>(ControllerName, _serviceAccountQueue, AsResult<ServiceAccountQueueKey>(SyncServiceAccountAsync), _logger, policy, informers)
            {
                CacheSyncName = "tokens",
            }.RunAsync(workers, cancellationToken),
            new ControllerWorkers<SecretQueueKey>(ControllerName, _secretQueue, AsResult<SecretQueueKey>(SyncSecretAsync), _logger, policy, informers).RunAsync(workers, cancellationToken));
    }

    /// <summary>A sync here answers whether the key should be retried (upstream's syncServiceAccount/syncSecret).</summary>
    private static Reconciler<TKey> AsResult<TKey>(Func<TKey, CancellationToken, Task<bool>> sync)
        => async (key, ct) => await sync(key, ct).ConfigureAwait(false) ? ReconcileResult.Retry : ReconcileResult.Done;

    internal async Task<bool> SyncServiceAccountAsync(ServiceAccountQueueKey key, CancellationToken cancellationToken)
    {
        if (!key.IsValid)
        {
            _logger.LogError("Parsing service account key: invalid serviceaccount key: {Key}", key);
            return false;
        }
        if (ServiceAccountFromCache(key.Namespace, key.Name, key.Uid) is not null) return false;

        // The service account is gone: so are its tokens.
        _logger.LogTrace("{Message}", $"syncServiceAccount({key.Namespace}/{key.Name}), service account deleted, removing tokens");
        var retry = false;
        var errors = new List<Exception>();
        foreach (var token in TokenSecretsOf(key.Namespace, key.Name, key.Uid))
        {
            var (again, error) = await DeleteTokenAsync(key.Namespace, token.Metadata!.Name!, token.Metadata.Uid, cancellationToken);
            retry |= again;
            if (error is not null) errors.Add(error);
        }
        if (errors.Count > 0)
        {
            _logger.LogError("{Message}", $"error deleting serviceaccount tokens for {key.Namespace}/{key.Name}: {(errors.Count == 1 ? errors[0].Message : "[" + string.Join(", ", errors.Select(e => e.Message)) + "]")}");
        }
        return retry;
    }

    internal async Task<bool> SyncSecretAsync(SecretQueueKey key, CancellationToken cancellationToken)
    {
        if (!key.IsValid)
        {
            _logger.LogError("Parsing secret queue key: invalid secret key: {Key}", key);
            return false;
        }
        var secret = _secrets.Cache.Get(new ObjectKey(key.Namespace, key.Name));
        if (secret is not null && !string.IsNullOrEmpty(key.Uid) && secret.Metadata?.Uid != key.Uid) secret = null;

        if (secret is null)
        {
            // The Secret is gone: drop it from its service account's secrets list, if that still exists.
            if (ServiceAccountFromCache(key.Namespace, key.ServiceAccountName, key.ServiceAccountUid) is not null)
            {
                try
                {
                    await RemoveSecretReferenceWithRetryAsync(key, cancellationToken);
                }
                catch (KubeApiException e)
                {
                    _logger.LogError("{Message}", e.Message);
                }
            }
            return false;
        }

        var serviceAccount = await GetServiceAccountAsync(key.Namespace, key.ServiceAccountName, key.ServiceAccountUid, cancellationToken);
        if (serviceAccount is null)
        {
            _logger.LogTrace("{Message}", $"syncSecret({key.Namespace}/{key.Name}), service account does not exist, deleting token");
            var (retry, error) = await DeleteTokenAsync(key.Namespace, key.Name, key.Uid, cancellationToken);
            if (error is not null)
            {
                _logger.LogError("{Message}", $"error deleting serviceaccount token {key.Namespace}/{key.Name} for service account {key.ServiceAccountName}: {error.Message}");
            }
            return retry;
        }
        try
        {
            return await GenerateTokenIfNeededAsync(serviceAccount, secret, cancellationToken);
        }
        catch (KubeApiException e)
        {
            _logger.LogError("{Message}", $"error populating serviceaccount token {key.Namespace}/{key.Name} for service account {key.ServiceAccountName}: {e.Message}");
            return e is not NotFoundException;
        }
    }

    private async Task<(bool Retry, Exception? Error)> DeleteTokenAsync(string ns, string name, string? uid, CancellationToken cancellationToken)
    {
        var options = string.IsNullOrEmpty(uid) ? new DeleteOptions() : new DeleteOptions { Preconditions = new Preconditions { Uid = uid } };
        try
        {
            await _client.DeleteAsync<Secret>(ns, name, options, cancellationToken);
            return (false, null);
        }
        catch (Exception e) when (e is NotFoundException or ConflictException)
        {
            // Already deleted, or the UID precondition failed (a new Secret took the name).
            return (false, null);
        }
        catch (KubeApiException e)
        {
            return (true, e);
        }
    }

    private (bool Ca, bool Namespace, bool Token) UpdateNeeded(Secret secret)
    {
        var data = secret.Data;
        byte[]? Value(string key) => data is not null && data.TryGetValue(key, out var v) ? v : null;
        var needsCa = _options.RootCa.Length > 0 && !(Value(RootCaKey) ?? []).AsSpan().SequenceEqual(_options.RootCa);
        var needsNamespace = (Value(NamespaceKey)?.Length ?? 0) == 0;
        var needsToken = (Value(TokenKey)?.Length ?? 0) == 0;
        return (needsCa, needsNamespace, needsToken);
    }

    /// <summary>Fills token, ca.crt and namespace into a fresh copy of the Secret; false = no retry needed.</summary>
    private async Task<bool> GenerateTokenIfNeededAsync(ServiceAccount serviceAccount, Secret cached, CancellationToken cancellationToken)
    {
        if (UpdateNeeded(cached) == (false, false, false)) return false;

        Secret live;
        try
        {
            live = await _client.GetAsync<Secret>(cached.Metadata!.Namespace, cached.Metadata.Name!, cancellationToken);
        }
        catch (NotFoundException)
        {
            return false;
        }
        if (live.Metadata?.ResourceVersion != cached.Metadata.ResourceVersion)
        {
            // Our view is stale; the update event brings us back.
            _logger.LogDebug("{Message}", $"secret {live.Metadata?.Namespace}/{live.Metadata?.Name} is not up to date, skipping token population");
            return false;
        }
        var (needsCa, needsNamespace, needsToken) = UpdateNeeded(live);
        if (!needsCa && !needsNamespace && !needsToken) return false;

        var metadata = live.Metadata ??= new ObjectMeta();
        var annotations = metadata.Annotations ??= [];
        var data = live.Data ??= [];
        if (needsCa) data[RootCaKey] = _options.RootCa;
        if (needsNamespace) data[NamespaceKey] = Encoding.UTF8.GetBytes(metadata.Namespace ?? "");
        if (needsToken) data[TokenKey] = Encoding.ASCII.GetBytes(_options.TokenGenerator.GenerateToken(serviceAccount, live));
        annotations[ServiceAccountNameKey] = serviceAccount.Metadata?.Name ?? "";
        annotations[ServiceAccountUidKey] = serviceAccount.Metadata?.Uid ?? "";

        try
        {
            await _client.UpdateAsync(live, cancellationToken: cancellationToken);
        }
        catch (Exception e) when (e is ConflictException or NotFoundException)
        {
            // Someone else changed it (an event follows) or it is gone.
        }
        return false;
    }

    /// <summary>Upstream's RemoveTokenBackoff: up to 10 tries on conflict, 100 ms apart with full jitter.</summary>
    private async Task RemoveSecretReferenceWithRetryAsync(SecretQueueKey key, CancellationToken cancellationToken)
    {
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                await RemoveSecretReferenceAsync(key, cancellationToken);
                return;
            }
            catch (ConflictException) when (attempt < 10)
            {
                var delay = TimeSpan.FromMilliseconds(100 * (1 + Random.Shared.NextDouble()));
                await Task.Delay(delay, _time, cancellationToken);
            }
        }
    }

    private async Task RemoveSecretReferenceAsync(SecretQueueKey key, CancellationToken cancellationToken)
    {
        ServiceAccount serviceAccount;
        try
        {
            serviceAccount = await _client.GetAsync<ServiceAccount>(key.Namespace, key.ServiceAccountName, cancellationToken);
        }
        catch (NotFoundException)
        {
            return;
        }
        if (!string.IsNullOrEmpty(key.ServiceAccountUid) && key.ServiceAccountUid != serviceAccount.Metadata?.Uid) return;
        if (serviceAccount.Secrets is not { } references || !references.Any(r => r.Name == key.Name)) return;
        serviceAccount.Secrets = [.. references.Where(r => r.Name != key.Name)];
        try
        {
            await _client.UpdateAsync(serviceAccount, cancellationToken: cancellationToken);
        }
        catch (NotFoundException)
        {
        }
    }

    private ServiceAccount? ServiceAccountFromCache(string ns, string name, string? uid)
    {
        var sa = _serviceAccounts.Cache.Get(new ObjectKey(ns, name));
        return sa is not null && (string.IsNullOrEmpty(uid) || uid == sa.Metadata?.Uid) ? sa : null;
    }

    /// <summary>From the cache, else from the server; null when absent or its UID differs from <paramref name="uid"/>.</summary>
    private async Task<ServiceAccount?> GetServiceAccountAsync(string ns, string name, string? uid, CancellationToken cancellationToken)
    {
        if (ServiceAccountFromCache(ns, name, uid) is { } cached) return cached;
        try
        {
            var live = await _client.GetAsync<ServiceAccount>(ns, name, cancellationToken);
            return string.IsNullOrEmpty(uid) || uid == live.Metadata?.Uid ? live : null;
        }
        catch (NotFoundException)
        {
            return null;
        }
    }

    /// <summary>apiserver's IsServiceAccountToken over the namespace's cached Secrets.</summary>
    private IEnumerable<Secret> TokenSecretsOf(string ns, string saName, string saUid)
        => _secrets.Cache.ByIndex(KnownIndexers.Namespace, ns).Where(s =>
            s.Type == SecretType &&
            Annotation(s, ServiceAccountNameKey) == saName &&
            (Annotation(s, ServiceAccountUidKey) is not { Length: > 0 } uid || uid == saUid));

    private static string? Annotation(Secret secret, string key)
        => secret.Metadata?.Annotations is { } annotations && annotations.TryGetValue(key, out var value) ? value : null;

    internal readonly record struct ServiceAccountQueueKey(string Namespace, string Name, string Uid)
    {
        public bool IsValid => Namespace.Length > 0 && Name.Length > 0 && Uid.Length > 0;

        public static ServiceAccountQueueKey Of(ServiceAccount sa)
            => new(sa.Metadata?.Namespace ?? "", sa.Metadata?.Name ?? "", sa.Metadata?.Uid ?? "");
    }

    /// <param name="ServiceAccountUid">Empty for token Secrets without the UID annotation.</param>
    internal readonly record struct SecretQueueKey(string Namespace, string Name, string Uid, string ServiceAccountName, string ServiceAccountUid)
    {
        public bool IsValid => Namespace.Length > 0 && Name.Length > 0 && Uid.Length > 0 && ServiceAccountName.Length > 0;

        public static SecretQueueKey Of(Secret secret)
            => new(secret.Metadata?.Namespace ?? "", secret.Metadata?.Name ?? "", secret.Metadata?.Uid ?? "",
                Annotation(secret, ServiceAccountNameKey) ?? "", Annotation(secret, ServiceAccountUidKey) ?? "");
    }
}

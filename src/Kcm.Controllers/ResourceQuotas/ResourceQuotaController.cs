using Kcm.Api;
using Kcm.Api.Core.V1;
using Kcm.Api.Quota;
using Kcm.Client;
using Kcm.Controllers.Common;
using Kcm.Runtime.Controllers;
using Kcm.Runtime.Informers;
using Kcm.Runtime.Queues;
using Microsoft.Extensions.Logging;

namespace Kcm.Controllers.ResourceQuotas;

public sealed record ResourceQuotaControllerOptions
{
    /// <summary>--concurrent-resource-quota-syncs: workers per queue.</summary>
    public int Workers { get; init; } = 5;

    /// <summary>--resource-quota-sync-period: every quota's usage is recomputed this often.</summary>
    public TimeSpan ResyncPeriod { get; init; } = TimeSpan.FromMinutes(5);

    /// <summary>How often discovery is re-read for new quotable resources (upstream's fixed 30s).</summary>
    public TimeSpan DiscoveryPeriod { get; init; } = TimeSpan.FromSeconds(30);
}

/// <summary>The quota controller's one write (a seam for unit tests).</summary>
public interface IResourceQuotaWriter
{
    Task UpdateStatusAsync(ResourceQuota quota, CancellationToken cancellationToken);
}

public sealed class ApiResourceQuotaWriter(KubeApiClient client) : IResourceQuotaWriter
{
    public Task UpdateStatusAsync(ResourceQuota quota, CancellationToken cancellationToken) => client.UpdateStatusAsync(quota, cancellationToken: cancellationToken);
}

/// <summary>
/// Upstream's resource quota controller: keeps every ResourceQuota's status.hard equal to spec.hard and status.used
/// equal to what the namespace's objects use of each limited resource, within the quota's scopes. Quota admission
/// charges creates as they happen; this controller gives back what deletions and finished pods free (promptly,
/// through the <see cref="QuotaMonitor"/>), fills in quotas that are new or whose limits changed (on a priority
/// queue), and recomputes every quota each sync period to correct any drift. Status is written only when it changes.
/// </summary>
public sealed class ResourceQuotaController
{
    public const string ControllerName = "resourcequota";
    public const string ServiceAccountName = "resourcequota-controller";
    public const string PrimaryQueueName = "resourcequota_primary";
    public const string PriorityQueueName = "resourcequota_priority";

    private readonly IObjectCache<ResourceQuota> _quotas;
    private readonly ISharedInformer? _quotaInformer;
    private readonly IResourceQuotaWriter _writer;
    private readonly KubeApiClient? _client;
    private readonly ResourceQuotaControllerOptions _options;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;

    public ResourceQuotaController(ControllerContext context, ResourceQuotaControllerOptions options)
    {
        _options = options;
        _client = context.Clients.For(ServiceAccountName);
        _writer = new ApiResourceQuotaWriter(_client);
        _time = context.Time;
        _logger = context.Loggers.CreateLogger<ResourceQuotaController>();
        Registry = new QuotaRegistry(_time);
        var informers = context.Informers;
        var quotas = informers.InformerFor<ResourceQuota>();
        _quotaInformer = quotas;
        _quotas = quotas.Cache;
        Primary = context.NewQueue(PrimaryQueueName);
        MissingUsage = context.NewQueue(PriorityQueueName);
        Monitor = new QuotaMonitor(context.MetadataInformers, Registry, Replenish, _time, context.Loggers)
        {
            SharedInformers = resource => informers.StartedInformerFor(resource.Group, resource.Version, resource.Resource),
        };
        Monitor.UseTypedInformers(informers.InformerFor<Pod>(), informers.InformerFor<Service>(), informers.InformerFor<PersistentVolumeClaim>());
        quotas.AddEventHandler(new ResourceEventHandler<ResourceQuota>
        {
            Added = (quota, _) => AddQuota(quota),
            Updated = (old, cur) =>
            {
                // Status writes (ours and admission's) come back here; only a change of limits needs a sync.
                if (!ResourceLists.Equal(old.Spec?.Hard, cur.Spec?.Hard)) AddQuota(cur);
            },
            Deleted = (quota, _) => Primary.Add(ObjectKey.Of(quota)),
        });
    }

    /// <summary>Builds the controller over caches a unit test fills; no discovery, no informers.</summary>
    internal ResourceQuotaController(IObjectCache<ResourceQuota> quotas, IResourceQuotaWriter writer, RateLimitingQueue<ObjectKey> primary,
        RateLimitingQueue<ObjectKey> missingUsage, TimeProvider time, ILoggerFactory loggers, ResourceQuotaControllerOptions? options = null)
    {
        _quotas = quotas;
        _writer = writer;
        _options = options ?? new ResourceQuotaControllerOptions();
        _time = time;
        _logger = loggers.CreateLogger<ResourceQuotaController>();
        Registry = new QuotaRegistry(time);
        Primary = primary;
        MissingUsage = missingUsage;
        Monitor = new QuotaMonitor(null, Registry, Replenish, time, loggers);
    }

    public QuotaRegistry Registry { get; }

    public QuotaMonitor Monitor { get; }

    internal RateLimitingQueue<ObjectKey> Primary { get; }

    /// <summary>Quotas that lack usage for some limit: admission refuses what they cover until it is filled in.</summary>
    internal RateLimitingQueue<ObjectKey> MissingUsage { get; }

    /// <summary>
    /// Discovers the quotable resources (retrying until discovery answers), starts their caches, waits for them and
    /// the quotas, then runs the workers, the full resync every sync period and the discovery check.
    /// </summary>
    public async Task RunAsync(CancellationToken cancellationToken)
    {
        _logger.LogInformation("Starting resource quota controller");
        using var stopQueues = cancellationToken.Register(() =>
        {
            Primary.ShutDown();
            MissingUsage.ShutDown();
        });
        var running = new List<Task>();
        try
        {
            HashSet<GroupVersionResource>? discovered;
            while ((discovered = await DiscoverAsync(null, cancellationToken).ConfigureAwait(false)) is null)
            {
                await Task.Delay(_options.DiscoveryPeriod, _time, cancellationToken).ConfigureAwait(false);
            }
            Monitor.StartMonitors(cancellationToken);
            _logger.LogInformation("QuotaMonitor running");
            _logger.LogInformation("Waiting for caches to sync for {Name}", "resource quota");
            if (!await WaitForMonitorsAsync(_quotaInformer, cancellationToken).ConfigureAwait(false)) return;
            _logger.LogInformation("Caches are synced for {Name}", "resource quota");
            _logger.LogDebug("synced quota controller");
            // Upstream's worker: utilruntime.HandleError(err).
            var policy = RetryPolicy.HandleError((_, error) => error.Message);
            running.Add(new ControllerWorkers<ObjectKey>(PrimaryQueueName, Primary, SyncAsync, _logger, policy).RunAsync(_options.Workers, cancellationToken));
            running.Add(new ControllerWorkers<ObjectKey>(PriorityQueueName, MissingUsage, SyncAsync, _logger, policy).RunAsync(_options.Workers, cancellationToken));
            running.Add(Task.Run(() => ResyncLoopAsync(cancellationToken), CancellationToken.None));
            while (!cancellationToken.IsCancellationRequested)
            {
                await Task.Delay(_options.DiscoveryPeriod, _time, cancellationToken).ConfigureAwait(false);
                discovered = await DiscoverAsync(discovered, cancellationToken).ConfigureAwait(false) ?? discovered;
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
        }
        finally
        {
            Primary.ShutDown();
            MissingUsage.ShutDown();
            await Task.WhenAll(running).ConfigureAwait(false);
            await Monitor.StopMonitorsAsync().ConfigureAwait(false);
            _logger.LogInformation("Shutting down resource quota controller");
        }
    }

    /// <summary>
    /// Upstream GetQuotableResources + Sync: re-reads discovery and, when the quotable resources changed, the
    /// monitors. Returns the resources now monitored, or null when discovery gave nothing usable.
    /// </summary>
    private async Task<HashSet<GroupVersionResource>?> DiscoverAsync(HashSet<GroupVersionResource>? current, CancellationToken cancellationToken)
    {
        ServerResources discovered;
        try
        {
            discovered = await ServerResources.DiscoverAsync(_client!.Discovery, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            _logger.LogWarning(ex, "failed to discover resources");
            return null;
        }
        var quotable = discovered.Preferred.Where(r => r.Namespaced && r.Supports("create", "list", "watch", "delete")).ToList();
        if (discovered.Failure is { } failure)
        {
            _logger.LogWarning("failed to discover some groups: {Error}", failure.Message);
            if (quotable.Count == 0) return null;
            // Keep monitoring what the failed groups served before.
            var known = quotable.Select(r => r.Resource).ToHashSet();
            if (current is not null) quotable.AddRange(Monitor.Resources.Where(r => current.Contains(r) && !known.Contains(r)).Select(r => new DiscoveredResource(r, "", true, new HashSet<string>(), true)));
        }
        var resources = quotable.Select(r => r.Resource).ToHashSet();
        if (current is not null && resources.SetEquals(current)) return current;
        if (_logger.IsEnabled(LogLevel.Debug))
        {
            _logger.LogDebug("{Message}", $"syncing resource quota controller with updated resources from discovery: {DiscoveryDiff.Print(current ?? [], resources)}");
        }
        Monitor.SyncMonitors(quotable);
        if (current is not null)
        {
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            timeout.CancelAfter(_options.DiscoveryPeriod);
            _logger.LogInformation("Waiting for caches to sync for {Name}", "resource quota");
            if (!await WaitForMonitorsAsync(null, timeout.Token).ConfigureAwait(false))
            {
                _logger.LogError("timed out waiting for quota monitor sync");
                return current;
            }
            _logger.LogInformation("Caches are synced for {Name}", "resource quota");
            _logger.LogDebug("synced quota controller");
        }
        return resources;
    }

    private async Task<bool> WaitForMonitorsAsync(ISharedInformer? quotas, CancellationToken cancellationToken)
    {
        if (quotas is not null && !await quotas.WaitForCacheSyncAsync(cancellationToken).ConfigureAwait(false)) return false;
        while (!Monitor.IsSynced())
        {
            try
            {
                await Task.Delay(TimeSpan.FromMilliseconds(100), _time, cancellationToken).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                return false;
            }
        }
        return true;
    }

    private async Task ResyncLoopAsync(CancellationToken cancellationToken)
    {
        if (_options.ResyncPeriod <= TimeSpan.Zero)
        {
            _logger.LogWarning("periodic quota controller resync disabled");
            return;
        }
        try
        {
            while (!cancellationToken.IsCancellationRequested)
            {
                EnqueueAll();
                await Task.Delay(_options.ResyncPeriod, _time, cancellationToken).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    /// <summary>Upstream enqueueAll: every quota on the primary queue for a full recomputation.</summary>
    internal void EnqueueAll()
    {
        foreach (var quota in _quotas.List()) Primary.Add(ObjectKey.Of(quota));
        _logger.LogTrace("Resource quota controller queued all resource quota for full calculation of usage");
    }

    /// <summary>
    /// Upstream addQuota: a quota whose status does not yet reflect its limits (status.hard differs, or a limit some
    /// evaluator tracks has no usage) goes on the priority queue, since admission refuses what it covers until then.
    /// </summary>
    internal void AddQuota(ResourceQuota quota)
    {
        var key = ObjectKey.Of(quota);
        if (!ResourceLists.Equal(quota.Spec?.Hard, quota.Status?.Hard))
        {
            MissingUsage.Add(key);
            return;
        }
        var used = quota.Status?.Used;
        foreach (var constraint in (quota.Status?.Hard ?? []).Keys)
        {
            if (used?.ContainsKey(constraint) == true) continue;
            if (Registry.List().Any(e => e.MatchingResources([constraint]).Count > 0))
            {
                MissingUsage.Add(key);
                return;
            }
        }
        Primary.Add(key);
    }

    /// <summary>Upstream replenishQuota: the quotas of the namespace that limit something of the resource are synced again.</summary>
    internal void Replenish(GroupResource resource, string @namespace)
    {
        if (Registry.Get(resource) is not { } evaluator) return;
        foreach (var quota in _quotas.ByIndex(KnownIndexers.Namespace, @namespace))
        {
            if (evaluator.MatchingResources((quota.Status?.Hard ?? []).Keys).Count > 0) Primary.Add(ObjectKey.Of(quota));
        }
    }

    /// <summary>Upstream syncResourceQuota: recompute the usage of the limited resources and write the status if it changed.</summary>
    internal async Task<ReconcileResult> SyncAsync(ObjectKey key, CancellationToken cancellationToken)
    {
        var quota = _quotas.Get(key);
        if (quota is null)
        {
            _logger.LogInformation("Resource quota has been deleted {Key}", key);
            return ReconcileResult.Done;
        }
        var hard = ResourceLists.Copy(quota.Spec?.Hard);
        var dirty = !ResourceLists.Equal(quota.Spec?.Hard, quota.Status?.Hard) || quota.Status?.Hard is null || quota.Status.Used is null;
        var used = ResourceLists.Copy(quota.Status?.Used);
        var (usage, errors) = Registry.CalculateUsage(key.Namespace ?? "", quota.Spec?.Scopes, hard, quota.Spec?.ScopeSelector, Monitor.List);
        foreach (var (name, value) in usage) used[name] = value;
        used = ResourceLists.Mask(used, hard.Keys.ToHashSet(StringComparer.Ordinal));
        dirty |= !ResourceLists.Equal(used, quota.Status?.Used);
        if (dirty)
        {
            var updated = KubeJson.FromNode<ResourceQuota>(KubeJson.ToNode(quota))!;
            updated.Status = new ResourceQuotaStatus { Hard = ResourceLists.Sorted(hard), Used = ResourceLists.Sorted(used), ExtensionData = quota.Status?.ExtensionData };
            await _writer.UpdateStatusAsync(updated, cancellationToken).ConfigureAwait(false);
        }
        return errors.Count switch
        {
            0 => ReconcileResult.Done,
            1 => throw errors[0],
            _ => throw new AggregateException(errors),
        };
    }
}

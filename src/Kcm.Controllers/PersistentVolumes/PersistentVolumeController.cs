using Kcm.Api.Core.V1;
using Kcm.Api.Storage.V1;
using Kcm.Client;
using Kcm.Client.Errors;
using Kcm.Controllers.Common;
using Kcm.Runtime.Controllers;
using Kcm.Runtime.Events;
using Kcm.Runtime.Informers;
using Kcm.Runtime.Logging;
using Kcm.Runtime.Queues;
using Microsoft.Extensions.Logging;

namespace Kcm.Controllers.PersistentVolumes;

public sealed record PersistentVolumeBinderOptions
{
    /// <summary>--pvclaimbinder-sync-period: how often every claim and volume is synced again.</summary>
    public TimeSpan SyncPeriod { get; init; } = TimeSpan.FromSeconds(15);

    public bool EnableDynamicProvisioning { get; init; } = true;

    public bool EnableHostPathProvisioning { get; init; }

    public string RecyclerPodTemplateFilePathHostPath { get; init; } = "";

    public int RecyclerMinimumTimeoutHostPath { get; init; } = 60;

    public int RecyclerTimeoutIncrementHostPath { get; init; } = 30;

    public string RecyclerPodTemplateFilePathNfs { get; init; } = "";

    public int RecyclerMinimumTimeoutNfs { get; init; } = 300;

    public int RecyclerIncrementTimeoutNfs { get; init; } = 30;

    /// <summary>Feature gates by name (RetroactiveDefaultStorageClass, the CSIMigration* gates), v1.26 defaults when null.</summary>
    public Func<string, bool>? FeatureGates { get; init; }
}

/// <summary>
/// Upstream v1.26's persistentvolume-binder (PersistentVolumeController): binds claims to volumes in both
/// directions, hands dynamic provisioning to the in-tree host-path plugin or to external provisioners, and
/// reclaims released volumes (Retain, Delete, Recycle). One worker per queue, as upstream: syncClaim is not
/// reentrant. Errors are logged and not requeued; the periodic resync retries. This file holds the event
/// plumbing and caches; PersistentVolumeController.Sync.cs the binding, .Operations.cs the slow operations.
/// </summary>
public sealed partial class PersistentVolumeController
{
    public const string ControllerName = "persistentvolume-binder";
    public const string ServiceAccountName = "persistent-volume-binder";
    public const string EventComponent = "persistentvolume-controller";
    private const int CreateProvisionedPvRetryCount = 5;
    private static readonly TimeSpan CreateProvisionedPvInterval = TimeSpan.FromSeconds(10);

    private readonly KubeApiClient _client;
    private readonly IObjectCache<PersistentVolume> _volumeLister;
    private readonly IObjectCache<PersistentVolumeClaim> _claimLister;
    private readonly IObjectCache<StorageClass> _classLister;
    private readonly IObjectCache<Pod> _podLister;
    private readonly IObjectCache<Node> _nodeLister;
    private readonly IReadOnlyList<ISharedInformer> _informers;
    private readonly VolumeIndex _volumes = new();
    private readonly VersionedStore<PersistentVolumeClaim> _claims = new(ObjectKey.Of, c => c.Metadata?.ResourceVersion);
    private readonly RateLimitingQueue<ObjectKey> _claimQueue;
    private readonly RateLimitingQueue<ObjectKey> _volumeQueue;
    private readonly IEventRecorder _recorder;
    private readonly ILogger _logger;
    private readonly TimeProvider _time;
    private readonly PersistentVolumeBinderOptions _options;
    private readonly Func<string, bool> _gates;
    private readonly VolumePluginManager _plugins;
    private readonly OperationMap _operations;
    private readonly PersistentVolumeMetrics _metrics;

    public PersistentVolumeController(ControllerContext context, PersistentVolumeBinderOptions options)
        : this(context, options, context.Informers.InformerFor<PersistentVolume>(), context.Informers.InformerFor<PersistentVolumeClaim>(),
            context.Informers.InformerFor<StorageClass>(), context.Informers.InformerFor<Pod>(), context.Informers.InformerFor<Node>())
    {
    }

    private PersistentVolumeController(ControllerContext context, PersistentVolumeBinderOptions options, SharedInformer<PersistentVolume> volumes,
        SharedInformer<PersistentVolumeClaim> claims, SharedInformer<StorageClass> classes, SharedInformer<Pod> pods, SharedInformer<Node> nodes)
    {
        _client = context.Clients.For(ServiceAccountName);
        _volumeLister = volumes.Cache;
        _claimLister = claims.Cache;
        _classLister = classes.Cache;
        PodPvcIndex.AddTo(pods);
        _podLister = pods.Cache;
        _nodeLister = nodes.Cache;
        _informers = [volumes, claims, classes, pods, nodes];
        _claimQueue = context.NewQueue("claims");
        _volumeQueue = context.NewQueue("volumes");
        _recorder = context.Events.NewRecorder(EventComponent);
        _logger = context.Loggers.CreateLogger<PersistentVolumeController>();
        _time = context.Time;
        _options = options;
        _gates = options.FeatureGates ?? DefaultGates;
        _operations = new OperationMap(_time, _logger);
        _metrics = new PersistentVolumeMetrics(context.Metrics, _time);

        // Bad recycler templates stop the start, as upstream's klog.Fatalf does.
        var runner = new ApiRecyclerPodRunner(_client, _logger);
        var hostPathRecycler = new RecyclerConfig(RecyclerConfig.LoadTemplate(options.RecyclerPodTemplateFilePathHostPath, "hostpath"),
            options.RecyclerMinimumTimeoutHostPath, options.RecyclerTimeoutIncrementHostPath);
        var nfsRecycler = new RecyclerConfig(RecyclerConfig.LoadTemplate(options.RecyclerPodTemplateFilePathNfs, "NFS"),
            options.RecyclerMinimumTimeoutNfs, options.RecyclerIncrementTimeoutNfs);
        _plugins = new VolumePluginManager(
        [
            new HostPathVolumePlugin(options.EnableHostPathProvisioning, hostPathRecycler, runner),
            new NfsVolumePlugin(nfsRecycler, runner),
            new LocalVolumePlugin(),
            new CsiVolumePlugin(),
        ]);
        // Upstream's VolumePluginManager.InitPlugins says so for each.
        foreach (var plugin in _plugins.Plugins) _logger.LogInformation(Klog.V1, "Loaded volume plugin {pluginName}", plugin.Name);

        volumes.AddEventHandler(new ResourceEventHandler<PersistentVolume>
        {
            Added = (v, _) => _volumeQueue.Add(ObjectKey.Of(v)),
            Updated = (_, v) => _volumeQueue.Add(ObjectKey.Of(v)),
            Deleted = (v, _) => _volumeQueue.Add(ObjectKey.Of(v)),
        });
        claims.AddEventHandler(new ResourceEventHandler<PersistentVolumeClaim>
        {
            Added = (c, _) => _claimQueue.Add(ObjectKey.Of(c)),
            Updated = (_, c) => _claimQueue.Add(ObjectKey.Of(c)),
            Deleted = (c, _) => _claimQueue.Add(ObjectKey.Of(c)),
        });
    }

    /// <summary>v1.26's defaults for the gates the binder reads.</summary>
    public static bool DefaultGates(string gate) => gate is "RetroactiveDefaultStorageClass" or "CSIMigrationAzureFile";

    public async Task RunAsync(CancellationToken cancellationToken)
    {
        _logger.LogInformation("Starting persistent volume controller");
        using var stopQueues = cancellationToken.Register(() =>
        {
            _claimQueue.ShutDown();
            _volumeQueue.ShutDown();
        });
        try
        {
            _logger.LogInformation("Waiting for caches to sync for {Name}", "persistent volume");
            if (!await CacheSync.WaitAsync(_informers, cancellationToken).ConfigureAwait(false))
            {
                return;
            }
            _logger.LogInformation("Caches are synced for {Name}", "persistent volume");
            InitializeCaches();
            _metrics.CollectFrom(_volumes.Store.List, _claims.List, _plugins);
            var claimWorker = new ControllerWorkers<ObjectKey>("claims", _claimQueue, ClaimWorkerAsync, _logger);
            var volumeWorker = new ControllerWorkers<ObjectKey>("volumes", _volumeQueue, VolumeWorkerAsync, _logger);
            await Task.WhenAll(ResyncLoopAsync(cancellationToken), claimWorker.RunAsync(1, cancellationToken), volumeWorker.RunAsync(1, cancellationToken)).ConfigureAwait(false);
        }
        finally
        {
            _claimQueue.ShutDown();
            _volumeQueue.ShutDown();
            await _operations.WaitAsync().ConfigureAwait(false);
            _logger.LogInformation("Shutting down persistent volume controller");
        }
    }

    /// <summary>Fills the controller's own caches before the first sync, so the first claim sees every volume.</summary>
    internal void InitializeCaches()
    {
        foreach (var volume in _volumeLister.List())
        {
            _volumes.Store.Update(KubeObjects.Clone(volume));
        }
        foreach (var claim in _claimLister.List())
        {
            _claims.Update(KubeObjects.Clone(claim));
        }
    }

    private async Task ResyncLoopAsync(CancellationToken cancellationToken)
    {
        if (_options.SyncPeriod <= TimeSpan.Zero)
        {
            return;
        }
        using var timer = new PeriodicTimer(_options.SyncPeriod, _time);
        try
        {
            while (await timer.WaitForNextTickAsync(cancellationToken).ConfigureAwait(false))
            {
                _logger.LogTrace("resyncing PV controller");
                foreach (var claim in _claimLister.List())
                {
                    _claimQueue.Add(ObjectKey.Of(claim));
                }
                foreach (var volume in _volumeLister.List())
                {
                    _volumeQueue.Add(ObjectKey.Of(volume));
                }
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
        }
    }

    private async Task<ReconcileResult> VolumeWorkerAsync(ObjectKey key, CancellationToken cancellationToken)
    {
        if (_volumeLister.Get(key) is { } volume)
        {
            // Add, update or resync.
            if (_volumes.Store.Update(volume))
            {
                await LogFailureAsync(() => SyncVolumeAsync(volume, cancellationToken), $"could not sync volume \"{key.Name}\"").ConfigureAwait(false);
            }
            return ReconcileResult.Done;
        }
        if (_volumes.Store.Get(key) is not { } deleted)
        {
            _logger.LogDebug("deletion of volume \"{Volume}\" was already processed", key.Name);
            return ReconcileResult.Done;
        }
        DeleteVolume(deleted);
        return ReconcileResult.Done;
    }

    private async Task<ReconcileResult> ClaimWorkerAsync(ObjectKey key, CancellationToken cancellationToken)
    {
        if (_claimLister.Get(key) is { } claim)
        {
            if (_claims.Update(claim))
            {
                await LogFailureAsync(() => SyncClaimAsync(claim, cancellationToken), $"could not sync claim \"{key}\"").ConfigureAwait(false);
            }
            return ReconcileResult.Done;
        }
        if (_claims.Get(key) is not { } deleted)
        {
            _logger.LogDebug("deletion of claim \"{Claim}\" was already processed", key);
            return ReconcileResult.Done;
        }
        DeleteClaim(deleted);
        return ReconcileResult.Done;
    }

    private async Task LogFailureAsync(Func<Task> sync, string what)
    {
        try
        {
            await sync().ConfigureAwait(false);
        }
        catch (ConflictException e)
        {
            // Conflicts are frequent and the next sync recovers from them.
            _logger.LogDebug("{What}: {Error}", what, e.Message);
        }
        catch (Exception e) when (e is KubeApiException or VolumePluginException or VolumeBindingException or Kcm.Api.Selectors.SelectorParseException or HttpRequestException or FormatException)
        {
            _logger.LogError("{What}: {Error}", what, e.Message);
        }
    }

    private void DeleteVolume(PersistentVolume volume)
    {
        _volumes.Store.Delete(ObjectKey.Of(volume));
        _logger.LogDebug("volume \"{Volume}\" deleted", volume.Metadata?.Name);
        _metrics.RecordOperation(volume.Metadata?.Name ?? "", null);
        if (volume.Spec?.ClaimRef is { } claimRef)
        {
            // The claim learns at once that it lost its volume, instead of at the next resync.
            _claimQueue.Add(VolumeBinding.ClaimObjectKey(claimRef));
        }
    }

    private void DeleteClaim(PersistentVolumeClaim claim)
    {
        _claims.Delete(ObjectKey.Of(claim));
        var claimKey = VolumeBinding.ClaimKey(claim);
        _logger.LogDebug("claim \"{Claim}\" deleted", claimKey);
        _metrics.ForgetOperation(claimKey);
        if (!string.IsNullOrEmpty(claim.Spec?.VolumeName))
        {
            // The volume is released at once, instead of at the next resync.
            _volumeQueue.Add(new ObjectKey(null, claim.Spec.VolumeName));
        }
    }

    private PersistentVolumeClaim StoreClaim(PersistentVolumeClaim claim)
    {
        _claims.Update(claim);
        return claim;
    }

    private PersistentVolume StoreVolume(PersistentVolume volume)
    {
        _volumes.Store.Update(volume);
        return volume;
    }
}

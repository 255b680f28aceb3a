using Kcm.Api.Core.V1;
using Kcm.Client;
using Kcm.Controllers.Common;
using Kcm.Runtime.Controllers;
using Kcm.Runtime.Informers;
using Kcm.Runtime.Queues;
using Microsoft.Extensions.Logging;

namespace Kcm.Controllers.PvProtection;

/// <summary>PersistentVolume writes (a seam for unit tests).</summary>
public interface IPvProtectionClient
{
    Task UpdateVolumeAsync(PersistentVolume volume, CancellationToken cancellationToken);
}

public sealed class ApiPvProtectionClient(KubeApiClient client) : IPvProtectionClient
{
    public Task UpdateVolumeAsync(PersistentVolume volume, CancellationToken cancellationToken)
        => client.UpdateAsync(volume, cancellationToken: cancellationToken);
}

/// <summary>
/// Upstream v1.26's pv-protection controller: every volume not being deleted gets the kubernetes.io/pv-protection
/// finalizer; a deleting volume loses it once its status phase is no longer Bound. Keys are volume names.
/// </summary>
public sealed class PvProtectionController
{
    public const string ControllerName = "pv-protection";
    public const string ServiceAccountName = "pv-protection-controller";
    public const string QueueName = "pvprotection";

    private readonly IObjectCache<PersistentVolume> _volumes;
    private readonly IPvProtectionClient _client;
    private readonly RateLimitingQueue<ObjectKey> _queue;
    private readonly ILogger _logger;

    public PvProtectionController(ControllerContext context)
        : this(context, context.Informers.InformerFor<PersistentVolume>())
    {
    }

    private PvProtectionController(ControllerContext context, SharedInformer<PersistentVolume> volumes)
        : this(volumes.Cache, new ApiPvProtectionClient(context.Clients.For(ServiceAccountName)),
            context.NewQueue(QueueName), context.Loggers.CreateLogger<PvProtectionController>(), [volumes])
    {
        volumes.AddEventHandler(new ResourceEventHandler<PersistentVolume>
        {
            Added = (volume, _) => OnVolumeAddedOrUpdated(volume),
            Updated = (_, volume) => OnVolumeAddedOrUpdated(volume),
        });
    }

    internal PvProtectionController(IObjectCache<PersistentVolume> volumes, IPvProtectionClient client, RateLimitingQueue<ObjectKey> queue,
        ILogger logger, IReadOnlyList<ISharedInformer>? informers = null)
    {
        _volumes = volumes;
        _client = client;
        _queue = queue;
        _logger = logger;
        var policy = RetryPolicy.HandleError((key, error) => $"PV {key} failed with : {error.Message}");
        Workers = new ControllerWorkers<ObjectKey>(ControllerName, queue, SyncAsync, logger, policy, informers ?? [])
        {
            Description = "PV protection controller",
            CacheSyncName = "PV protection",
        };
    }

    public ControllerWorkers<ObjectKey> Workers { get; }

    /// <summary>Upstream runs one worker and has no flag for it.</summary>
    public Task RunAsync(CancellationToken cancellationToken) => Workers.RunAsync(1, cancellationToken);

    internal void OnVolumeAddedOrUpdated(PersistentVolume volume)
    {
        if (VolumeProtection.NeedToAddFinalizer(volume.Metadata, VolumeProtection.PvFinalizer)
            || VolumeProtection.IsDeletionCandidate(volume.Metadata, VolumeProtection.PvFinalizer))
        {
            _queue.Add(ObjectKey.Of(volume));
        }
    }

    public async Task<ReconcileResult> SyncAsync(ObjectKey key, CancellationToken cancellationToken)
    {
        if (_volumes.Get(key) is not { } volume)
        {
            return ReconcileResult.Done;
        }
        if (VolumeProtection.IsDeletionCandidate(volume.Metadata, VolumeProtection.PvFinalizer))
        {
            if (volume.Status?.Phase != "Bound")
            {
                var updated = KubeObjects.Clone(volume);
                updated.Metadata!.Finalizers = updated.Metadata.Finalizers!.Where(f => f != VolumeProtection.PvFinalizer).ToList();
                await _client.UpdateVolumeAsync(updated, cancellationToken).ConfigureAwait(false);
                _logger.LogDebug("Removed protection finalizer from PV {Volume}", key.Name);
                return ReconcileResult.Done;
            }
            _logger.LogTrace("{Message}", $"Keeping PV {key.Name} because it is being used");
        }
        if (VolumeProtection.NeedToAddFinalizer(volume.Metadata, VolumeProtection.PvFinalizer))
        {
            var updated = KubeObjects.Clone(volume);
            (updated.Metadata!.Finalizers ??= []).Add(VolumeProtection.PvFinalizer);
            await _client.UpdateVolumeAsync(updated, cancellationToken).ConfigureAwait(false);
            _logger.LogDebug("Added protection finalizer to PV {Volume}", key.Name);
        }
        return ReconcileResult.Done;
    }
}

using System.Text.Json.Nodes;
using Kcm.Api;
using Kcm.Api.Core.V1;
using Kcm.Client;
using Kcm.Client.Errors;
using Kcm.Controllers.Common;
using Kcm.Runtime.Controllers;
using Kcm.Runtime.Events;
using Kcm.Runtime.Informers;
using Kcm.Runtime.Queues;
using Microsoft.Extensions.Logging;

namespace Kcm.Controllers.VolumeExpansion;

/// <summary>The in-tree plugins whose CSI migration is on (from the feature gates).</summary>
public sealed record ExpandControllerSettings(IReadOnlySet<string> MigratedPlugins);

/// <summary>The live PV read and the claim status patch (a seam for unit tests).</summary>
public interface IExpandClient
{
    Task<PersistentVolume> GetVolumeAsync(string name, CancellationToken cancellationToken);

    Task PatchClaimStatusAsync(string @namespace, string name, string patch, CancellationToken cancellationToken);
}

public sealed class ApiExpandClient(KubeApiClient client) : IExpandClient
{
    public Task<PersistentVolume> GetVolumeAsync(string name, CancellationToken cancellationToken)
        => client.GetAsync<PersistentVolume>(null, name, cancellationToken);

    public Task PatchClaimStatusAsync(string @namespace, string name, string patch, CancellationToken cancellationToken)
        => client.PatchAsync<PersistentVolumeClaim>(@namespace, name, PatchType.StrategicMerge, patch, "status", cancellationToken: cancellationToken);
}

/// <summary>
/// Upstream v1.26's persistentvolume-expander in a providerless build: a bound claim asking for more than its status
/// capacity is handed on. A PV of an in-tree plugin migrated to CSI gets its claim annotated
/// volume.kubernetes.io/storage-resizer with the CSI driver's name (the external resizer's cue); any other volume,
/// CSI ones included, is left to an external controller with an ExternalExpanding event. Which claims may grow at all
/// is the API server's call (the PersistentVolumeClaimResize admission checks allowVolumeExpansion).
/// </summary>
public sealed class ExpandController
{
    public const string ControllerName = "persistentvolume-expander";
    public const string ServiceAccountName = "expand-controller";
    public const string EventComponent = "volume_expand";
    public const string QueueName = "volume_expand";
    public const string ResizerAnnotation = "volume.kubernetes.io/storage-resizer";
    public const string PreResizeCapacityAnnotation = "volume.alpha.kubernetes.io/pre-resize-capacity";
    public const string ExternalExpanding = "ExternalExpanding";

    // Upstream's defaultWorkerCount; there is no flag.
    private const int Workers = 10;

    private readonly IObjectCache<PersistentVolumeClaim> _claims;
    private readonly IExpandClient _client;
    private readonly IEventRecorder _recorder;
    private readonly RateLimitingQueue<ObjectKey> _queue;
    private readonly IReadOnlySet<string> _migratedPlugins;
    private readonly ILogger _logger;

    public ExpandController(ControllerContext context, ExpandControllerSettings settings)
        : this(context, settings, context.Informers.InformerFor<PersistentVolumeClaim>(), context.Informers.InformerFor<PersistentVolume>())
    {
    }

    private ExpandController(ControllerContext context, ExpandControllerSettings settings, SharedInformer<PersistentVolumeClaim> claims, SharedInformer<PersistentVolume> volumes)
        : this(claims.Cache, new ApiExpandClient(context.Clients.For(ServiceAccountName)), context.Events.NewRecorder(EventComponent),
            context.NewQueue(QueueName), settings, context.Loggers.CreateLogger<ExpandController>(), [claims, volumes])
    {
        claims.AddEventHandler(new ResourceEventHandler<PersistentVolumeClaim>
        {
            Added = (claim, _) => Enqueue(claim),
            Updated = OnClaimUpdated,
            Deleted = (claim, _) => Enqueue(claim),
        });
    }

    internal ExpandController(IObjectCache<PersistentVolumeClaim> claims, IExpandClient client, IEventRecorder recorder, RateLimitingQueue<ObjectKey> queue,
        ExpandControllerSettings settings, ILogger logger, IReadOnlyList<ISharedInformer>? informers = null)
    {
        _claims = claims;
        _client = client;
        _recorder = recorder;
        _queue = queue;
        _migratedPlugins = settings.MigratedPlugins;
        _logger = logger;
        var policy = RetryPolicy.HandleError((key, error) => $"{key} failed with : {error.Message}");
        WorkerLoop = new ControllerWorkers<ObjectKey>("expand", queue, SyncAsync, logger, policy, informers ?? [])
        {
            Description = "expand controller",
            CacheSyncName = "expand",
        };
    }

    public ControllerWorkers<ObjectKey> WorkerLoop { get; }

    public Task RunAsync(CancellationToken cancellationToken) => WorkerLoop.RunAsync(Workers, cancellationToken);

    // Enqueued when the request grew (a resize) or the status capacity grew (a resize finishing).
    internal void OnClaimUpdated(PersistentVolumeClaim old, PersistentVolumeClaim claim)
    {
        if (Compare(RequestOf(claim), RequestOf(old)) > 0 || Compare(CapacityOf(claim), CapacityOf(old)) > 0)
        {
            Enqueue(claim);
        }
    }

    internal void Enqueue(PersistentVolumeClaim claim)
    {
        if (claim.Status?.Phase == "Bound")
        {
            _queue.Add(ObjectKey.Of(claim));
        }
    }

    public async Task<ReconcileResult> SyncAsync(ObjectKey key, CancellationToken cancellationToken)
    {
        if (_claims.Get(key) is not { } claim)
        {
            return ReconcileResult.Done;
        }
        var volumeName = claim.Spec?.VolumeName ?? "";
        PersistentVolume pv;
        try
        {
            pv = await _client.GetVolumeAsync(volumeName, cancellationToken).ConfigureAwait(false);
        }
        catch (KubeApiException e)
        {
            throw new ExpandException($"failed to get PV \"{volumeName}\": {e.Message}");
        }
        var claimRef = pv.Spec?.ClaimRef;
        if (claimRef is null || claimRef.Namespace != claim.Metadata?.Namespace || claimRef.Uid != claim.Metadata?.Uid)
        {
            throw new ExpandException($"persistent Volume is not bound to PVC being updated : {key}");
        }
        if (Compare(RequestOf(claim), CapacityOf(claim)) <= 0 && pv.Metadata?.Annotations?.ContainsKey(PreResizeCapacityAnnotation) != true)
        {
            return ReconcileResult.Done;
        }

        if (CsiMigration.PluginFor(pv) is { } migrated && _migratedPlugins.Contains(migrated.InTreePluginName))
        {
            _recorder.Event(claim, EventTypes.Normal, ExternalExpanding,
                $"CSI migration enabled for {migrated.InTreePluginName}; waiting for external resizer to expand the pvc");
            try
            {
                await SetResizerAsync(claim, migrated.CsiDriverName, cancellationToken).ConfigureAwait(false);
            }
            catch (KubeApiException e)
            {
                var message = $"error setting resizer annotation to pvc {key}, with error patchPVCStatus failed to patch PVC \"{claim.Metadata?.Name}\": {e.Message}";
                _recorder.Event(claim, EventTypes.Warning, ExternalExpanding, message);
                throw new ExpandException(message);
            }
            return ReconcileResult.Done;
        }

        if (pv.Spec?.FlexVolume is not null)
        {
            // Upstream expands flex volumes itself (a no-op plugin, then a file-system resize on the node); not in this build.
            _logger.LogWarning("Not expanding PVC \"{Claim}\": flex volumes are not expanded by this controller manager", key);
            return ReconcileResult.Done;
        }

        // A providerless build has one in-tree expander candidate, fc, and it cannot expand; CSI volumes match no plugin.
        const string reason = "didn't find a plugin capable of expanding the volume; waiting for an external controller to process this PVC";
        _recorder.Event(claim, pv.Spec?.Fc is not null ? EventTypes.Normal : EventTypes.Warning, ExternalExpanding, $"Ignoring the PVC: {reason}.");
        _logger.LogInformation("Ignoring the PVC \"{Claim}\" (uid: \"{Uid}\") : {Reason}.", key, claim.Metadata?.Uid, reason);
        return ReconcileResult.Done;
    }

    // util.SetClaimResizer: the annotation goes in through pvcs/status, guarded by the claim's resourceVersion.
    private async Task SetResizerAsync(PersistentVolumeClaim claim, string resizer, CancellationToken cancellationToken)
    {
        var metadata = new JsonObject { ["resourceVersion"] = claim.Metadata?.ResourceVersion };
        if (claim.Metadata?.Annotations?.TryGetValue(ResizerAnnotation, out var current) != true || current != resizer)
        {
            metadata["annotations"] = new JsonObject { [ResizerAnnotation] = resizer };
        }
        var patch = new JsonObject { ["metadata"] = metadata }.ToJsonString();
        await _client.PatchClaimStatusAsync(claim.Metadata?.Namespace ?? "", claim.Metadata?.Name ?? "", patch, cancellationToken).ConfigureAwait(false);
    }

    private static Quantity? RequestOf(PersistentVolumeClaim claim)
        => claim.Spec?.Resources?.Requests is { } requests && requests.TryGetValue("storage", out var q) ? q : null;

    private static Quantity? CapacityOf(PersistentVolumeClaim claim)
        => claim.Status?.Capacity is { } capacity && capacity.TryGetValue("storage", out var q) ? q : null;

    // A missing quantity is zero, as Go's map lookup gives.
    private static int Compare(Quantity? a, Quantity? b) => (a ?? Quantity.Zero).CompareTo(b ?? Quantity.Zero);
}

public sealed class ExpandException(string message) : Exception(message);

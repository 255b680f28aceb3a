using Kcm.Api.Core.V1;
using Kcm.Client;
using Kcm.Controllers.Common;
using Kcm.Runtime.Controllers;
using Kcm.Runtime.Informers;
using Kcm.Runtime.Queues;
using Microsoft.Extensions.Logging;

namespace Kcm.Controllers.PvcProtection;

/// <summary>Claim writes and the live pod list (a seam for unit tests).</summary>
public interface IPvcProtectionClient
{
    Task UpdateClaimAsync(PersistentVolumeClaim claim, CancellationToken cancellationToken);

    Task<IReadOnlyList<Pod>> ListPodsAsync(string @namespace, CancellationToken cancellationToken);
}

public sealed class ApiPvcProtectionClient(KubeApiClient client) : IPvcProtectionClient
{
    public Task UpdateClaimAsync(PersistentVolumeClaim claim, CancellationToken cancellationToken)
        => client.UpdateAsync(claim, cancellationToken: cancellationToken);

    public async Task<IReadOnlyList<Pod>> ListPodsAsync(string @namespace, CancellationToken cancellationToken)
        => (await client.ListAllAsync<Pod>(@namespace, cancellationToken: cancellationToken).ConfigureAwait(false)).Items ?? [];
}

/// <summary>
/// Upstream v1.26's pvc-protection controller: every claim not being deleted gets the kubernetes.io/pvc-protection
/// finalizer; a deleting claim loses it once no scheduled pod uses it, judged from the pod cache and, when that
/// finds none, confirmed by a live list of the namespace's pods (the cache may lag behind a pod just created).
/// </summary>
public sealed class PvcProtectionController
{
    public const string ControllerName = "pvc-protection";
    public const string ServiceAccountName = "pvc-protection-controller";
    public const string QueueName = "pvcprotection";

    private readonly IObjectCache<PersistentVolumeClaim> _claims;
    private readonly IObjectCache<Pod> _pods;
    private readonly IPvcProtectionClient _client;
    private readonly RateLimitingQueue<ObjectKey> _queue;
    private readonly ILogger _logger;

    public PvcProtectionController(ControllerContext context)
        : this(context, context.Informers.InformerFor<PersistentVolumeClaim>(), context.Informers.InformerFor<Pod>())
    {
    }

    private PvcProtectionController(ControllerContext context, SharedInformer<PersistentVolumeClaim> claims, SharedInformer<Pod> pods)
        : this(claims.Cache, PrepareIndex(pods), new ApiPvcProtectionClient(context.Clients.For(ServiceAccountName)),
            context.NewQueue(QueueName), context.Loggers.CreateLogger<PvcProtectionController>(), [claims, pods])
    {
        claims.AddEventHandler(new ResourceEventHandler<PersistentVolumeClaim>
        {
            Added = (claim, _) => OnClaimAddedOrUpdated(claim),
            Updated = (_, claim) => OnClaimAddedOrUpdated(claim),
        });
        pods.AddEventHandler(new ResourceEventHandler<Pod>
        {
            Added = (pod, _) => OnPodEvent(null, pod, deleted: false),
            Updated = (old, pod) => OnPodEvent(old, pod, deleted: false),
            Deleted = (pod, _) => OnPodEvent(null, pod, deleted: true),
        });
    }

    internal PvcProtectionController(IObjectCache<PersistentVolumeClaim> claims, IObjectCache<Pod> pods, IPvcProtectionClient client,
        RateLimitingQueue<ObjectKey> queue, ILogger logger, IReadOnlyList<ISharedInformer>? informers = null)
    {
        _claims = claims;
        _pods = pods;
        _client = client;
        _queue = queue;
        _logger = logger;
        var policy = RetryPolicy.HandleError((key, error) => $"PVC {key} failed with : {error.Message}");
        Workers = new ControllerWorkers<ObjectKey>(ControllerName, queue, SyncAsync, logger, policy, informers ?? [])
        {
            Description = "PVC protection controller",
            DescriptionStructured = true,
            CacheSyncName = "PVC protection",
        };
    }

    public ControllerWorkers<ObjectKey> Workers { get; }

    /// <summary>Upstream runs one worker and has no flag for it.</summary>
    public Task RunAsync(CancellationToken cancellationToken) => Workers.RunAsync(1, cancellationToken);

    private static IObjectCache<Pod> PrepareIndex(SharedInformer<Pod> pods)
    {
        PodPvcIndex.AddTo(pods);
        return pods.Cache;
    }

    internal void OnClaimAddedOrUpdated(PersistentVolumeClaim claim)
    {
        if (VolumeProtection.NeedToAddFinalizer(claim.Metadata, VolumeProtection.PvcFinalizer)
            || VolumeProtection.IsDeletionCandidate(claim.Metadata, VolumeProtection.PvcFinalizer))
        {
            _queue.Add(ObjectKey.Of(claim));
        }
    }

    internal void OnPodEvent(Pod? old, Pod pod, bool deleted)
    {
        EnqueueClaims(pod, deleted);
        if (old is not null && old.Metadata?.Uid != pod.Metadata?.Uid)
        {
            EnqueueClaims(old, deleted: true);
        }
    }

    // A running scheduled pod keeps its claims in use, so only a pod that stopped using them (deleted, terminated)
    // or one not scheduled yet can change a claim's answer.
    private void EnqueueClaims(Pod pod, bool deleted)
    {
        if (!deleted && !IsTerminated(pod) && !string.IsNullOrEmpty(pod.Spec?.NodeName))
        {
            return;
        }
        foreach (var key in PodPvcIndex.ClaimKeysOf(pod))
        {
            _queue.Add(ObjectKey.Parse(key));
        }
    }

    public async Task<ReconcileResult> SyncAsync(ObjectKey key, CancellationToken cancellationToken)
    {
        if (_claims.Get(key) is not { } claim)
        {
            return ReconcileResult.Done;
        }
        if (VolumeProtection.IsDeletionCandidate(claim.Metadata, VolumeProtection.PvcFinalizer))
        {
            if (!await IsBeingUsedAsync(claim, cancellationToken).ConfigureAwait(false))
            {
                var updated = KubeObjects.Clone(claim);
                updated.Metadata!.Finalizers = updated.Metadata.Finalizers!.Where(f => f != VolumeProtection.PvcFinalizer).ToList();
                await _client.UpdateClaimAsync(updated, cancellationToken).ConfigureAwait(false);
                _logger.LogDebug("Removed protection finalizer from PVC {pvc}", key);
                return ReconcileResult.Done;
            }
            _logger.LogDebug("Keeping PVC because it is being used {pvc}", key);
        }
        if (VolumeProtection.NeedToAddFinalizer(claim.Metadata, VolumeProtection.PvcFinalizer))
        {
            var updated = KubeObjects.Clone(claim);
            (updated.Metadata!.Finalizers ??= []).Add(VolumeProtection.PvcFinalizer);
            await _client.UpdateClaimAsync(updated, cancellationToken).ConfigureAwait(false);
            _logger.LogDebug("Added protection finalizer to PVC {pvc}", key);
        }
        return ReconcileResult.Done;
    }

    private async Task<bool> IsBeingUsedAsync(PersistentVolumeClaim claim, CancellationToken cancellationToken)
    {
        var key = claim.Metadata?.Namespace + "/" + claim.Metadata?.Name;
        if (_pods.ByIndex(PodPvcIndex.Name, key).Any(pod => PodUsesClaim(pod, claim)))
        {
            return true;
        }
        var pods = await _client.ListPodsAsync(claim.Metadata?.Namespace ?? "", cancellationToken).ConfigureAwait(false);
        return pods.Any(pod => PodUsesClaim(pod, claim));
    }

    /// <summary>
    /// Upstream v1.26's podUsesPVC: only scheduled pods count (whatever their phase); an ephemeral volume's claim
    /// counts only when the pod controls it and is not being removed with grace period 0.
    /// </summary>
    internal static bool PodUsesClaim(Pod pod, PersistentVolumeClaim claim)
    {
        if (string.IsNullOrEmpty(pod.Spec?.NodeName))
        {
            return false;
        }
        var name = claim.Metadata?.Name;
        foreach (var volume in pod.Spec!.Volumes ?? [])
        {
            if (volume.PersistentVolumeClaim?.ClaimName == name && name is not null)
            {
                return true;
            }
            if (!IsShutDown(pod) && volume.Ephemeral is not null && PodPvcIndex.EphemeralClaimName(pod, volume) == name
                && PodPvcIndex.EphemeralClaimNotForPod(pod, claim) is null)
            {
                return true;
            }
        }
        return false;
    }

    private static bool IsShutDown(Pod pod)
        => pod.Metadata?.DeletionTimestamp is not null && pod.Metadata.DeletionGracePeriodSeconds == 0;

    /// <summary>volumeutil.IsPodTerminated: Succeeded/Failed, or being deleted with no container running.</summary>
    internal static bool IsTerminated(Pod pod)
    {
        var status = pod.Status;
        if (status?.Phase is "Succeeded" or "Failed")
        {
            return true;
        }
        return pod.Metadata?.DeletionTimestamp is not null
            && NotRunning(status?.InitContainerStatuses) && NotRunning(status?.ContainerStatuses) && NotRunning(status?.EphemeralContainerStatuses);
    }

    private static bool NotRunning(IEnumerable<ContainerStatus>? statuses)
        => statuses?.All(s => s.State?.Terminated is not null || s.State?.Waiting is not null) ?? true;
}

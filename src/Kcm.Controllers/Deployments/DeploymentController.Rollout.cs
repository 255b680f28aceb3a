using Kcm.Api.Apps.V1;
using Kcm.Api.Core.V1;
using DeploymentObject = Kcm.Api.Apps.V1.Deployment;

namespace Kcm.Controllers.Deployments;

// Upstream's rolling.go and recreate.go: the two rollout strategies.
public sealed partial class DeploymentController
{
    /// <summary>rolloutRolling: scale the new ReplicaSet up within maxSurge, then old ones down within maxUnavailable.</summary>
    private async Task RolloutRollingAsync(DeploymentObject d, List<ReplicaSet> rsList, CancellationToken cancellationToken)
    {
        var (newRS, oldRSs) = await GetAllReplicaSetsAndSyncRevisionAsync(d, rsList, createIfNotExisted: true, cancellationToken).ConfigureAwait(false);
        List<ReplicaSet?> allRSs = [.. oldRSs, newRS];

        if (await ReconcileNewReplicaSetAsync(allRSs, newRS!, d, cancellationToken).ConfigureAwait(false))
        {
            await SyncRolloutStatusAsync(allRSs, newRS, d, cancellationToken).ConfigureAwait(false);
            return;
        }
        if (await ReconcileOldReplicaSetsAsync(allRSs, DeploymentUtil.FilterActive(oldRSs), newRS!, d, cancellationToken).ConfigureAwait(false))
        {
            await SyncRolloutStatusAsync(allRSs, newRS, d, cancellationToken).ConfigureAwait(false);
            return;
        }
        if (DeploymentUtil.DeploymentComplete(d, d.Status!))
        {
            await CleanupDeploymentAsync(oldRSs, d, cancellationToken).ConfigureAwait(false);
        }
        await SyncRolloutStatusAsync(allRSs, newRS, d, cancellationToken).ConfigureAwait(false);
    }

    private async Task<bool> ReconcileNewReplicaSetAsync(List<ReplicaSet?> allRSs, ReplicaSet newRS, DeploymentObject d, CancellationToken cancellationToken)
    {
        if (newRS.Replicas() == d.Replicas())
        {
            return false;
        }
        if (newRS.Replicas() > d.Replicas())
        {
            return (await ScaleReplicaSetAndRecordEventAsync(newRS, d.Replicas(), d, cancellationToken).ConfigureAwait(false)).Scaled;
        }
        var newReplicasCount = DeploymentUtil.NewRSNewReplicas(d, allRSs, newRS);
        return (await ScaleReplicaSetAndRecordEventAsync(newRS, newReplicasCount, d, cancellationToken).ConfigureAwait(false)).Scaled;
    }

    /// <summary>
    /// reconcileOldReplicaSets: how far old ReplicaSets may shrink without dropping below minAvailable (counting
    /// the new ReplicaSet's unavailable pods as already missing); unhealthy old replicas go first.
    /// </summary>
    private async Task<bool> ReconcileOldReplicaSetsAsync(List<ReplicaSet?> allRSs, List<ReplicaSet> oldRSs, ReplicaSet newRS, DeploymentObject d, CancellationToken cancellationToken)
    {
        if (DeploymentUtil.ReplicaCount(oldRSs) == 0)
        {
            return false; // Nothing left to scale down.
        }
        var allPodsCount = DeploymentUtil.ReplicaCount(allRSs);
        var minAvailable = d.Replicas() - DeploymentUtil.MaxUnavailable(d);
        var newRSUnavailablePodCount = newRS.Replicas() - (newRS.Status?.AvailableReplicas ?? 0);
        var maxScaledDown = allPodsCount - minAvailable - newRSUnavailablePodCount;
        if (maxScaledDown <= 0)
        {
            return false;
        }

        var (cleanedRSs, cleanupCount) = await CleanupUnhealthyReplicasAsync(oldRSs, d, maxScaledDown, cancellationToken).ConfigureAwait(false);
        List<ReplicaSet?> afterCleanup = [.. cleanedRSs, newRS];
        var scaledDownCount = await ScaleDownOldReplicaSetsForRollingUpdateAsync(afterCleanup, cleanedRSs, d, cancellationToken).ConfigureAwait(false);
        return cleanupCount + scaledDownCount > 0;
    }

    /// <summary>cleanupUnhealthyReplicas: first remove old replicas that are not available anyway, oldest ReplicaSet first.</summary>
    private async Task<(List<ReplicaSet> OldRSs, int ScaledDown)> CleanupUnhealthyReplicasAsync(List<ReplicaSet> oldRSs, DeploymentObject d, int maxCleanupCount, CancellationToken cancellationToken)
    {
        oldRSs.Sort(ReplicaSetOrder.ByCreationTimestamp);
        var totalScaledDown = 0;
        for (var i = 0; i < oldRSs.Count; i++)
        {
            if (totalScaledDown >= maxCleanupCount)
            {
                break;
            }
            var target = oldRSs[i];
            var available = target.Status?.AvailableReplicas ?? 0;
            if (target.Replicas() == 0 || target.Replicas() == available)
            {
                continue; // Nothing to clean up, or every replica is healthy.
            }
            var scaledDownCount = Math.Min(maxCleanupCount - totalScaledDown, target.Replicas() - available);
            var newReplicasCount = target.Replicas() - scaledDownCount;
            if (newReplicasCount > target.Replicas())
            {
                throw new InvalidOperationException($"when cleaning up unhealthy replicas, got invalid request to scale down {target.Metadata?.Namespace}/{target.Metadata?.Name} {target.Replicas()} -> {newReplicasCount}");
            }
            var (_, updated) = await ScaleReplicaSetAndRecordEventAsync(target, newReplicasCount, d, cancellationToken).ConfigureAwait(false);
            totalScaledDown += scaledDownCount;
            oldRSs[i] = updated;
        }
        return (oldRSs, totalScaledDown);
    }

    /// <summary>scaleDownOldReplicaSetsForRollingUpdate: scale old ReplicaSets down, oldest first, while availability stays above minAvailable.</summary>
    private async Task<int> ScaleDownOldReplicaSetsForRollingUpdateAsync(List<ReplicaSet?> allRSs, List<ReplicaSet> oldRSs, DeploymentObject d, CancellationToken cancellationToken)
    {
        var minAvailable = d.Replicas() - DeploymentUtil.MaxUnavailable(d);
        var availablePodCount = DeploymentUtil.AvailableReplicaCount(allRSs);
        if (availablePodCount <= minAvailable)
        {
            return 0;
        }
        oldRSs.Sort(ReplicaSetOrder.ByCreationTimestamp);
        var totalScaledDown = 0;
        var totalScaleDownCount = availablePodCount - minAvailable;
        foreach (var target in oldRSs)
        {
            if (totalScaledDown >= totalScaleDownCount)
            {
                break;
            }
            if (target.Replicas() == 0)
            {
                continue;
            }
            var scaleDownCount = Math.Min(target.Replicas(), totalScaleDownCount - totalScaledDown);
            var newReplicasCount = target.Replicas() - scaleDownCount;
            if (newReplicasCount > target.Replicas())
            {
                throw new InvalidOperationException($"when scaling down old replica set, got invalid request to scale down {target.Metadata?.Namespace}/{target.Metadata?.Name} {target.Replicas()} -> {newReplicasCount}");
            }
            await ScaleReplicaSetAndRecordEventAsync(target, newReplicasCount, d, cancellationToken).ConfigureAwait(false);
            totalScaledDown += scaleDownCount;
        }
        return totalScaledDown;
    }

    /// <summary>rolloutRecreate: old ReplicaSets to zero, wait until no old pod runs, then the new ReplicaSet to full size.</summary>
    private async Task RolloutRecreateAsync(DeploymentObject d, List<ReplicaSet> rsList, Dictionary<string, List<Pod>> podMap, CancellationToken cancellationToken)
    {
        // Don't create a new ReplicaSet before the old pods are gone.
        var (newRS, oldRSs) = await GetAllReplicaSetsAndSyncRevisionAsync(d, rsList, createIfNotExisted: false, cancellationToken).ConfigureAwait(false);
        List<ReplicaSet?> allRSs = [.. oldRSs, newRS];
        var activeOldRSs = DeploymentUtil.FilterActive(oldRSs);

        var scaledDown = false;
        for (var i = 0; i < activeOldRSs.Count; i++)
        {
            var (scaled, _) = await ScaleReplicaSetAndRecordEventAsync(activeOldRSs[i], 0, d, cancellationToken).ConfigureAwait(false);
            scaledDown |= scaled;
        }
        if (scaledDown)
        {
            await SyncRolloutStatusAsync(allRSs, newRS, d, cancellationToken).ConfigureAwait(false);
            return;
        }
        if (OldPodsRunning(newRS, oldRSs, podMap))
        {
            await SyncRolloutStatusAsync(allRSs, newRS, d, cancellationToken).ConfigureAwait(false);
            return;
        }
        if (newRS is null)
        {
            (newRS, oldRSs) = await GetAllReplicaSetsAndSyncRevisionAsync(d, rsList, createIfNotExisted: true, cancellationToken).ConfigureAwait(false);
            allRSs = [.. oldRSs, newRS];
        }
        await ScaleReplicaSetAndRecordEventAsync(newRS!, d.Replicas(), d, cancellationToken).ConfigureAwait(false);
        if (DeploymentUtil.DeploymentComplete(d, d.Status!))
        {
            await CleanupDeploymentAsync(oldRSs, d, cancellationToken).ConfigureAwait(false);
        }
        await SyncRolloutStatusAsync(allRSs, newRS, d, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>oldPodsRunning: old ReplicaSets still report pods, or a pod of a non-new ReplicaSet has not terminated.</summary>
    public static bool OldPodsRunning(ReplicaSet? newRS, IEnumerable<ReplicaSet> oldRSs, Dictionary<string, List<Pod>> podMap)
    {
        if (DeploymentUtil.ActualReplicaCount(oldRSs) > 0)
        {
            return true;
        }
        foreach (var (rsUid, pods) in podMap)
        {
            if (newRS is not null && newRS.Metadata?.Uid == rsUid)
            {
                continue;
            }
            // Succeeded and Failed pods are done; anything else (Unknown included) may still run.
            if (pods.Any(p => p.Status?.Phase is not ("Failed" or "Succeeded")))
            {
                return true;
            }
        }
        return false;
    }
}

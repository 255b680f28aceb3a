using System.Globalization;
using System.Text.Json.Nodes;
using Kcm.Api;
using Kcm.Api.Apps.V1;
using Kcm.Client.Errors;
using Kcm.Controllers.Common;
using Kcm.Runtime.Events;
using Microsoft.Extensions.Logging;
using DeploymentObject = Kcm.Api.Apps.V1.Deployment;

namespace Kcm.Controllers.Deployments;

// Upstream's sync.go: scaling, the new ReplicaSet and revisions, history cleanup and status.
public sealed partial class DeploymentController
{
    /// <summary>syncStatusOnly: a deleted Deployment only has its status kept current.</summary>
    private async Task SyncStatusOnlyAsync(DeploymentObject d, List<ReplicaSet> rsList, CancellationToken cancellationToken)
    {
        var (newRS, oldRSs) = await GetAllReplicaSetsAndSyncRevisionAsync(d, rsList, createIfNotExisted: false, cancellationToken).ConfigureAwait(false);
        await SyncDeploymentStatusAsync([.. oldRSs, newRS], newRS, d, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>sync: a scaling event or a paused Deployment — scale (proportionally), no rollout.</summary>
    private async Task SyncScalingAsync(DeploymentObject d, List<ReplicaSet> rsList, CancellationToken cancellationToken)
    {
        var (newRS, oldRSs) = await GetAllReplicaSetsAndSyncRevisionAsync(d, rsList, createIfNotExisted: false, cancellationToken).ConfigureAwait(false);
        await ScaleAsync(d, newRS, oldRSs, cancellationToken).ConfigureAwait(false);
        // A paused Deployment without a rollback in flight still gets its history trimmed.
        if (d.Spec!.Paused == true && RollbackTo(d) is null)
        {
            await CleanupDeploymentAsync(oldRSs, d, cancellationToken).ConfigureAwait(false);
        }
        await SyncDeploymentStatusAsync([.. oldRSs, newRS], newRS, d, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>checkPausedConditions: Progressing becomes Unknown/DeploymentPaused or Unknown/DeploymentResumed.</summary>
    private async Task CheckPausedConditionsAsync(DeploymentObject d, CancellationToken cancellationToken)
    {
        if (!DeploymentUtil.HasProgressDeadline(d))
        {
            return;
        }
        var condition = DeploymentUtil.GetCondition(d.Status, DeploymentNames.ConditionProgressing);
        if (condition?.Reason == DeploymentNames.TimedOutReason)
        {
            return; // Timed out stays timed out, paused or not.
        }
        var pausedConditionExists = condition?.Reason == DeploymentNames.PausedDeployReason;
        var paused = d.Spec!.Paused == true;
        DeploymentCondition next;
        if (paused && !pausedConditionExists)
        {
            next = DeploymentUtil.NewCondition(DeploymentNames.ConditionProgressing, "Unknown", DeploymentNames.PausedDeployReason, "Deployment is paused", _time.GetUtcNow());
        }
        else if (!paused && pausedConditionExists)
        {
            next = DeploymentUtil.NewCondition(DeploymentNames.ConditionProgressing, "Unknown", DeploymentNames.ResumedDeployReason, "Deployment is resumed", _time.GetUtcNow());
        }
        else
        {
            return;
        }
        DeploymentUtil.SetCondition(d.Status!, next);
        await UpdateStatusAsync(d, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// getAllReplicaSetsAndSyncRevision: the new ReplicaSet (created when asked and missing) with its revision
    /// raised above every old one, and all old ReplicaSets.
    /// </summary>
    private async Task<(ReplicaSet? NewRS, List<ReplicaSet> OldRSs)> GetAllReplicaSetsAndSyncRevisionAsync(DeploymentObject d, List<ReplicaSet> rsList, bool createIfNotExisted, CancellationToken cancellationToken)
    {
        var (_, allOldRSs) = DeploymentUtil.FindOldReplicaSets(d, rsList);
        var newRS = await GetNewReplicaSetAsync(d, rsList, allOldRSs, createIfNotExisted, cancellationToken).ConfigureAwait(false);
        return (newRS, allOldRSs);
    }

    private async Task<ReplicaSet?> GetNewReplicaSetAsync(DeploymentObject d, List<ReplicaSet> rsList, List<ReplicaSet> oldRSs, bool createIfNotExisted, CancellationToken cancellationToken)
    {
        var existing = DeploymentUtil.FindNewReplicaSet(d, rsList);
        var newRevision = (DeploymentUtil.MaxRevision(oldRSs, _logger) + 1).ToString(CultureInfo.InvariantCulture);

        if (existing is not null)
        {
            var rsCopy = KubeObjects.Clone(existing);
            rsCopy.Spec ??= new ReplicaSetSpec();
            var annotationsUpdated = DeploymentUtil.SetNewReplicaSetAnnotations(d, rsCopy, newRevision, exists: true, DeploymentNames.MaxRevisionHistoryLengthInChars, _logger);
            var minReadySecondsNeedsUpdate = (rsCopy.Spec.MinReadySeconds ?? 0) != (d.Spec!.MinReadySeconds ?? 0);
            if (annotationsUpdated || minReadySecondsNeedsUpdate)
            {
                rsCopy.Spec.MinReadySeconds = d.Spec.MinReadySeconds;
                var updated = await _rsControl.UpdateAsync(rsCopy, cancellationToken).ConfigureAwait(false);
                // Later steps of this sync look the new ReplicaSet up again: let them see this version, not the
                // cache's (upstream re-reads the stale one and fails the sync with a conflict).
                var index = rsList.FindIndex(rs => rs.Metadata?.Uid == updated.Metadata?.Uid);
                if (index >= 0)
                {
                    rsList[index] = updated;
                }
                return updated;
            }

            var needsUpdate = DeploymentUtil.SetDeploymentRevision(d, rsCopy.Metadata?.Annotations?.GetValueOrDefault(DeploymentNames.RevisionAnnotation) ?? "");
            // An existing new ReplicaSet with no Progressing condition yet (e.g. adopted): record that we found it.
            if (DeploymentUtil.HasProgressDeadline(d) && DeploymentUtil.GetCondition(d.Status, DeploymentNames.ConditionProgressing) is null)
            {
                var condition = DeploymentUtil.NewCondition(DeploymentNames.ConditionProgressing, "True", DeploymentNames.FoundNewRSReason, $"Found new replica set \"{rsCopy.Metadata?.Name}\"", _time.GetUtcNow());
                DeploymentUtil.SetCondition(d.Status!, condition);
                needsUpdate = true;
            }
            if (needsUpdate)
            {
                await UpdateStatusAsync(d, cancellationToken).ConfigureAwait(false);
            }
            return rsCopy;
        }

        if (!createIfNotExisted)
        {
            return null;
        }

        // A new ReplicaSet: the template with the pod-template-hash label, selected by it, named after it.
        var template = KubeObjects.Clone(d.Spec!.Template ?? new Kcm.Api.Core.V1.PodTemplateSpec());
        var hash = PodTemplates.ComputeHash(template, d.Status!.CollisionCount);
        template.Metadata ??= new Kcm.Api.Meta.V1.ObjectMeta();
        template.Metadata.Labels = new Dictionary<string, string>(d.Spec.Template?.Metadata?.Labels ?? []) { [DeploymentNames.DefaultUniqueLabelKey] = hash };
        var selector = KubeObjects.Clone(d.Spec.Selector ?? new Kcm.Api.Meta.V1.LabelSelector());
        selector.MatchLabels = new Dictionary<string, string>(selector.MatchLabels ?? []) { [DeploymentNames.DefaultUniqueLabelKey] = hash };

        var newRS = new ReplicaSet
        {
            ApiVersion = "apps/v1",
            Kind = "ReplicaSet",
            Metadata = new Kcm.Api.Meta.V1.ObjectMeta
            {
                Name = d.Metadata!.Name + "-" + hash,
                Namespace = d.Metadata.Namespace,
                OwnerReferences = [ControllerRefTo(d)],
                Labels = new Dictionary<string, string>(template.Metadata.Labels),
            },
            Spec = new ReplicaSetSpec
            {
                Replicas = 0,
                MinReadySeconds = d.Spec.MinReadySeconds,
                Selector = selector,
                Template = template,
            },
        };
        var newReplicasCount = DeploymentUtil.NewRSNewReplicas(d, [.. oldRSs, newRS], newRS);
        newRS.Spec.Replicas = newReplicasCount;
        // Set the revision (and replica annotations) before creating, so a crash cannot leave an unnumbered ReplicaSet.
        DeploymentUtil.SetNewReplicaSetAnnotations(d, newRS, newRevision, exists: false, DeploymentNames.MaxRevisionHistoryLengthInChars, _logger);

        ReplicaSet created;
        var alreadyExists = false;
        try
        {
            created = await _rsControl.CreateAsync(d.Metadata.Namespace, newRS, cancellationToken).ConfigureAwait(false);
        }
        catch (AlreadyExistsException)
        {
            alreadyExists = true;
            // Ours already (a create whose answer we missed, or a cache behind)? Otherwise a hash collision.
            var rs = _replicaSets.Get(new Kcm.Runtime.Informers.ObjectKey(newRS.Metadata.Namespace, newRS.Metadata.Name!));
            if (rs is null)
            {
                throw; // Not in the cache yet: decide on the next sync, when it is.
            }
            if (ControllerRefOf(rs)?.Uid == d.Metadata.Uid && PodTemplates.EqualIgnoreHash(d.Spec.Template, rs.Spec?.Template))
            {
                created = rs;
            }
            else
            {
                var before = d.Status.CollisionCount ?? 0;
                d.Status.CollisionCount = before + 1;
                // Bump collisionCount so the next sync computes another name; return the error to requeue.
                try
                {
                    await UpdateStatusAsync(d, cancellationToken).ConfigureAwait(false);
                    _logger.LogDebug("Found a hash collision for deployment \"{Name}\" - bumping collisionCount ({Old}->{New}) to resolve it", d.Metadata.Name, before, d.Status.CollisionCount);
                }
                catch (KubeApiException)
                {
                }
                throw;
            }
        }
        catch (KubeApiException e) when (!ApiErrors.IsNamespaceTerminating(e))
        {
            var message = $"Failed to create new replica set \"{newRS.Metadata.Name}\": {e.Message}";
            if (DeploymentUtil.HasProgressDeadline(d))
            {
                var condition = DeploymentUtil.NewCondition(DeploymentNames.ConditionProgressing, "False", DeploymentNames.FailedRSCreateReason, message, _time.GetUtcNow());
                DeploymentUtil.SetCondition(d.Status, condition);
                try
                {
                    await UpdateStatusAsync(d, cancellationToken).ConfigureAwait(false);
                }
                catch (KubeApiException)
                {
                    // The create failure is the error worth reporting.
                }
            }
            _recorder.Event(d, EventTypes.Warning, DeploymentNames.FailedRSCreateReason, message);
            throw;
        }

        if (!alreadyExists && newReplicasCount > 0)
        {
            _recorder.Event(d, EventTypes.Normal, "ScalingReplicaSet", $"Scaled up replica set {created.Metadata?.Name} to {newReplicasCount}");
        }
        var statusNeedsUpdate = DeploymentUtil.SetDeploymentRevision(d, newRevision);
        if (!alreadyExists && DeploymentUtil.HasProgressDeadline(d))
        {
            var condition = DeploymentUtil.NewCondition(DeploymentNames.ConditionProgressing, "True", DeploymentNames.NewReplicaSetReason, $"Created new replica set \"{created.Metadata?.Name}\"", _time.GetUtcNow());
            DeploymentUtil.SetCondition(d.Status, condition);
            statusNeedsUpdate = true;
        }
        if (statusNeedsUpdate)
        {
            await UpdateStatusAsync(d, cancellationToken).ConfigureAwait(false);
        }
        return created;
    }

    private static Kcm.Api.Meta.V1.OwnerReference ControllerRefTo(DeploymentObject d) => new()
    {
        ApiVersion = "apps/v1",
        Kind = "Deployment",
        Name = d.Metadata?.Name,
        Uid = d.Metadata?.Uid,
        Controller = true,
        BlockOwnerDeletion = true,
    };

    /// <summary>
    /// scale: on a scaling event (or while paused) resize the ReplicaSets without advancing the rollout. With one
    /// active ReplicaSet it takes the whole count; a saturated new one means the old go to zero; otherwise a
    /// rolling Deployment spreads the difference over the active ReplicaSets in proportion to their size.
    /// </summary>
    private async Task ScaleAsync(DeploymentObject d, ReplicaSet? newRS, List<ReplicaSet> oldRSs, CancellationToken cancellationToken)
    {
        if (DeploymentUtil.FindActiveOrLatest(newRS, [.. oldRSs]) is { } activeOrLatest)
        {
            if (activeOrLatest.Replicas() == d.Replicas())
            {
                return;
            }
            await ScaleReplicaSetAndRecordEventAsync(activeOrLatest, d.Replicas(), d, cancellationToken).ConfigureAwait(false);
            return;
        }

        // Adoption while the new ReplicaSet is saturated: the old ones must go.
        if (DeploymentUtil.IsSaturated(d, newRS))
        {
            foreach (var old in DeploymentUtil.FilterActive(oldRSs))
            {
                await ScaleReplicaSetAndRecordEventAsync(old, 0, d, cancellationToken).ConfigureAwait(false);
            }
            return;
        }

        if (!DeploymentUtil.IsRollingUpdate(d))
        {
            return;
        }
        var allRSs = DeploymentUtil.FilterActive([.. oldRSs, newRS]);
        var allRSsReplicas = DeploymentUtil.ReplicaCount(allRSs);
        var allowedSize = d.Replicas() > 0 ? d.Replicas() + DeploymentUtil.MaxSurge(d) : 0;
        // Replicas to add (or remove when negative), spread from the largest ReplicaSet down; among equals newer
        // ones grow first and older ones shrink first.
        var replicasToAdd = allowedSize - allRSsReplicas;
        var scalingOperation = "";
        if (replicasToAdd > 0)
        {
            allRSs.Sort(ReplicaSetOrder.BySizeNewer);
            scalingOperation = "up";
        }
        else if (replicasToAdd < 0)
        {
            allRSs.Sort(ReplicaSetOrder.BySizeOlder);
            scalingOperation = "down";
        }

        var sizes = ProportionalSizes(d, allRSs, replicasToAdd, _logger);
        foreach (var rs in allRSs)
        {
            await ScaleReplicaSetAsync(rs, sizes[rs.Metadata!.Name!], d, scalingOperation, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// The proportional part of upstream's scale: each active ReplicaSet's new size, in the given (sorted) order;
    /// any leftover from rounding goes to the first (largest) one, never below zero.
    /// </summary>
    public static Dictionary<string, int> ProportionalSizes(DeploymentObject d, IReadOnlyList<ReplicaSet> sortedActive, int replicasToAdd, ILogger? logger = null)
    {
        var added = 0;
        var sizes = new Dictionary<string, int>();
        foreach (var rs in sortedActive)
        {
            if (replicasToAdd != 0)
            {
                var proportion = DeploymentUtil.Proportion(rs, d, replicasToAdd, added, logger);
                sizes[rs.Metadata!.Name!] = rs.Replicas() + proportion;
                added += proportion;
            }
            else
            {
                sizes[rs.Metadata!.Name!] = rs.Replicas();
            }
        }
        if (replicasToAdd != 0 && sortedActive.Count > 0)
        {
            var first = sortedActive[0].Metadata!.Name!;
            sizes[first] = Math.Max(0, sizes[first] + replicasToAdd - added);
        }
        return sizes;
    }

    private async Task<(bool Scaled, ReplicaSet RS)> ScaleReplicaSetAndRecordEventAsync(ReplicaSet rs, int newScale, DeploymentObject d, CancellationToken cancellationToken)
    {
        if (rs.Replicas() == newScale)
        {
            return (false, rs);
        }
        var operation = rs.Replicas() < newScale ? "up" : "down";
        return await ScaleReplicaSetAsync(rs, newScale, d, operation, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>scaleReplicaSet: sets the size and the desired/max-replicas annotations; an event when the size changed.</summary>
    private async Task<(bool Scaled, ReplicaSet RS)> ScaleReplicaSetAsync(ReplicaSet rs, int newScale, DeploymentObject d, string scalingOperation, CancellationToken cancellationToken)
    {
        var sizeNeedsUpdate = rs.Replicas() != newScale;
        var maxReplicas = d.Replicas() + DeploymentUtil.MaxSurge(d);
        var annotationsNeedUpdate = DeploymentUtil.ReplicasAnnotationsNeedUpdate(rs, d.Replicas(), maxReplicas);
        if (!sizeNeedsUpdate && !annotationsNeedUpdate)
        {
            return (false, rs);
        }
        var oldScale = rs.Replicas();
        var copy = KubeObjects.Clone(rs);
        copy.Spec ??= new ReplicaSetSpec();
        copy.Spec.Replicas = newScale;
        DeploymentUtil.SetReplicasAnnotations(copy, d.Replicas(), maxReplicas);
        var updated = await _rsControl.UpdateAsync(copy, cancellationToken).ConfigureAwait(false);
        if (sizeNeedsUpdate)
        {
            _recorder.Event(d, EventTypes.Normal, "ScalingReplicaSet", $"Scaled {scalingOperation} replica set {updated.Metadata?.Name} to {newScale} from {oldScale}");
        }
        return (sizeNeedsUpdate, updated);
    }

    /// <summary>
    /// cleanupDeployment: keeps the newest revisionHistoryLimit old ReplicaSets; older ones are deleted once they
    /// have no replicas (spec and status) and their status is current.
    /// </summary>
    private async Task CleanupDeploymentAsync(List<ReplicaSet> oldRSs, DeploymentObject d, CancellationToken cancellationToken)
    {
        if (!DeploymentUtil.HasRevisionHistoryLimit(d))
        {
            return;
        }
        var cleanable = oldRSs.Where(rs => rs.Metadata?.DeletionTimestamp is null).ToList();
        var diff = cleanable.Count - d.Spec!.RevisionHistoryLimit!.Value;
        if (diff <= 0)
        {
            return;
        }
        cleanable.Sort(ReplicaSetOrder.ByRevision);
        _logger.LogTrace("Looking to cleanup old replica sets for deployment \"{Name}\"", d.Metadata?.Name);
        for (var i = 0; i < diff; i++)
        {
            var rs = cleanable[i];
            if ((rs.Status?.Replicas ?? 0) != 0 || rs.Replicas() != 0 || (rs.Metadata?.Generation ?? 0) > (rs.Status?.ObservedGeneration ?? 0) || rs.Metadata?.DeletionTimestamp is not null)
            {
                continue;
            }
            _logger.LogTrace("Trying to cleanup replica set \"{ReplicaSet}\" for deployment \"{Name}\"", rs.Metadata?.Name, d.Metadata?.Name);
            try
            {
                await _rsControl.DeleteAsync(rs.Metadata?.Namespace, rs.Metadata!.Name!, cancellationToken).ConfigureAwait(false);
            }
            catch (NotFoundException)
            {
            }
        }
    }

    /// <summary>syncDeploymentStatus: writes the status computed from the ReplicaSets when it differs.</summary>
    private async Task SyncDeploymentStatusAsync(List<ReplicaSet?> allRSs, ReplicaSet? newRS, DeploymentObject d, CancellationToken cancellationToken)
    {
        var newStatus = CalculateStatus(allRSs, newRS, d, _time.GetUtcNow());
        if (StatusEquals(d.Status, newStatus))
        {
            return;
        }
        d.Status = newStatus;
        await UpdateStatusAsync(d, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>calculateStatus: counts from the ReplicaSets, the existing conditions, and Available from minimum availability.</summary>
    public static DeploymentStatus CalculateStatus(IReadOnlyCollection<ReplicaSet?> allRSs, ReplicaSet? newRS, DeploymentObject d, DateTimeOffset now)
    {
        var available = DeploymentUtil.AvailableReplicaCount(allRSs);
        var total = DeploymentUtil.ReplicaCount(allRSs);
        var status = new DeploymentStatus
        {
            ObservedGeneration = d.Metadata?.Generation,
            Replicas = DeploymentUtil.ActualReplicaCount(allRSs),
            UpdatedReplicas = DeploymentUtil.ActualReplicaCount([newRS]),
            ReadyReplicas = DeploymentUtil.ReadyReplicaCount(allRSs),
            AvailableReplicas = available,
            // More available than desired (e.g. while scaling down) is not negative unavailability.
            UnavailableReplicas = Math.Max(0, total - available),
            CollisionCount = d.Status?.CollisionCount,
            Conditions = d.Status?.Conditions?.Select(KubeObjects.Clone).ToList(),
            ExtensionData = d.Status?.ExtensionData,
        };
        if (available >= d.Replicas() - DeploymentUtil.MaxUnavailable(d))
        {
            DeploymentUtil.SetCondition(status, DeploymentUtil.NewCondition(DeploymentNames.ConditionAvailable, "True", DeploymentNames.MinimumReplicasAvailable, "Deployment has minimum availability.", now));
        }
        else
        {
            DeploymentUtil.SetCondition(status, DeploymentUtil.NewCondition(DeploymentNames.ConditionAvailable, "False", DeploymentNames.MinimumReplicasUnavailable, "Deployment does not have minimum availability.", now));
        }
        return status;
    }

    /// <summary>Go's DeepEqual of two statuses: unset numbers are zero, a missing condition list is empty.</summary>
    public static bool StatusEquals(DeploymentStatus? a, DeploymentStatus b)
    {
        a ??= new DeploymentStatus();
        return (a.ObservedGeneration ?? 0) == (b.ObservedGeneration ?? 0)
               && (a.Replicas ?? 0) == (b.Replicas ?? 0)
               && (a.UpdatedReplicas ?? 0) == (b.UpdatedReplicas ?? 0)
               && (a.ReadyReplicas ?? 0) == (b.ReadyReplicas ?? 0)
               && (a.AvailableReplicas ?? 0) == (b.AvailableReplicas ?? 0)
               && (a.UnavailableReplicas ?? 0) == (b.UnavailableReplicas ?? 0)
               && a.CollisionCount == b.CollisionCount
               && JsonNode.DeepEquals(ConditionsNode(a), ConditionsNode(b));
    }

    private static JsonNode? ConditionsNode(DeploymentStatus s)
        => s.Conditions is { Count: > 0 } c ? KubeJson.ToNode(c) : null;

    /// <summary>isScalingEvent: an active ReplicaSet was annotated for another size than the Deployment now wants.</summary>
    private async Task<bool> IsScalingEventAsync(DeploymentObject d, List<ReplicaSet> rsList, CancellationToken cancellationToken)
    {
        var (newRS, oldRSs) = await GetAllReplicaSetsAndSyncRevisionAsync(d, rsList, createIfNotExisted: false, cancellationToken).ConfigureAwait(false);
        foreach (var rs in DeploymentUtil.FilterActive([.. oldRSs, newRS]))
        {
            if (DeploymentUtil.TryIntAnnotation(rs, DeploymentNames.DesiredReplicasAnnotation, _logger, out var desired) && desired != d.Replicas())
            {
                return true;
            }
        }
        return false;
    }
}

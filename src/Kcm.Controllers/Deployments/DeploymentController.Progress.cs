using System.Globalization;
using Kcm.Api.Apps.V1;
using Kcm.Runtime.Events;
using Microsoft.Extensions.Logging;
using DeploymentObject = Kcm.Api.Apps.V1.Deployment;

namespace Kcm.Controllers.Deployments;

// Upstream's progress.go and rollback.go.
public sealed partial class DeploymentController
{
    /// <summary>
    /// syncRolloutStatus: the status plus the Progressing condition (complete, progressing or timed out against
    /// progressDeadlineSeconds) and any ReplicaFailure from the ReplicaSets; when nothing changed, a Deployment
    /// still rolling out is requeued for the moment its deadline passes.
    /// </summary>
    private async Task SyncRolloutStatusAsync(List<ReplicaSet?> allRSs, ReplicaSet? newRS, DeploymentObject d, CancellationToken cancellationToken)
    {
        var now = _time.GetUtcNow();
        var newStatus = CalculateStatus(allRSs, newRS, d, now);
        if (!DeploymentUtil.HasProgressDeadline(d))
        {
            DeploymentUtil.RemoveCondition(newStatus, DeploymentNames.ConditionProgressing);
        }

        var currentCond = DeploymentUtil.GetCondition(d.Status, DeploymentNames.ConditionProgressing);
        var isCompleteDeployment = newStatus.Replicas == newStatus.UpdatedReplicas && currentCond?.Reason == DeploymentNames.NewRSAvailableReason;
        // Once complete, Progressing stays as it is until a new rollout starts.
        if (DeploymentUtil.HasProgressDeadline(d) && !isCompleteDeployment)
        {
            if (DeploymentUtil.DeploymentComplete(d, newStatus))
            {
                var message = newRS is not null ? $"ReplicaSet \"{newRS.Metadata?.Name}\" has successfully progressed." : $"Deployment \"{d.Metadata?.Name}\" has successfully progressed.";
                DeploymentUtil.SetCondition(newStatus, DeploymentUtil.NewCondition(DeploymentNames.ConditionProgressing, "True", DeploymentNames.NewRSAvailableReason, message, now));
            }
            else if (DeploymentUtil.DeploymentProgressing(d, newStatus))
            {
                var message = newRS is not null ? $"ReplicaSet \"{newRS.Metadata?.Name}\" is progressing." : $"Deployment \"{d.Metadata?.Name}\" is progressing.";
                var condition = DeploymentUtil.NewCondition(DeploymentNames.ConditionProgressing, "True", DeploymentNames.ReplicaSetUpdatedReason, message, now);
                // Progress refreshes lastUpdateTime (the deadline restarts); the transition time stays when already True.
                if (currentCond is not null)
                {
                    if (currentCond.Status == "True")
                    {
                        condition.LastTransitionTime = currentCond.LastTransitionTime;
                    }
                    DeploymentUtil.RemoveCondition(newStatus, DeploymentNames.ConditionProgressing);
                }
                DeploymentUtil.SetCondition(newStatus, condition);
            }
            else if (DeploymentUtil.DeploymentTimedOut(d, newStatus, now))
            {
                var message = newRS is not null ? $"ReplicaSet \"{newRS.Metadata?.Name}\" has timed out progressing." : $"Deployment \"{d.Metadata?.Name}\" has timed out progressing.";
                DeploymentUtil.SetCondition(newStatus, DeploymentUtil.NewCondition(DeploymentNames.ConditionProgressing, "False", DeploymentNames.TimedOutReason, message, now));
            }
        }

        // Surface one ReplicaSet failure (the new ReplicaSet's first) as the ReplicaFailure condition.
        if (ReplicaFailures(allRSs, newRS).FirstOrDefault() is { } failure)
        {
            DeploymentUtil.SetCondition(newStatus, failure);
        }
        else
        {
            DeploymentUtil.RemoveCondition(newStatus, DeploymentNames.ConditionReplicaFailure);
        }

        if (StatusEquals(d.Status, newStatus))
        {
            RequeueStuckDeployment(d, newStatus, now);
            return;
        }
        d.Status = newStatus;
        await UpdateStatusAsync(d, cancellationToken).ConfigureAwait(false);
    }

    private static List<DeploymentCondition> ReplicaFailures(List<ReplicaSet?> allRSs, ReplicaSet? newRS)
    {
        static IEnumerable<DeploymentCondition> Of(ReplicaSet? rs)
            => (rs?.Status?.Conditions ?? []).Where(c => c.Type == DeploymentNames.ConditionReplicaFailure).Select(DeploymentUtil.ReplicaSetToDeploymentCondition);
        var fromNew = Of(newRS).ToList();
        return fromNew.Count > 0 ? fromNew : allRSs.SelectMany(Of).ToList();
    }

    /// <summary>
    /// requeueStuckDeployment: a rollout that neither completed nor timed out is looked at again when its
    /// progress deadline passes (plus a second against clock skew in the delay), so the timeout gets reported.
    /// </summary>
    private TimeSpan? RequeueStuckDeployment(DeploymentObject d, DeploymentStatus newStatus, DateTimeOffset now)
    {
        var currentCond = DeploymentUtil.GetCondition(d.Status, DeploymentNames.ConditionProgressing);
        if (!DeploymentUtil.HasProgressDeadline(d) || currentCond is null)
        {
            return null;
        }
        if (DeploymentUtil.DeploymentComplete(d, newStatus) || currentCond.Reason == DeploymentNames.TimedOutReason)
        {
            return null;
        }
        var after = (currentCond.LastUpdateTime ?? default) + TimeSpan.FromSeconds(d.Spec!.ProgressDeadlineSeconds!.Value) - now;
        if (after < TimeSpan.FromSeconds(1))
        {
            _logger.LogTrace("Queueing up deployment \"{Name}\" for a progress check now", d.Metadata?.Name);
            EnqueueRateLimited(d);
            return TimeSpan.Zero;
        }
        _logger.LogTrace("Queueing up deployment \"{Name}\" for a progress check after {Seconds}s", d.Metadata?.Name, (int)after.TotalSeconds);
        EnqueueAfter(d, after + TimeSpan.FromSeconds(1));
        return after;
    }

    /// <summary>The revision asked for by the deprecated rollback annotation (0 = the previous one), or null.</summary>
    private static long? RollbackTo(DeploymentObject d)
    {
        var text = d.Metadata?.Annotations?.GetValueOrDefault(DeploymentNames.DeprecatedRollbackToAnnotation);
        if (string.IsNullOrEmpty(text) || !long.TryParse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var revision))
        {
            return null;
        }
        return revision;
    }

    /// <summary>rollback: copy the template of the ReplicaSet with the requested revision into the Deployment, then clear the request.</summary>
    private async Task RollbackAsync(DeploymentObject d, List<ReplicaSet> rsList, CancellationToken cancellationToken)
    {
        var (newRS, allOldRSs) = await GetAllReplicaSetsAndSyncRevisionAsync(d, rsList, createIfNotExisted: true, cancellationToken).ConfigureAwait(false);
        List<ReplicaSet?> allRSs = [.. allOldRSs, newRS];
        var revision = RollbackTo(d)!.Value;
        if (revision == 0)
        {
            revision = DeploymentUtil.LastRevision(allRSs);
            if (revision == 0)
            {
                _recorder.Event(d, EventTypes.Warning, DeploymentNames.RollbackRevisionNotFound, "Unable to find last revision.");
                await UpdateDeploymentAndClearRollbackToAsync(d, cancellationToken).ConfigureAwait(false);
                return;
            }
        }
        foreach (var rs in allRSs)
        {
            if (rs is null)
            {
                continue;
            }
            if (!DeploymentUtil.TryRevision(rs, out var v))
            {
                _logger.LogTrace("Unable to extract revision from deployment's replica set \"{Name}\"", rs.Metadata?.Name);
                continue;
            }
            if (v != revision)
            {
                continue;
            }
            // The revision number itself is raised by the next sync (this ReplicaSet becomes the new one).
            if (!PodTemplates.EqualIgnoreHash(d.Spec!.Template, rs.Spec?.Template))
            {
                DeploymentUtil.SetFromReplicaSetTemplate(d, rs.Spec?.Template ?? new Kcm.Api.Core.V1.PodTemplateSpec());
                // Take the ReplicaSet's annotations too, or the current ones would be copied onto it after the rollback.
                DeploymentUtil.SetDeploymentAnnotationsTo(d, rs);
                await UpdateDeploymentAndClearRollbackToAsync(d, cancellationToken).ConfigureAwait(false);
                _recorder.Event(d, EventTypes.Normal, DeploymentNames.RollbackDone, $"Rolled back deployment \"{d.Metadata?.Name}\" to revision {revision}");
            }
            else
            {
                _recorder.Event(d, EventTypes.Warning, DeploymentNames.RollbackTemplateUnchanged, $"The rollback revision contains the same template as current deployment \"{d.Metadata?.Name}\"");
                await UpdateDeploymentAndClearRollbackToAsync(d, cancellationToken).ConfigureAwait(false);
            }
            return;
        }
        _recorder.Event(d, EventTypes.Warning, DeploymentNames.RollbackRevisionNotFound, "Unable to find the revision to rollback to.");
        await UpdateDeploymentAndClearRollbackToAsync(d, cancellationToken).ConfigureAwait(false);
    }

    private async Task UpdateDeploymentAndClearRollbackToAsync(DeploymentObject d, CancellationToken cancellationToken)
    {
        d.Metadata?.Annotations?.Remove(DeploymentNames.DeprecatedRollbackToAnnotation);
        await _dClient.UpdateAsync(d, cancellationToken).ConfigureAwait(false);
    }
}

using System.Globalization;
using Kcm.Api;
using Kcm.Api.Apps.V1;
using Kcm.Api.Core.V1;
using Kcm.Controllers.Common;
using Microsoft.Extensions.Logging;

namespace Kcm.Controllers.Deployments;

/// <summary>Annotation keys, strategy names and condition reasons, as upstream's deployment util package spells them.</summary>
public static class DeploymentNames
{
    public const string DefaultUniqueLabelKey = "pod-template-hash";
    public const string RevisionAnnotation = "deployment.kubernetes.io/revision";
    public const string RevisionHistoryAnnotation = "deployment.kubernetes.io/revision-history";
    public const string DesiredReplicasAnnotation = "deployment.kubernetes.io/desired-replicas";
    public const string MaxReplicasAnnotation = "deployment.kubernetes.io/max-replicas";
    public const string DeprecatedRollbackToAnnotation = "deprecated.deployment.rollback.to";
    public const string LastAppliedConfigAnnotation = "kubectl.kubernetes.io/last-applied-configuration";

    public const string RollingUpdateStrategy = "RollingUpdate";
    public const string RecreateStrategy = "Recreate";

    public const string ConditionAvailable = "Available";
    public const string ConditionProgressing = "Progressing";
    public const string ConditionReplicaFailure = "ReplicaFailure";

    public const string ReplicaSetUpdatedReason = "ReplicaSetUpdated";
    public const string FailedRSCreateReason = "ReplicaSetCreateError";
    public const string NewReplicaSetReason = "NewReplicaSetCreated";
    public const string FoundNewRSReason = "FoundNewReplicaSet";
    public const string NewRSAvailableReason = "NewReplicaSetAvailable";
    public const string TimedOutReason = "ProgressDeadlineExceeded";
    public const string PausedDeployReason = "DeploymentPaused";
    public const string ResumedDeployReason = "DeploymentResumed";
    public const string MinimumReplicasAvailable = "MinimumReplicasAvailable";
    public const string MinimumReplicasUnavailable = "MinimumReplicasUnavailable";

    public const string RollbackRevisionNotFound = "DeploymentRollbackRevisionNotFound";
    public const string RollbackTemplateUnchanged = "DeploymentRollbackTemplateUnchanged";
    public const string RollbackDone = "DeploymentRollback";

    /// <summary>Longest revision-history annotation the controller writes (upstream's maxRevHistoryLengthInChars).</summary>
    public const int MaxRevisionHistoryLengthInChars = 2000;
}

/// <summary>A maxSurge/maxUnavailable value that is neither an integer nor a percentage.</summary>
public sealed class InvalidIntOrPercentException(string message) : FormatException(message);

/// <summary>The strategy type is neither RollingUpdate nor Recreate.</summary>
public sealed class UnsupportedDeploymentStrategyException(string? type) : InvalidOperationException($"deployment type {type} isn't supported");

/// <summary>
/// Upstream's pkg/controller/deployment/util: replica arithmetic, revisions and annotations, conditions, and
/// finding the new and old ReplicaSets. Everything here is pure; objects passed in are modified only where the
/// method says so (callers pass copies, never cache objects).
/// </summary>
public static class DeploymentUtil
{
    private static readonly HashSet<string> AnnotationsToSkip =
    [
        DeploymentNames.LastAppliedConfigAnnotation,
        DeploymentNames.RevisionAnnotation,
        DeploymentNames.RevisionHistoryAnnotation,
        DeploymentNames.DesiredReplicasAnnotation,
        DeploymentNames.MaxReplicasAnnotation,
        DeploymentNames.DeprecatedRollbackToAnnotation,
    ];

    public static int Replicas(this Kcm.Api.Apps.V1.Deployment d) => d.Spec?.Replicas ?? 0;

    public static int Replicas(this ReplicaSet rs) => rs.Spec?.Replicas ?? 0;

    public static bool IsRollingUpdate(Kcm.Api.Apps.V1.Deployment d) => d.Spec?.Strategy?.Type == DeploymentNames.RollingUpdateStrategy;

    public static bool HasProgressDeadline(Kcm.Api.Apps.V1.Deployment d)
        => d.Spec?.ProgressDeadlineSeconds is { } s && s != int.MaxValue;

    public static bool HasRevisionHistoryLimit(Kcm.Api.Apps.V1.Deployment d)
        => d.Spec?.RevisionHistoryLimit is { } l && l != int.MaxValue;

    // ---- maxSurge / maxUnavailable ----

    /// <summary>intstr.GetScaledValueFromIntOrPercent: an int as is, "N%" of <paramref name="total"/> rounded up or down.</summary>
    public static int ScaledValueFromIntOrPercent(IntOrString? value, int total, bool roundUp)
    {
        if (value is not { } v)
        {
            throw new InvalidIntOrPercentException("nil value for IntOrString");
        }
        if (v.IsInt)
        {
            return v.IntValue!.Value;
        }
        var s = v.StringValue!;
        if (!s.EndsWith('%'))
        {
            throw new InvalidIntOrPercentException("invalid value for IntOrString: invalid type: string is not a percentage");
        }
        if (!int.TryParse(s.AsSpan(0, s.Length - 1), NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var percent))
        {
            throw new InvalidIntOrPercentException($"invalid value for IntOrString: invalid value \"{s}\"");
        }
        var scaled = (double)percent * total / 100;
        return (int)(roundUp ? Math.Ceiling(scaled) : Math.Floor(scaled));
    }

    /// <summary>
    /// ResolveFenceposts: surge rounds up, unavailable rounds down (missing values count as 0); when both resolve to
    /// zero, unavailable becomes 1 so a rollout can still progress without surge (e.g. under quota).
    /// </summary>
    public static (int Surge, int Unavailable) ResolveFenceposts(IntOrString? maxSurge, IntOrString? maxUnavailable, int desired)
    {
        var surge = ScaledValueFromIntOrPercent(maxSurge ?? IntOrString.FromInt(0), desired, roundUp: true);
        var unavailable = ScaledValueFromIntOrPercent(maxUnavailable ?? IntOrString.FromInt(0), desired, roundUp: false);
        if (surge == 0 && unavailable == 0)
        {
            unavailable = 1;
        }
        return (surge, unavailable);
    }

    public static int MaxSurge(Kcm.Api.Apps.V1.Deployment d)
    {
        if (!IsRollingUpdate(d))
        {
            return 0;
        }
        var rolling = d.Spec!.Strategy!.RollingUpdate;
        return ResolveFenceposts(rolling?.MaxSurge, rolling?.MaxUnavailable, d.Replicas()).Surge;
    }

    public static int MaxUnavailable(Kcm.Api.Apps.V1.Deployment d)
    {
        if (!IsRollingUpdate(d) || d.Replicas() == 0)
        {
            return 0;
        }
        var rolling = d.Spec!.Strategy!.RollingUpdate;
        var unavailable = ResolveFenceposts(rolling?.MaxSurge, rolling?.MaxUnavailable, d.Replicas()).Unavailable;
        return Math.Min(unavailable, d.Replicas());
    }

    /// <summary>How many replicas the new ReplicaSet should have now (NewRSNewReplicas).</summary>
    public static int NewRSNewReplicas(Kcm.Api.Apps.V1.Deployment d, IEnumerable<ReplicaSet?> allRSs, ReplicaSet newRS)
    {
        switch (d.Spec?.Strategy?.Type)
        {
            case DeploymentNames.RollingUpdateStrategy:
                var maxSurge = ScaledValueFromIntOrPercent(d.Spec.Strategy.RollingUpdate?.MaxSurge, d.Replicas(), roundUp: true);
                var currentPodCount = ReplicaCount(allRSs);
                var maxTotalPods = d.Replicas() + maxSurge;
                if (currentPodCount >= maxTotalPods)
                {
                    return newRS.Replicas();
                }
                var scaleUpCount = Math.Min(maxTotalPods - currentPodCount, d.Replicas() - newRS.Replicas());
                return newRS.Replicas() + scaleUpCount;
            case DeploymentNames.RecreateStrategy:
                return d.Replicas();
            default:
                throw new UnsupportedDeploymentStrategyException(d.Spec?.Strategy?.Type);
        }
    }

    // ---- replica counts ----

    public static int ReplicaCount(IEnumerable<ReplicaSet?> rss) => rss.Sum(rs => rs?.Replicas() ?? 0);

    public static int ActualReplicaCount(IEnumerable<ReplicaSet?> rss) => rss.Sum(rs => rs?.Status?.Replicas ?? 0);

    public static int ReadyReplicaCount(IEnumerable<ReplicaSet?> rss) => rss.Sum(rs => rs?.Status?.ReadyReplicas ?? 0);

    public static int AvailableReplicaCount(IEnumerable<ReplicaSet?> rss) => rss.Sum(rs => rs?.Status?.AvailableReplicas ?? 0);

    public static List<ReplicaSet> FilterActive(IEnumerable<ReplicaSet?> rss)
        => rss.Where(rs => rs is not null && rs.Replicas() > 0).Select(rs => rs!).ToList();

    // ---- proportional scaling ----

    /// <summary>
    /// GetProportion: how many of the replicas still to add (or remove, when negative) this ReplicaSet takes, from its
    /// share of the max-replicas it was annotated with, never beyond what is left to distribute.
    /// </summary>
    public static int Proportion(ReplicaSet? rs, Kcm.Api.Apps.V1.Deployment d, int replicasToAdd, int replicasAdded, ILogger? logger = null)
    {
        if (rs is null || rs.Replicas() == 0 || replicasToAdd == 0 || replicasToAdd == replicasAdded)
        {
            return 0;
        }
        var fraction = ReplicaSetFraction(rs, d, logger);
        var allowed = replicasToAdd - replicasAdded;
        return replicasToAdd > 0 ? Math.Min(fraction, allowed) : Math.Max(fraction, allowed);
    }

    private static int ReplicaSetFraction(ReplicaSet rs, Kcm.Api.Apps.V1.Deployment d, ILogger? logger)
    {
        if (d.Replicas() == 0)
        {
            return -rs.Replicas();
        }
        var deploymentReplicas = d.Replicas() + MaxSurge(d);
        if (!TryIntAnnotation(rs, DeploymentNames.MaxReplicasAnnotation, logger, out var annotated))
        {
            // Without the annotation fall back to the deployment's current size; the min/max in Proportion keeps us in bounds.
            annotated = d.Status?.Replicas ?? 0;
        }
        if (annotated == 0)
        {
            return 0; // Upstream never scales up from zero; guard the division it cannot reach.
        }
        var newSize = (double)unchecked(rs.Replicas() * deploymentReplicas) / annotated;
        return RoundToInt32(newSize) - rs.Replicas();
    }

    /// <summary>k8s.io/utils/integer.RoundToInt32: halves round away from zero.</summary>
    public static int RoundToInt32(double value) => value < 0 ? (int)(value - 0.5) : (int)(value + 0.5);

    public static bool TryIntAnnotation(ReplicaSet rs, string key, ILogger? logger, out int value)
    {
        value = 0;
        if (rs.Metadata?.Annotations?.TryGetValue(key, out var text) != true)
        {
            return false;
        }
        if (!int.TryParse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out value))
        {
            logger?.LogDebug("Cannot convert the value \"{Value}\" with annotation key \"{Key}\" for the replica set \"{Name}\"", text, key, rs.Metadata?.Name);
            value = 0;
            return false;
        }
        return true;
    }

    /// <summary>IsSaturated: the new ReplicaSet has (and was annotated for) the full count and all of it is available.</summary>
    public static bool IsSaturated(Kcm.Api.Apps.V1.Deployment d, ReplicaSet? rs)
    {
        if (rs is null)
        {
            return false;
        }
        var desiredText = rs.Metadata?.Annotations?.GetValueOrDefault(DeploymentNames.DesiredReplicasAnnotation);
        if (!int.TryParse(desiredText, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var desired))
        {
            return false;
        }
        return rs.Replicas() == d.Replicas() && desired == d.Replicas() && (rs.Status?.AvailableReplicas ?? 0) == d.Replicas();
    }

    /// <summary>FindActiveOrLatest: the only active ReplicaSet, the newest when none is active, null when several are.</summary>
    public static ReplicaSet? FindActiveOrLatest(ReplicaSet? newRS, List<ReplicaSet> oldRSs)
    {
        if (newRS is null && oldRSs.Count == 0)
        {
            return null;
        }
        oldRSs.Sort(ReplicaSetOrder.ByCreationTimestamp);
        oldRSs.Reverse();
        var active = FilterActive(oldRSs.Append(newRS));
        return active.Count switch
        {
            0 => newRS ?? oldRSs[0],
            1 => active[0],
            _ => null,
        };
    }

    // ---- annotations ----

    public static bool SetReplicasAnnotations(ReplicaSet rs, int desired, int max)
    {
        var annotations = rs.Metadata!.Annotations ??= [];
        var updated = false;
        var desiredText = desired.ToString(CultureInfo.InvariantCulture);
        if (annotations.GetValueOrDefault(DeploymentNames.DesiredReplicasAnnotation) != desiredText)
        {
            annotations[DeploymentNames.DesiredReplicasAnnotation] = desiredText;
            updated = true;
        }
        var maxText = max.ToString(CultureInfo.InvariantCulture);
        if (annotations.GetValueOrDefault(DeploymentNames.MaxReplicasAnnotation) != maxText)
        {
            annotations[DeploymentNames.MaxReplicasAnnotation] = maxText;
            updated = true;
        }
        return updated;
    }

    public static bool ReplicasAnnotationsNeedUpdate(ReplicaSet rs, int desired, int max)
    {
        var annotations = rs.Metadata?.Annotations;
        if (annotations is null)
        {
            return true;
        }
        return annotations.GetValueOrDefault(DeploymentNames.DesiredReplicasAnnotation) != desired.ToString(CultureInfo.InvariantCulture)
            || annotations.GetValueOrDefault(DeploymentNames.MaxReplicasAnnotation) != max.ToString(CultureInfo.InvariantCulture);
    }

    /// <summary>
    /// SetNewReplicaSetAnnotations: copies the deployment's own annotations, raises the revision to
    /// <paramref name="newRevision"/> (keeping the old one in revision-history: a rollback to this ReplicaSet) and,
    /// for a ReplicaSet about to be created, sets the replica annotations. True when anything changed.
    /// </summary>
    public static bool SetNewReplicaSetAnnotations(Kcm.Api.Apps.V1.Deployment d, ReplicaSet newRS, string newRevision, bool exists, int revisionHistoryLimitInChars, ILogger? logger = null)
    {
        var changed = CopyDeploymentAnnotationsToReplicaSet(d, newRS);
        var annotations = newRS.Metadata!.Annotations ??= [];
        var hadRevision = annotations.TryGetValue(DeploymentNames.RevisionAnnotation, out var oldRevision);
        oldRevision ??= "";
        if (!long.TryParse(oldRevision, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var oldRevisionNumber))
        {
            if (oldRevision.Length != 0)
            {
                logger?.LogWarning("Updating replica set revision OldRevision not int strconv.ParseInt: parsing \"{Revision}\": invalid syntax", oldRevision);
                return false;
            }
            oldRevisionNumber = 0;
        }
        if (!long.TryParse(newRevision, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var newRevisionNumber))
        {
            logger?.LogWarning("Updating replica set revision NewRevision not int strconv.ParseInt: parsing \"{Revision}\": invalid syntax", newRevision);
            return false;
        }
        if (oldRevisionNumber < newRevisionNumber)
        {
            annotations[DeploymentNames.RevisionAnnotation] = newRevision;
            changed = true;
        }
        if (hadRevision && oldRevisionNumber < newRevisionNumber)
        {
            var history = annotations.GetValueOrDefault(DeploymentNames.RevisionHistoryAnnotation) ?? "";
            var oldRevisions = history.Split(',');
            if (oldRevisions[0].Length == 0)
            {
                annotations[DeploymentNames.RevisionHistoryAnnotation] = oldRevision;
            }
            else
            {
                var totalLength = history.Length + oldRevision.Length + 1;
                var start = 0;
                while (totalLength > revisionHistoryLimitInChars && start < oldRevisions.Length)
                {
                    totalLength -= oldRevisions[start].Length + 1;
                    start++;
                }
                if (totalLength <= revisionHistoryLimitInChars)
                {
                    annotations[DeploymentNames.RevisionHistoryAnnotation] = string.Join(",", oldRevisions[start..].Append(oldRevision));
                }
                else
                {
                    logger?.LogWarning("{Message}", $"Not appending revision due to length limit of {revisionHistoryLimitInChars} reached");
                }
            }
        }
        if (!exists && SetReplicasAnnotations(newRS, d.Replicas(), d.Replicas() + MaxSurge(d)))
        {
            changed = true;
        }
        return changed;
    }

    private static bool CopyDeploymentAnnotationsToReplicaSet(Kcm.Api.Apps.V1.Deployment d, ReplicaSet rs)
    {
        var annotations = rs.Metadata!.Annotations ??= [];
        var changed = false;
        foreach (var (key, value) in d.Metadata?.Annotations ?? [])
        {
            // The revision is the ReplicaSet's own (the deployment's copy may be stale); see annotationsToSkip.
            if (AnnotationsToSkip.Contains(key) || (annotations.TryGetValue(key, out var existing) && existing == value))
            {
                continue;
            }
            annotations[key] = value;
            changed = true;
        }
        return changed;
    }

    /// <summary>SetDeploymentAnnotationsTo: the deployment keeps only its controller-managed annotations plus the ReplicaSet's others.</summary>
    public static void SetDeploymentAnnotationsTo(Kcm.Api.Apps.V1.Deployment d, ReplicaSet rollbackTo)
    {
        var kept = (d.Metadata!.Annotations ?? []).Where(p => AnnotationsToSkip.Contains(p.Key)).ToDictionary(p => p.Key, p => p.Value);
        foreach (var (key, value) in rollbackTo.Metadata?.Annotations ?? [])
        {
            if (!AnnotationsToSkip.Contains(key))
            {
                kept[key] = value;
            }
        }
        d.Metadata.Annotations = kept;
    }

    public static bool SetDeploymentRevision(Kcm.Api.Apps.V1.Deployment d, string revision)
    {
        var annotations = d.Metadata!.Annotations ??= [];
        if (annotations.GetValueOrDefault(DeploymentNames.RevisionAnnotation) == revision)
        {
            return false;
        }
        annotations[DeploymentNames.RevisionAnnotation] = revision;
        return true;
    }

    /// <summary>The revision annotation: 0 when missing, false when it is not a number.</summary>
    public static bool TryRevision(IKubernetesObject? obj, out long revision)
    {
        revision = 0;
        if (obj?.Metadata?.Annotations?.TryGetValue(DeploymentNames.RevisionAnnotation, out var text) != true)
        {
            return true;
        }
        return long.TryParse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out revision);
    }

    public static long MaxRevision(IEnumerable<ReplicaSet?> rss, ILogger? logger = null)
    {
        long max = 0;
        foreach (var rs in rss)
        {
            if (rs is null)
            {
                continue;
            }
            if (!TryRevision(rs, out var v))
            {
                logger?.LogTrace("Couldn't parse revision for replica set {Namespace}/{Name}, deployment controller will skip it when reconciling revisions", rs.Metadata?.Namespace, rs.Metadata?.Name);
            }
            else if (v > max)
            {
                max = v;
            }
        }
        return max;
    }

    /// <summary>LastRevision: the second-highest revision (the one before the current).</summary>
    public static long LastRevision(IEnumerable<ReplicaSet?> rss)
    {
        long max = 0, second = 0;
        foreach (var rs in rss)
        {
            if (rs is null || !TryRevision(rs, out var v))
            {
                continue;
            }
            if (v >= max)
            {
                second = max;
                max = v;
            }
            else if (v > second)
            {
                second = v;
            }
        }
        return second;
    }

    // ---- new and old ReplicaSets ----

    /// <summary>FindNewReplicaSet: the oldest ReplicaSet whose template equals the deployment's, hash label ignored.</summary>
    public static ReplicaSet? FindNewReplicaSet(Kcm.Api.Apps.V1.Deployment d, IEnumerable<ReplicaSet> rsList)
    {
        var sorted = rsList.ToList();
        sorted.Sort(ReplicaSetOrder.ByCreationTimestamp);
        return sorted.FirstOrDefault(rs => PodTemplates.EqualIgnoreHash(rs.Spec?.Template, d.Spec?.Template));
    }

    /// <summary>FindOldReplicaSets: (old ones with replicas, all old ones).</summary>
    public static (List<ReplicaSet> Required, List<ReplicaSet> All) FindOldReplicaSets(Kcm.Api.Apps.V1.Deployment d, IReadOnlyList<ReplicaSet> rsList)
    {
        var newRS = FindNewReplicaSet(d, rsList);
        var required = new List<ReplicaSet>();
        var all = new List<ReplicaSet>();
        foreach (var rs in rsList)
        {
            if (newRS is not null && rs.Metadata?.Uid == newRS.Metadata?.Uid)
            {
                continue;
            }
            all.Add(rs);
            if (rs.Replicas() != 0)
            {
                required.Add(rs);
            }
        }
        return (required, all);
    }

    // ---- conditions and progress ----

    public static DeploymentCondition NewCondition(string type, string status, string reason, string message, DateTimeOffset now)
    {
        var at = TruncateToSeconds(now);
        return new DeploymentCondition { Type = type, Status = status, Reason = reason, Message = message, LastUpdateTime = at, LastTransitionTime = at };
    }

    /// <summary>metav1.Time has second precision on the wire; keep in-memory values the same so comparisons hold.</summary>
    public static DateTimeOffset TruncateToSeconds(DateTimeOffset t) => new(t.Ticks - (t.Ticks % TimeSpan.TicksPerSecond), t.Offset);

    public static DeploymentCondition? GetCondition(DeploymentStatus? status, string type)
        => status?.Conditions?.FirstOrDefault(c => c.Type == type);

    /// <summary>SetDeploymentCondition: same status and reason is a no-op; same status keeps the transition time.</summary>
    public static void SetCondition(DeploymentStatus status, DeploymentCondition condition)
    {
        var current = GetCondition(status, condition.Type!);
        if (current is not null && current.Status == condition.Status && current.Reason == condition.Reason)
        {
            return;
        }
        if (current is not null && current.Status == condition.Status)
        {
            condition.LastTransitionTime = current.LastTransitionTime;
        }
        var conditions = (status.Conditions ?? []).Where(c => c.Type != condition.Type).ToList();
        conditions.Add(condition);
        status.Conditions = conditions;
    }

    public static void RemoveCondition(DeploymentStatus status, string type)
    {
        if (status.Conditions is { } conditions)
        {
            status.Conditions = conditions.Where(c => c.Type != type).ToList();
        }
    }

    public static DeploymentCondition ReplicaSetToDeploymentCondition(ReplicaSetCondition c)
        => new()
        {
            Type = c.Type,
            Status = c.Status,
            LastTransitionTime = c.LastTransitionTime,
            LastUpdateTime = c.LastTransitionTime,
            Reason = c.Reason,
            Message = c.Message,
        };

    /// <summary>DeploymentComplete: every desired replica is updated and available, and the spec was observed.</summary>
    public static bool DeploymentComplete(Kcm.Api.Apps.V1.Deployment d, DeploymentStatus status)
        => (status.UpdatedReplicas ?? 0) == d.Replicas()
           && (status.Replicas ?? 0) == d.Replicas()
           && (status.AvailableReplicas ?? 0) == d.Replicas()
           && (status.ObservedGeneration ?? 0) >= (d.Metadata?.Generation ?? 0);

    /// <summary>DeploymentProgressing: more updated, fewer old, more ready or more available replicas than last recorded.</summary>
    public static bool DeploymentProgressing(Kcm.Api.Apps.V1.Deployment d, DeploymentStatus newStatus)
    {
        var old = d.Status ?? new DeploymentStatus();
        var oldStatusOldReplicas = (old.Replicas ?? 0) - (old.UpdatedReplicas ?? 0);
        var newStatusOldReplicas = (newStatus.Replicas ?? 0) - (newStatus.UpdatedReplicas ?? 0);
        return (newStatus.UpdatedReplicas ?? 0) > (old.UpdatedReplicas ?? 0)
               || newStatusOldReplicas < oldStatusOldReplicas
               || (newStatus.ReadyReplicas ?? 0) > (old.ReadyReplicas ?? 0)
               || (newStatus.AvailableReplicas ?? 0) > (old.AvailableReplicas ?? 0);
    }

    /// <summary>DeploymentTimedOut: no progress recorded within progressDeadlineSeconds of the Progressing condition's last update.</summary>
    public static bool DeploymentTimedOut(Kcm.Api.Apps.V1.Deployment d, DeploymentStatus newStatus, DateTimeOffset now)
    {
        if (!HasProgressDeadline(d))
        {
            return false;
        }
        var condition = GetCondition(newStatus, DeploymentNames.ConditionProgressing);
        if (condition is null || condition.Reason == DeploymentNames.NewRSAvailableReason)
        {
            return false;
        }
        if (condition.Reason == DeploymentNames.TimedOutReason)
        {
            return true;
        }
        var from = condition.LastUpdateTime ?? default;
        return from + TimeSpan.FromSeconds(d.Spec!.ProgressDeadlineSeconds!.Value) < now;
    }

    /// <summary>SetFromReplicaSetTemplate: the deployment takes the ReplicaSet's template, without the hash label.</summary>
    public static void SetFromReplicaSetTemplate(Kcm.Api.Apps.V1.Deployment d, PodTemplateSpec template)
    {
        var copy = KubeObjects.Clone(template);
        copy.Metadata ??= new Kcm.Api.Meta.V1.ObjectMeta();
        copy.Metadata.Labels?.Remove(DeploymentNames.DefaultUniqueLabelKey);
        d.Spec!.Template = copy;
    }
}

/// <summary>The orders upstream sorts ReplicaSets in (controller.ReplicaSetsBy*, util.ReplicaSetsByRevision).</summary>
public static class ReplicaSetOrder
{
    /// <summary>Oldest first; ties broken by name.</summary>
    public static int ByCreationTimestamp(ReplicaSet? a, ReplicaSet? b)
    {
        var ta = a?.Metadata?.CreationTimestamp ?? default;
        var tb = b?.Metadata?.CreationTimestamp ?? default;
        if (ta == tb)
        {
            return string.CompareOrdinal(a?.Metadata?.Name, b?.Metadata?.Name);
        }
        return ta.CompareTo(tb);
    }

    /// <summary>Larger first; among equals the older first (scale-down order).</summary>
    public static int BySizeOlder(ReplicaSet a, ReplicaSet b)
        => a.Replicas() == b.Replicas() ? ByCreationTimestamp(a, b) : b.Replicas().CompareTo(a.Replicas());

    /// <summary>Larger first; among equals the newer first (scale-up order).</summary>
    public static int BySizeNewer(ReplicaSet a, ReplicaSet b)
        => a.Replicas() == b.Replicas() ? ByCreationTimestamp(b, a) : b.Replicas().CompareTo(a.Replicas());

    /// <summary>Lowest revision first; unparseable or equal revisions fall back to creation time.</summary>
    public static int ByRevision(ReplicaSet a, ReplicaSet b)
    {
        if (!DeploymentUtil.TryRevision(a, out var ra) || !DeploymentUtil.TryRevision(b, out var rb) || ra == rb)
        {
            return ByCreationTimestamp(a, b);
        }
        return ra.CompareTo(rb);
    }
}

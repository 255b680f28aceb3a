using System.Globalization;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Kcm.Api;
using Kcm.Api.Apps.V1;
using Kcm.Api.Core.V1;
using Kcm.Api.Meta.V1;
using Kcm.Controllers.Common;

namespace Kcm.Controllers.StatefulSets;

/// <summary>Label keys and policy values of apps/v1 StatefulSets.</summary>
public static class StatefulSetNames
{
    /// <summary>apps.StatefulSetRevisionLabel: the name of the ControllerRevision a pod was made from.</summary>
    public const string RevisionLabel = "controller-revision-hash";

    /// <summary>apps.StatefulSetPodNameLabel: lets a Service select one member.</summary>
    public const string PodNameLabel = "statefulset.kubernetes.io/pod-name";

    public const string OrderedReady = "OrderedReady";
    public const string Parallel = "Parallel";
    public const string RollingUpdate = "RollingUpdate";
    public const string OnDelete = "OnDelete";
    public const string Retain = "Retain";
    public const string Delete = "Delete";
}

/// <summary>The v1.26 feature gates the controller reads (all alpha there, so off unless --feature-gates enables them).</summary>
public sealed record StatefulSetFeatures(bool AutoDeletePvc = false, bool MaxUnavailable = false, bool StartOrdinal = false);

/// <summary>Upstream's stateful_set_utils.go: member identity, storage, revisions and the claim retention rules.</summary>
public static partial class StatefulSetUtil
{
    [GeneratedRegex("^(.*)-([0-9]+)$", RegexOptions.Singleline)]
    private static partial Regex StatefulPodName();

    /// <summary>getParentNameAndOrdinal: "web-2" is member 2 of "web"; anything else has no parent and ordinal -1.</summary>
    public static (string Parent, int Ordinal) ParentAndOrdinal(string? podName)
    {
        var match = StatefulPodName().Match(podName ?? "");
        if (!match.Success)
        {
            return ("", -1);
        }
        // Go parses the digits as a 32-bit number: a larger ordinal keeps its parent but is no ordinal.
        var ordinal = int.TryParse(match.Groups[2].Value, NumberStyles.None, CultureInfo.InvariantCulture, out var o) ? o : -1;
        return (match.Groups[1].Value, ordinal);
    }

    public static int Ordinal(Pod pod) => ParentAndOrdinal(pod.Metadata?.Name).Ordinal;

    /// <summary>getStartOrdinal: spec.ordinals.start, honoured only behind the StatefulSetStartOrdinal gate.</summary>
    public static int StartOrdinal(StatefulSet set, StatefulSetFeatures features)
        => features.StartOrdinal ? set.Spec?.Ordinals?.Start ?? 0 : 0;

    public static int Replicas(StatefulSet set) => set.Spec?.Replicas ?? 1;

    public static int EndOrdinal(StatefulSet set, StatefulSetFeatures features) => StartOrdinal(set, features) + Replicas(set) - 1;

    public static bool InOrdinalRange(Pod pod, StatefulSet set, StatefulSetFeatures features)
    {
        var ordinal = Ordinal(pod);
        return ordinal >= StartOrdinal(set, features) && ordinal <= EndOrdinal(set, features);
    }

    public static string PodName(StatefulSet set, int ordinal) => $"{set.Metadata?.Name}-{ordinal.ToString(CultureInfo.InvariantCulture)}";

    /// <summary>getPersistentVolumeClaimName: &lt;template&gt;-&lt;set&gt;-&lt;ordinal&gt;.</summary>
    public static string ClaimName(StatefulSet set, PersistentVolumeClaim template, int ordinal)
        => $"{template.Metadata?.Name}-{set.Metadata?.Name}-{ordinal.ToString(CultureInfo.InvariantCulture)}";

    public static bool IsMemberOf(StatefulSet set, Pod pod) => ParentAndOrdinal(pod.Metadata?.Name).Parent == set.Metadata?.Name;

    /// <summary>identityMatches: name, namespace and the pod-name label fit the member's ordinal.</summary>
    public static bool IdentityMatches(StatefulSet set, Pod pod)
    {
        var (parent, ordinal) = ParentAndOrdinal(pod.Metadata?.Name);
        return ordinal >= 0
               && set.Metadata?.Name == parent
               && pod.Metadata?.Name == PodName(set, ordinal)
               && (pod.Metadata?.Namespace ?? "") == (set.Metadata?.Namespace ?? "")
               && pod.Metadata?.Labels?.GetValueOrDefault(StatefulSetNames.PodNameLabel) == pod.Metadata?.Name;
    }

    /// <summary>storageMatches: every claim template is mounted as a volume of its name, from the member's claim.</summary>
    public static bool StorageMatches(StatefulSet set, Pod pod)
    {
        var ordinal = Ordinal(pod);
        if (ordinal < 0)
        {
            return false;
        }
        var volumes = new Dictionary<string, Volume>(StringComparer.Ordinal);
        foreach (var volume in pod.Spec?.Volumes ?? [])
        {
            volumes[volume.Name ?? ""] = volume;
        }
        foreach (var template in set.Spec?.VolumeClaimTemplates ?? [])
        {
            if (!volumes.TryGetValue(template.Metadata?.Name ?? "", out var volume)
                || volume.PersistentVolumeClaim is null
                || volume.PersistentVolumeClaim.ClaimName != ClaimName(set, template, ordinal))
            {
                return false;
            }
        }
        return true;
    }

    /// <summary>getPersistentVolumeClaims: the member's claims by template name, labelled with the selector's matchLabels.</summary>
    public static List<(string TemplateName, PersistentVolumeClaim Claim)> Claims(StatefulSet set, Pod pod)
    {
        var ordinal = Ordinal(pod);
        var claims = new List<(string, PersistentVolumeClaim)>();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var template in set.Spec?.VolumeClaimTemplates ?? [])
        {
            var templateName = template.Metadata?.Name ?? "";
            var claim = KubeObjects.Clone(template);
            claim.Metadata ??= new ObjectMeta();
            claim.Metadata.Name = ClaimName(set, template, ordinal);
            claim.Metadata.Namespace = set.Metadata?.Namespace;
            var labels = claim.Metadata.Labels ?? new Dictionary<string, string>();
            foreach (var (key, value) in set.Spec?.Selector?.MatchLabels ?? new Dictionary<string, string>())
            {
                labels[key] = value;
            }
            claim.Metadata.Labels = labels.Count > 0 ? labels : null;
            // Upstream keys them by template name: a repeated name keeps the last template.
            if (!seen.Add(templateName))
            {
                claims.RemoveAll(c => c.Item1 == templateName);
            }
            claims.Add((templateName, claim));
        }
        return claims;
    }

    /// <summary>updateStorage: the claim volumes first (replacing local volumes of the same name), then the pod's other volumes.</summary>
    public static void UpdateStorage(StatefulSet set, Pod pod)
    {
        var claims = Claims(set, pod);
        var names = claims.Select(c => c.TemplateName).ToHashSet(StringComparer.Ordinal);
        var volumes = claims.Select(c => new Volume
        {
            Name = c.TemplateName,
            PersistentVolumeClaim = new PersistentVolumeClaimVolumeSource { ClaimName = c.Claim.Metadata!.Name },
        }).ToList();
        volumes.AddRange((pod.Spec?.Volumes ?? []).Where(v => !names.Contains(v.Name ?? "")));
        pod.Spec ??= new PodSpec();
        pod.Spec.Volumes = volumes.Count > 0 ? volumes : null;
    }

    /// <summary>updateIdentity: name, namespace and pod-name label of the member.</summary>
    public static void UpdateIdentity(StatefulSet set, Pod pod)
    {
        pod.Metadata ??= new ObjectMeta();
        pod.Metadata.Name = PodName(set, Ordinal(pod));
        pod.Metadata.Namespace = set.Metadata?.Namespace;
        pod.Metadata.Labels ??= new Dictionary<string, string>();
        pod.Metadata.Labels[StatefulSetNames.PodNameLabel] = pod.Metadata.Name;
    }

    public static bool IsRunningAndReady(Pod pod) => pod.Status?.Phase == PodReadiness.PhaseRunning && PodReadiness.IsPodReady(pod);

    public static bool IsRunningAndAvailable(Pod pod, int minReadySeconds, DateTimeOffset now) => PodReadiness.IsPodAvailable(pod, minReadySeconds, now);

    /// <summary>isCreated: the apiserver gave it a phase (a pod only built in memory has none).</summary>
    public static bool IsCreated(Pod pod) => !string.IsNullOrEmpty(pod.Status?.Phase);

    public static bool IsFailed(Pod pod) => pod.Status?.Phase == PodReadiness.PhaseFailed;

    public static bool IsTerminating(Pod pod) => pod.Metadata?.DeletionTimestamp is not null;

    public static bool IsHealthy(Pod pod) => IsRunningAndReady(pod) && !IsTerminating(pod);

    /// <summary>allowsBurst: Parallel pod management.</summary>
    public static bool AllowsBurst(StatefulSet set) => set.Spec?.PodManagementPolicy == StatefulSetNames.Parallel;

    public static string PodRevision(Pod pod) => pod.Metadata?.Labels?.GetValueOrDefault(StatefulSetNames.RevisionLabel) ?? "";

    /// <summary>newStatefulSetPod: the template's pod (generateName "&lt;set&gt;-", as upstream leaves it) with the member's identity and storage.</summary>
    public static Pod NewPod(StatefulSet set, int ordinal)
    {
        var controllerRef = ControllerRefs.NewControllerRef(set.Metadata!, StatefulSet.Resource);
        var pod = PodControl.PodFromTemplate(set.Spec?.Template ?? new PodTemplateSpec(), set.Metadata?.Name ?? "", controllerRef);
        pod.Metadata!.Name = PodName(set, ordinal);
        UpdateIdentity(set, pod);
        pod.Spec ??= new PodSpec();
        // Set only at creation: both are immutable afterwards.
        pod.Spec.Hostname = pod.Metadata.Name;
        pod.Spec.Subdomain = set.Spec?.ServiceName;
        UpdateStorage(set, pod);
        return pod;
    }

    /// <summary>
    /// newVersionedStatefulSetPod: members below the partition (or, without a rollingUpdate block, below the current
    /// replica count) are made at the current revision, the rest at the update revision. The condition is Go's as
    /// written: <c>a &amp;&amp; (b) || (c)</c>, so a partition applies whatever the strategy type.
    /// </summary>
    public static Pod NewVersionedPod(StatefulSet currentSet, StatefulSet updateSet, string currentRevision, string updateRevision, int ordinal, StatefulSetFeatures features)
    {
        var strategy = currentSet.Spec?.UpdateStrategy;
        var start = StartOrdinal(currentSet, features);
        var atCurrent =
            (strategy?.Type == StatefulSetNames.RollingUpdate && strategy.RollingUpdate is null && ordinal < start + (currentSet.Status?.CurrentReplicas ?? 0))
            || (strategy?.RollingUpdate is { } rolling && ordinal < start + (rolling.Partition ?? 0));
        var pod = NewPod(atCurrent ? currentSet : updateSet, ordinal);
        pod.Metadata!.Labels![StatefulSetNames.RevisionLabel] = atCurrent ? currentRevision : updateRevision;
        return pod;
    }

    /// <summary>newRevision: the template patch, the template's labels, the set's annotations (change-cause for kubectl rollout history).</summary>
    public static ControllerRevision NewRevision(StatefulSet set, long revision, int collisionCount)
    {
        var cr = ControllerHistory.NewControllerRevision(set.Metadata!, StatefulSet.Resource, set.Spec?.Template?.Metadata?.Labels,
            ControllerHistory.TemplatePatch(set.Spec?.Template), revision, collisionCount);
        if (set.Metadata?.Annotations is { Count: > 0 } annotations)
        {
            cr.Metadata!.Annotations = new Dictionary<string, string>(annotations);
        }
        return cr;
    }

    /// <summary>
    /// ApplyRevision: the set with the revision's template. The revision is a strategic merge patch whose template
    /// carries <c>$patch: replace</c>, so applying it means taking its template as it is.
    /// </summary>
    public static StatefulSet ApplyRevision(StatefulSet set, ControllerRevision revision)
    {
        var clone = KubeObjects.Clone(set);
        if (revision.Data?["spec"]?["template"] is not JsonObject template)
        {
            throw new InvalidRevisionException($"ControllerRevision {revision.Metadata?.Namespace}/{revision.Metadata?.Name} has no spec.template");
        }
        var copy = (JsonObject)template.DeepClone();
        copy.Remove("$patch");
        clone.Spec ??= new StatefulSetSpec();
        clone.Spec.Template = KubeJson.FromNode<PodTemplateSpec>(copy);
        return clone;
    }

    /// <summary>nextRevision: one more than the highest (revisions sorted ascending), 1 for none.</summary>
    public static long NextRevision(IReadOnlyList<ControllerRevision> sorted) => sorted.Count == 0 ? 1 : (sorted[^1].Revision ?? 0) + 1;

    /// <summary>inconsistentStatus: whether the computed status differs from the recorded one in a field upstream compares.</summary>
    public static bool InconsistentStatus(StatefulSet set, StatefulSetStatus status)
    {
        var current = set.Status ?? new StatefulSetStatus();
        return (status.ObservedGeneration ?? 0) > (current.ObservedGeneration ?? 0)
               || (status.Replicas ?? 0) != (current.Replicas ?? 0)
               || (status.CurrentReplicas ?? 0) != (current.CurrentReplicas ?? 0)
               || (status.ReadyReplicas ?? 0) != (current.ReadyReplicas ?? 0)
               || (status.UpdatedReplicas ?? 0) != (current.UpdatedReplicas ?? 0)
               || (status.CurrentRevision ?? "") != (current.CurrentRevision ?? "")
               || (status.AvailableReplicas ?? 0) != (current.AvailableReplicas ?? 0)
               || (status.UpdateRevision ?? "") != (current.UpdateRevision ?? "");
    }

    /// <summary>completeRollingUpdate: once every replica is updated and ready, the update revision becomes the current one.</summary>
    public static void CompleteRollingUpdate(StatefulSet set, StatefulSetStatus status)
    {
        if (set.Spec?.UpdateStrategy?.Type == StatefulSetNames.RollingUpdate
            && status.UpdatedReplicas == status.Replicas
            && status.ReadyReplicas == status.Replicas)
        {
            status.CurrentReplicas = status.UpdatedReplicas;
            status.CurrentRevision = status.UpdateRevision;
        }
    }

    /// <summary>getStatefulSetMaxUnavailable: maxUnavailable (default 1) of the replicas, rounded down, at least 1.</summary>
    public static int MaxUnavailable(IntOrString? maxUnavailable, int replicas)
        => Math.Max(1, IntOrString.GetScaledValueFromIntOrPercent(maxUnavailable ?? IntOrString.FromInt(1), replicas, roundUp: false));
}

/// <summary>A ControllerRevision whose data cannot be applied to its StatefulSet.</summary>
public sealed class InvalidRevisionException(string message) : InvalidOperationException(message);

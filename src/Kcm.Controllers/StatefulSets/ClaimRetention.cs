using Kcm.Api.Apps.V1;
using Kcm.Api.Core.V1;
using Kcm.Api.Meta.V1;

namespace Kcm.Controllers.StatefulSets;

/// <summary>
/// persistentVolumeClaimRetentionPolicy as owner references on the claims (upstream's claimOwnerMatchesSetAndPod and
/// updateClaimOwnerRefForSetAndPod, behind the StatefulSetAutoDeletePVC gate): the garbage collector deletes a claim
/// with the set (whenDeleted: Delete, a reference to the set) or with its scaled-down pod (whenScaled: Delete, a
/// reference to the pod). The references are plain owner references, not controller references.
/// </summary>
public static class ClaimRetention
{
    /// <summary>getPersistentVolumeClaimRetentionPolicy: Retain/Retain unless the set says otherwise.</summary>
    public static (string WhenDeleted, string WhenScaled) Policy(StatefulSet set)
    {
        var policy = set.Spec?.PersistentVolumeClaimRetentionPolicy;
        return policy is null
            ? (StatefulSetNames.Retain, StatefulSetNames.Retain)
            : (policy.WhenDeleted ?? "", policy.WhenScaled ?? "");
    }

    /// <summary>claimOwnerMatchesSetAndPod: the claim's owner references already say what the policy wants.</summary>
    public static bool OwnerMatches(PersistentVolumeClaim claim, StatefulSet set, Pod pod, StatefulSetFeatures features)
    {
        var (wantSet, wantPod) = Wanted(set, pod, features);
        return HasOwnerRef(claim, set.Metadata?.Uid) == wantSet && HasOwnerRef(claim, pod.Metadata?.Uid) == wantPod;
    }

    /// <summary>updateClaimOwnerRefForSetAndPod: adds or removes the set and pod references; true when the claim changed.</summary>
    public static bool UpdateOwnerRefs(PersistentVolumeClaim claim, StatefulSet set, Pod pod, StatefulSetFeatures features)
    {
        var (wantSet, wantPod) = Wanted(set, pod, features);
        var changed = false;
        changed |= wantSet ? SetOwnerRef(claim, set.Metadata, "apps/v1", "StatefulSet") : RemoveOwnerRef(claim, set.Metadata?.Uid);
        changed |= wantPod ? SetOwnerRef(claim, pod.Metadata, "v1", "Pod") : RemoveOwnerRef(claim, pod.Metadata?.Uid);
        return changed;
    }

    /// <summary>hasStaleOwnerRef: a reference with the pod's name but another uid (a pod of an earlier life, or none yet).</summary>
    public static bool HasStaleOwnerRef(PersistentVolumeClaim claim, Pod pod)
        => (claim.Metadata?.OwnerReferences ?? []).Any(r => r.Name == pod.Metadata?.Name && r.Uid != (pod.Metadata?.Uid ?? ""));

    // Which references the policy wants: (to the set, to the pod). An unknown policy is treated as Retain/Retain.
    private static (bool Set, bool Pod) Wanted(StatefulSet set, Pod pod, StatefulSetFeatures features)
    {
        var (whenDeleted, whenScaled) = Policy(set);
        var scaledDown = !StatefulSetUtil.InOrdinalRange(pod, set, features);
        return (whenScaled, whenDeleted) switch
        {
            (StatefulSetNames.Retain, StatefulSetNames.Delete) => (true, false),
            (StatefulSetNames.Delete, StatefulSetNames.Retain) => (false, scaledDown),
            (StatefulSetNames.Delete, StatefulSetNames.Delete) => (!scaledDown, scaledDown),
            _ => (false, false),
        };
    }

    private static bool HasOwnerRef(PersistentVolumeClaim claim, string? uid)
        => (claim.Metadata?.OwnerReferences ?? []).Any(r => r.Uid == (uid ?? ""));

    private static bool SetOwnerRef(PersistentVolumeClaim claim, ObjectMeta? owner, string apiVersion, string kind)
    {
        if (HasOwnerRef(claim, owner?.Uid))
        {
            return false;
        }
        claim.Metadata ??= new ObjectMeta();
        claim.Metadata.OwnerReferences = [.. claim.Metadata.OwnerReferences ?? [], new OwnerReference { ApiVersion = apiVersion, Kind = kind, Name = owner?.Name, Uid = owner?.Uid }];
        return true;
    }

    private static bool RemoveOwnerRef(PersistentVolumeClaim claim, string? uid)
    {
        if (!HasOwnerRef(claim, uid))
        {
            return false;
        }
        var remaining = claim.Metadata!.OwnerReferences!.Where(r => r.Uid != (uid ?? "")).ToList();
        claim.Metadata.OwnerReferences = remaining.Count > 0 ? remaining : null;
        return true;
    }
}

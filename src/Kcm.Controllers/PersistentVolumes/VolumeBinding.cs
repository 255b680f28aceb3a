using Kcm.Api;
using Kcm.Api.Core.V1;
using Kcm.Api.Selectors;
using Kcm.Controllers.Common;
using Kcm.Runtime.Informers;

namespace Kcm.Controllers.PersistentVolumes;

/// <summary>The annotations and phases the binder reads and writes (component-helpers/storage/volume).</summary>
public static class VolumeAnnotations
{
    public const string BindCompleted = "pv.kubernetes.io/bind-completed";
    public const string BoundByController = "pv.kubernetes.io/bound-by-controller";
    public const string SelectedNode = "volume.kubernetes.io/selected-node";
    public const string DynamicallyProvisioned = "pv.kubernetes.io/provisioned-by";
    public const string MigratedTo = "pv.kubernetes.io/migrated-to";
    public const string StorageProvisioner = "volume.kubernetes.io/storage-provisioner";
    public const string BetaStorageProvisioner = "volume.beta.kubernetes.io/storage-provisioner";
    public const string BetaStorageClass = "volume.beta.kubernetes.io/storage-class";
    public const string PreResizeCapacity = "volume.alpha.kubernetes.io/pre-resize-capacity";
    public const string IsDefaultClass = "storageclass.kubernetes.io/is-default-class";
    public const string BetaIsDefaultClass = "storageclass.beta.kubernetes.io/is-default-class";

    public static bool Has(Kcm.Api.Meta.V1.ObjectMeta? metadata, string annotation) => metadata?.Annotations?.ContainsKey(annotation) == true;

    public static void Set(Kcm.Api.Meta.V1.ObjectMeta metadata, string annotation, string value) => (metadata.Annotations ??= [])[annotation] = value;
}

public static class VolumePhases
{
    public const string Pending = "Pending";
    public const string Available = "Available";
    public const string Bound = "Bound";
    public const string Released = "Released";
    public const string Failed = "Failed";
    public const string Lost = "Lost";
}

/// <summary>Upstream's storage helpers: how a claim and a volume are compared and tied together.</summary>
public static class VolumeBinding
{
    public static string ClaimKey(PersistentVolumeClaim claim) => $"{claim.Metadata?.Namespace}/{claim.Metadata?.Name}";

    public static string ClaimKey(ObjectReference claimRef) => $"{claimRef.Namespace}/{claimRef.Name}";

    public static ObjectKey ClaimObjectKey(ObjectReference claimRef) => new(claimRef.Namespace, claimRef.Name ?? "");

    /// <summary>The beta annotation wins over spec.storageClassName; "" when no class was asked for.</summary>
    public static string ClaimClass(PersistentVolumeClaim claim)
        => claim.Metadata?.Annotations?.TryGetValue(VolumeAnnotations.BetaStorageClass, out var beta) == true ? beta : claim.Spec?.StorageClassName ?? "";

    public static string VolumeClass(PersistentVolume volume)
        => volume.Metadata?.Annotations?.TryGetValue(VolumeAnnotations.BetaStorageClass, out var beta) == true ? beta : volume.Spec?.StorageClassName ?? "";

    public static Quantity? RequestedStorage(PersistentVolumeClaim claim)
        => claim.Spec?.Resources?.Requests?.GetValueOrDefault("storage");

    public static Quantity? VolumeStorage(PersistentVolume volume) => volume.Spec?.Capacity?.GetValueOrDefault("storage");

    /// <summary>Missing quantities count as zero, as Go's zero resource.Quantity.</summary>
    public static int CompareStorage(Quantity? a, Quantity? b) => (a ?? Quantity.Parse("0")).CompareTo(b ?? Quantity.Parse("0"));

    /// <summary>A missing volumeMode is Filesystem on both sides (HA upgrades may run an older apiserver).</summary>
    public static bool VolumeModeMismatches(PersistentVolumeClaim claim, PersistentVolume volume)
        => (claim.Spec?.VolumeMode ?? "Filesystem") != (volume.Spec?.VolumeMode ?? "Filesystem");

    public static bool ClaimModeIsBlock(PersistentVolumeClaim claim) => claim.Spec?.VolumeMode == "Block";

    /// <summary>The volume offers every access mode the claim asks for.</summary>
    public static bool AccessModesFit(PersistentVolumeClaim claim, PersistentVolume volume)
    {
        var offered = volume.Spec?.AccessModes ?? [];
        return (claim.Spec?.AccessModes ?? []).All(offered.Contains);
    }

    /// <summary>Pre-bound or bound to this claim: same name and namespace, and the same UID when the volume names one.</summary>
    public static bool IsVolumeBoundToClaim(PersistentVolume volume, PersistentVolumeClaim claim)
    {
        var claimRef = volume.Spec?.ClaimRef;
        if (claimRef is null || claimRef.Name != claim.Metadata?.Name || claimRef.Namespace != claim.Metadata?.Namespace)
        {
            return false;
        }
        return string.IsNullOrEmpty(claimRef.Uid) || claimRef.Uid == claim.Metadata?.Uid;
    }

    /// <summary>Null when the volume a claim names fits it; otherwise upstream's checkVolumeSatisfyClaim message.</summary>
    public static string? VolumeDoesNotSatisfyClaim(PersistentVolume volume, PersistentVolumeClaim claim)
    {
        if (volume.Metadata?.DeletionTimestamp is not null)
        {
            return $"the volume is marked for deletion \"{volume.Metadata.Name}\"";
        }
        if (CompareStorage(VolumeStorage(volume), RequestedStorage(claim)) < 0)
        {
            return "requested PV is too small";
        }
        if (VolumeClass(volume) != ClaimClass(claim))
        {
            return "storageClassName does not match";
        }
        if (VolumeModeMismatches(claim, volume))
        {
            return "incompatible volumeMode";
        }
        return AccessModesFit(claim, volume) ? null : "incompatible accessMode";
    }

    /// <summary>
    /// A copy of the volume bound to the claim (claimRef to it, bound-by-controller when the controller made the
    /// binding), and whether anything changed (GetBindVolumeToClaim).
    /// </summary>
    public static (PersistentVolume Volume, bool Dirty) BindVolumeToClaim(PersistentVolume volume, PersistentVolumeClaim claim)
    {
        var setBoundByController = !IsVolumeBoundToClaim(volume, claim);
        var clone = KubeObjects.Clone(volume);
        var dirty = false;
        var claimRef = volume.Spec?.ClaimRef;
        if (claimRef is null || claimRef.Name != claim.Metadata?.Name || claimRef.Namespace != claim.Metadata?.Namespace || claimRef.Uid != claim.Metadata?.Uid)
        {
            (clone.Spec ??= new()).ClaimRef = ReferenceTo(claim);
            dirty = true;
        }
        if (setBoundByController && !VolumeAnnotations.Has(clone.Metadata, VolumeAnnotations.BoundByController))
        {
            VolumeAnnotations.Set(clone.Metadata ??= new(), VolumeAnnotations.BoundByController, "yes");
            dirty = true;
        }
        return (clone, dirty);
    }

    /// <summary>The claimRef upstream writes (reference.GetReference): kind, apiVersion, namespace, name, uid and resourceVersion.</summary>
    public static ObjectReference ReferenceTo(PersistentVolumeClaim claim) => new()
    {
        Kind = "PersistentVolumeClaim",
        ApiVersion = "v1",
        Namespace = claim.Metadata?.Namespace,
        Name = claim.Metadata?.Name,
        Uid = claim.Metadata?.Uid,
        ResourceVersion = claim.Metadata?.ResourceVersion,
    };

    /// <summary>
    /// FindMatchingVolume on the controller's path (no node): a volume pre-bound to the claim wins at once; otherwise
    /// the smallest Available volume of the claim's class, size, volume mode and label selector. With delayed binding
    /// unbound volumes are left to the scheduler. Throws <see cref="SelectorParseException"/> for a bad selector.
    /// </summary>
    public static PersistentVolume? FindMatchingVolume(PersistentVolumeClaim claim, IEnumerable<PersistentVolume> volumes, bool delayBinding)
    {
        PersistentVolume? smallest = null;
        var requested = RequestedStorage(claim);
        var requestedClass = ClaimClass(claim);
        LabelSelector? selector;
        try
        {
            selector = LabelSelector.FromApi(claim.Spec?.Selector);
        }
        catch (SelectorParseException e)
        {
            throw new SelectorParseException($"error creating internal label selector for claim: {ClaimKey(claim)}: {e.Message}");
        }
        foreach (var volume in volumes)
        {
            if (volume.Spec?.ClaimRef is not null && !IsVolumeBoundToClaim(volume, claim))
            {
                continue;
            }
            var size = VolumeStorage(volume);
            if (CompareStorage(size, requested) < 0 || VolumeModeMismatches(claim, volume) || volume.Metadata?.DeletionTimestamp is not null)
            {
                continue;
            }
            if (IsVolumeBoundToClaim(volume, claim))
            {
                return volume;
            }
            if (delayBinding)
            {
                continue;
            }
            // Volumes not yet Available are skipped: they will be, and binding them now would mostly conflict.
            if (volume.Status?.Phase != VolumePhases.Available
                || (selector is not null && !selector.Matches(volume.Metadata?.Labels))
                || VolumeClass(volume) != requestedClass)
            {
                continue;
            }
            if (smallest is null || CompareStorage(VolumeStorage(smallest), size) > 0)
            {
                smallest = volume;
            }
        }
        return smallest;
    }

    /// <summary>volumeutil.IsPodTerminated.</summary>
    public static bool IsPodTerminated(Pod pod) => PvcProtection.PvcProtectionController.IsTerminated(pod);
}

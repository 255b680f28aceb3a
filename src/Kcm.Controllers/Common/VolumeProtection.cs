using Kcm.Api.Core.V1;
using Kcm.Api.Meta.V1;
using Kcm.Runtime.Informers;

namespace Kcm.Controllers.Common;

/// <summary>The protection finalizers (upstream's protectionutil) shared by the pv- and pvc-protection controllers.</summary>
public static class VolumeProtection
{
    public const string PvcFinalizer = "kubernetes.io/pvc-protection";
    public const string PvFinalizer = "kubernetes.io/pv-protection";

    /// <summary>Being deleted and still held by <paramref name="finalizer"/>.</summary>
    public static bool IsDeletionCandidate(ObjectMeta? metadata, string finalizer)
        => metadata?.DeletionTimestamp is not null && metadata.Finalizers?.Contains(finalizer) == true;

    /// <summary>Not being deleted and lacking <paramref name="finalizer"/>.</summary>
    public static bool NeedToAddFinalizer(ObjectMeta? metadata, string finalizer)
        => metadata?.DeletionTimestamp is null && metadata?.Finalizers?.Contains(finalizer) != true;
}

/// <summary>
/// Upstream's pod-pvc-index: pods by the "namespace/claim" keys of the claims they name, including the
/// "&lt;pod&gt;-&lt;volume&gt;" claims of generic ephemeral volumes. Shared by pvc-protection and ephemeral-volume.
/// </summary>
public static class PodPvcIndex
{
    public const string Name = "pod-pvc-index";

    public static IEnumerable<string> ClaimKeysOf(Pod pod)
    {
        foreach (var volume in pod.Spec?.Volumes ?? [])
        {
            var claim = volume.PersistentVolumeClaim is { } source ? source.ClaimName
                : volume.Ephemeral is not null ? EphemeralClaimName(pod, volume) : null;
            if (!string.IsNullOrEmpty(claim))
            {
                yield return pod.Metadata?.Namespace + "/" + claim;
            }
        }
    }

    /// <summary>The claim a generic ephemeral volume gets: "&lt;pod&gt;-&lt;volume&gt;".</summary>
    public static string EphemeralClaimName(Pod pod, Volume volume) => pod.Metadata?.Name + "-" + volume.Name;

    /// <summary>Null when the claim is controlled by the pod; otherwise upstream's ephemeral.VolumeIsForPod error text.</summary>
    public static string? EphemeralClaimNotForPod(Pod pod, PersistentVolumeClaim claim)
    {
        var owner = ControllerRefs.ControllerOf(claim.Metadata);
        if (claim.Metadata?.Namespace == pod.Metadata?.Namespace && owner is not null && owner.Uid == pod.Metadata?.Uid)
        {
            return null;
        }
        return $"PVC {claim.Metadata?.Namespace}/{claim.Metadata?.Name} was not created for pod {pod.Metadata?.Namespace}/{pod.Metadata?.Name} (pod is not owner)";
    }

    public static void AddTo(SharedIndexInformer<Pod> pods)
    {
        if (pods.Cache is ThreadSafeStore<Pod> store && store.HasIndexer(Name))
        {
            return;
        }
        pods.AddIndexer(Name, ClaimKeysOf);
    }
}

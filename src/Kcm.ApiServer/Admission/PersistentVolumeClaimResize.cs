using System.Text.Json.Nodes;
using Kcm.Api;
using Kcm.ApiServer.Storage;
using static Kcm.ApiServer.Admission.Defaulting.JsonDefaults;

namespace Kcm.ApiServer.Admission;

/// <summary>
/// Upstream's PersistentVolumeClaimResize admission plugin (on by default): a claim's storage request may grow only
/// while the claim is bound and only when its StorageClass (the same before and after) says allowVolumeExpansion: true.
/// Updates of the claim itself only; subresources pass.
/// </summary>
public sealed class PersistentVolumeClaimResize(ObjectStore store) : IValidatingAdmission
{
    public void Validate(AdmissionRequest request)
    {
        if (request.Operation != AdmissionOperation.Update || request.Subresource.Length > 0) return;
        if (request.Strategy.Group.Length != 0 || request.Strategy.Resource != "persistentvolumeclaims") return;
        if (request.Object is not { } claim || request.OldObject is not { } old) return;
        if (Compare(StorageRequest(claim), StorageRequest(old)) <= 0) return;
        if (Str(old["status"]?["phase"]) != "Bound")
        {
            throw NamespaceLifecycle.Forbidden("", "persistentvolumeclaims", request.Name, "Only bound persistent volume claims can be expanded");
        }
        if (!AllowResize(ClassOf(claim), ClassOf(old)))
        {
            throw NamespaceLifecycle.Forbidden("", "persistentvolumeclaims", request.Name,
                "only dynamically provisioned pvc can be resized and the storageclass that provisions the pvc must support resize");
        }
    }

    private bool AllowResize(string className, string oldClassName)
    {
        if (className.Length == 0 || oldClassName.Length == 0 || className != oldClassName) return false;
        if (store.Find("storage.k8s.io", "storageclasses")?.Get(StoredObject.MakeKey("", className)) is not { } stored) return false;
        return ObjectEncoder.Parse(stored)["allowVolumeExpansion"] is JsonValue v && v.TryGetValue<bool>(out var allow) && allow;
    }

    // The class in spec.storageClassName, else the beta annotation (apihelper.GetPersistentVolumeClaimClass).
    private static string ClassOf(JsonObject claim)
        => Str(claim["metadata"]?["annotations"]?["volume.beta.kubernetes.io/storage-class"]) ?? Str(claim["spec"]?["storageClassName"]) ?? "";

    private static Quantity? StorageRequest(JsonObject claim)
        => Quantity.TryParse(Str(claim["spec"]?["resources"]?["requests"]?["storage"]), out var q) ? q : null;

    private static int Compare(Quantity? a, Quantity? b) => (a ?? Quantity.Zero).CompareTo(b ?? Quantity.Zero);
}

using System.Text.Json.Nodes;
using static Kcm.ApiServer.Admission.Defaulting.JsonDefaults;

namespace Kcm.ApiServer.Admission;

/// <summary>
/// Upstream's StorageObjectInUseProtection admission plugin (on by default): a PersistentVolume or
/// PersistentVolumeClaim created without its protection finalizer gets it, so it is protected before the
/// pv-/pvc-protection controllers first see it. Creates only, never subresources.
/// </summary>
public sealed class StorageObjectInUseProtection : IMutatingAdmission
{
    public const string PvFinalizer = "kubernetes.io/pv-protection";
    public const string PvcFinalizer = "kubernetes.io/pvc-protection";

    public void Admit(AdmissionRequest request)
    {
        if (request.Operation != AdmissionOperation.Create || request.Subresource.Length > 0 || request.Strategy.Group.Length != 0) return;
        var finalizer = request.Strategy.Resource switch
        {
            "persistentvolumes" => PvFinalizer,
            "persistentvolumeclaims" => PvcFinalizer,
            _ => null,
        };
        if (finalizer is null || request.Object is not { } obj) return;
        var metadata = GetOrCreate(obj, "metadata");
        if (metadata["finalizers"] is not JsonArray finalizers)
        {
            metadata["finalizers"] = finalizers = [];
        }
        if (finalizers.Any(f => f is JsonValue v && v.TryGetValue<string>(out var s) && s == finalizer)) return;
        finalizers.Add((JsonNode)finalizer);
    }
}

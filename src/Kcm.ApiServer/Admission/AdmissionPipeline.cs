using System.Text.Json.Nodes;
using Kcm.ApiServer.Authentication;
using Kcm.ApiServer.Errors;
using Kcm.ApiServer.Registry;
using Kcm.ApiServer.Storage;

namespace Kcm.ApiServer.Admission;

public enum AdmissionOperation
{
    Create,
    Update,
    Delete,
}

/// <summary>What an admission step sees: the object being written (mutable for mutating steps) and the stored one.</summary>
public sealed record AdmissionRequest(
    AdmissionOperation Operation,
    ResourceStrategy Strategy,
    string Subresource,
    string Namespace,
    string Name,
    JsonObject? Object,
    JsonObject? OldObject,
    UserInfo User,
    bool DryRun = false);

/// <summary>A defaulting/mutating step; runs before validation, in registration order.</summary>
public interface IMutatingAdmission
{
    void Admit(AdmissionRequest request);
}

/// <summary>A validating step; throws <see cref="ApiException"/> (422 Invalid, 403...) to reject.</summary>
public interface IValidatingAdmission
{
    void Validate(AdmissionRequest request);
}

/// <summary>Defaulting and validation in upstream's order: mutating steps, then validating ones.</summary>
public sealed class AdmissionPipeline(IReadOnlyList<IMutatingAdmission> mutating, IReadOnlyList<IValidatingAdmission> validating)
{
    /// <summary>
    /// Upstream's default plugin order where it matters here: NamespaceLifecycle first, then (after decoding's defaults)
    /// ServiceAccount, and ResourceQuota last; without a store (unit use) only defaulting and validation run.
    /// </summary>
    public static AdmissionPipeline Default(ObjectStore? store = null, ServiceNetwork? serviceNetwork = null, TimeProvider? time = null) => store is null
        ? new([new Defaulting.BuiltInDefaulting(), Crds], [new ObjectMetaValidation(), new Validation.ObjectValidation(), Crds])
        : new([new NamespaceLifecycle(), new Defaulting.BuiltInDefaulting(store, serviceNetwork), Crds, new ServiceAccountAdmission(store), new StorageObjectInUseProtection()],
            [new ObjectMetaValidation(), new Validation.ObjectValidation(), Crds, new PersistentVolumeClaimResize(store), new ResourceQuotaAdmission(store, time ?? TimeProvider.System)]);

    // The CRD strategy's defaulting and validation (stateless).
    private static readonly CustomResources.CustomResourceDefinitionAdmission Crds = new();

    public void Run(AdmissionRequest request)
    {
        foreach (var m in mutating) m.Admit(request);
        foreach (var v in validating) v.Validate(request);
    }
}

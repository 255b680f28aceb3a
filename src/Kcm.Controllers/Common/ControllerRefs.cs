using Kcm.Api;
using Kcm.Api.Core.V1;
using Kcm.Api.Meta.V1;

namespace Kcm.Controllers.Common;

/// <summary>Owner references with controller=true (metav1.GetControllerOf / NewControllerRef).</summary>
public static class ControllerRefs
{
    /// <summary>The object's managing controller, if any (the first owner reference with controller=true).</summary>
    public static OwnerReference? ControllerOf(ObjectMeta? metadata)
        => metadata?.OwnerReferences?.FirstOrDefault(r => r.Controller == true);

    /// <summary>Two controller references are the same (apimachinery's reflect.DeepEqual over the fields).</summary>
    public static bool SameControllerRef(OwnerReference? a, OwnerReference? b)
        => a is null || b is null
            ? a is null && b is null
            : a.ApiVersion == b.ApiVersion && a.Kind == b.Kind && a.Name == b.Name && a.Uid == b.Uid
              && a.Controller == b.Controller && a.BlockOwnerDeletion == b.BlockOwnerDeletion;

    /// <summary>A controller reference to <paramref name="owner"/> that also blocks its foreground deletion until the dependent is gone.</summary>
    public static OwnerReference NewControllerRef(ObjectMeta owner, ResourceInfo ownerKind) => new()
    {
        ApiVersion = ownerKind.ApiVersion,
        Kind = ownerKind.Kind,
        Name = owner.Name,
        Uid = owner.Uid,
        Controller = true,
        BlockOwnerDeletion = true,
    };

    /// <summary>An event target for an object read from a cache (which drops kind and apiVersion).</summary>
    public static ObjectReference ReferenceTo(ObjectMeta metadata, ResourceInfo kind) => new()
    {
        ApiVersion = kind.ApiVersion,
        Kind = kind.Kind,
        Namespace = metadata.Namespace,
        Name = metadata.Name,
        Uid = metadata.Uid,
        ResourceVersion = metadata.ResourceVersion,
    };
}

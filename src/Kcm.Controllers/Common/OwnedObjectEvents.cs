using Kcm.Api;
using Kcm.Api.Meta.V1;
using Kcm.Runtime.Informers;
using LabelSelector = Kcm.Api.Selectors.LabelSelector;

namespace Kcm.Controllers.Common;

/// <summary>
/// Turns events of owned objects (pods, revisions) into owners to sync, as upstream's DaemonSet and StatefulSet
/// handlers do: an owned object wakes the owner its controller reference names; an orphan wakes every owner whose
/// selector matches it, so one may adopt it; a changed controller reference also wakes the old owner.
/// </summary>
/// <param name="selectorOf">An owner's selector; without it owners never adopt, so orphans wake nobody (CronJobs' Jobs).</param>
/// <param name="reportOverlap">Called when more than one owner selects an orphan (a user error each controller words its own way).</param>
public sealed class OwnedObjectEvents<TOwner>(
    IObjectCache<TOwner> owners, ResourceInfo ownerKind, Func<TOwner, LabelSelector?>? selectorOf = null, Action<ObjectMeta, List<TOwner>>? reportOverlap = null)
    where TOwner : class, IKubernetesObject
{
    /// <summary>The cached owner the object's controller reference names, if it still exists with that uid.</summary>
    public TOwner? Owner(ObjectMeta? metadata)
        => ControllerRefs.ControllerOf(metadata) is { } controllerRef ? Resolve(metadata!.Namespace, controllerRef) : null;

    public TOwner? Resolve(string? @namespace, OwnerReference controllerRef)
        => OwnerLookup.ResolveControllerRef(owners, ownerKind, @namespace, controllerRef);

    public List<TOwner> Selecting(ObjectMeta? metadata)
    {
        if (selectorOf is null)
        {
            return [];
        }
        var matches = OwnerLookup.OwnersSelecting(owners, metadata?.Namespace, metadata?.Labels, selectorOf);
        if (matches.Count > 1)
        {
            reportOverlap?.Invoke(metadata!, matches);
        }
        return matches;
    }

    /// <summary>A new object: <paramref name="onOwner"/> for its owner, or <paramref name="enqueue"/> for each owner that may adopt it.</summary>
    public void Added(ObjectMeta? metadata, Action<TOwner> onOwner, Action<TOwner> enqueue)
    {
        if (ControllerRefs.ControllerOf(metadata) is { } controllerRef)
        {
            if (Resolve(metadata!.Namespace, controllerRef) is { } owner)
            {
                onOwner(owner);
            }
            return;
        }
        foreach (var owner in Selecting(metadata))
        {
            enqueue(owner);
        }
    }

    /// <summary>
    /// A changed object: <paramref name="enqueue"/> for the owner it left, <paramref name="onOwner"/> for its owner;
    /// an orphan whose labels or reference changed wakes (<paramref name="enqueue"/>) the owners selecting it.
    /// </summary>
    public void Updated(ObjectMeta? oldMeta, ObjectMeta? curMeta, Action<TOwner> onOwner, Action<TOwner> enqueue)
    {
        var curRef = ControllerRefs.ControllerOf(curMeta);
        var oldRef = ControllerRefs.ControllerOf(oldMeta);
        var refChanged = !ControllerRefs.SameControllerRef(oldRef, curRef);
        if (refChanged && oldRef is not null && Resolve(oldMeta?.Namespace, oldRef) is { } oldOwner)
        {
            enqueue(oldOwner);
        }
        if (curRef is not null)
        {
            if (Resolve(curMeta?.Namespace, curRef) is { } owner)
            {
                onOwner(owner);
            }
            return;
        }
        if (refChanged || !OwnerLookup.SameLabels(oldMeta?.Labels, curMeta?.Labels))
        {
            foreach (var owner in Selecting(curMeta))
            {
                enqueue(owner);
            }
        }
    }
}

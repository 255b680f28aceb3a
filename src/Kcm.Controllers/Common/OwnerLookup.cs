using Kcm.Api;
using Kcm.Api.Meta.V1;
using Kcm.Api.Selectors;
using Kcm.Runtime.Informers;
using LabelSelector = Kcm.Api.Selectors.LabelSelector;

namespace Kcm.Controllers.Common;

/// <summary>
/// The cache lookups a controller that owns objects by selector and controller reference needs (the ReplicaSet
/// controller for pods, the Deployment controller for ReplicaSets): who a controller reference points to, which
/// owners select an orphan, and the fresh-read check that guards adoption.
/// </summary>
public static class OwnerLookup
{
    /// <summary>The owner a controller reference names, if it is of the owner kind and the cached object still has that uid.</summary>
    public static T? ResolveControllerRef<T>(IObjectCache<T> owners, ResourceInfo ownerKind, string? @namespace, OwnerReference controllerRef)
        where T : class, IKubernetesObject
    {
        if (controllerRef.Kind != ownerKind.Kind || string.IsNullOrEmpty(controllerRef.Name))
        {
            return null;
        }
        var owner = owners.Get(new ObjectKey(@namespace, controllerRef.Name));
        return owner?.Metadata?.Uid == controllerRef.Uid ? owner : null;
    }

    /// <summary>
    /// Owners in the namespace whose (non-empty, valid) selector matches the labels; a nil or empty selector matches
    /// nothing here. More than one match is a user error the caller reports (controller references keep it safe).
    /// </summary>
    public static List<T> OwnersSelecting<T>(IObjectCache<T> owners, string? @namespace, IReadOnlyDictionary<string, string>? labels, Func<T, LabelSelector?> selectorOf)
        where T : class, IKubernetesObject
    {
        var matches = new List<T>();
        if (labels is not { Count: > 0 })
        {
            return matches;
        }
        foreach (var owner in owners.ByIndex(KnownIndexers.Namespace, @namespace ?? ""))
        {
            LabelSelector? selector;
            try
            {
                selector = selectorOf(owner);
            }
            catch (SelectorParseException)
            {
                continue;
            }
            if (selector is { IsEverything: false } && selector.Matches(labels))
            {
                matches.Add(owner);
            }
        }
        return matches;
    }

    /// <summary>
    /// The adoption guard (kubernetes#42639): an uncached read must show the owner is the same object (uid) and is
    /// not being deleted before anything is adopted.
    /// </summary>
    public static Func<CancellationToken, Task> CanAdopt<T>(ObjectMeta owner, ResourceInfo ownerKind, Func<CancellationToken, Task<T>> freshRead)
        where T : IKubernetesObject
        => ControllerRefManager.RecheckDeletionTimestamp(async ct =>
        {
            var fresh = await freshRead(ct).ConfigureAwait(false);
            if (fresh.Metadata?.Uid != owner.Uid)
            {
                throw new AdoptionRefusedException($"original {ownerKind.Kind} {owner.Namespace}/{owner.Name} is gone: got uid {fresh.Metadata?.Uid}, wanted {owner.Uid}");
            }
            return fresh.Metadata!;
        });

    public static bool SameLabels(IReadOnlyDictionary<string, string>? a, IReadOnlyDictionary<string, string>? b)
    {
        if ((a?.Count ?? 0) != (b?.Count ?? 0))
        {
            return false;
        }
        foreach (var (k, v) in a ?? new Dictionary<string, string>())
        {
            if (b is null || !b.TryGetValue(k, out var other) || other != v)
            {
                return false;
            }
        }
        return true;
    }
}

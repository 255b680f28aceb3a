using System.Globalization;
using Kcm.Api.Core.V1;
using Kcm.Runtime.Informers;

namespace Kcm.Controllers.PersistentVolumes;

/// <summary>
/// The controller's own copy of volumes or claims (upstream's claims store and the store under its volume index):
/// filled from informer events and from the objects the controller itself wrote, so a sync never acts on a version
/// older than one it has already saved. Older resourceVersions are ignored; the same version passes (resyncs).
/// </summary>
public sealed class VersionedStore<T>(Func<T, ObjectKey> keyOf, Func<T, string?> resourceVersionOf)
    where T : class
{
    private readonly Lock _gate = new();
    private readonly Dictionary<ObjectKey, T> _items = [];

    /// <summary>True when the object was stored (new, or not older than the stored one).</summary>
    public bool Update(T obj)
    {
        var key = keyOf(obj);
        lock (_gate)
        {
            if (_items.TryGetValue(key, out var old) && ParseVersion(resourceVersionOf(old), key) > ParseVersion(resourceVersionOf(obj), key))
            {
                return false;
            }
            _items[key] = obj;
            return true;
        }
    }

    public T? Get(ObjectKey key)
    {
        lock (_gate) return _items.GetValueOrDefault(key);
    }

    public void Delete(ObjectKey key)
    {
        lock (_gate) _items.Remove(key);
    }

    public IReadOnlyList<T> List()
    {
        lock (_gate) return [.. _items.Values];
    }

    private static long ParseVersion(string? resourceVersion, ObjectKey key)
        => long.TryParse(resourceVersion, NumberStyles.None, CultureInfo.InvariantCulture, out var v) ? v
            : throw new FormatException($"error parsing ResourceVersion \"{resourceVersion}\" of {key}");
}

/// <summary>
/// Volumes grouped by their set of access modes (upstream's persistentVolumeOrderedIndex): a claim is matched against
/// the groups offering at least its modes, fewest modes first, so it gets what is closest to what it asked for.
/// </summary>
public sealed class VolumeIndex
{
    // v1helper.GetAccessModesAsString's order.
    private static readonly string[] KnownModes = ["ReadWriteOnce", "ReadOnlyMany", "ReadWriteMany", "ReadWriteOncePod"];

    public VersionedStore<PersistentVolume> Store { get; } = new(ObjectKey.Of, v => v.Metadata?.ResourceVersion);

    /// <summary>The known modes a volume offers, in the canonical order, duplicates dropped.</summary>
    public static IReadOnlyList<string> ModeSet(IEnumerable<string>? modes)
    {
        var set = modes?.ToHashSet() ?? [];
        return KnownModes.Where(set.Contains).ToArray();
    }

    /// <summary>The mode sets present in the index that contain every requested mode, smallest sets first.</summary>
    public IReadOnlyList<IReadOnlyList<string>> AllPossibleMatchingAccessModes(IReadOnlyList<string>? requested)
    {
        var requestedModes = requested ?? [];
        return Store.List()
            .Select(v => ModeSet(v.Spec?.AccessModes))
            .DistinctBy(set => string.Join(',', set))
            .Where(set => requestedModes.All(set.Contains))
            .OrderBy(set => set.Count)
            .ToList();
    }

    /// <summary>The best volume for the claim (see <see cref="VolumeBinding.FindMatchingVolume"/>), searched group by group.</summary>
    public PersistentVolume? FindBestMatchForClaim(PersistentVolumeClaim claim, bool delayBinding)
    {
        var volumes = Store.List();
        foreach (var modes in AllPossibleMatchingAccessModes(claim.Spec?.AccessModes))
        {
            var key = string.Join(',', modes);
            var group = volumes.Where(v => string.Join(',', ModeSet(v.Spec?.AccessModes)) == key);
            if (VolumeBinding.FindMatchingVolume(claim, group, delayBinding) is { } best)
            {
                return best;
            }
        }
        return null;
    }
}

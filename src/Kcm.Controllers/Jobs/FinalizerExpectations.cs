using Kcm.Runtime.Informers;

namespace Kcm.Controllers.Jobs;

/// <summary>
/// Upstream's job uidTrackingExpectations: per Job, the pod UIDs whose tracking finalizer this controller removed
/// and whose removal the pod informer has not shown yet. Those pods are not counted again meanwhile.
/// </summary>
public sealed class FinalizerExpectations
{
    private readonly Lock _gate = new();
    private readonly Dictionary<ObjectKey, HashSet<string>> _expected = [];

    public HashSet<string> ExpectedUids(ObjectKey jobKey)
    {
        lock (_gate)
        {
            return _expected.TryGetValue(jobKey, out var set) ? [.. set] : [];
        }
    }

    public void ExpectRemovals(ObjectKey jobKey, IEnumerable<string> podUids)
    {
        lock (_gate)
        {
            if (!_expected.TryGetValue(jobKey, out var set)) _expected[jobKey] = set = [];
            set.UnionWith(podUids);
        }
    }

    public void RemovalObserved(ObjectKey jobKey, string? podUid)
    {
        if (podUid is null) return;
        lock (_gate)
        {
            if (_expected.TryGetValue(jobKey, out var set)) set.Remove(podUid);
        }
    }

    public void Delete(ObjectKey jobKey)
    {
        lock (_gate)
        {
            _expected.Remove(jobKey);
        }
    }
}

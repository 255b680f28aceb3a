using Kcm.Runtime.Informers;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Kcm.Runtime.Controllers;

/// <summary>
/// client-go's ControllerExpectations: a controller records how many creations/deletions it just issued for a key
/// and does not act on that key again until its informer has observed them all (or five minutes have passed, in
/// case a watch event was lost), so a stale cache cannot make it create or delete twice.
/// </summary>
public sealed class ControllerExpectations(TimeProvider? time = null, ILogger? logger = null)
{
    /// <summary>Upstream's ExpectationsTimeout.</summary>
    public static readonly TimeSpan Timeout = TimeSpan.FromMinutes(5);

    private readonly object _lock = new();
    private readonly Dictionary<ObjectKey, Expectation> _expectations = [];
    private readonly TimeProvider _time = time ?? TimeProvider.System;
    private readonly ILogger _logger = logger ?? NullLogger.Instance;

    /// <summary>Outstanding (adds, deletes) for the key, or null when nothing is expected.</summary>
    public (long Adds, long Deletes)? Get(ObjectKey key)
    {
        lock (_lock)
        {
            return _expectations.TryGetValue(key, out var e) ? (e.Adds, e.Deletes) : null;
        }
    }

    /// <summary>True when the controller may act: nothing recorded, everything observed, or the record expired.</summary>
    public bool SatisfiedExpectations(ObjectKey key)
    {
        lock (_lock)
        {
            if (!_expectations.TryGetValue(key, out var e))
            {
                return true; // A new controller, or one whose expectations were deleted.
            }
            if (e.Adds <= 0 && e.Deletes <= 0)
            {
                return true;
            }
            if (_time.GetUtcNow() - e.SetAt > Timeout)
            {
                _logger.LogTrace("Controller expectations expired for {Key}: adds={Adds}, deletes={Deletes}", key, e.Adds, e.Deletes);
                return true;
            }
            return false;
        }
    }

    /// <summary>Replaces the key's expectations and restarts its timeout.</summary>
    public void SetExpectations(ObjectKey key, long adds, long deletes)
    {
        lock (_lock)
        {
            _expectations[key] = new Expectation(adds, deletes, _time.GetUtcNow());
        }
    }

    public void ExpectCreations(ObjectKey key, long adds) => SetExpectations(key, adds, 0);

    public void ExpectDeletions(ObjectKey key, long deletes) => SetExpectations(key, 0, deletes);

    public void RaiseExpectations(ObjectKey key, long adds, long deletes) => Adjust(key, adds, deletes);

    public void LowerExpectations(ObjectKey key, long adds, long deletes) => Adjust(key, -adds, -deletes);

    public void CreationObserved(ObjectKey key) => LowerExpectations(key, 1, 0);

    public void DeletionObserved(ObjectKey key) => LowerExpectations(key, 0, 1);

    public void DeleteExpectations(ObjectKey key)
    {
        lock (_lock)
        {
            _expectations.Remove(key);
        }
    }

    private void Adjust(ObjectKey key, long adds, long deletes)
    {
        lock (_lock)
        {
            // Only existing records change (upstream too): observing an object nobody waited for is normal.
            if (_expectations.TryGetValue(key, out var e))
            {
                _expectations[key] = e with { Adds = e.Adds + adds, Deletes = e.Deletes + deletes };
            }
        }
    }

    private readonly record struct Expectation(long Adds, long Deletes, DateTimeOffset SetAt);
}

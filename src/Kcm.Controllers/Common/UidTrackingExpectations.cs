using Kcm.Runtime.Controllers;
using Kcm.Runtime.Informers;
using Microsoft.Extensions.Logging;

namespace Kcm.Controllers.Common;

/// <summary>
/// Upstream's UIDTrackingControllerExpectations: expectations that remember which pods (by key) a
/// controller deleted, so a graceful deletion seen first as an update (deletionTimestamp set) and later as a
/// delete is counted exactly once.
/// </summary>
public sealed class UidTrackingExpectations(ControllerExpectations expectations, ILogger logger)
{
    private readonly object _lock = new();
    private readonly Dictionary<ObjectKey, HashSet<ObjectKey>> _expectedDeletions = [];

    public ControllerExpectations Counts => expectations;

    public bool SatisfiedExpectations(ObjectKey controllerKey) => expectations.SatisfiedExpectations(controllerKey);

    public void ExpectCreations(ObjectKey controllerKey, int adds) => expectations.ExpectCreations(controllerKey, adds);

    public void CreationObserved(ObjectKey controllerKey) => expectations.CreationObserved(controllerKey);

    /// <summary>The pod keys whose deletion is still awaited (a copy).</summary>
    public IReadOnlyCollection<ObjectKey> ExpectedDeletions(ObjectKey controllerKey)
    {
        lock (_lock)
        {
            return _expectedDeletions.TryGetValue(controllerKey, out var keys) ? keys.ToArray() : [];
        }
    }

    public void ExpectDeletions(ObjectKey controllerKey, IReadOnlyCollection<ObjectKey> podKeys)
    {
        lock (_lock)
        {
            if (_expectedDeletions.TryGetValue(controllerKey, out var existing) && existing.Count > 0)
            {
                logger.LogError("Clobbering existing delete keys: {Keys}", string.Join(" ", existing));
            }
            var keys = new HashSet<ObjectKey>(podKeys);
            _expectedDeletions[controllerKey] = keys;
            expectations.ExpectDeletions(controllerKey, keys.Count);
        }
    }

    /// <summary>Counts the pod's deletion once, and only if this controller deleted it.</summary>
    public void DeletionObserved(ObjectKey controllerKey, ObjectKey podKey)
    {
        lock (_lock)
        {
            if (_expectedDeletions.TryGetValue(controllerKey, out var keys) && keys.Remove(podKey))
            {
                logger.LogTrace("Controller {Controller} received delete for pod {Pod}", controllerKey, podKey);
                expectations.DeletionObserved(controllerKey);
            }
        }
    }

    public void DeleteExpectations(ObjectKey controllerKey)
    {
        lock (_lock)
        {
            expectations.DeleteExpectations(controllerKey);
            _expectedDeletions.Remove(controllerKey);
        }
    }
}

using Kcm.Runtime.Controllers;
using Microsoft.Extensions.Logging;

namespace Kcm.Controllers.Common;

/// <summary>
/// Upstream's UIDTrackingControllerExpectations: expectations that remember which pods (by "namespace/name") a
/// controller deleted, so a graceful deletion seen first as an update (deletionTimestamp set) and later as a
/// delete is counted exactly once.
/// </summary>
public sealed class UidTrackingExpectations(ControllerExpectations expectations, ILogger logger)
{
    private readonly object _lock = new();
    private readonly Dictionary<string, HashSet<string>> _expectedDeletions = [];

    public ControllerExpectations Counts => expectations;

    public bool SatisfiedExpectations(string controllerKey) => expectations.SatisfiedExpectations(controllerKey);

    public void ExpectCreations(string controllerKey, int adds) => expectations.ExpectCreations(controllerKey, adds);

    public void CreationObserved(string controllerKey) => expectations.CreationObserved(controllerKey);

    /// <summary>The pod keys whose deletion is still awaited (a copy).</summary>
    public IReadOnlyCollection<string> ExpectedDeletions(string controllerKey)
    {
        lock (_lock)
        {
            return _expectedDeletions.TryGetValue(controllerKey, out var keys) ? keys.ToArray() : [];
        }
    }

    public void ExpectDeletions(string controllerKey, IReadOnlyCollection<string> podKeys)
    {
        lock (_lock)
        {
            if (_expectedDeletions.TryGetValue(controllerKey, out var existing) && existing.Count > 0)
            {
                logger.LogError("Clobbering existing delete keys for {Controller}: {Keys}", controllerKey, string.Join(", ", existing));
            }
            var keys = new HashSet<string>(podKeys, StringComparer.Ordinal);
            _expectedDeletions[controllerKey] = keys;
            expectations.ExpectDeletions(controllerKey, keys.Count);
        }
    }

    /// <summary>Counts the pod's deletion once, and only if this controller deleted it.</summary>
    public void DeletionObserved(string controllerKey, string podKey)
    {
        lock (_lock)
        {
            if (_expectedDeletions.TryGetValue(controllerKey, out var keys) && keys.Remove(podKey))
            {
                logger.LogDebug("Controller {Controller} received delete for pod {Pod}", controllerKey, podKey);
                expectations.DeletionObserved(controllerKey);
            }
        }
    }

    public void DeleteExpectations(string controllerKey)
    {
        lock (_lock)
        {
            expectations.DeleteExpectations(controllerKey);
            _expectedDeletions.Remove(controllerKey);
        }
    }
}

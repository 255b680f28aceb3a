using Kcm.Api.Core.V1;
using Kcm.Client;

using Kcm.Controllers.Common;

namespace Kcm.Controllers.Namespaces;

/// <summary>
/// Upstream's namespaceConditionUpdater: turns what a deletion pass ran into (discovery failures, delete errors,
/// content and finalizers still present) into the five status conditions the namespace deleter owns. A
/// condition without a problem is reported in its "ok" form (status False).
/// </summary>
internal sealed class NamespaceConditionUpdater(TimeProvider time)
{
    public const string DeletionDiscoveryFailure = "NamespaceDeletionDiscoveryFailure";
    public const string DeletionGroupVersionParsingFailure = "NamespaceDeletionGroupVersionParsingFailure";
    public const string DeletionContentFailure = "NamespaceDeletionContentFailure";
    public const string ContentRemaining = "NamespaceContentRemaining";
    public const string FinalizersRemaining = "NamespaceFinalizersRemaining";

    private static readonly string[] ConditionTypes = [DeletionDiscoveryFailure, DeletionGroupVersionParsingFailure, DeletionContentFailure, ContentRemaining, FinalizersRemaining];

    private static readonly Dictionary<string, (string Reason, string Message)> OkConditions = new()
    {
        [DeletionDiscoveryFailure] = ("ResourcesDiscovered", "All resources successfully discovered"),
        [DeletionGroupVersionParsingFailure] = ("ParsedGroupVersions", "All legacy kube types successfully parsed"),
        [DeletionContentFailure] = ("ContentDeleted", "All content successfully deleted, may be waiting on finalization"),
        [ContentRemaining] = ("ContentRemoved", "All content successfully removed"),
        [FinalizersRemaining] = ("ContentHasNoFinalizers", "All content-preserving finalizers finished"),
    };

    private readonly List<NamespaceCondition> _conditions = [];
    private readonly List<string> _deleteContentErrors = [];

    public void ProcessDiscoveryError(Exception error)
    {
        var message = error is GroupDiscoveryFailedException failed
            ? $"Discovery failed for some groups, {failed.Groups.Count} failing: {failed.Message}"
            : error.Message;
        _conditions.Add(Failing(DeletionDiscoveryFailure, "DiscoveryFailed", message));
    }

    public void ProcessDeleteContentError(Exception error) => _deleteContentErrors.Add(error.Message);

    public void ProcessContentTotals(IReadOnlyDictionary<GroupVersionResource, int> remainingByResource, IReadOnlyDictionary<string, int> remainingByFinalizer)
    {
        if (remainingByResource.Count > 0)
        {
            var remaining = remainingByResource.Where(r => r.Value > 0)
                .Select(r => $"{r.Key.Resource}.{r.Key.Group} has {r.Value} resource instances")
                .Order(StringComparer.Ordinal);
            _conditions.Add(Failing(ContentRemaining, "SomeResourcesRemain", $"Some resources are remaining: {string.Join(", ", remaining)}"));
        }
        if (remainingByFinalizer.Count > 0)
        {
            var remaining = remainingByFinalizer.Where(f => f.Value > 0)
                .Select(f => $"{f.Key} in {f.Value} resource instances")
                .Order(StringComparer.Ordinal);
            _conditions.Add(Failing(FinalizersRemaining, "SomeFinalizersRemain", $"Some content in the namespace has finalizers remaining: {string.Join(", ", remaining)}"));
        }
    }

    /// <summary>Writes the conditions into <paramref name="status"/>; true when anything changed.</summary>
    public bool Update(NamespaceStatus status)
    {
        if (_deleteContentErrors.Count > 0 && _conditions.All(c => c.Type != DeletionContentFailure))
        {
            var messages = _deleteContentErrors.Order(StringComparer.Ordinal);
            _conditions.Add(Failing(DeletionContentFailure, "ContentDeletionFailed", $"Failed to delete all resource types, {_deleteContentErrors.Count} remaining: {string.Join(", ", messages)}"));
        }
        var changed = false;
        status.Conditions ??= [];
        foreach (var type in ConditionTypes)
        {
            var wanted = _conditions.FirstOrDefault(c => c.Type == type) ?? Ok(type);
            var existing = status.Conditions.FirstOrDefault(c => c.Type == type);
            if (existing is null)
            {
                status.Conditions.Add(wanted);
                changed = true;
            }
            else if (existing.Status != wanted.Status || existing.Message != wanted.Message || existing.Reason != wanted.Reason)
            {
                if (existing.Status != wanted.Status)
                {
                    existing.LastTransitionTime = Now();
                }
                existing.Status = wanted.Status;
                existing.Reason = wanted.Reason;
                existing.Message = wanted.Message;
                changed = true;
            }
        }
        return changed;
    }

    private NamespaceCondition Failing(string type, string reason, string message)
        => new() { Type = type, Status = "True", LastTransitionTime = Now(), Reason = reason, Message = message };

    private NamespaceCondition Ok(string type)
        => new() { Type = type, Status = "False", LastTransitionTime = Now(), Reason = OkConditions[type].Reason, Message = OkConditions[type].Message };

    // Conditions carry whole seconds on the wire (metav1.Time).
    private DateTimeOffset Now()
    {
        var now = time.GetUtcNow();
        return now.AddTicks(-(now.Ticks % TimeSpan.TicksPerSecond));
    }
}

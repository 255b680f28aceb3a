using System.Text.Json.Nodes;
using Kcm.ApiServer.Endpoints;
using Kcm.ApiServer.Errors;

namespace Kcm.ApiServer.Registry;

/// <summary>The store's finalizer rules: garbage-collection finalizers on delete, and what a deleting object may still change.</summary>
internal static class Finalizers
{
    internal const string OrphanFinalizer = "orphan";
    internal const string ForegroundFinalizer = "foregroundDeletion";

    /// <summary>Upstream deletionFinalizersForGarbageCollection (every served built-in kind defaults to Background).</summary>
    internal static (bool Changed, List<string> Finalizers) GarbageCollectionFinalizers(JsonObject meta, DeletionOptions options)
    {
        var existing = FinalizersOf(meta);
        bool? explicitOrphan = null;
        bool? explicitForeground = null;
        if (options.OrphanDependents is { } orphanDependents)
        {
            explicitOrphan = orphanDependents;
            explicitForeground = false;
        }
        else if (options.PropagationPolicy is { } policy)
        {
            explicitOrphan = policy == "Orphan";
            explicitForeground = policy == "Foreground";
        }
        var firstGc = existing.FirstOrDefault(f => f is OrphanFinalizer or ForegroundFinalizer);
        var orphan = explicitOrphan ?? firstGc == OrphanFinalizer;
        var foreground = explicitForeground ?? firstGc == ForegroundFinalizer;
        var result = existing.Where(f => f is not OrphanFinalizer and not ForegroundFinalizer).ToList();
        if (orphan) result.Add(OrphanFinalizer);
        if (foreground) result.Add(ForegroundFinalizer);
        var changed = !existing.ToHashSet().SetEquals(result);
        return (changed, changed ? result : existing);
    }

    internal static List<string> FinalizersOf(JsonObject meta)
        => (meta["finalizers"] as JsonArray)?.Select(f => f?.GetValue<string>() ?? "").ToList() ?? [];

    internal static void SetFinalizers(JsonObject meta, List<string> finalizers)
    {
        if (finalizers.Count == 0) meta.Remove("finalizers");
        else meta["finalizers"] = new JsonArray(finalizers.Select(f => (JsonNode?)JsonValue.Create(f)).ToArray());
    }

    /// <summary>
    /// Upstream ShouldDeleteDuringUpdate: an update that leaves a zero-grace deleting object without finalizers removes it.
    /// Namespaces additionally need empty spec.finalizers; they are removed once terminating and fully finalized.
    /// </summary>
    internal static bool ShouldDeleteDuringUpdate(ResourceRequest req, JsonObject desired)
    {
        var meta = desired["metadata"] as JsonObject;
        if (meta?["deletionTimestamp"] is null || FinalizersOf(meta).Count > 0) return false;
        if (req.Group.Length == 0 && req.Resource == "namespaces")
        {
            return desired["spec"]?["finalizers"] is not JsonArray { Count: > 0 };
        }
        // As upstream: no grace period (CRDs marked by their own delete) or a zero one.
        return (meta["deletionGracePeriodSeconds"]?.GetValue<long>() ?? 0) == 0;
    }

    /// <summary>Upstream ValidateNoNewFinalizers: a deleting object's finalizers may only shrink.</summary>
    internal static void CheckNoNewFinalizers(ResourceRequest req, JsonObject old, JsonObject desired)
    {
        var oldMeta = (JsonObject)old["metadata"]!;
        if (oldMeta["deletionTimestamp"] is null) return;
        var before = FinalizersOf(oldMeta).ToHashSet();
        var added = FinalizersOf(GenericStore.EnsureMetadata(desired)).Where(f => !before.Contains(f)).Distinct().Order(StringComparer.Ordinal).ToList();
        if (added.Count == 0) return;
        var kind = old["kind"]?.GetValue<string>() ?? req.Entry.Kind;
        var list = "[]string{" + string.Join(", ", added.Select(f => $"\"{f}\"")) + "}";
        throw ApiException.Invalid(req.Group, kind, req.Name,
            [new StatusCauseInfo("FieldValueForbidden", $"Forbidden: no new finalizers can be added if the object is being deleted, found new finalizers {list}", "metadata.finalizers")]);
    }
}

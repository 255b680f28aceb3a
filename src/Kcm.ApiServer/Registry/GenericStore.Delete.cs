using Kcm.ApiServer.Admission;
using Kcm.ApiServer.Authentication;
using System.Globalization;
using System.Text.Json.Nodes;
using Kcm.ApiServer.Endpoints;
using Kcm.ApiServer.Errors;
using Kcm.ApiServer.Storage;

namespace Kcm.ApiServer.Registry;

public enum DeletionKind
{
    /// <summary>Removed from storage.</summary>
    Removed,
    /// <summary>Kept with deletionTimestamp set (finalizers or a grace period pending).</summary>
    Pending,
    /// <summary>A graceful deletion was already under way and this request changed nothing.</summary>
    AlreadyPending,
}

/// <summary>What a delete did: <see cref="Object"/> is the removed or marked object, <see cref="Previous"/> the version it started from.</summary>
public sealed record DeleteResult(DeletionKind Kind, StoredObject Object, StoredObject Previous);

public sealed partial class GenericStore
{
    private sealed record DeletionOutcome(DeletionKind Kind, StoredObject Object);

    /// <summary>Upstream Store.Delete for one object: preconditions, then mark or remove, retrying on conflicts.</summary>
    public DeleteResult Delete(ResourceRequest req, DeletionOptions options, JsonObject? rawOptions, UserInfo user)
    {
        var store = StorageFor(req);
        var strategy = _strategies[req.Entry];
        var key = StoredObject.MakeKey(req.Namespace, req.Name);
        // Lost races are retried until won, as upstream's GuaranteedUpdate and conditional delete do.
        while (true)
        {
            var current = store.Get(key) ?? throw ApiException.NotFound(req.Group, req.Resource, req.Name);
            CheckDeletePreconditions(req, current, rawOptions);
            AdmitDelete(req, strategy, current, user);
            var outcome = DeleteOne(req, store, strategy, current, options);
            if (outcome is null) continue;
            return new DeleteResult(outcome.Kind, outcome.Object, current);
        }
    }

    // Validating admission of a delete (NamespaceLifecycle refuses the immortal namespaces).
    private void AdmitDelete(ResourceRequest req, ResourceStrategy strategy, StoredObject current, UserInfo user)
        => _admission.Run(new AdmissionRequest(AdmissionOperation.Delete, strategy, "", req.Namespace, current.Name, null, ObjectEncoder.Parse(current), user));

    /// <summary>Upstream Store.DeleteCollection: deletes each matching object; returns what each delete left or removed.</summary>
    public List<StoredObject> DeleteCollection(ResourceRequest req, ObjectFilter filter, DeletionOptions options, UserInfo user)
    {
        var store = StorageFor(req);
        var strategy = _strategies[req.Entry];
        var (items, _) = store.Snapshot();
        var prefix = req.Namespace.Length > 0 ? req.Namespace + "/" : "";
        var deleted = new List<StoredObject>();
        foreach (var (key, o) in items)
        {
            if (prefix.Length > 0 && !key.StartsWith(prefix, StringComparison.Ordinal)) continue;
            if (!filter.Matches(o)) continue;
            AdmitDelete(req with { Name = o.Name }, strategy, o, user);
            var current = o;
            DeletionOutcome? outcome = null;
            while (current is not null && (outcome = DeleteOne(req with { Name = current.Name }, store, strategy, current, options)) is null)
            {
                current = store.Get(key);
                if (current is not null && !filter.Matches(current)) current = null;
            }
            if (current is not null && outcome is not null)
            {
                deleted.Add(outcome.Kind == DeletionKind.Removed ? current : outcome.Object);
            }
        }
        return deleted;
    }

    /// <summary>
    /// Upstream Store.Delete: marks the object (deletionTimestamp, GC finalizers, pod grace period) or removes it.
    /// Returns null when a concurrent writer won so the caller retries with the new version.
    /// </summary>
    private DeletionOutcome? DeleteOne(ResourceRequest req, ResourceStore store, ResourceStrategy strategy, StoredObject current, DeletionOptions options)
    {
        var obj = ObjectEncoder.Parse(current);
        var meta = EnsureMetadata(obj);
        if (IsCustomResourceDefinition(req) && meta["deletionTimestamp"] is null) return MarkCustomResourceDefinitionDeleted(req, store, current, obj);
        if (req.Group.Length == 0 && req.Resource == "namespaces")
        {
            var firstDelete = meta["deletionTimestamp"] is null;
            if (firstDelete) meta["deletionTimestamp"] = FormatTime(_time.GetUtcNow());
            if (obj["status"] is not JsonObject status)
            {
                status = new JsonObject();
                obj["status"] = status;
            }
            status["phase"] = "Terminating";
            var (changed, finalizers) = Finalizers.GarbageCollectionFinalizers(meta, options);
            if (changed) Finalizers.SetFinalizers(meta, finalizers);
            var updated = WriteDeletionUpdate(req, store, current, obj);
            if (updated is null) return null;
            var specFinalizers = obj["spec"]?["finalizers"] as JsonArray;
            if (specFinalizers is { Count: > 0 })
            {
                if (firstDelete) return new DeletionOutcome(DeletionKind.Pending, updated);
                throw ApiException.Conflict(req.Group, req.Resource, req.Name,
                    "The system is ensuring all content is removed from this namespace.  Upon completion, this namespace will automatically be purged by the system.");
            }
            current = updated;
            obj = ObjectEncoder.Parse(current);
            meta = EnsureMetadata(obj);
        }

        var (graceful, pendingGraceful) = BeforeDelete(strategy, obj, meta, options);
        if (pendingGraceful) return new DeletionOutcome(DeletionKind.AlreadyPending, current);
        var (needsUpdate, newFinalizers) = Finalizers.GarbageCollectionFinalizers(meta, options);
        var pendingFinalizers = newFinalizers.Count > 0;
        if (!graceful && !pendingFinalizers)
        {
            var removed = DeleteFromStore(req, store, current);
            return removed is null ? null : new DeletionOutcome(DeletionKind.Removed, removed);
        }
        if (needsUpdate) Finalizers.SetFinalizers(meta, newFinalizers);
        if (!graceful)
        {
            // markAsDeleting: a non-graceful kind waits for its finalizers with a zero grace period.
            if (meta["deletionTimestamp"] is null)
            {
                if (meta["generation"]?.GetValue<long>() is > 0 and var g) meta["generation"] = g + 1;
                meta["deletionTimestamp"] = FormatTime(_time.GetUtcNow());
            }
            meta["deletionGracePeriodSeconds"] = 0L;
        }
        var written = WriteDeletionUpdate(req, store, current, obj);
        if (written is null) return null;
        var period = meta["deletionGracePeriodSeconds"]?.GetValue<long>() ?? 0;
        if (pendingFinalizers || (graceful && period > 0)) return new DeletionOutcome(DeletionKind.Pending, written);
        var gone = DeleteFromStore(req, store, written);
        // Someone else removed or changed it after our update: upstream tolerates NotFound here.
        if (gone is null) return store.Get(current.Key) is null ? new DeletionOutcome(DeletionKind.Removed, written) : null;
        return new DeletionOutcome(DeletionKind.Removed, gone);
    }

    private static StoredObject? WriteDeletionUpdate(ResourceRequest req, ResourceStore store, StoredObject current, JsonObject obj)
    {
        var candidate = ObjectEncoder.Encode(obj, obj["kind"]!.GetValue<string>(), obj["apiVersion"]!.GetValue<string>(),
            req.Namespace, req.Name, current.Uid, o => FieldLabels.Extract(req.Group, req.Resource, o));
        return UpdateInStore(req, store, current, candidate);
    }

    /// <summary>Upstream rest.BeforeDelete: only pods delete gracefully; a pending grace period may only be shortened.</summary>
    private (bool Graceful, bool PendingGraceful) BeforeDelete(ResourceStrategy strategy, JsonObject obj, JsonObject meta, DeletionOptions options)
    {
        if (strategy.Group.Length != 0 || strategy.Resource != "pods") return (false, false);
        var requested = options.GracePeriodSeconds is < 0 ? 1 : options.GracePeriodSeconds;
        if (meta["deletionTimestamp"] is { } existingTimestamp)
        {
            var existingPeriod = meta["deletionGracePeriodSeconds"]?.GetValue<long>();
            if (existingPeriod is < 0) existingPeriod = 1;
            if (existingPeriod is null or 0) return (false, false);
            if (requested is null || requested >= existingPeriod) return (false, true);
            var deadline = DateTimeOffset.Parse(existingTimestamp.GetValue<string>(), CultureInfo.InvariantCulture)
                .AddSeconds(requested.Value - existingPeriod.Value);
            meta["deletionTimestamp"] = FormatTime(deadline);
            meta["deletionGracePeriodSeconds"] = requested.Value;
            return (true, false);
        }
        // Pod CheckGracefulDelete: unscheduled or terminated pods go at once.
        // Upstream defaulting stores terminationGracePeriodSeconds=30 on create; fall back to that here.
        var period = requested ?? obj["spec"]?["terminationGracePeriodSeconds"]?.GetValue<long>() ?? 30;
        var nodeName = obj["spec"]?["nodeName"]?.GetValue<string>() ?? "";
        var phase = obj["status"]?["phase"]?.GetValue<string>() ?? "";
        if (nodeName.Length == 0 || phase is "Succeeded" or "Failed") period = 0;
        if (period < 0) period = 1;
        meta["deletionTimestamp"] = FormatTime(_time.GetUtcNow().AddSeconds(period));
        meta["deletionGracePeriodSeconds"] = period;
        if (meta["generation"]?.GetValue<long>() is > 0 and var g) meta["generation"] = g + 1;
        return (true, false);
    }

    // Upstream rest.BeforeDelete's early check, whose Conflict names the kind rather than the resource.
    private static void CheckDeletePreconditions(ResourceRequest req, StoredObject current, JsonObject? options)
    {
        var pre = options?["preconditions"];
        var uid = pre?["uid"]?.GetValue<string>();
        if (uid is not null && uid != current.Uid)
        {
            throw ApiException.Conflict(req.Group, req.Entry.Kind, req.Name,
                $"the UID in the precondition ({uid}) does not match the UID in record ({current.Uid}). The object might have been deleted and then recreated");
        }
        var rv = pre?["resourceVersion"]?.GetValue<string>();
        var currentRv = current.ResourceVersion.ToString(CultureInfo.InvariantCulture);
        if (rv is not null && rv != currentRv)
        {
            throw ApiException.Conflict(req.Group, req.Entry.Kind, req.Name,
                $"the ResourceVersion in the precondition ({rv}) does not match the ResourceVersion in record ({currentRv}). The object might have been modified");
        }
    }
}

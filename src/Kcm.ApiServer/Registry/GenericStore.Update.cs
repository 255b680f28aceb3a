using System.Globalization;
using System.Text.Json.Nodes;
using Kcm.ApiServer.Admission;
using Kcm.ApiServer.Authentication;
using Kcm.ApiServer.Endpoints;
using Kcm.ApiServer.Errors;
using Kcm.ApiServer.Storage;

namespace Kcm.ApiServer.Registry;

public sealed partial class GenericStore
{
    /// <summary>
    /// Upstream Store.Update: <paramref name="newObject"/> gives the client's version of the object from the stored
    /// one (a PUT body, or the stored object patched), which is then shaped by the subresource and strategy rules
    /// and written with optimistic concurrency, retrying on conflicts.
    /// </summary>
    public StoredObject Update(ResourceRequest req, Func<StoredObject, JsonObject> newObject, UserInfo user)
    {
        var strategy = _strategies[req.Entry];
        return CommitUpdate(req, StorageFor(req), strategy, user, current => Desired(req, strategy, current, newObject(current)));
    }

    /// <summary>
    /// A PUT: updates the stored object, or creates it when it is missing and the kind allows create-on-update
    /// (upstream Store.Update with AllowCreateOnUpdate; a resourceVersion in the body is then ignored).
    /// </summary>
    public StoredObject Replace(ResourceRequest req, JsonObject body, UserInfo user, out bool created)
    {
        created = false;
        var strategy = _strategies[req.Entry];
        if (req.Subresource.Length == 0 && strategy.AllowCreateOnUpdate
            && StorageFor(req).Get(StoredObject.MakeKey(req.Namespace, req.Name)) is null)
        {
            var toCreate = (JsonObject)body.DeepClone();
            (toCreate["metadata"] as JsonObject)?.Remove("resourceVersion");
            try
            {
                var result = Create(req, toCreate, user);
                created = true;
                return result;
            }
            catch (ApiException e) when (e.Code == 409 && e.Reason == "AlreadyExists")
            {
                // Created concurrently: update it as upstream's GuaranteedUpdate would on its retry.
            }
        }
        return Update(req, _ => (JsonObject)body.DeepClone(), user);
    }

    /// <summary>
    /// The object an update of the main resource or /status should store, from the stored object and the
    /// client's version: the main resource keeps the stored status, /status keeps everything but status and
    /// metadata, /finalize only takes spec.finalizers.
    /// </summary>
    private JsonObject Desired(ResourceRequest req, ResourceStrategy strategy, StoredObject current, JsonObject desired)
    {
        CheckPrecondition(req, current, desired);
        var old = ObjectEncoder.Parse(current);
        if (CertificateSigningRequestStrategy.Handles(strategy))
        {
            CertificateSigningRequestStrategy.PrepareForUpdate(req.Subresource, old, desired, _time.GetUtcNow());
            return MergeSystemMetadata(req, strategy, old, desired);
        }
        switch (req.Subresource)
        {
            case "":
                if (strategy.HasStatus)
                {
                    if (old["status"] is { } s) desired["status"] = s.DeepClone();
                    else desired.Remove("status");
                }
                break;
            case "status" when strategy.Custom is not null:
                CustomResources.CustomResourceObjects.PrepareStatusUpdate(old, desired);
                break;
            case "status":
                foreach (var key in desired.Select(p => p.Key).ToList())
                {
                    if (key is not "metadata" and not "status" and not "kind" and not "apiVersion") desired.Remove(key);
                }
                foreach (var (key, value) in old)
                {
                    if (key is not "metadata" and not "status" and not "kind" and not "apiVersion") desired[key] = value?.DeepClone();
                }
                if (strategy.StatusUpdateKeepsLabels)
                {
                    var meta = EnsureMetadata(desired);
                    if (old["metadata"]?["labels"] is { } labels) meta["labels"] = labels.DeepClone();
                    else meta.Remove("labels");
                }
                break;
            case "finalize":
                var finalizers = desired["spec"]?["finalizers"]?.DeepClone();
                var result = (JsonObject)old.DeepClone();
                if (result["spec"] is not JsonObject spec)
                {
                    spec = new JsonObject();
                    result["spec"] = spec;
                }
                if (finalizers is null) spec.Remove("finalizers"); else spec["finalizers"] = finalizers;
                desired = result;
                break;
            default:
                throw ApiException.MethodNotAllowed();
        }
        return MergeSystemMetadata(req, strategy, old, desired);
    }

    internal static void CheckPrecondition(ResourceRequest req, StoredObject current, JsonObject desired)
    {
        var rv = desired["metadata"]?["resourceVersion"]?.GetValue<string>() ?? "";
        if (rv.Length > 0 && rv != current.ResourceVersion.ToString(CultureInfo.InvariantCulture))
        {
            throw ApiException.Conflict(req.Group, req.Resource, req.Name, ApiException.ModifiedMessage);
        }
    }

    /// <summary>Upstream BeforeUpdate: identity and system fields come from the stored object; generation bumps on spec change.</summary>
    internal static JsonObject MergeSystemMetadata(ResourceRequest req, ResourceStrategy strategy, JsonObject old, JsonObject desired)
    {
        var meta = EnsureMetadata(desired);
        var oldMeta = (JsonObject)old["metadata"]!;
        meta["name"] = req.Name;
        if (req.Entry.Namespaced) meta["namespace"] = req.Namespace; else meta.Remove("namespace");
        var oldUid = oldMeta["uid"]?.GetValue<string>() ?? "";
        var uid = meta["uid"]?.GetValue<string>() ?? "";
        if (uid.Length > 0 && uid != oldUid)
        {
            var kind = old["kind"]?.GetValue<string>() ?? req.Entry.Kind;
            throw ApiException.Invalid(req.Group, kind, req.Name,
                [new StatusCauseInfo("FieldValueInvalid", $"Invalid value: \"{uid}\": field is immutable", "metadata.uid")]);
        }
        foreach (var field in (string[])["uid", "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds", "generation"])
        {
            if (oldMeta[field] is { } v) meta[field] = v.DeepClone(); else meta.Remove(field);
        }
        meta.Remove("selfLink");
        // Custom resources without a status subresource bump generation on any change outside metadata.
        var statusChanged = strategy.Custom is { HasStatus: false } && !JsonNode.DeepEquals(old["status"], desired["status"]);
        if (strategy.TracksGeneration && (SpecChanged(old, desired) || statusChanged))
        {
            var generation = oldMeta["generation"]?.GetValue<long>() ?? 0;
            meta["generation"] = generation + 1;
        }
        desired["kind"] = old["kind"]?.DeepClone();
        desired["apiVersion"] = old["apiVersion"]?.DeepClone();
        strategy.PrepareForUpdate(desired);
        return desired;
    }

    private static bool SpecChanged(JsonObject old, JsonObject desired)
    {
        foreach (var (key, value) in desired)
        {
            if (key is "metadata" or "status" or "kind" or "apiVersion") continue;
            if (!old.TryGetPropertyValue(key, out var oldValue) || !JsonNode.DeepEquals(oldValue, value)) return true;
        }
        foreach (var (key, _) in old)
        {
            if (key is "metadata" or "status" or "kind" or "apiVersion") continue;
            if (!desired.ContainsKey(key)) return true;
        }
        return false;
    }

    private StoredObject CommitUpdate(ResourceRequest req, ResourceStore store, ResourceStrategy strategy, UserInfo user,
        Func<StoredObject, JsonObject> produce)
    {
        var key = StoredObject.MakeKey(req.Namespace, req.Name);
        // As upstream's GuaranteedUpdate, a lost race is retried until it is won; only a precondition in the
        // client's object (its resourceVersion) turns a conflict into an error.
        while (true)
        {
            var current = store.Get(key) ?? throw ApiException.NotFound(req.Group, req.Resource, req.Name);
            var desired = produce(current);
            Finalizers.CheckNoNewFinalizers(req, ObjectEncoder.Parse(current), desired);
            _admission.Run(new AdmissionRequest(AdmissionOperation.Update, strategy, req.Subresource == "scale" ? "scale" : req.Subresource,
                req.Namespace, req.Name, desired, ObjectEncoder.Parse(current), user, req.DryRun));
            TrackFields(req, strategy, ObjectEncoder.Parse(current), desired);
            var candidate = ObjectEncoder.Encode(desired, desired["kind"]!.GetValue<string>(), desired["apiVersion"]!.GetValue<string>(),
                req.Namespace, req.Name, current.Uid, o => FieldLabels.Extract(req.Group, req.Resource, o));
            if (Finalizers.ShouldDeleteDuringUpdate(req, desired))
            {
                // Upstream deletes the stored version instead of writing the update, so DELETED carries it.
                if (DeleteFromStore(req, store, current) is not null) return current;
                continue;
            }
            var result = UpdateInStore(req, store, current, candidate);
            if (result is not null) return result;
        }
    }
}

using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using Kcm.Api.Catalog;
using Kcm.Api.Patching;
using Kcm.Api.Selectors;
using Kcm.ApiServer.Admission;
using Kcm.ApiServer.Authentication;
using Kcm.ApiServer.Errors;
using Kcm.ApiServer.Printing;
using Kcm.ApiServer.Registry;
using Kcm.ApiServer.Storage;
using Microsoft.AspNetCore.Http;

namespace Kcm.ApiServer.Endpoints;

/// <summary>The generic REST verbs over <see cref="ObjectStore"/>, following upstream's generic registry semantics.</summary>
public sealed class ResourceHandler
{
    private const string GenerateNameAlphabet = "bcdfghjklmnpqrstvwxz2456789";
    private const int MaxUpdateAttempts = 64;

    private static readonly string[] AcceptedPatchTypes =
    [
        "application/json-patch+json", "application/merge-patch+json", "application/strategic-merge-patch+json",
    ];

    private readonly ObjectStore _store;
    private readonly AdmissionPipeline _admission;
    private readonly TimeProvider _time;
    private readonly WatchStreamer _watch;
    private readonly Dictionary<ApiResourceEntry, ResourceStrategy> _strategies = new();

    public ResourceHandler(ObjectStore store, AdmissionPipeline admission, TimeProvider time, WatchStreamer watch)
    {
        _store = store;
        _admission = admission;
        _time = time;
        _watch = watch;
        foreach (var e in ApiCatalog.Resources)
        {
            if (!e.IsSubresource) _strategies[e] = ResourceStrategy.For(e);
        }
    }

    public ResourceStrategy StrategyFor(ApiResourceEntry entry) => _strategies[entry];

    public async Task HandleAsync(HttpContext ctx, ResourceRequest req, string verb, byte[]? body, UserInfo user)
    {
        var strategy = _strategies[req.Entry];
        var store = _store.Find(req.Group, req.Resource) ?? throw ApiException.MethodNotAllowed();
        // As upstream, an Accept header the server cannot answer is refused before anything is done.
        var conversion = ResponseConversion.Negotiate(ctx);
        switch (verb)
        {
            case "get":
                await GetAsync(ctx, req, store, strategy, conversion);
                break;
            case "list":
                await ListAsync(ctx, req, store, conversion);
                break;
            case "watch":
                await _watch.ServeAsync(ctx, req, store, BuildFilter(ctx.Request.Query, req), conversion, ctx.RequestAborted);
                break;
            case "create" when req.Group.Length == 0 && req.Resource == "pods" && req.Subresource == "binding":
                await BindAsync(ctx, req, store, strategy, body, user);
                break;
            case "create":
                if (req.Subresource.Length > 0) throw ApiException.MethodNotAllowed();
                await WriteObjectAsync(ctx, 201, req, Create(req, store, strategy, CheckFields(ctx, req, ParseObject(body, req)), user));
                break;
            case "update":
                await UpdateAsync(ctx, req, store, strategy, CheckFields(ctx, req, ParseBody(body, req)), user);
                break;
            case "patch":
                await PatchAsync(ctx, req, store, strategy, body, user);
                break;
            case "delete":
                await DeleteAsync(ctx, req, store, strategy, body, user);
                break;
            case "deletecollection":
                await DeleteCollectionAsync(ctx, req, store, strategy, body, user);
                break;
            default:
                throw ApiException.MethodNotAllowed();
        }
    }

    // ---- read ----

    private async Task GetAsync(HttpContext ctx, ResourceRequest req, ResourceStore store, ResourceStrategy strategy, ResponseConversion conversion)
    {
        var current = store.Get(StoredObject.MakeKey(req.Namespace, req.Name)) ?? throw ApiException.NotFound(req.Group, req.Resource, req.Name);
        if (req.Subresource == "scale")
        {
            await ResponseWriter.WriteJsonAsync(ctx, 200, Encode(ScaleOf(ObjectEncoder.Parse(current), strategy)));
            return;
        }
        if (req.Subresource is not "" and not "status" && !(req.Subresource == "approval" && CertificateSigningRequestStrategy.Handles(strategy)))
        {
            throw ApiException.MethodNotAllowed();
        }
        if (conversion.Kind == ConversionKind.Table)
        {
            await ResponseWriter.WriteJsonAsync(ctx, 200, TableWriter.Render(conversion.Version, req.Group, req.Resource, [current],
                current.ResourceVersion.ToString(CultureInfo.InvariantCulture), null, null, _time.GetUtcNow(), IncludeObject(ctx)));
            return;
        }
        await WriteObjectAsync(ctx, 200, req, current, conversion);
    }

    /// <summary>One object as the response, cut down to PartialObjectMetadata when asked (upstream's transformResponseObject).</summary>
    private static Task WriteObjectAsync(HttpContext ctx, int statusCode, ResourceRequest req, StoredObject o, ResponseConversion conversion)
    {
        switch (conversion.Kind)
        {
            case ConversionKind.PartialObjectMetadata:
                return ResponseWriter.WriteJsonAsync(ctx, statusCode, PartialObjectMetadataWriter.Encode(o, conversion.Version));
            case ConversionKind.PartialObjectMetadataList:
                throw ResponseConversion.NotAList(conversion.Kind, req, isList: false);
            default:
                return ResponseWriter.WriteObjectAsync(ctx, statusCode, o);
        }
    }

    private static Task WriteObjectAsync(HttpContext ctx, int statusCode, ResourceRequest req, StoredObject o)
        => WriteObjectAsync(ctx, statusCode, req, o, ResponseConversion.Negotiate(ctx));

    private async Task ListAsync(HttpContext ctx, ResourceRequest req, ResourceStore store, ResponseConversion conversion)
    {
        var query = ctx.Request.Query;
        var filter = BuildFilter(query, req);
        var limit = long.TryParse(query["limit"], NumberStyles.None, CultureInfo.InvariantCulture, out var l) ? l : 0;
        string rvParam = query["resourceVersion"].ToString();
        string rvMatch = query["resourceVersionMatch"].ToString();
        string continueParam = query["continue"].ToString();

        System.Collections.Immutable.ImmutableSortedDictionary<string, StoredObject> items;
        long listRv;
        string? startAfter = null;
        if (continueParam.Length > 0)
        {
            if (rvParam.Length > 0) throw ApiException.BadRequest("specifying resource version is not allowed when using continue");
            var token = ContinueToken.Decode(continueParam);
            startAfter = token.StartKey;
            if (token.ResourceVersion == 0)
            {
                (items, listRv) = store.Snapshot();
            }
            else
            {
                items = store.SnapshotAt(token.ResourceVersion, () => ApiException.Expired(
                    "The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter, or use the continue token in this response to retrieve the remainder of the results. Continuing with the provided token results in an inconsistent list - objects that were created, modified, or deleted between the time the first chunk was returned and now may show up in the list.",
                    new ContinueToken(0, token.StartKey).Encode()));
                listRv = token.ResourceVersion;
            }
        }
        else if (rvMatch == "Exact" && long.TryParse(rvParam, NumberStyles.None, CultureInfo.InvariantCulture, out var exact) && exact > 0)
        {
            items = store.SnapshotAt(exact, () => ApiException.Expired($"too old resource version: {exact} ({exact})"));
            listRv = exact;
        }
        else
        {
            // resourceVersion=0 is served from the watch cache upstream, which ignores limit.
            if (rvParam == "0") limit = 0;
            (items, listRv) = store.Snapshot();
        }

        var prefix = req.Namespace.Length > 0 ? req.Namespace + "/" : "";
        var selected = new List<StoredObject>();
        string? continueToken = null;
        long remaining = 0;
        foreach (var (key, o) in items)
        {
            if (prefix.Length > 0 && !key.StartsWith(prefix, StringComparison.Ordinal)) continue;
            if (startAfter is not null && string.CompareOrdinal(key, startAfter) <= 0) continue;
            if (limit > 0 && selected.Count >= limit)
            {
                remaining++;
                continue;
            }
            if (filter.Matches(o)) selected.Add(o);
        }
        if (remaining > 0) continueToken = new ContinueToken(listRv, selected[^1].Key).Encode();
        switch (conversion.Kind)
        {
            case ConversionKind.Table:
                await ResponseWriter.WriteJsonAsync(ctx, 200, TableWriter.Render(conversion.Version, req.Group, req.Resource, selected,
                    listRv.ToString(CultureInfo.InvariantCulture), continueToken, continueToken is not null && filter.IsEverything ? remaining : null,
                    _time.GetUtcNow(), IncludeObject(ctx)));
                return;
            case ConversionKind.PartialObjectMetadata:
                throw ResponseConversion.NotAList(conversion.Kind, req, isList: true);
            case ConversionKind.PartialObjectMetadataList:
                ctx.Response.StatusCode = 200;
                ctx.Response.ContentType = ResponseWriter.JsonContentType;
                await PartialObjectMetadataWriter.WriteListAsync(ctx.Response.BodyWriter, conversion.Version, selected,
                    listRv.ToString(CultureInfo.InvariantCulture), continueToken, continueToken is not null && filter.IsEverything ? remaining : null,
                    ctx.RequestAborted);
                return;
        }

        ctx.Response.StatusCode = 200;
        ctx.Response.ContentType = ResponseWriter.JsonContentType;
        var pipe = ctx.Response.BodyWriter;
        var header = ResponseWriter.Render(w =>
        {
            w.WriteStartObject();
            w.WriteString("kind", req.Entry.Kind + "List");
            w.WriteString("apiVersion", req.GroupVersion);
            ResponseWriter.WriteListMeta(w, listRv.ToString(CultureInfo.InvariantCulture), continueToken,
                continueToken is not null && filter.IsEverything ? remaining : null);
            w.WriteEndObject();
        });
        ResponseWriter.Write(pipe, header.AsSpan(0, header.Length - 1));
        ResponseWriter.Write(pipe, ",\"items\":["u8);
        for (var i = 0; i < selected.Count; i++)
        {
            if (i > 0) ResponseWriter.Write(pipe, ","u8);
            ResponseWriter.Write(pipe, "{"u8);
            ResponseWriter.Write(pipe, selected[i].ItemTail);
            if (pipe.UnflushedBytes > 1 << 16) await pipe.FlushAsync(ctx.RequestAborted);
        }
        ResponseWriter.Write(pipe, "]}"u8);
        await pipe.FlushAsync(ctx.RequestAborted);
    }

    /// <summary>includeObject=Object puts whole objects in Table rows; the default is PartialObjectMetadata (None is treated alike).</summary>
    private static bool IncludeObject(HttpContext ctx) => ctx.Request.Query["includeObject"].ToString() == "Object";

    internal ObjectFilter BuildFilter(IQueryCollection query, ResourceRequest req)
    {
        var label = LabelSelector.Everything;
        var field = FieldSelector.Everything;
        var labelText = query["labelSelector"].ToString();
        var fieldText = query["fieldSelector"].ToString();
        try
        {
            if (labelText.Length > 0) label = LabelSelector.Parse(labelText);
            if (fieldText.Length > 0) field = FieldSelector.Parse(fieldText);
        }
        catch (SelectorParseException e)
        {
            throw ApiException.BadRequest(e.Message);
        }
        if (fieldText.Length > 0)
        {
            foreach (var r in field.Requirements) FieldLabels.Validate(req.Group, req.Resource, r.Field);
        }
        return new ObjectFilter(req.Namespace, req.Name, label, field);
    }

    // ---- create ----

    private StoredObject Create(ResourceRequest req, ResourceStore store, ResourceStrategy strategy, JsonObject obj, UserInfo user)
    {
        var metadata = EnsureMetadata(obj);
        if (req.Entry.Namespaced)
        {
            var bodyNs = metadata["namespace"]?.GetValue<string>() ?? "";
            if (bodyNs.Length > 0 && bodyNs != req.Namespace)
            {
                throw ApiException.BadRequest("the namespace of the provided object does not match the namespace sent on the request");
            }
            metadata["namespace"] = req.Namespace;
        }
        else
        {
            metadata.Remove("namespace");
        }
        var name = metadata["name"]?.GetValue<string>() ?? "";
        var generateName = metadata["generateName"]?.GetValue<string>() ?? "";
        var kind = obj["kind"]!.GetValue<string>();
        if (name.Length == 0 && generateName.Length == 0)
        {
            throw ApiException.Invalid(req.Group, kind, "",
                [new StatusCauseInfo("FieldValueRequired", "Required value: name or generateName is required", "metadata.name")]);
        }
        var nameGenerated = name.Length == 0;
        if (nameGenerated)
        {
            name = GenerateName(generateName);
            metadata["name"] = name;
        }
        metadata.Remove("deletionTimestamp");
        metadata.Remove("deletionGracePeriodSeconds");
        metadata.Remove("selfLink");
        var rvInBody = metadata["resourceVersion"]?.GetValue<string>() ?? "";
        metadata.Remove("resourceVersion");
        var uid = Guid.NewGuid().ToString();
        metadata["uid"] = uid;
        metadata["creationTimestamp"] = FormatTime(_time.GetUtcNow());
        if (strategy.TracksGeneration) metadata["generation"] = 1;
        strategy.PrepareForCreate(obj);
        if (CertificateSigningRequestStrategy.Handles(strategy)) CertificateSigningRequestStrategy.PrepareForCreate(obj, user);

        _admission.Run(new AdmissionRequest(AdmissionOperation.Create, strategy, "", req.Namespace, name, obj, null, user));

        if (rvInBody.Length > 0 && rvInBody != "0")
        {
            throw ApiException.InternalError("resourceVersion should not be set on objects to be created");
        }
        for (var attempt = 0; ; attempt++)
        {
            var candidate = ObjectEncoder.Encode(obj, kind, req.GroupVersion, req.Namespace, name, uid,
                o => FieldLabels.Extract(req.Group, req.Resource, o));
            try
            {
                return store.Create(candidate);
            }
            catch (ApiException e) when (e.Code == 409 && nameGenerated && attempt < 8)
            {
                name = GenerateName(generateName);
                metadata["name"] = name;
            }
        }
    }

    /// <summary>Creates an object from inside the server (bootstrap), through the same path as a POST.</summary>
    public StoredObject CreateInternal(ResourceRequest req, JsonObject obj, UserInfo user)
        => Create(req, _store.Find(req.Group, req.Resource)!, _strategies[req.Entry], obj, user);

    private static string GenerateName(string prefix)
    {
        // Upstream trims the prefix so the result fits 63 characters.
        if (prefix.Length > 58) prefix = prefix[..58];
        Span<char> suffix = stackalloc char[5];
        for (var i = 0; i < suffix.Length; i++) suffix[i] = GenerateNameAlphabet[Random.Shared.Next(GenerateNameAlphabet.Length)];
        return prefix + new string(suffix);
    }

    public static string FormatTime(DateTimeOffset t) => t.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture);

    // ---- update / patch ----

    private async Task UpdateAsync(HttpContext ctx, ResourceRequest req, ResourceStore store, ResourceStrategy strategy, JsonObject body, UserInfo user)
    {
        if (req.Subresource == "scale")
        {
            var updated = CommitUpdate(req, store, strategy, user, current => ApplyScale(req, strategy, current, body));
            await ResponseWriter.WriteJsonAsync(ctx, 200, Encode(ScaleOf(ObjectEncoder.Parse(updated), strategy)));
            return;
        }
        CheckBodyIdentity(req, body);
        var result = CommitUpdate(req, store, strategy, user, current => Desired(req, strategy, current, (JsonObject)body.DeepClone()));
        await WriteObjectAsync(ctx, 200, req, result);
    }

    private async Task PatchAsync(HttpContext ctx, ResourceRequest req, ResourceStore store, ResourceStrategy strategy, byte[]? body, UserInfo user)
    {
        var contentType = (ctx.Request.ContentType ?? "").Split(';')[0].Trim().ToLowerInvariant();
        if (contentType == "application/apply-patch+yaml" || Array.IndexOf(AcceptedPatchTypes, contentType) < 0)
        {
            throw ApiException.UnsupportedMediaType(AcceptedPatchTypes);
        }
        JsonNode patch;
        try
        {
            patch = JsonNode.Parse(body ?? [], documentOptions: new JsonDocumentOptions { MaxDepth = 10000 })
                ?? throw ApiException.BadRequest("error decoding patch: null patch");
        }
        catch (JsonException e)
        {
            throw ApiException.BadRequest($"error decoding patch: {e.Message}");
        }
        var isScale = req.Subresource == "scale";
        var definition = isScale
            ? "io.k8s.api.autoscaling.v1.Scale"
            : ApiCatalog.DefinitionFor(req.Group, req.Version, req.Entry.Kind) ?? "";

        JsonObject Patched(StoredObject current)
        {
            JsonNode doc = isScale ? ScaleOf(ObjectEncoder.Parse(current), strategy) : ObjectEncoder.Parse(current);
            JsonNode result;
            try
            {
                result = contentType switch
                {
                    "application/json-patch+json" => JsonPatch.Apply(doc, patch),
                    "application/merge-patch+json" => MergePatch.Apply(doc, patch),
                    _ => StrategicMergePatch.Apply(doc, patch, definition),
                };
            }
            catch (PatchException e)
            {
                throw new ApiException(422, "Invalid", e.Message, emptyDetails: true);
            }
            if (result is not JsonObject patched) throw ApiException.BadRequest("the patch did not produce an object");
            return patched;
        }

        if (isScale)
        {
            var updated = CommitUpdate(req, store, strategy, user, current => ApplyScale(req, strategy, current, Patched(current)));
            await ResponseWriter.WriteJsonAsync(ctx, 200, Encode(ScaleOf(ObjectEncoder.Parse(updated), strategy)));
            return;
        }
        var result = CommitUpdate(req, store, strategy, user, current =>
        {
            var patched = Patched(current);
            CheckBodyIdentity(req, patched);
            return Desired(req, strategy, current, patched);
        });
        await WriteObjectAsync(ctx, 200, req, result);
    }

    private static void CheckBodyIdentity(ResourceRequest req, JsonObject body)
    {
        var metadata = body["metadata"] as JsonObject;
        var name = metadata?["name"]?.GetValue<string>() ?? "";
        if (name != req.Name)
        {
            throw ApiException.BadRequest($"the name of the object ({name}) does not match the name on the URL ({req.Name})");
        }
        if (req.Entry.Namespaced)
        {
            var ns = metadata?["namespace"]?.GetValue<string>() ?? "";
            if (ns.Length > 0 && ns != req.Namespace)
            {
                throw ApiException.BadRequest("the namespace of the provided object does not match the namespace sent on the request");
            }
        }
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

    private static void CheckPrecondition(ResourceRequest req, StoredObject current, JsonObject desired)
    {
        var rv = desired["metadata"]?["resourceVersion"]?.GetValue<string>() ?? "";
        if (rv.Length > 0 && rv != current.ResourceVersion.ToString(CultureInfo.InvariantCulture))
        {
            throw ApiException.Conflict(req.Group, req.Resource, req.Name, ApiException.ModifiedMessage);
        }
    }

    /// <summary>Upstream BeforeUpdate: identity and system fields come from the stored object; generation bumps on spec change.</summary>
    private static JsonObject MergeSystemMetadata(ResourceRequest req, ResourceStrategy strategy, JsonObject old, JsonObject desired)
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
        if (strategy.TracksGeneration && SpecChanged(old, desired))
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
        for (var attempt = 0; attempt < MaxUpdateAttempts; attempt++)
        {
            var current = store.Get(key) ?? throw ApiException.NotFound(req.Group, req.Resource, req.Name);
            var desired = produce(current);
            CheckNoNewFinalizers(req, ObjectEncoder.Parse(current), desired);
            _admission.Run(new AdmissionRequest(AdmissionOperation.Update, strategy, req.Subresource == "scale" ? "scale" : req.Subresource,
                req.Namespace, req.Name, desired, ObjectEncoder.Parse(current), user));
            var candidate = ObjectEncoder.Encode(desired, desired["kind"]!.GetValue<string>(), desired["apiVersion"]!.GetValue<string>(),
                req.Namespace, req.Name, current.Uid, o => FieldLabels.Extract(req.Group, req.Resource, o));
            if (ShouldDeleteDuringUpdate(req, desired))
            {
                // Upstream deletes the stored version instead of writing the update, so DELETED carries it.
                if (store.TryDelete(current) is not null) return current;
                continue;
            }
            var result = store.TryUpdate(current, candidate);
            if (result is not null) return result;
        }
        throw ApiException.Conflict(req.Group, req.Resource, req.Name, ApiException.ModifiedMessage);
    }

    // ---- pods/binding ----

    /// <summary>
    /// POST pods/{name}/binding, as upstream's BindingREST: only a pod without a node and not being deleted can be
    /// bound (else 409), the target must be a Node; the pod gets spec.nodeName, the binding's annotations and
    /// PodScheduled=True; an optional metadata.uid in the binding is a precondition.
    /// </summary>
    private async Task BindAsync(HttpContext ctx, ResourceRequest req, ResourceStore store, ResourceStrategy strategy, byte[]? body, UserInfo user)
    {
        JsonObject binding;
        try
        {
            binding = JsonNode.Parse(body ?? []) as JsonObject ?? throw ApiException.BadRequest("the object provided is unrecognized (must be of type Binding)");
        }
        catch (JsonException e)
        {
            throw ApiException.BadRequest($"the object provided is unrecognized (must be of type Binding): {e.Message}");
        }
        var meta = binding["metadata"] as JsonObject;
        var target = binding["target"] as JsonObject;
        var targetKind = target?["kind"]?.GetValue<string>() ?? "";
        var nodeName = target?["name"]?.GetValue<string>() ?? "";
        var causes = new List<StatusCauseInfo>();
        if (nodeName.Length == 0) causes.Add(new StatusCauseInfo("FieldValueRequired", "Required value", "target.name"));
        if (targetKind.Length > 0 && targetKind != "Node") causes.Add(new StatusCauseInfo("FieldValueNotSupported", $"Unsupported value: \"{targetKind}\": supported values: \"Node\"", "target.kind"));
        if (causes.Count > 0) throw ApiException.Invalid("", "Binding", meta?["name"]?.GetValue<string>() ?? req.Name, causes);
        var uid = meta?["uid"]?.GetValue<string>();
        CommitUpdate(req with { Subresource = "" }, store, strategy, user, current =>
        {
            var pod = ObjectEncoder.Parse(current);
            var podMeta = (JsonObject)pod["metadata"]!;
            if (uid is { Length: > 0 } && uid != current.Uid)
            {
                throw ApiException.Conflict("", "pods", req.Name, $"Precondition failed: UID in precondition: {uid}, UID in object meta: {current.Uid}");
            }
            if (podMeta["deletionTimestamp"] != null)
            {
                throw ApiException.Conflict("", "pods/binding", req.Name, $"pod {req.Name} is being deleted, cannot be assigned to a host");
            }
            var spec = pod["spec"] as JsonObject ?? [];
            var assigned = spec["nodeName"]?.GetValue<string>() ?? "";
            if (assigned.Length > 0)
            {
                throw ApiException.Conflict("", "pods/binding", req.Name, $"pod {req.Name} is already assigned to node \"{assigned}\"");
            }
            spec["nodeName"] = nodeName;
            pod["spec"] = spec;
            if (meta?["annotations"] is JsonObject annotations)
            {
                var podAnnotations = podMeta["annotations"] as JsonObject ?? [];
                foreach (var (k, v) in annotations) podAnnotations[k] = v?.DeepClone();
                podMeta["annotations"] = podAnnotations;
            }
            var status = pod["status"] as JsonObject ?? [];
            var conditions = status["conditions"] as JsonArray ?? [];
            var scheduled = conditions.OfType<JsonObject>().FirstOrDefault(c => c["type"]?.GetValue<string>() == "PodScheduled");
            if (scheduled == null)
            {
                conditions.Add(new JsonObject { ["type"] = "PodScheduled", ["status"] = "True", ["lastProbeTime"] = null, ["lastTransitionTime"] = FormatTime(_time.GetUtcNow()) });
            }
            else if (scheduled["status"]?.GetValue<string>() != "True")
            {
                scheduled["status"] = "True";
                scheduled.Remove("reason");
                scheduled.Remove("message");
                scheduled["lastTransitionTime"] = FormatTime(_time.GetUtcNow());
            }
            status["conditions"] = conditions;
            pod["status"] = status;
            return pod;
        });
        await ResponseWriter.WriteJsonAsync(ctx, 201, System.Text.Encoding.UTF8.GetBytes(
            "{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"metadata\":{},\"status\":\"Success\",\"code\":201}"));
    }

    // ---- scale ----

    private static JsonObject ScaleOf(JsonObject obj, ResourceStrategy strategy)
    {
        if (!strategy.HasScale) throw ApiException.MethodNotAllowed();
        var meta = (JsonObject)obj["metadata"]!;
        var scaleMeta = new JsonObject();
        foreach (var f in (string[])["name", "namespace", "uid", "resourceVersion", "creationTimestamp"])
        {
            if (meta[f] is { } v) scaleMeta[f] = v.DeepClone();
        }
        var spec = new JsonObject();
        // Stored objects normally carry defaulted replicas; upstream's default is 1.
        var replicas = obj["spec"]?["replicas"]?.GetValue<int>() ?? 1;
        if (replicas != 0) spec["replicas"] = replicas;
        var status = new JsonObject { ["replicas"] = obj["status"]?["replicas"]?.GetValue<int>() ?? 0 };
        var selector = SelectorString(obj["spec"]?["selector"], strategy.Resource == "replicationcontrollers");
        if (selector.Length > 0) status["selector"] = selector;
        return new JsonObject
        {
            ["kind"] = "Scale",
            ["apiVersion"] = "autoscaling/v1",
            ["metadata"] = scaleMeta,
            ["spec"] = spec,
            ["status"] = status,
        };
    }

    private static JsonObject ApplyScale(ResourceRequest req, ResourceStrategy strategy, StoredObject current, JsonObject scale)
    {
        var name = scale["metadata"]?["name"]?.GetValue<string>() ?? "";
        if (name.Length > 0 && name != req.Name)
        {
            throw ApiException.BadRequest($"the name of the object ({name}) does not match the name on the URL ({req.Name})");
        }
        CheckPrecondition(req, current, scale);
        var replicasNode = scale["spec"]?["replicas"];
        var replicas = replicasNode is null ? 0 : replicasNode.GetValue<int>();
        if (replicas < 0)
        {
            throw ApiException.Invalid("autoscaling", "Scale", req.Name,
                [new StatusCauseInfo("FieldValueInvalid", $"Invalid value: {replicas}: must be greater than or equal to 0", "spec.replicas")]);
        }
        var old = ObjectEncoder.Parse(current);
        var desired = (JsonObject)old.DeepClone();
        if (desired["spec"] is not JsonObject spec)
        {
            spec = new JsonObject();
            desired["spec"] = spec;
        }
        spec["replicas"] = replicas;
        return MergeSystemMetadata(req with { Subresource = "" }, strategy, old, desired);
    }

    /// <summary>A label selector in its query-string form, as metav1.LabelSelectorAsSelector(...).String() prints it.</summary>
    internal static string SelectorString(JsonNode? selector, bool isMap)
    {
        if (selector is not JsonObject sel) return "";
        var requirements = new List<(string Key, string Text)>();
        if (isMap)
        {
            foreach (var (k, v) in sel) requirements.Add((k, $"{k}={v?.GetValue<string>()}"));
        }
        else
        {
            if (sel["matchLabels"] is JsonObject ml)
            {
                foreach (var (k, v) in ml) requirements.Add((k, $"{k}={v?.GetValue<string>()}"));
            }
            if (sel["matchExpressions"] is JsonArray exprs)
            {
                foreach (var e in exprs)
                {
                    var key = e?["key"]?.GetValue<string>() ?? "";
                    var op = e?["operator"]?.GetValue<string>() ?? "";
                    var values = (e?["values"] as JsonArray)?.Select(v => v!.GetValue<string>()).Order(StringComparer.Ordinal).ToList() ?? [];
                    var text = op switch
                    {
                        "In" => $"{key} in ({string.Join(",", values)})",
                        "NotIn" => $"{key} notin ({string.Join(",", values)})",
                        "Exists" => key,
                        "DoesNotExist" => "!" + key,
                        _ => "",
                    };
                    requirements.Add((key, text));
                }
            }
        }
        return string.Join(",", requirements.OrderBy(r => r.Key, StringComparer.Ordinal).Select(r => r.Text));
    }

    // ---- delete ----

    private async Task DeleteAsync(HttpContext ctx, ResourceRequest req, ResourceStore store, ResourceStrategy strategy, byte[]? body, UserInfo user)
    {
        if (req.Subresource.Length > 0) throw ApiException.MethodNotAllowed();
        var rawOptions = DeleteOptionsOf(body);
        var options = DeletionOptions.From(rawOptions, ctx.Request.Query);
        var key = StoredObject.MakeKey(req.Namespace, req.Name);
        for (var attempt = 0; attempt < MaxUpdateAttempts; attempt++)
        {
            var current = store.Get(key) ?? throw ApiException.NotFound(req.Group, req.Resource, req.Name);
            CheckDeletePreconditions(req, current, rawOptions);
            AdmitDelete(req, strategy, current, user);
            var outcome = DeleteOne(req, store, strategy, current, options);
            if (outcome is null) continue;
            if (outcome.Kind == DeletionKind.Pending)
            {
                // Upstream answers 202 only when the client explicitly asked for cascading via orphanDependents=false.
                var code = options.OrphanDependents == false ? 202 : 200;
                await WriteObjectAsync(ctx, code, req, outcome.Object);
                return;
            }
            if (strategy.ReturnsDeletedObject)
            {
                await WriteObjectAsync(ctx, 200, req, outcome.Kind == DeletionKind.Removed ? current : outcome.Object);
                return;
            }
            await ResponseWriter.WriteJsonAsync(ctx, 200, ResponseWriter.Render(w =>
            {
                w.WriteStartObject();
                w.WriteString("kind", "Status");
                w.WriteString("apiVersion", "v1");
                w.WriteStartObject("metadata");
                w.WriteEndObject();
                w.WriteString("status", "Success");
                w.WriteStartObject("details");
                w.WriteString("name", req.Name);
                if (req.Group.Length > 0) w.WriteString("group", req.Group);
                w.WriteString("kind", req.Resource);
                w.WriteString("uid", current.Uid);
                w.WriteEndObject();
                w.WriteEndObject();
            }));
            return;
        }
        throw ApiException.Conflict(req.Group, req.Resource, req.Name, ApiException.ModifiedMessage);
    }

    private enum DeletionKind
    {
        /// <summary>Removed from storage.</summary>
        Removed,
        /// <summary>Kept with deletionTimestamp set (finalizers or a grace period pending).</summary>
        Pending,
        /// <summary>A graceful deletion was already under way and this request changed nothing.</summary>
        AlreadyPending,
    }

    private sealed record DeletionOutcome(DeletionKind Kind, StoredObject Object);

    /// <summary>
    /// Upstream Store.Delete: marks the object (deletionTimestamp, GC finalizers, pod grace period) or removes it.
    /// Returns null when a concurrent writer won so the caller retries with the new version.
    /// </summary>
    private DeletionOutcome? DeleteOne(ResourceRequest req, ResourceStore store, ResourceStrategy strategy, StoredObject current, DeletionOptions options)
    {
        var obj = ObjectEncoder.Parse(current);
        var meta = EnsureMetadata(obj);
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
            var (changed, finalizers) = GarbageCollectionFinalizers(meta, options);
            if (changed) SetFinalizers(meta, finalizers);
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
        var (needsUpdate, newFinalizers) = GarbageCollectionFinalizers(meta, options);
        var pendingFinalizers = newFinalizers.Count > 0;
        if (!graceful && !pendingFinalizers)
        {
            var removed = store.TryDelete(current);
            return removed is null ? null : new DeletionOutcome(DeletionKind.Removed, removed);
        }
        if (needsUpdate) SetFinalizers(meta, newFinalizers);
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
        var gone = store.TryDelete(written);
        // Someone else removed or changed it after our update: upstream tolerates NotFound here.
        if (gone is null) return store.Get(current.Key) is null ? new DeletionOutcome(DeletionKind.Removed, written) : null;
        return new DeletionOutcome(DeletionKind.Removed, gone);
    }

    private static StoredObject? WriteDeletionUpdate(ResourceRequest req, ResourceStore store, StoredObject current, JsonObject obj)
    {
        var candidate = ObjectEncoder.Encode(obj, obj["kind"]!.GetValue<string>(), obj["apiVersion"]!.GetValue<string>(),
            req.Namespace, req.Name, current.Uid, o => FieldLabels.Extract(req.Group, req.Resource, o));
        return store.TryUpdate(current, candidate);
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

    private const string OrphanFinalizer = "orphan";
    private const string ForegroundFinalizer = "foregroundDeletion";

    /// <summary>Upstream deletionFinalizersForGarbageCollection (every served built-in kind defaults to Background).</summary>
    private static (bool Changed, List<string> Finalizers) GarbageCollectionFinalizers(JsonObject meta, DeletionOptions options)
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

    private static List<string> FinalizersOf(JsonObject meta)
        => (meta["finalizers"] as JsonArray)?.Select(f => f?.GetValue<string>() ?? "").ToList() ?? [];

    private static void SetFinalizers(JsonObject meta, List<string> finalizers)
    {
        if (finalizers.Count == 0) meta.Remove("finalizers");
        else meta["finalizers"] = new JsonArray(finalizers.Select(f => (JsonNode?)JsonValue.Create(f)).ToArray());
    }

    /// <summary>
    /// Upstream ShouldDeleteDuringUpdate: an update that leaves a zero-grace deleting object without finalizers removes it.
    /// Namespaces additionally need empty spec.finalizers; they are removed once terminating and fully finalized.
    /// </summary>
    private static bool ShouldDeleteDuringUpdate(ResourceRequest req, JsonObject desired)
    {
        var meta = desired["metadata"] as JsonObject;
        if (meta?["deletionTimestamp"] is null || FinalizersOf(meta).Count > 0) return false;
        if (req.Group.Length == 0 && req.Resource == "namespaces")
        {
            return desired["spec"]?["finalizers"] is not JsonArray { Count: > 0 };
        }
        return meta["deletionGracePeriodSeconds"]?.GetValue<long>() == 0;
    }

    /// <summary>Upstream ValidateNoNewFinalizers: a deleting object's finalizers may only shrink.</summary>
    private static void CheckNoNewFinalizers(ResourceRequest req, JsonObject old, JsonObject desired)
    {
        var oldMeta = (JsonObject)old["metadata"]!;
        if (oldMeta["deletionTimestamp"] is null) return;
        var before = FinalizersOf(oldMeta).ToHashSet();
        var added = FinalizersOf(EnsureMetadata(desired)).Where(f => !before.Contains(f)).Distinct().Order(StringComparer.Ordinal).ToList();
        if (added.Count == 0) return;
        var kind = old["kind"]?.GetValue<string>() ?? req.Entry.Kind;
        var list = "[]string{" + string.Join(", ", added.Select(f => $"\"{f}\"")) + "}";
        throw ApiException.Invalid(req.Group, kind, req.Name,
            [new StatusCauseInfo("FieldValueForbidden", $"Forbidden: no new finalizers can be added if the object is being deleted, found new finalizers {list}", "metadata.finalizers")]);
    }

    private static void CheckDeletePreconditions(ResourceRequest req, StoredObject current, JsonObject? options)
    {
        var pre = options?["preconditions"];
        var uid = pre?["uid"]?.GetValue<string>();
        if (uid is not null && uid != current.Uid)
        {
            throw ApiException.Conflict(req.Group, req.Resource, req.Name,
                $"Precondition failed: UID in precondition: {uid}, UID in object meta: {current.Uid}");
        }
        var rv = pre?["resourceVersion"]?.GetValue<string>();
        var currentRv = current.ResourceVersion.ToString(CultureInfo.InvariantCulture);
        if (rv is not null && rv != currentRv)
        {
            throw ApiException.Conflict(req.Group, req.Resource, req.Name,
                $"Precondition failed: ResourceVersion in precondition: {rv}, ResourceVersion in object meta: {currentRv}");
        }
    }

    private static JsonObject? DeleteOptionsOf(byte[]? body)
    {
        if (body is null || body.Length == 0) return null;
        try
        {
            return JsonNode.Parse(body) as JsonObject ?? throw ApiException.BadRequest("DeleteOptions must be an object");
        }
        catch (JsonException e)
        {
            throw ApiException.BadRequest($"the object provided is unrecognized (must be of type DeleteOptions): couldn't get version/kind; json parse error: {e.Message}");
        }
    }

    private void AdmitDelete(ResourceRequest req, ResourceStrategy strategy, StoredObject current, UserInfo user)
        => _admission.Run(new AdmissionRequest(AdmissionOperation.Delete, strategy, "", req.Namespace, current.Name, null, ObjectEncoder.Parse(current), user));

    private async Task DeleteCollectionAsync(HttpContext ctx, ResourceRequest req, ResourceStore store, ResourceStrategy strategy, byte[]? body, UserInfo user)
    {
        var options = DeletionOptions.From(DeleteOptionsOf(body), ctx.Request.Query);
        var filter = BuildFilter(ctx.Request.Query, req);
        var (items, _) = store.Snapshot();
        var prefix = req.Namespace.Length > 0 ? req.Namespace + "/" : "";
        var deleted = new List<StoredObject>();
        foreach (var (key, o) in items)
        {
            if (prefix.Length > 0 && !key.StartsWith(prefix, StringComparison.Ordinal)) continue;
            if (!filter.Matches(o)) continue;
            AdmitDelete(req, strategy, o, user);
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
        ctx.Response.StatusCode = 200;
        ctx.Response.ContentType = ResponseWriter.JsonContentType;
        var pipe = ctx.Response.BodyWriter;
        ResponseWriter.Write(pipe, $"{{\"kind\":\"{req.Entry.Kind}List\",\"apiVersion\":\"{req.GroupVersion}\",\"metadata\":{{}},\"items\":[");
        for (var i = 0; i < deleted.Count; i++)
        {
            if (i > 0) ResponseWriter.Write(pipe, ","u8);
            ResponseWriter.Write(pipe, "{"u8);
            ResponseWriter.Write(pipe, deleted[i].ItemTail);
        }
        ResponseWriter.Write(pipe, "]}"u8);
        await pipe.FlushAsync(ctx.RequestAborted);
    }

    // ---- bodies ----

    private static JsonObject EnsureMetadata(JsonObject obj)
    {
        if (obj["metadata"] is JsonObject m) return m;
        m = new JsonObject();
        obj["metadata"] = m;
        return m;
    }

    /// <summary>Decodes a request body for this endpoint, defaulting kind/apiVersion and rejecting other ones as upstream does.</summary>
    /// <summary>
    /// fieldValidation=Strict rejects fields the schema does not know (400, as upstream's strict decoder);
    /// Warn (the default) reports them in Warning headers; Ignore drops the check.
    /// </summary>
    private static JsonObject CheckFields(HttpContext ctx, ResourceRequest req, JsonObject obj)
    {
        var mode = ctx.Request.Query["fieldValidation"].ToString();
        if (mode is not ("" or "Strict" or "Warn" or "Ignore"))
        {
            throw ApiException.BadRequest($"fieldValidation must be one of \"Ignore\", \"Warn\", or \"Strict\"");
        }
        if (mode == "Ignore") return obj;
        var kind = req.Subresource == "scale" ? "Scale" : req.Entry.Kind;
        var definition = req.Subresource == "scale" ? ApiCatalog.DefinitionFor("autoscaling", "v1", "Scale") : ApiCatalog.DefinitionFor(req.Group, req.Version, kind);
        if (definition is null) return obj;
        var unknown = Admission.Validation.UnknownFields.Find(definition, obj);
        if (unknown.Count == 0) return obj;
        if (mode == "Strict")
        {
            var version = req.Subresource == "scale" ? "autoscaling/v1" : req.GroupVersion;
            var fields = string.Join(", ", unknown.Select(u => $"unknown field \"{u}\""));
            throw ApiException.BadRequest($"{kind} in version \"{version.Split('/')[^1]}\" cannot be handled as a {kind}: strict decoding error: {fields}");
        }
        foreach (var u in unknown) ctx.Response.Headers.Append("Warning", $"299 - \"unknown field \\\"{u}\\\"\"");
        return obj;
    }

    private static JsonObject ParseBody(byte[]? body, ResourceRequest req)
    {
        var isScale = req.Subresource == "scale";
        var expectedKind = isScale ? "Scale" : req.Entry.Kind;
        var expectedVersion = isScale ? "autoscaling/v1" : req.GroupVersion;
        JsonNode? node;
        try
        {
            node = JsonNode.Parse(body ?? [], documentOptions: new JsonDocumentOptions { MaxDepth = 10000 });
        }
        catch (JsonException e)
        {
            var excerpt = System.Text.Encoding.UTF8.GetString(body ?? []);
            if (excerpt.Length > 100) excerpt = excerpt[..100];
            throw ApiException.BadRequest(
                $"the object provided is unrecognized (must be of type {expectedKind}): couldn't get version/kind; json parse error: {GoStyle(e)} ({excerpt})");
        }
        if (node is not JsonObject obj)
        {
            throw ApiException.BadRequest(
                $"the object provided is unrecognized (must be of type {expectedKind}): couldn't get version/kind; json parse error: json: cannot unmarshal {JsonKindName(node)} into Go value of type struct {{ APIVersion string \"json:\\\"apiVersion,omitempty\\\"\"; Kind string \"json:\\\"kind,omitempty\\\"\" }}");
        }
        var apiVersion = obj["apiVersion"] is JsonValue av && av.TryGetValue<string>(out var avs) ? avs : "";
        var kind = obj["kind"] is JsonValue kv && kv.TryGetValue<string>(out var ks) ? ks : "";
        if (apiVersion.Length > 0 && apiVersion != expectedVersion)
        {
            throw ApiException.BadRequest($"the API version in the data ({apiVersion}) does not match the expected API version ({expectedVersion})");
        }
        if (kind.Length > 0 && kind != expectedKind)
        {
            throw ApiException.BadRequest($"the kind in the data ({kind}) does not match the expected kind ({expectedKind})");
        }
        obj["kind"] = expectedKind;
        obj["apiVersion"] = expectedVersion;
        if (obj["metadata"] is { } m && m is not JsonObject)
        {
            throw ApiException.BadRequest($"the object provided is unrecognized (must be of type {expectedKind}): metadata must be an object");
        }
        return obj;
    }

    private static JsonObject ParseObject(byte[]? body, ResourceRequest req) => ParseBody(body, req);

    private static string JsonKindName(JsonNode? node) => node switch
    {
        null => "null",
        JsonArray => "array",
        JsonValue v when v.GetValueKind() == JsonValueKind.String => "string",
        JsonValue v when v.GetValueKind() == JsonValueKind.Number => "number",
        _ => "bool",
    };

    private static string GoStyle(JsonException e)
    {
        var message = e.Message;
        var cut = message.IndexOf(" Path:", StringComparison.Ordinal);
        return cut > 0 ? message[..cut] : message;
    }

    private static byte[] Encode(JsonObject obj) => ResponseWriter.Render(w => obj.WriteTo(w));
}

/// <summary>Namespace, name, label and field conditions of a list or watch.</summary>
public sealed class ObjectFilter(string @namespace, string name, LabelSelector labelSelector, FieldSelector fieldSelector)
{
    public bool IsEverything => labelSelector.IsEverything && fieldSelector.IsEverything && name.Length == 0;

    public bool Matches(StoredObject o)
    {
        if (@namespace.Length > 0 && o.Namespace != @namespace) return false;
        if (name.Length > 0 && o.Name != name) return false;
        if (!labelSelector.IsEverything && !labelSelector.Matches(o.Labels ?? EmptyLabels)) return false;
        if (!fieldSelector.IsEverything && !fieldSelector.Matches(f => f switch
            {
                "metadata.name" => o.Name,
                "metadata.namespace" => o.Namespace,
                _ => o.Fields.TryGetValue(f, out var v) ? v : null,
            }))
        {
            return false;
        }
        return true;
    }

    private static readonly Dictionary<string, string> EmptyLabels = new();
}

using System.Collections.Immutable;
using System.Globalization;
using System.Text.Json.Nodes;
using Kcm.Api.Catalog;
using Kcm.ApiServer.Admission;
using Kcm.ApiServer.Authentication;
using Kcm.ApiServer.Endpoints;
using Kcm.ApiServer.Errors;
using Kcm.ApiServer.Storage;

namespace Kcm.ApiServer.Registry;

/// <summary>The resourceVersion, resourceVersionMatch, limit and continue of a list, as the client sent them.</summary>
public sealed record ListOptions(long Limit, string ResourceVersion, string ResourceVersionMatch, string Continue);

/// <summary>One page of a list: the items, the revision it was read at, and the continue token when more remain.</summary>
public sealed record ListResult(List<StoredObject> Items, long ResourceVersion, string? Continue, long Remaining);

/// <summary>
/// The generic registry over <see cref="ObjectStore"/> (upstream pkg/registry/generic/registry/store.go): what
/// create, update and delete mean for stored objects, independent of HTTP. Per-resource rules come from
/// <see cref="ResourceStrategy"/>; the HTTP handlers decode requests, call this and encode the answer.
/// </summary>
public sealed partial class GenericStore
{
    private const string GenerateNameAlphabet = "bcdfghjklmnpqrstvwxz2456789";

    private readonly ObjectStore _store;
    private readonly AdmissionPipeline _admission;
    private readonly TimeProvider _time;
    private readonly System.Collections.Concurrent.ConcurrentDictionary<ApiResourceEntry, ResourceStrategy> _strategies = new();

    public GenericStore(ObjectStore store, AdmissionPipeline admission, TimeProvider time)
    {
        _store = store;
        _admission = admission;
        _time = time;
        Fields = new Apply.FieldManager(time);
        foreach (var e in ApiCatalog.Resources)
        {
            if (!e.IsSubresource) _strategies[e] = ResourceStrategy.For(e);
        }
    }

    public ResourceStrategy StrategyFor(ApiResourceEntry entry) => _strategies[entry];

    /// <summary>managedFields tracking and server-side apply.</summary>
    public Apply.FieldManager Fields { get; }

    /// <summary>Adds the strategy of a resource served from a CustomResourceDefinition.</summary>
    public void AddStrategy(ResourceStrategy strategy) => _strategies[strategy.Entry] = strategy;

    public ObjectStore Objects => _store;

    /// <summary>The storage of the request's resource; a resource without storage cannot be served (405).</summary>
    public ResourceStore StorageFor(ResourceRequest req) => _store.Find(req.Group, req.Resource) ?? throw ApiException.MethodNotAllowed();

    public static string FormatTime(DateTimeOffset t) => t.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture);

    // ---- read ----

    public StoredObject Get(ResourceRequest req)
        => StorageFor(req).Get(StoredObject.MakeKey(req.Namespace, req.Name)) ?? throw ApiException.NotFound(req.Group, req.Resource, req.Name);

    /// <summary>A list at the revision the options ask for (latest, Exact, or the continue token's), one page at a time.</summary>
    public ListResult List(ResourceRequest req, ObjectFilter filter, ListOptions options)
    {
        var store = StorageFor(req);
        var limit = options.Limit;
        ImmutableSortedDictionary<string, StoredObject> items;
        long listRv;
        string? startAfter = null;
        if (options.Continue.Length > 0)
        {
            if (options.ResourceVersion.Length > 0) throw ApiException.BadRequest("specifying resource version is not allowed when using continue");
            var token = ContinueToken.Decode(options.Continue);
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
        else if (options.ResourceVersionMatch == "Exact"
                 && long.TryParse(options.ResourceVersion, NumberStyles.None, CultureInfo.InvariantCulture, out var exact) && exact > 0)
        {
            items = store.SnapshotAt(exact, () => ApiException.Expired($"too old resource version: {exact} ({exact})"));
            listRv = exact;
        }
        else
        {
            // resourceVersion=0 is served from the watch cache upstream, which ignores limit.
            if (options.ResourceVersion == "0") limit = 0;
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
        return new ListResult(selected, listRv, continueToken, remaining);
    }

    // ---- create ----

    /// <summary>Upstream Store.Create with rest.BeforeCreate: system metadata, strategy hooks, admission, then storage.</summary>
    public StoredObject Create(ResourceRequest req, JsonObject obj, UserInfo user)
    {
        var store = StorageFor(req);
        var strategy = _strategies[req.Entry];
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
        // NamespaceLifecycle answers before defaulting, naming and validation, as on the real server.
        if (req.Entry.Namespaced) NamespaceLifecycle.CheckCreate(_store, req.Group, req.Resource, req.Namespace, name);
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

        _admission.Run(new AdmissionRequest(AdmissionOperation.Create, strategy, "", req.Namespace, name, obj, null, user, req.DryRun));
        TrackFields(req, strategy, null, obj);

        if (rvInBody.Length > 0 && rvInBody != "0")
        {
            throw ApiException.InternalError("resourceVersion should not be set on objects to be created");
        }
        var candidate = ObjectEncoder.Encode(obj, kind, req.GroupVersion, req.Namespace, name, uid,
            o => FieldLabels.Extract(req.Group, req.Resource, o));
        try
        {
            return CreateInStore(req, store, candidate);
        }
        catch (ApiException e) when (e.Code == 409 && nameGenerated)
        {
            // Upstream CheckGeneratedNameError: the client retries, the server does not.
            throw ApiException.GenerateNameConflict(req.Group, req.Resource, name);
        }
    }

    private static string GenerateName(string prefix)
    {
        // Upstream trims the prefix so the result fits 63 characters.
        if (prefix.Length > 58) prefix = prefix[..58];
        Span<char> suffix = stackalloc char[5];
        for (var i = 0; i < suffix.Length; i++) suffix[i] = GenerateNameAlphabet[Random.Shared.Next(GenerateNameAlphabet.Length)];
        return prefix + new string(suffix);
    }

    internal static JsonObject EnsureMetadata(JsonObject obj)
    {
        if (obj["metadata"] is JsonObject m) return m;
        m = new JsonObject();
        obj["metadata"] = m;
        return m;
    }
}

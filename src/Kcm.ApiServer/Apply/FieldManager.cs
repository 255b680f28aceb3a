using System.Globalization;
using System.Text.Json.Nodes;
using Kcm.ApiServer.Errors;

namespace Kcm.ApiServer.Apply;

/// <summary>Who wrote a set of fields: upstream's manager identifier (an Apply entry has no apiVersion in it).</summary>
public readonly record struct ManagerIdentity(string Manager, string Operation, string ApiVersion, string Subresource)
{
    /// <summary>upstream printManager: "\"m\"" for appliers, "\"m\" using v1" for updaters.</summary>
    public string Describe()
    {
        var text = $"\"{Manager}\"";
        if (Subresource.Length > 0) text += $" with subresource \"{Subresource}\"";
        return Operation == "Update" ? $"{text} using {ApiVersion}" : text;
    }
}

internal sealed record ManagedEntry(FieldSet Set, string ApiVersion, bool Applied, string? Time);

/// <summary>Where a write happens: the manager, the version it speaks, the subresource, the kind's schema and reset fields.</summary>
public sealed record FieldContext(string Manager, string ApiVersion, string Subresource, string Definition, bool HasStatus, bool StatusKeepsLabels);

/// <summary>
/// Server-side apply and managedFields tracking (upstream apiserver fieldmanager over structured-merge-diff's Updater):
/// ordinary writes record an Update entry for the fields they changed, an apply merges the applied configuration,
/// removes what its manager stopped applying and nobody else owns, and reports conflicts with other managers.
/// </summary>
public sealed class FieldManager(TimeProvider time)
{
    private const int MaxUpdateManagers = 10;

    // upstream stripMetaManager: never owned by anyone.
    private static readonly FieldSet StripSet = BuildSet(["apiVersion"], ["kind"], ["metadata"], ["metadata", "name"],
        ["metadata", "namespace"], ["metadata", "creationTimestamp"], ["metadata", "selfLink"], ["metadata", "uid"],
        ["metadata", "clusterName"], ["metadata", "generation"], ["metadata", "managedFields"], ["metadata", "resourceVersion"]);

    /// <summary>
    /// Records the fields <paramref name="newObject"/> changes from <paramref name="live"/> (null for a create) for the
    /// context's manager in newObject.metadata.managedFields. As upstream, an object that is not tracked yet stays
    /// untracked, and a failure to track drops managedFields instead of failing the write.
    /// </summary>
    public void TrackUpdate(JsonObject? live, JsonObject newObject, FieldContext ctx)
    {
        var newMeta = Metadata(newObject);
        Dictionary<ManagerIdentity, ManagedEntry> managed;
        var liveManaged = live is null ? [] : DecodeOrEmpty(Metadata(live)["managedFields"]);
        if (ctx.Subresource.Length > 0) managed = liveManaged;
        else if (IsReset(newMeta["managedFields"])) managed = [];
        else managed = TryDecode(newMeta["managedFields"]) is { Count: > 0 } given ? given : liveManaged;
        newMeta.Remove("managedFields");
        if (managed.Count == 0 && live is not null && Metadata(live)["uid"] is not null) return;
        try
        {
            var identity = new ManagerIdentity(ctx.Manager.Length == 0 ? "unknown" : ctx.Manager, "Update", ctx.ApiVersion, ctx.Subresource);
            Update(managed, Clean(live), newObject, identity, ctx);
            CapUpdateManagers(managed);
            Encode(newMeta, managed);
        }
        catch (TypedValueException)
        {
            newMeta.Remove("managedFields");
        }
    }

    /// <summary>
    /// Applies <paramref name="config"/> to <paramref name="live"/> (null when the object does not exist yet) for the
    /// context's manager: the merged object with its managedFields, or 409 on conflicts unless forced.
    /// </summary>
    public JsonObject Apply(JsonObject? live, JsonObject config, FieldContext ctx, bool force)
    {
        var configVersion = config["apiVersion"]?.GetValue<string>() ?? "";
        if (configVersion != ctx.ApiVersion)
        {
            throw ApiException.BadRequest($"Incorrect version specified in apply patch. Specified patch version: {configVersion}, expected: {ctx.ApiVersion}");
        }
        if (config["metadata"] is JsonObject cm && cm.ContainsKey("managedFields") && cm["managedFields"] is not null)
        {
            throw ApiException.BadRequest("metadata.managedFields must be nil");
        }
        Dictionary<ManagerIdentity, ManagedEntry> managed;
        try
        {
            managed = live is null ? [] : Decode(Metadata(live)["managedFields"]);
        }
        catch (FormatException e)
        {
            throw ApiException.InternalError($"failed to decode managed fields: {e.Message}");
        }
        var liveObject = Clean(live) ?? new JsonObject();
        try
        {
            if (managed.Count == 0 && live is not null)
            {
                Update(managed, new JsonObject(), liveObject, new ManagerIdentity("before-first-apply", "Update", ctx.ApiVersion, ctx.Subresource), ctx);
            }
            var result = ApplyTyped(managed, liveObject, config, ctx, force);
            Encode(Metadata(result), managed);
            return result;
        }
        catch (TypedValueException e)
        {
            throw ApiException.InternalError($"failed to create typed patch object: {e.Message}");
        }
    }

    private JsonObject ApplyTyped(Dictionary<ManagerIdentity, ManagedEntry> managed, JsonObject live, JsonObject config, FieldContext ctx, bool force)
    {
        var type = SchemaType.Root(ctx.Definition);
        var identity = new ManagerIdentity(ctx.Manager, "Apply", "", ctx.Subresource);
        var ignored = Ignored(ctx);
        var merged = TypedValue.Merge(live, config, type);
        var lastSet = managed.TryGetValue(identity, out var last) ? last.Set : null;
        var applied = TypedValue.ToFieldSet(config, type).RecursiveDifference(ignored);
        managed[identity] = new ManagedEntry(applied, ctx.ApiVersion, true, last?.Time);
        if (lastSet is { IsEmpty: false })
        {
            var owned = new FieldSet();
            foreach (var entry in managed.Values) owned = owned.Union(entry.Set);
            merged = TypedValue.RemoveItems(merged, Abandoned(lastSet, owned), type);
        }
        var comparison = Resolve(managed, live, merged, identity, ctx, force);
        Strip(managed, identity);
        if (comparison.IsSame) return live;
        if (managed.TryGetValue(identity, out var mine)) managed[identity] = mine with { Time = Now() };
        return merged;
    }

    /// <summary>upstream Updater.Update followed by the managedFieldsUpdater's union into the manager's previous set.</summary>
    private void Update(Dictionary<ManagerIdentity, ManagedEntry> managed, JsonObject? live, JsonObject newObject, ManagerIdentity identity, FieldContext ctx)
    {
        var type = SchemaType.Root(ctx.Definition);
        var operation = new ManagerIdentity("current-operation", "Update", ctx.ApiVersion, ctx.Subresource);
        var comparison = Resolve(managed, Clean(live) ?? new JsonObject(), Clean(newObject)!, operation, ctx, force: true);
        var changed = comparison.Modified.Union(comparison.Added).RecursiveDifference(Ignored(ctx)).Difference(StripSet);
        if (changed.IsEmpty) return;
        var set = managed.TryGetValue(identity, out var previous) ? previous.Set.Union(changed) : changed;
        managed[identity] = new ManagedEntry(set, ctx.ApiVersion, false, Now());
    }

    /// <summary>
    /// upstream Updater.update: compares the two objects; other managers lose what changed (a conflict unless
    /// <paramref name="force"/>) and what was removed.
    /// </summary>
    private static Comparison Resolve(Dictionary<ManagerIdentity, ManagedEntry> managed, JsonObject oldObject, JsonObject newObject,
        ManagerIdentity workflow, FieldContext ctx, bool force)
    {
        var type = SchemaType.Root(ctx.Definition);
        var comparison = TypedValue.Compare(oldObject, newObject, type);
        var ignored = Ignored(ctx);
        var changed = comparison.Modified.Union(comparison.Added).RecursiveDifference(ignored);
        var removed = comparison.Removed.RecursiveDifference(ignored);
        var conflicts = new List<(ManagerIdentity Manager, List<PathElement> Path)>();
        foreach (var (manager, entry) in managed.ToList())
        {
            if (manager == workflow) continue;
            var conflict = entry.Set.Intersection(changed);
            if (!force)
            {
                conflicts.AddRange(conflict.Paths().Select(p => (manager, p)));
                continue;
            }
            var remaining = entry.Set.Difference(conflict).Difference(removed);
            if (remaining.IsEmpty) managed.Remove(manager);
            else managed[manager] = entry with { Set = remaining };
        }
        if (conflicts.Count > 0) throw ConflictError(conflicts);
        if (!force)
        {
            foreach (var (manager, entry) in managed.ToList())
            {
                if (manager == workflow) continue;
                var remaining = entry.Set.Difference(removed);
                if (remaining.IsEmpty) managed.Remove(manager);
                else managed[manager] = entry with { Set = remaining };
            }
        }
        return comparison;
    }

    /// <summary>
    /// What the applier's previous set held that no manager owns any more: removed from the object. A list element
    /// someone still owns a field of stays, with its key fields.
    /// </summary>
    private static FieldSet Abandoned(FieldSet last, FieldSet owned)
    {
        var result = new FieldSet();
        Collect(last, owned, [], result);
        return result;
    }

    private static void Collect(FieldSet last, FieldSet? owned, List<PathElement> path, FieldSet result)
    {
        foreach (var (pe, node) in last.Children)
        {
            var o = owned?.Get(pe);
            if (node.IsMember && (o is null || (!o.IsMember && o.IsEmpty)))
            {
                var parent = path.Count > 0 ? path[^1] : null;
                if (parent?.Kind == PathElementKind.Key && pe.Kind == PathElementKind.Field && parent.Key!.Any(k => k.Key == pe.FieldName)) continue;
                path.Add(pe);
                result.Insert(path);
                path.RemoveAt(path.Count - 1);
                continue;
            }
            path.Add(pe);
            Collect(node, o, path, result);
            path.RemoveAt(path.Count - 1);
        }
    }

    private static ApiException ConflictError(List<(ManagerIdentity Manager, List<PathElement> Path)> conflicts)
    {
        conflicts.Sort((a, b) => string.CompareOrdinal(a.Manager.Describe(), b.Manager.Describe()));
        var causes = conflicts.Select(c => new StatusCauseInfo("FieldManagerConflict", $"conflict with {c.Manager.Describe()}", FieldSet.Display(c.Path))).ToList();
        string message;
        if (conflicts.Count == 1)
        {
            message = $"Apply failed with 1 conflict: conflict with {conflicts[0].Manager.Describe()}: {FieldSet.Display(conflicts[0].Path)}";
        }
        else
        {
            var lines = conflicts.GroupBy(c => c.Manager.Describe())
                .SelectMany(g => new[] { $"conflicts with {g.Key}:" }.Concat(g.Select(c => $"- {FieldSet.Display(c.Path)}")));
            message = $"Apply failed with {conflicts.Count} conflicts: {string.Join("\n", lines)}";
        }
        return new ApiException(409, "Conflict", message, causes: causes);
    }

    /// <summary>upstream reset fields: a main resource with a status subresource does not own status, /status owns only status.</summary>
    private static FieldSet Ignored(FieldContext ctx)
    {
        if (ctx.Subresource == "status")
        {
            return ctx.StatusKeepsLabels ? BuildSet(["spec"], ["metadata", "labels"]) : BuildSet(["spec"]);
        }
        return ctx.Subresource.Length == 0 && ctx.HasStatus ? BuildSet(["status"]) : new FieldSet();
    }

    private static void Strip(Dictionary<ManagerIdentity, ManagedEntry> managed, ManagerIdentity identity)
    {
        if (!managed.TryGetValue(identity, out var entry)) return;
        var set = entry.Set.Difference(StripSet);
        if (set.IsEmpty) managed.Remove(identity);
        else managed[identity] = entry with { Set = set };
    }

    /// <summary>upstream capManagersManager: the oldest Update entries beyond ten fold into "ancient-changes".</summary>
    private static void CapUpdateManagers(Dictionary<ManagerIdentity, ManagedEntry> managed)
    {
        var updaters = managed.Where(m => !m.Value.Applied).OrderBy(m => Seconds(m.Value.Time))
            .ThenBy(m => m.Key.Manager, StringComparer.Ordinal).Select(m => m.Key).ToList();
        var excess = updaters.Count - MaxUpdateManagers;
        var firstByVersion = new Dictionary<string, ManagerIdentity>();
        for (var i = 0; i < updaters.Count && excess > 0; i++)
        {
            var manager = updaters[i];
            var entry = managed[manager];
            var bucket = new ManagerIdentity("ancient-changes", "Update", entry.ApiVersion, "");
            if (!firstByVersion.TryGetValue(entry.ApiVersion, out var first))
            {
                firstByVersion[entry.ApiVersion] = manager;
                continue;
            }
            if (!managed.ContainsKey(bucket))
            {
                managed[bucket] = managed[first];
                managed.Remove(first);
            }
            managed[bucket] = entry with { Set = entry.Set.Union(managed[bucket].Set) };
            managed.Remove(manager);
            excess--;
        }
    }

    private static long Seconds(string? t)
        => t is not null && DateTimeOffset.TryParse(t, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var d) ? d.ToUnixTimeSeconds() : 0;

    private string Now() => time.GetUtcNow().UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture);

    // ---- encoding ----

    private static JsonObject Metadata(JsonObject obj)
    {
        if (obj["metadata"] is JsonObject m) return m;
        m = new JsonObject();
        obj["metadata"] = m;
        return m;
    }

    private static JsonObject? Clean(JsonObject? obj)
    {
        if (obj is null) return null;
        if (obj["metadata"] is not JsonObject m || !m.ContainsKey("managedFields")) return obj;
        var copy = (JsonObject)obj.DeepClone();
        ((JsonObject)copy["metadata"]!).Remove("managedFields");
        return copy;
    }

    private static bool IsReset(JsonNode? managedFields)
        => managedFields is JsonArray a && (a.Count == 0 || (a.Count == 1 && a[0] is JsonObject { Count: 0 }));

    private static Dictionary<ManagerIdentity, ManagedEntry>? TryDecode(JsonNode? managedFields)
    {
        try
        {
            return Decode(managedFields);
        }
        catch (FormatException)
        {
            return null;
        }
    }

    private static Dictionary<ManagerIdentity, ManagedEntry> DecodeOrEmpty(JsonNode? managedFields) => TryDecode(managedFields) ?? [];

    /// <summary>upstream DecodeManagedFields, with its validation of operation, apiVersion and fieldsType.</summary>
    internal static Dictionary<ManagerIdentity, ManagedEntry> Decode(JsonNode? managedFields)
    {
        var result = new Dictionary<ManagerIdentity, ManagedEntry>();
        if (managedFields is not JsonArray entries) return result;
        for (var i = 0; i < entries.Count; i++)
        {
            if (entries[i] is not JsonObject e) throw new FormatException($"managed fields entry {i} is not an object");
            var operation = Str(e["operation"]);
            if (operation is not ("Apply" or "Update")) throw new FormatException("operation must be `Apply` or `Update`");
            var apiVersion = Str(e["apiVersion"]);
            if (apiVersion.Length == 0) throw new FormatException("apiVersion must not be empty");
            var fieldsType = Str(e["fieldsType"]);
            if (fieldsType.Length == 0) throw new FormatException($"missing fieldsType in managed fields entry {i}");
            if (fieldsType != "FieldsV1") throw new FormatException($"invalid fieldsType \"{fieldsType}\" in managed fields entry {i}");
            var identity = new ManagerIdentity(Str(e["manager"]), operation, operation == "Apply" ? "" : apiVersion, Str(e["subresource"]));
            FieldSet set;
            try
            {
                set = FieldSet.FromFieldsV1(e["fieldsV1"]);
            }
            catch (Exception ex) when (ex is System.Text.Json.JsonException or InvalidOperationException)
            {
                throw new FormatException($"error decoding set: {ex.Message}");
            }
            result[identity] = new ManagedEntry(set, apiVersion, operation == "Apply", e["time"] is null ? null : Str(e["time"]));
        }
        return result;
    }

    private static string Str(JsonNode? n) => n is JsonValue v && v.TryGetValue<string>(out var s) ? s : "";

    /// <summary>upstream encodeManagedFields: Apply entries first, then by time, manager, apiVersion and subresource.</summary>
    private static void Encode(JsonObject metadata, Dictionary<ManagerIdentity, ManagedEntry> managed)
    {
        if (managed.Count == 0)
        {
            metadata.Remove("managedFields");
            return;
        }
        var ordered = managed.OrderBy(m => m.Value.Applied ? "Apply" : "Update", StringComparer.Ordinal)
            .ThenBy(m => Seconds(m.Value.Time)).ThenBy(m => m.Key.Manager, StringComparer.Ordinal)
            .ThenBy(m => m.Value.ApiVersion, StringComparer.Ordinal).ThenBy(m => m.Key.Subresource, StringComparer.Ordinal);
        var array = new JsonArray();
        foreach (var (identity, entry) in ordered)
        {
            var e = new JsonObject
            {
                ["manager"] = identity.Manager,
                ["operation"] = entry.Applied ? "Apply" : "Update",
                ["apiVersion"] = entry.ApiVersion,
            };
            if (entry.Time is not null) e["time"] = entry.Time;
            e["fieldsType"] = "FieldsV1";
            e["fieldsV1"] = entry.Set.ToFieldsV1();
            if (identity.Subresource.Length > 0) e["subresource"] = identity.Subresource;
            array.Add((JsonNode)e);
        }
        metadata["managedFields"] = array;
    }

    private static FieldSet BuildSet(params string[][] paths)
    {
        var set = new FieldSet();
        foreach (var p in paths) set.Insert(p.Select(PathElement.Field).ToList());
        return set;
    }
}

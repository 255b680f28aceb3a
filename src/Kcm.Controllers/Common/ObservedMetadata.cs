using System.Text.Json.Nodes;
using Kcm.Api.Meta.V1;
using Kcm.Runtime.Informers;

namespace Kcm.Controllers.Common;

/// <summary>One metadata.ownerReferences entry.</summary>
public sealed record OwnerRef(string ApiVersion, string Kind, string Name, string Uid, bool? Controller, bool? BlockOwnerDeletion)
{
    public bool Blocks => BlockOwnerDeletion == true;

    /// <summary>The references as plain values; apiVersion and kind, repeated across thousands of dependents, are shared.</summary>
    public static IReadOnlyList<OwnerRef> ListFrom(JsonObject? metadata)
    {
        if (metadata?["ownerReferences"] is not JsonArray { Count: > 0 } array)
        {
            return [];
        }
        var result = new OwnerRef[array.Count];
        var count = 0;
        foreach (var item in array)
        {
            if (item is not JsonObject o)
            {
                continue;
            }
            result[count++] = new OwnerRef(
                CachedStrings.Dedupe(Json.String(o, "apiVersion")) ?? "",
                CachedStrings.Dedupe(Json.String(o, "kind")) ?? "",
                Json.String(o, "name") ?? "",
                Json.String(o, "uid") ?? "",
                Json.Bool(o, "controller"),
                Json.Bool(o, "blockOwnerDeletion"));
        }
        return count == result.Length ? result : result[..count];
    }

    /// <summary>As above from a typed object's references.</summary>
    public static IReadOnlyList<OwnerRef> ListFrom(List<OwnerReference>? references)
    {
        if (references is not { Count: > 0 })
        {
            return [];
        }
        var result = new OwnerRef[references.Count];
        for (var i = 0; i < result.Length; i++)
        {
            var o = references[i];
            result[i] = new OwnerRef(CachedStrings.Dedupe(o.ApiVersion) ?? "", CachedStrings.Dedupe(o.Kind) ?? "", o.Name ?? "", o.Uid ?? "", o.Controller, o.BlockOwnerDeletion);
        }
        return result;
    }

    public JsonObject ToJson()
    {
        var o = new JsonObject { ["apiVersion"] = ApiVersion, ["kind"] = Kind, ["name"] = Name, ["uid"] = Uid };
        if (Controller is { } controller)
        {
            o["controller"] = controller;
        }
        if (BlockOwnerDeletion is { } block)
        {
            o["blockOwnerDeletion"] = block;
        }
        return o;
    }
}

/// <summary>The metadata the garbage collector reads from an object, decoded once per event.</summary>
public sealed record ObservedMetadata(string? Namespace, string Name, string Uid, string? ResourceVersion, IReadOnlyList<OwnerRef> Owners, bool BeingDeleted, IReadOnlyList<string> Finalizers)
{
    public const string OrphanFinalizer = "orphan";
    public const string ForegroundFinalizer = "foregroundDeletion";

    public bool HasOrphanFinalizer => Finalizers.Contains(OrphanFinalizer);

    public bool HasForegroundFinalizer => Finalizers.Contains(ForegroundFinalizer);

    /// <summary>
    /// Reads the metadata as plain values, detached from the parsed document (which it would otherwise keep alive,
    /// and whose lazily built nodes are not safe to read from several threads); strings that repeat across objects
    /// (namespace, finalizers, owner kinds) are shared. Also what the monitors' caches hold.
    /// </summary>
    public static ObservedMetadata Of(JsonObject obj)
    {
        var metadata = obj["metadata"] as JsonObject;
        IReadOnlyList<string> finalizers = [];
        if (metadata?["finalizers"] is JsonArray { Count: > 0 } array)
        {
            finalizers = [.. array.Select(f => f is JsonValue v && v.TryGetValue<string>(out var s) ? CachedStrings.Dedupe(s) : null).OfType<string>()];
        }
        return new ObservedMetadata(
            Json.String(metadata, "namespace") is { Length: > 0 } ns ? CachedStrings.Dedupe(ns) : null,
            Json.String(metadata, "name") ?? "",
            Json.String(metadata, "uid") ?? "",
            Json.String(metadata, "resourceVersion"),
            OwnerRef.ListFrom(metadata),
            metadata?["deletionTimestamp"] is JsonValue,
            finalizers);
    }

    /// <summary>The same from a typed object's metadata (a monitor on a typed shared informer).</summary>
    public static ObservedMetadata Of(ObjectMeta? metadata)
    {
        IReadOnlyList<string> finalizers = [];
        if (metadata?.Finalizers is { Count: > 0 } list)
        {
            finalizers = [.. list.Select(CachedStrings.Dedupe).OfType<string>()];
        }
        return new ObservedMetadata(
            metadata?.Namespace is { Length: > 0 } ns ? CachedStrings.Dedupe(ns) : null,
            metadata?.Name ?? "",
            metadata?.Uid ?? "",
            metadata?.ResourceVersion,
            OwnerRef.ListFrom(metadata?.OwnerReferences),
            metadata?.DeletionTimestamp is not null,
            finalizers);
    }
}

/// <summary>Keys the garbage collector's metadata caches by namespace/name; they are not indexed.</summary>
internal sealed class ObservedMetadataAccessor : IObjectMetadataAccessor<ObservedMetadata>
{
    public static readonly ObservedMetadataAccessor Instance = new();

    public ObjectKey KeyOf(ObservedMetadata obj) => new(obj.Namespace, obj.Name);

    public string? ResourceVersionOf(ObservedMetadata obj) => obj.ResourceVersion;

    public string? ControllerUidOf(ObservedMetadata obj) => obj.Owners.FirstOrDefault(o => o.Controller == true)?.Uid is { Length: > 0 } uid ? uid : null;
}

internal static class Json
{
    public static string? String(JsonNode? node, string field)
        => node is JsonObject o && o[field] is JsonValue value && value.TryGetValue<string>(out var text) ? text : null;

    public static bool? Bool(JsonNode? node, string field)
        => node is JsonObject o && o[field] is JsonValue value && value.TryGetValue<bool>(out var b) ? b : null;
}

using System.Text.Json.Nodes;

namespace Kcm.Controllers.GarbageCollector;

/// <summary>
/// Upstream's objectReference: an owner reference's coordinates plus the namespace the object lives in (or, for
/// a virtual owner, the namespace of the dependent that referred to it). An empty namespace is stored as null.
/// </summary>
public sealed record ObjectIdentity
{
    public ObjectIdentity(string apiVersion, string kind, string? @namespace, string name, string uid)
    {
        ApiVersion = apiVersion;
        Kind = kind;
        Namespace = string.IsNullOrEmpty(@namespace) ? null : @namespace;
        Name = name;
        Uid = uid;
    }

    public string ApiVersion { get; }

    public string Kind { get; }

    public string? Namespace { get; }

    public string Name { get; }

    public string Uid { get; }

    public bool IsNamespaced => Namespace is not null;

    public static ObjectIdentity OfOwner(OwnerRef owner, string? @namespace) => new(owner.ApiVersion, owner.Kind, @namespace, owner.Name, owner.Uid);

    public ObjectIdentity WithNamespace(string? @namespace) => new(ApiVersion, Kind, @namespace, Name, Uid);

    /// <summary>Upstream ownerReferenceMatchesCoordinates.</summary>
    public bool MatchesCoordinates(OwnerRef owner)
        => owner.Uid == Uid && owner.Name == Name && owner.Kind == Kind && owner.ApiVersion == ApiVersion;

    public override string ToString() => $"[{ApiVersion}/{Kind}, namespace: {Namespace}, name: {Name}, uid: {Uid}]";
}

/// <summary>One metadata.ownerReferences entry.</summary>
public sealed record OwnerRef(string ApiVersion, string Kind, string Name, string Uid, bool? Controller, bool? BlockOwnerDeletion)
{
    public bool Blocks => BlockOwnerDeletion == true;

    public static IReadOnlyList<OwnerRef> ListFrom(JsonObject? metadata)
    {
        if (metadata?["ownerReferences"] is not JsonArray { Count: > 0 } array)
        {
            return [];
        }
        var result = new List<OwnerRef>(array.Count);
        foreach (var item in array)
        {
            if (item is not JsonObject o)
            {
                continue;
            }
            result.Add(new OwnerRef(
                Json.String(o, "apiVersion") ?? "",
                Json.String(o, "kind") ?? "",
                Json.String(o, "name") ?? "",
                Json.String(o, "uid") ?? "",
                Json.Bool(o, "controller"),
                Json.Bool(o, "blockOwnerDeletion")));
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

    public static ObservedMetadata Of(JsonObject obj)
    {
        var metadata = obj["metadata"] as JsonObject;
        var finalizers = metadata?["finalizers"] is JsonArray array
            ? array.Select(f => f is JsonValue v && v.TryGetValue<string>(out var s) ? s : null).OfType<string>().ToList()
            : (IReadOnlyList<string>)[];
        return new ObservedMetadata(
            Json.String(metadata, "namespace") is { Length: > 0 } ns ? ns : null,
            Json.String(metadata, "name") ?? "",
            Json.String(metadata, "uid") ?? "",
            Json.String(metadata, "resourceVersion"),
            OwnerRef.ListFrom(metadata),
            metadata?["deletionTimestamp"] is JsonValue,
            finalizers);
    }
}

internal static class Json
{
    public static string? String(JsonNode? node, string field)
        => node is JsonObject o && o[field] is JsonValue value && value.TryGetValue<string>(out var text) ? text : null;

    public static bool? Bool(JsonNode? node, string field)
        => node is JsonObject o && o[field] is JsonValue value && value.TryGetValue<bool>(out var b) ? b : null;
}

using System.Text.Json.Nodes;
using Kcm.Api;

namespace Kcm.Runtime.Informers;

/// <summary>Reads the metadata the cache needs from either typed objects or JSON objects.</summary>
public interface IObjectMetadataAccessor<in T>
{
    ObjectKey KeyOf(T obj);

    string? ResourceVersionOf(T obj);

    /// <summary>The uid of the owner reference with controller=true, if any.</summary>
    string? ControllerUidOf(T obj);
}

public sealed class TypedMetadataAccessor<T> : IObjectMetadataAccessor<T>
    where T : IKubernetesObject
{
    public static readonly TypedMetadataAccessor<T> Instance = new();

    private TypedMetadataAccessor()
    {
    }

    public ObjectKey KeyOf(T obj) => ObjectKey.Of(obj);

    public string? ResourceVersionOf(T obj) => obj.Metadata?.ResourceVersion;

    public string? ControllerUidOf(T obj)
        => obj.Metadata?.OwnerReferences?.FirstOrDefault(r => r.Controller == true)?.Uid is { Length: > 0 } uid ? uid : null;
}

public sealed class JsonObjectMetadataAccessor : IObjectMetadataAccessor<JsonObject>
{
    public static readonly JsonObjectMetadataAccessor Instance = new();

    private JsonObjectMetadataAccessor()
    {
    }

    public ObjectKey KeyOf(JsonObject obj)
        => new(MetadataString(obj, "namespace"), MetadataString(obj, "name") ?? throw new ArgumentException("the object has no metadata.name", nameof(obj)));

    public string? ResourceVersionOf(JsonObject obj) => MetadataString(obj, "resourceVersion");

    public string? ControllerUidOf(JsonObject obj)
    {
        if (obj["metadata"] is not JsonObject { } metadata || metadata["ownerReferences"] is not JsonArray owners)
        {
            return null;
        }
        foreach (var owner in owners)
        {
            if (owner is JsonObject o && o["controller"] is JsonValue c && c.TryGetValue<bool>(out var controller) && controller)
            {
                return StringAt(owner, "uid") is { Length: > 0 } uid ? uid : null;
            }
        }
        return null;
    }

    internal static string? MetadataString(JsonObject obj, string field) => StringAt(obj["metadata"], field);

    internal static string? StringAt(JsonNode? node, string field)
        => node is JsonObject o && o[field] is JsonValue value && value.TryGetValue<string>(out var text) ? text : null;
}

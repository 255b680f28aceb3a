using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization.Metadata;

namespace Kcm.Api;

/// <summary>Wire encoding of API objects: the generated source-generated context, no runtime reflection.</summary>
public static class KubeJson
{
    public static KubeJsonContext Context => KubeJsonContext.Default;

    public static JsonSerializerOptions Options => KubeJsonContext.Default.Options;

    public static JsonTypeInfo<T> TypeInfo<T>() => (JsonTypeInfo<T>)Context.GetTypeInfo(typeof(T))!;

    public static JsonTypeInfo TypeInfo(Type type)
        => Context.GetTypeInfo(type) ?? throw new ArgumentException($"{type.FullName} is not a generated API type", nameof(type));

    public static byte[] Serialize<T>(T value) => JsonSerializer.SerializeToUtf8Bytes(value, TypeInfo<T>());

    public static T? Deserialize<T>(ReadOnlySpan<byte> utf8) => JsonSerializer.Deserialize(utf8, TypeInfo<T>());

    public static JsonNode? ToNode<T>(T value) => JsonSerializer.SerializeToNode(value, TypeInfo<T>());

    public static T? FromNode<T>(JsonNode? node) => node is null ? default : node.Deserialize(TypeInfo<T>());
}

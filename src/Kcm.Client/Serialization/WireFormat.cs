using System.Buffers;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using Kcm.Api;
using Kcm.Api.Protobuf;
using Kcm.Client.Config;
using Kcm.Client.Errors;

namespace Kcm.Client.Serialization;

/// <summary>
/// Content negotiation with the API server, as client-go's rest client does it: with ContentType protobuf, built-in
/// kinds are asked for as "application/vnd.kubernetes.protobuf, */*" and written as protobuf; custom resources and
/// patches stay JSON. Responses are read by what they are (protobuf starts with "k8s\0", JSON never does), so a
/// server that answers JSON anyway is understood. Protobuf is transcoded to JSON and read by the usual JSON code,
/// which keeps one deserializer and one notion of unknown fields; objects whose every field has a typed home are read
/// straight into the type (<see cref="ProtobufObjectReader"/>), which gives the same object without the JSON.
/// </summary>
public static class WireFormat
{
    public const string Json = "application/json";

    /// <summary>client-go's Accept when only ContentType is set: that type, then anything.</summary>
    public const string ProtobufAccept = ProtobufTranscoder.MediaType + ", */*";

    /// <summary>client-go's metadata client (protobuf first, then the JSON conversion, then plain JSON).</summary>
    public const string MetadataProtobufAccept = "application/vnd.kubernetes.protobuf;as=PartialObjectMetadata;g=meta.k8s.io;v=v1,"
        + "application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1,application/json";

    public const string MetadataListProtobufAccept = "application/vnd.kubernetes.protobuf;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1,"
        + "application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1,application/json";

    public static bool PrefersProtobuf(ClientConfig config) => ProtobufTranscoder.IsProtobufMediaType(config.ContentType);

    /// <summary>Whether requests for this kind go as protobuf: the config asks for it and the kind is built in.</summary>
    public static bool UsesProtobuf(ClientConfig config, string apiVersion, string kind)
        => PrefersProtobuf(config) && ProtobufTranscoder.Supports(apiVersion, kind);

    /// <summary>The Accept header for a kind; null means the client's default (JSON).</summary>
    public static string? Accept(ClientConfig config, string apiVersion, string kind)
        => UsesProtobuf(config, apiVersion, kind) ? ProtobufAccept : null;

    /// <summary>A response body as JSON: protobuf is transcoded, anything else returned as it is.</summary>
    public static byte[] AsJson(byte[] body)
    {
        if (!ProtobufTranscoder.IsProtobuf(body)) return body;
        try
        {
            return ProtobufTranscoder.ToJson(body);
        }
        catch (ProtobufDecodeException ex)
        {
            throw new KubeProtocolException($"undecodable protobuf response: {ex.Message}", ex);
        }
    }

    /// <summary>A response body read as <typeparamref name="T"/>: protobuf is transcoded into a reused buffer, JSON read as it is.</summary>
    public static T? Deserialize<T>(byte[] body, JsonTypeInfo<T> typeInfo)
    {
        if (!ProtobufTranscoder.IsProtobuf(body)) return JsonSerializer.Deserialize(body, typeInfo);
        if (ProtobufObjectReader.TryRead(body, typeInfo, omitManagedFields: false, out var direct) && direct is T typed) return typed;
        var buffer = Transcode(body, omitManagedFields: false);
        try
        {
            return JsonSerializer.Deserialize(buffer.WrittenSpan, typeInfo);
        }
        finally
        {
            ScratchBuffer.Return(buffer);
        }
    }

    /// <summary>As above; <paramref name="omitManagedFields"/> leaves metadata.managedFields out of protobuf (the type info skips them in JSON).</summary>
    public static object? Deserialize(byte[] body, JsonTypeInfo typeInfo, bool omitManagedFields = false)
    {
        if (!ProtobufTranscoder.IsProtobuf(body)) return JsonSerializer.Deserialize(body, typeInfo);
        if (ProtobufObjectReader.TryRead(body, typeInfo, omitManagedFields, out var direct)) return direct;
        var buffer = Transcode(body, omitManagedFields);
        try
        {
            return JsonSerializer.Deserialize(buffer.WrittenSpan, typeInfo);
        }
        finally
        {
            ScratchBuffer.Return(buffer);
        }
    }

    private static ArrayBufferWriter<byte> Transcode(byte[] body, bool omitManagedFields)
    {
        var buffer = ScratchBuffer.Rent();
        try
        {
            ProtobufTranscoder.ToJson(body, buffer, omitManagedFields);
            return buffer;
        }
        catch (ProtobufDecodeException ex)
        {
            ScratchBuffer.Return(buffer);
            throw new KubeProtocolException($"undecodable protobuf response: {ex.Message}", ex);
        }
    }

    /// <summary>
    /// The request body for a create or update of a typed object: protobuf written straight from the object when it can
    /// be, else as <see cref="EncodeBody"/> makes it of the object's JSON (<paramref name="json"/>, called only then).
    /// </summary>
    public static (byte[] Body, string ContentType) EncodeObject(ClientConfig config, IKubernetesObject obj, ResourceInfo resource, Func<byte[]> json)
    {
        if (UsesProtobuf(config, resource.ApiVersion, resource.Kind))
        {
            var apiVersion = string.IsNullOrEmpty(obj.ApiVersion) ? resource.ApiVersion : obj.ApiVersion;
            var kind = string.IsNullOrEmpty(obj.Kind) ? resource.Kind : obj.Kind;
            if (ProtobufObjectWriter.TryWrite(obj, apiVersion, kind) is { } proto) return (proto, ProtobufTranscoder.MediaType);
        }
        return EncodeBody(config, resource.ApiVersion, resource.Kind, json());
    }

    /// <summary>
    /// The request body for a create or update: protobuf when the kind goes as protobuf and every field has a protobuf
    /// number, otherwise the JSON (so an unknown field kept by a typed object still reaches the server).
    /// </summary>
    public static (byte[] Body, string ContentType) EncodeBody(ClientConfig config, string apiVersion, string kind, byte[] json)
    {
        if (UsesProtobuf(config, apiVersion, kind) && ProtobufEncoder.TryEncode(json) is { } proto)
        {
            return (proto, ProtobufTranscoder.MediaType);
        }
        return (json, Json);
    }
}

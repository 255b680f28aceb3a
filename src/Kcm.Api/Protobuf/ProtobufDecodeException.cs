namespace Kcm.Api.Protobuf;

/// <summary>Bytes that are not a well-formed Kubernetes protobuf object (a request body, a response, a watch frame).</summary>
public sealed class ProtobufDecodeException(string message) : Exception(message);

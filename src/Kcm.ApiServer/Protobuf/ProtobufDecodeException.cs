namespace Kcm.ApiServer.Protobuf;

/// <summary>A request body that is not a well-formed Kubernetes protobuf object.</summary>
public sealed class ProtobufDecodeException(string message) : Exception(message);

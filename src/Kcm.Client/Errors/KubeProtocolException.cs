namespace Kcm.Client.Errors;

/// <summary>The server answered with something the client cannot use (undecodable body, bad watch frame).</summary>
public sealed class KubeProtocolException(string message, Exception? inner = null) : Exception(message, inner);

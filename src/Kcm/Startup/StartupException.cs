namespace Kcm.Startup;

/// <summary>
/// A start-up input that cannot be used (a flag value, a file a flag names, a kubeconfig, a port). The message is
/// the one line upstream prints after "command failed", naming the flag or file.
/// </summary>
public sealed class StartupException(string message, Exception? inner = null) : Exception(message, inner);

/// <summary>A controller's start failed: the manager stops as upstream's "error starting controllers" does.</summary>
public sealed class ControllerStartException(string controller, Exception inner)
    : Exception($"error starting controllers: {inner.Message}", inner)
{
    public string Controller { get; } = controller;
}

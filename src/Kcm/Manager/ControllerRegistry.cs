using Kcm.Controllers;
using Kcm.Options;

namespace Kcm.Manager;

/// <summary>
/// Builds a controller from the shared context and the flags; returns null when the controller decides not to
/// run (e.g. csrsigning without a signing key), after logging why, as upstream's init functions do.
/// </summary>
public delegate RunController? ControllerInitializer(ControllerContext context, KubeControllerManagerOptions options);

/// <summary>
/// The controllers this build implements, by their `--controllers` name (Options/KnownControllers). A known
/// name missing here is reported at start as not implemented.
/// </summary>
public static class ControllerRegistry
{
    public static IReadOnlyDictionary<string, ControllerInitializer> Initializers { get; } = new Dictionary<string, ControllerInitializer>
    {
        ["csrsigning"] = CertificatesInitializers.Signing,
        ["csrapproving"] = CertificatesInitializers.Approving,
        ["csrcleaner"] = CertificatesInitializers.Cleaning,
    };
}

using Kcm.Controllers;
using Kcm.Controllers.GarbageCollector;
using Kcm.Controllers.Namespace;
using Kcm.Controllers.PodGc;
using Kcm.Options;
using Microsoft.Extensions.Logging;

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
        ["garbagecollector"] = (context, options) =>
        {
            var gc = options.GarbageCollectorController;
            if (!gc.EnableGarbageCollector)
            {
                context.Loggers.CreateLogger("Kcm.Manager.ControllerRegistry").LogInformation("Garbage collector is disabled (--enable-garbage-collector=false)");
                return null;
            }
            var controller = new GarbageCollector(context);
            return ct => controller.RunAsync(gc.ConcurrentGcSyncs, ct);
        },
        ["namespace"] = (context, options) =>
        {
            var ns = options.NamespaceController;
            var controller = new NamespaceController(context, new Kcm.Controllers.Namespace.NamespaceControllerOptions { ResyncPeriod = ns.NamespaceSyncPeriod });
            return ct => controller.RunAsync(ns.ConcurrentNamespaceSyncs, ct);
        },
        ["podgc"] = (context, options) =>
        {
            var controller = new PodGcController(context, new Kcm.Controllers.PodGc.PodGcControllerOptions { TerminatedPodThreshold = options.PodGcController.TerminatedPodGcThreshold });
            return controller.RunAsync;
        },
    };
}

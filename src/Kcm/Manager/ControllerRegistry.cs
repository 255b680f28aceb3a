using Kcm.Controllers;
using Kcm.Controllers.Common;
using Kcm.Controllers.ReplicaSet;
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
        ["replicationcontroller"] = (context, options) =>
        {
            var controller = ReplicaSetControllers.NewReplicationManager(context, ReplicaControllerOptions(options));
            return ct => controller.RunAsync(options.ReplicationController.ConcurrentRcSyncs, ct);
        },
        ["replicaset"] = (context, options) =>
        {
            var controller = ReplicaSetControllers.NewReplicaSetController(context, ReplicaControllerOptions(options));
            return ct => controller.RunAsync(options.ReplicaSetController.ConcurrentReplicaSetSyncs, ct);
        },
    };

    private static Kcm.Controllers.ReplicaSet.ReplicaSetControllerOptions ReplicaControllerOptions(KubeControllerManagerOptions options) => new()
    {
        Ranking = new PodRankingFeatures(
            PodDeletionCost: options.FeatureGates.Enabled("PodDeletionCost"),
            LogarithmicScaleDown: options.FeatureGates.Enabled("LogarithmicScaleDown")),
    };
}

namespace Kcm.Controllers.ReplicaSets;

/// <summary>One implementation, two controllers (upstream's startReplicaSetController and startReplicationController).</summary>
public static class ReplicaSetDescriptors
{
    public static ControllerDescriptor<ReplicaSetControllerOptions> ReplicaSet { get; } = new(
        ReplicaSetKind.Instance.ControllerName,
        ReplicaSetKind.Instance.Component,
        (context, options) =>
        {
            var controller = ReplicaSetControllers.NewReplicaSetController(context, options);
            return ct => controller.RunAsync(options.Workers, ct);
        });

    public static ControllerDescriptor<ReplicaSetControllerOptions> ReplicationController { get; } = new(
        ReplicationControllerKind.Instance.ControllerName,
        ReplicationControllerKind.Instance.Component,
        (context, options) =>
        {
            var controller = ReplicaSetControllers.NewReplicationManager(context, options);
            return ct => controller.RunAsync(options.Workers, ct);
        });
}

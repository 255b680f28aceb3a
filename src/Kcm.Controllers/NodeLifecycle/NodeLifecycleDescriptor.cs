namespace Kcm.Controllers.NodeLifecycle;

public static class NodeLifecycleDescriptor
{
    public static ControllerDescriptor<NodeLifecycleControllerOptions> Value { get; } = new(
        NodeLifecycleController.ControllerName,
        NodeLifecycleController.ServiceAccountName,
        (context, options) => new NodeLifecycleController(context, options).RunAsync);
}

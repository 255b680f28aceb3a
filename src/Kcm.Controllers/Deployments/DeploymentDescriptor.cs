namespace Kcm.Controllers.Deployments;

public static class DeploymentDescriptor
{
    public static ControllerDescriptor<DeploymentControllerOptions> Value { get; } = new(
        DeploymentController.ControllerName,
        DeploymentController.ComponentName,
        (context, options) => new DeploymentController(context, options).RunAsync)
    {
        RetryPolicy = DeploymentController.RetryPolicy,
    };
}

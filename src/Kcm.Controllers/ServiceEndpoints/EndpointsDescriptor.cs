namespace Kcm.Controllers.ServiceEndpoints;

public static class EndpointsDescriptor
{
    public static ControllerDescriptor<EndpointsControllerOptions> Value { get; } = new(
        EndpointsController.ControllerName,
        EndpointsController.ServiceAccountName,
        (context, options) =>
        {
            var controller = new EndpointsController(context, options);
            return ct => controller.RunAsync(options.Workers, ct);
        })
    {
        RetryPolicy = EndpointsController.RetryPolicy,
    };
}

namespace Kcm.Controllers.EndpointSliceMirroring;

public static class EndpointSliceMirroringDescriptors
{
    public static ControllerDescriptor<EndpointSliceMirroringControllerOptions> EndpointSliceMirroring { get; } = new(
        EndpointSliceMirroringController.ControllerName,
        EndpointSliceMirroringController.ServiceAccountName,
        (context, options) =>
        {
            var controller = new EndpointSliceMirroringController(context, options);
            return ct => controller.RunAsync(options.Workers, ct);
        });
}

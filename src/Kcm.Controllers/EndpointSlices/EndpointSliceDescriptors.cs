namespace Kcm.Controllers.EndpointSlices;

public static class EndpointSliceDescriptors
{
    public static ControllerDescriptor<EndpointSliceControllerOptions> EndpointSlice { get; } = new(
        EndpointSliceController.ControllerName,
        EndpointSliceController.ServiceAccountName,
        (context, options) =>
        {
            var controller = new EndpointSliceController(context, options);
            return ct => controller.RunAsync(options.Workers, ct);
        });
}

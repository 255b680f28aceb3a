namespace Kcm.Controllers.PodGc;

public static class PodGcDescriptor
{
    public static ControllerDescriptor<PodGcControllerOptions> Value { get; } = new(
        PodGcController.ControllerName,
        PodGcController.ServiceAccountName,
        (context, options) => new PodGcController(context, options).RunAsync);
}

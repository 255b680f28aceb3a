namespace Kcm.Controllers.EphemeralVolumes;

public static class EphemeralVolumeDescriptor
{
    public static ControllerDescriptor<EphemeralVolumeControllerOptions> Value { get; } = new(
        EphemeralVolumeController.ControllerName,
        EphemeralVolumeController.ServiceAccountName,
        (context, options) =>
        {
            var controller = new EphemeralVolumeController(context);
            return ct => controller.RunAsync(options.Workers, ct);
        });
}

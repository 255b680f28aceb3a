namespace Kcm.Controllers.VolumeExpansion;

public static class ExpandControllerDescriptor
{
    public static ControllerDescriptor<ExpandControllerSettings> Value { get; } = new(
        ExpandController.ControllerName,
        ExpandController.ServiceAccountName,
        (context, settings) => new ExpandController(context, settings).RunAsync);
}

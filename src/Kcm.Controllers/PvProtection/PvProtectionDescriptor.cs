namespace Kcm.Controllers.PvProtection;

public static class PvProtectionDescriptor
{
    public static ControllerDescriptor<NoSettings> Value { get; } = new(
        PvProtectionController.ControllerName,
        PvProtectionController.ServiceAccountName,
        (context, _) => new PvProtectionController(context).RunAsync);
}

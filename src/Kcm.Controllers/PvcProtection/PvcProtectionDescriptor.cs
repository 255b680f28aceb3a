namespace Kcm.Controllers.PvcProtection;

public static class PvcProtectionDescriptor
{
    public static ControllerDescriptor<NoSettings> Value { get; } = new(
        PvcProtectionController.ControllerName,
        PvcProtectionController.ServiceAccountName,
        (context, _) => new PvcProtectionController(context).RunAsync);
}

namespace Kcm.Controllers.AttachDetach;

public static class AttachDetachDescriptor
{
    public static ControllerDescriptor<AttachDetachSettings> Value { get; } = new(
        AttachDetachController.ControllerName,
        AttachDetachController.ServiceAccountName,
        (context, settings) => new AttachDetachController(context, settings).RunAsync);
}

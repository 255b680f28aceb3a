namespace Kcm.Controllers.PersistentVolumes;

public static class PersistentVolumeBinderDescriptor
{
    public static ControllerDescriptor<PersistentVolumeBinderOptions> Value { get; } = new(
        PersistentVolumeController.ControllerName,
        PersistentVolumeController.ServiceAccountName,
        (context, options) => new PersistentVolumeController(context, options).RunAsync);
}

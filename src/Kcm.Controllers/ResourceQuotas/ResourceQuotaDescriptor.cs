namespace Kcm.Controllers.ResourceQuotas;

public static class ResourceQuotaDescriptor
{
    public static ControllerDescriptor<ResourceQuotaControllerOptions> Value { get; } = new(
        ResourceQuotaController.ControllerName,
        ResourceQuotaController.ServiceAccountName,
        (context, options) =>
        {
            var controller = new ResourceQuotaController(context, options);
            return controller.RunAsync;
        });
}

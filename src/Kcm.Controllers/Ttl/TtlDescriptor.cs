namespace Kcm.Controllers.Ttl;

public static class TtlDescriptor
{
    public static ControllerDescriptor<TtlControllerOptions> Value { get; } = new(
        TtlController.ControllerName,
        TtlController.ServiceAccountName,
        (context, options) =>
        {
            var controller = new TtlController(context);
            return ct => controller.RunAsync(options.Workers, ct);
        });
}

namespace Kcm.Controllers.Namespaces;

public static class NamespaceDescriptor
{
    public static ControllerDescriptor<NamespaceControllerOptions> Value { get; } = new(
        NamespaceController.ControllerName,
        NamespaceController.ServiceAccountName,
        (context, options) =>
        {
            var controller = new NamespaceController(context, options);
            return ct => controller.RunAsync(options.Workers, ct);
        });
}

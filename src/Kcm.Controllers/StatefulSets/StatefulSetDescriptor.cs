namespace Kcm.Controllers.StatefulSets;

/// <summary>Upstream's startStatefulSetController.</summary>
public static class StatefulSetDescriptor
{
    public static ControllerDescriptor<StatefulSetControllerOptions> Value { get; } = new(
        StatefulSetController.ControllerName,
        StatefulSetController.ServiceAccount,
        (context, options) =>
        {
            var controller = new StatefulSetController(context, options);
            return controller.RunAsync;
        });
}

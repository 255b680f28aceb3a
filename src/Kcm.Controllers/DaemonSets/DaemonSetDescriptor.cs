namespace Kcm.Controllers.DaemonSets;

/// <summary>Upstream's startDaemonSetController: failed pods back off from 1 s to 15 min.</summary>
public static class DaemonSetDescriptor
{
    public static ControllerDescriptor<DaemonSetControllerOptions> Value { get; } = new(
        DaemonSetController.ControllerName,
        DaemonSetController.ServiceAccount,
        (context, options) =>
        {
            var controller = new DaemonSetController(context, options);
            return ct => controller.RunAsync(options.Workers, ct);
        });
}

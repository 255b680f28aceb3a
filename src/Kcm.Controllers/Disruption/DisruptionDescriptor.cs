namespace Kcm.Controllers.Disruption;

public static class DisruptionDescriptor
{
    /// <summary>Upstream's disruption controller has no flags: one worker per queue.</summary>
    public static ControllerDescriptor<NoSettings> Value { get; } = new(
        DisruptionController.ControllerName,
        DisruptionController.ServiceAccountName,
        (context, _) =>
        {
            var controller = new DisruptionController(context);
            return controller.RunAsync;
        });
}

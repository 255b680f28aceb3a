namespace Kcm.Controllers.TtlAfterFinished;

public static class TtlAfterFinishedDescriptor
{
    public static ControllerDescriptor<TtlAfterFinishedControllerOptions> Value { get; } = new(
        TtlAfterFinishedController.ControllerName,
        TtlAfterFinishedController.ServiceAccountName,
        (context, options) =>
        {
            var controller = new TtlAfterFinishedController(context);
            return ct => controller.RunAsync(options.Workers, ct);
        });
}

namespace Kcm.Controllers.PodAutoscaling;

public static class HorizontalPodAutoscalerDescriptor
{
    public static ControllerDescriptor<HorizontalControllerOptions> Value { get; } = new(
        HorizontalController.ControllerName,
        HorizontalController.ServiceAccountName,
        (context, options) =>
        {
            var controller = new HorizontalController(context, options);
            return controller.RunAsync;
        });
}

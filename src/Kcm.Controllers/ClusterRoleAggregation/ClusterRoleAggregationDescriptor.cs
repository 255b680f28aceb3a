namespace Kcm.Controllers.ClusterRoleAggregation;

public static class ClusterRoleAggregationDescriptor
{
    public static ControllerDescriptor<ClusterRoleAggregationOptions> Value { get; } = new(
        ClusterRoleAggregationController.ControllerName,
        ClusterRoleAggregationController.ServiceAccountName,
        (context, options) =>
        {
            var controller = new ClusterRoleAggregationController(context);
            return ct => controller.RunAsync(options.Workers, ct);
        });
}

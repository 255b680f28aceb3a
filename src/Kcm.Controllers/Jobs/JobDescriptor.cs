namespace Kcm.Controllers.Jobs;

public static class JobDescriptor
{
    public static ControllerDescriptor<JobControllerOptions> Value { get; } = new(
        JobController.ControllerName,
        JobController.ServiceAccountName,
        (context, options) =>
        {
            var controller = new JobController(context, options);
            return ct => controller.RunAsync(options.Workers, ct);
        });
}

namespace Kcm.Controllers.CronJobs;

public static class CronJobDescriptor
{
    public static ControllerDescriptor<CronJobControllerOptions> Value { get; } = new(
        CronJobController.ControllerName,
        CronJobController.ServiceAccountName,
        (context, options) => new CronJobController(context, options).RunAsync);
}

using Microsoft.Extensions.Logging;

namespace Kcm.Controllers.CloudProvider;

/// <summary>
/// The generic flags the three start decisions read. <paramref name="ExternalCloudProvider"/> (--cloud-provider=external)
/// is upstream's ExternalLoops mode, which does not register these controllers at all: they then log nothing of their own.
/// </summary>
public sealed record CloudControllerSettings(bool ExternalCloudProvider, bool AllocateNodeCidrs, bool ConfigureCloudRoutes);

/// <summary>
/// service, route and cloud-node-lifecycle: this build, like upstream's providerless one, has no cloud provider, so
/// each logs what upstream v1.26's start function logs when it has none and is not started (the manager then logs
/// the skip). With --cloud-provider=external upstream does not register them at all.
/// </summary>
public static class CloudControllerDescriptors
{
    // Upstream logs these from cmd/kube-controller-manager/app/core.go.
    private const string LoggerName = "core";

    public static ControllerDescriptor<CloudControllerSettings> Service { get; } = new("service", "service-controller", (context, settings) =>
    {
        if (settings.ExternalCloudProvider)
        {
            return null;
        }
        // servicecontroller.New refuses a nil cloud; upstream treats that as "not started", by legacy.
        context.Loggers.CreateLogger(LoggerName).LogError(
            "Failed to start service controller: WARNING: no cloud provider provided, services of type LoadBalancer will fail");
        return null;
    })
    { NeedsCloudProvider = true };

    public static ControllerDescriptor<CloudControllerSettings> Route { get; } = new("route", "route-controller", (context, settings) =>
    {
        if (settings.ExternalCloudProvider)
        {
            return null;
        }
        var logger = context.Loggers.CreateLogger(LoggerName);
        if (!settings.AllocateNodeCidrs || !settings.ConfigureCloudRoutes)
        {
            logger.LogInformation("{Message}", $"Will not configure cloud provider routes for allocate-node-cidrs: {GoBool(settings.AllocateNodeCidrs)}, configure-cloud-routes: {GoBool(settings.ConfigureCloudRoutes)}.");
        }
        else
        {
            logger.LogWarning("configure-cloud-routes is set, but no cloud provider specified. Will not configure cloud provider routes.");
        }
        return null;
    })
    { NeedsCloudProvider = true };

    // Upstream builds it with the node-controller's client (it shares that cluster role).
    public static ControllerDescriptor<CloudControllerSettings> CloudNodeLifecycle { get; } = new("cloud-node-lifecycle", "node-controller", (context, settings) =>
    {
        if (settings.ExternalCloudProvider)
        {
            return null;
        }
        context.Loggers.CreateLogger(LoggerName).LogError("failed to start cloud node lifecycle controller: no cloud provider provided");
        return null;
    })
    { NeedsCloudProvider = true };

    private static string GoBool(bool value) => value ? "true" : "false";
}

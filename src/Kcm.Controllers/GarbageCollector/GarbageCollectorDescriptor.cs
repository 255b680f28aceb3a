using Microsoft.Extensions.Logging;

namespace Kcm.Controllers.GarbageCollector;

/// <param name="Enabled">--enable-garbage-collector.</param>
/// <param name="Workers">--concurrent-gc-syncs.</param>
public sealed record GarbageCollectorSettings(bool Enabled, int Workers);

public static class GarbageCollectorDescriptor
{
    public static ControllerDescriptor<GarbageCollectorSettings> Value { get; } = new(
        GarbageCollector.ControllerName,
        GarbageCollector.ServiceAccountName,
        (context, settings) =>
        {
            if (!settings.Enabled)
            {
                context.Loggers.CreateLogger("Kcm.Manager.ControllerRegistry").LogInformation("Garbage collector is disabled (--enable-garbage-collector=false)");
                return null;
            }
            var controller = new GarbageCollector(context);
            return ct => controller.RunAsync(settings.Workers, ct);
        });
}

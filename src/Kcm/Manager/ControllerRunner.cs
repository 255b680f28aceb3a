using Kcm.Options;
using Microsoft.Extensions.Logging;

namespace Kcm.Manager;

/// <summary>
/// Starts every enabled controller that this build implements and runs them until the token is
/// cancelled (shutdown or lost leadership). Controllers arrive with later work; until a controller
/// is implemented it is reported, not silently skipped.
/// </summary>
public sealed class ControllerRunner(KubeControllerManagerOptions options, ILoggerFactory loggers)
{
    private readonly ILogger _logger = loggers.CreateLogger("controllermanager");

    public async Task RunAsync(CancellationToken ct)
    {
        foreach (var descriptor in KnownControllers.All)
        {
            if (!options.IsControllerEnabled(descriptor.Name))
            {
                _logger.LogWarning("\"{Controller}\" is disabled", descriptor.Name);
                continue;
            }
            _logger.LogWarning("Skipping \"{Controller}\": not implemented in this build yet", descriptor.Name);
        }
        try
        {
            await Task.Delay(Timeout.Infinite, ct);
        }
        catch (OperationCanceledException)
        {
        }
    }
}

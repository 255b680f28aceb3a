using Kcm.Client;
using Kcm.Controllers;
using Kcm.Controllers.Clients;
using Kcm.Controllers.ServiceAccounts;
using Kcm.Options;
using Kcm.Runtime.Events;
using Kcm.Runtime.Informers;
using Kcm.Runtime.Logging;
using Kcm.Runtime.Metrics;
using Kcm.Runtime.Queues;
using Kcm.Serving;
using Kcm.Startup;
using Microsoft.Extensions.Logging;

namespace Kcm.Manager;

/// <summary>
/// Runs every enabled controller for one leadership term (or until shutdown without leader election): builds
/// the shared context, lets each controller register its informers, starts the informers, then runs the
/// controllers until the token is cancelled and waits for them to stop. A known controller this build lacks
/// is reported, not silently skipped; one whose start throws ends the run with <see cref="ControllerStartException"/>.
/// </summary>
public sealed class ControllerRunner(
    KubeControllerManagerOptions options,
    KubeApiClient client,
    IControllerClients clients,
    IWorkQueueMetricsProvider queueMetrics,
    MetricsRegistry metrics,
    ILoggerFactory loggers,
    TimeProvider time)
{
    private readonly ILogger _logger = loggers.CreateLogger("controllermanager");

    /// <summary>Where each started controller gets its /healthz check (upstream's controllerChecks), when serving.</summary>
    public HealthChecks? Health { get; init; }

    public async Task RunAsync(CancellationToken ct)
    {
        var informers = new SharedInformerFactory(client, new SharedInformerFactoryOptions
        {
            DefaultResyncPeriod = ResyncPeriod(options.Generic.MinResyncPeriod),
            TimeProvider = time,
        }, loggers);
        await using var events = new EventBroadcaster(client, loggers, time);
        var context = new ControllerContext
        {
            Clients = clients,
            Informers = informers,
            Events = events,
            QueueMetrics = queueMetrics,
            Metrics = metrics,
            Loggers = loggers,
            Time = time,
        };

        var started = await InitializeAsync(context, ct);
        // The token controller is started apart upstream (before the others) and has no check of its own.
        Health?.Add(started.Where(c => c.Name != TokensController.ControllerName).Select(c => HealthChecks.Ping(c.Name)));
        informers.Start(ct);
        var running = started.Select(c => Task.Run(() => RunOneAsync(c.Name, c.Run, ct), CancellationToken.None)).ToList();
        try
        {
            await Task.Delay(Timeout.Infinite, ct);
        }
        catch (OperationCanceledException)
        {
        }
        await Task.WhenAll(running);
        await informers.ShutdownAsync();
    }

    /// <summary>
    /// Builds every enabled controller in registry order (constructors only register informers,
    /// queues and metrics; nothing talks to the API server yet) and returns the ones that start.
    /// </summary>
    internal async Task<List<(string Name, RunController Run)>> InitializeAsync(ControllerContext context, CancellationToken ct)
    {
        var started = new List<(string Name, RunController Run)>();
        foreach (var (descriptor, initialize) in ControllerRegistry.All)
        {
            if (!options.IsControllerEnabled(descriptor.Name))
            {
                _logger.LogWarning("\"{Controller}\" is disabled", descriptor.Name);
                continue;
            }
            // The token controller is started apart upstream, before the loop that logs these two lines.
            var apart = descriptor.Name == TokensController.ControllerName;
            if (!apart) _logger.LogInformation(Klog.V1, "Starting \"{Controller}\"", descriptor.Name);
            RunController? run;
            try
            {
                run = initialize(context, options);
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                // As upstream's StartControllers: the first controller that cannot start ends the manager.
                throw new ControllerStartException(descriptor.Name, e);
            }
            if (run == null)
            {
                _logger.LogWarning("Skipping \"{Controller}\"", descriptor.Name);
                continue;
            }
            started.Add((descriptor.Name, run));
            if (!apart) _logger.LogInformation("Started \"{Controller}\"", descriptor.Name);
            // --controller-start-interval, jittered by up to 100% as upstream's ControllerStartJitter.
            var interval = options.Generic.ControllerStartInterval;
            if (interval > TimeSpan.Zero) await Task.Delay(interval * (1 + Random.Shared.NextDouble()), time, ct);
        }
        return started;
    }

    private async Task RunOneAsync(string name, RunController run, CancellationToken ct)
    {
        try
        {
            await run(ct);
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
        }
        catch (Exception ex)
        {
            _logger.LogError(ex, "Controller \"{Controller}\" stopped with an error", name);
        }
    }

    /// <summary>Upstream's ResyncPeriod: a random period in [min, 2·min), so informers of many managers do not resync in step.</summary>
    private static TimeSpan ResyncPeriod(TimeSpan minResyncPeriod)
        => TimeSpan.FromTicks((long)(minResyncPeriod.Ticks * (1 + Random.Shared.NextDouble())));
}

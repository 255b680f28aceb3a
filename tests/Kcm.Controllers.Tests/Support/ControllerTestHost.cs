using Kcm.Client;
using Kcm.Controllers.Clients;
using Kcm.Runtime.Events;
using Kcm.Runtime.Informers;
using Kcm.Runtime.Queues;
using Kcm.Testing;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Kcm.Controllers.Tests.Support;

/// <summary>
/// Runs controllers as the controller manager does, against a test API server (embedded, or a real one via
/// KCM_TEST_KUBECONFIG): one admin client, one shared informer factory and event broadcaster. Build the
/// controllers from <see cref="Context"/>, then <see cref="Start"/> them; disposal stops everything.
/// </summary>
public sealed class ControllerTestHost : IAsyncDisposable
{
    private readonly CancellationTokenSource _stop = new();
    private readonly List<Task> _running = [];

    /// <param name="unthrottled">No client-side rate limit (client-go's 5 QPS default slows controllers that list every resource).</param>
    /// <param name="onlyNamespace">
    /// Namespaced informers watch only this namespace (cluster-scoped ones, such as nodes, still see everything): for
    /// controllers whose decisions count objects cluster-wide, which other test classes on a shared cluster would move.
    /// </param>
    public ControllerTestHost(EmbeddedServerFixture fixture, ILoggerFactory? loggers = null, TimeProvider? time = null, bool unthrottled = false, string? onlyNamespace = null)
    {
        loggers ??= NullLoggerFactory.Instance;
        Client = KubeApiClient.FromKubeconfig(fixture.AdminKubeconfigPath, options: new KubeClientOptions
        {
            TimeProvider = time ?? TimeProvider.System,
            RateLimiter = unthrottled ? new Kcm.Client.Flowcontrol.UnlimitedRateLimiter() : null,
        });
        Events = new EventBroadcaster(Client, loggers, time);
        Context = new ControllerContext
        {
            Clients = new SharedClients(Client),
            Informers = new SharedInformerFactory(Client, new SharedInformerFactoryOptions { TimeProvider = time ?? TimeProvider.System, Namespace = onlyNamespace }, loggers),
            Events = Events,
            QueueMetrics = NoopWorkQueueMetricsProvider.Instance,
            Loggers = loggers,
            Time = time ?? TimeProvider.System,
        };
    }

    public KubeApiClient Client { get; }

    public EventBroadcaster Events { get; }

    public ControllerContext Context { get; }

    public CancellationToken Stopping => _stop.Token;

    /// <summary>Starts the informers requested so far and runs the given controllers in the background.</summary>
    public void Start(params RunController[] controllers)
    {
        Context.Informers.Start(_stop.Token);
        foreach (var run in controllers)
        {
            _running.Add(Task.Run(() => run(_stop.Token)));
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        try
        {
            await Task.WhenAll(_running).WaitAsync(TimeSpan.FromSeconds(30));
        }
        catch (OperationCanceledException)
        {
        }
        await Context.Informers.ShutdownAsync().WaitAsync(TimeSpan.FromSeconds(30));
        await Events.DisposeAsync();
        Client.Dispose();
        _stop.Dispose();
    }
}

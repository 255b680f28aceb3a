using Kcm.Client;
using Kcm.Client.Config;
using Kcm.Controllers.Clients;
using Kcm.Runtime.Events;
using Kcm.Runtime.Informers;
using Kcm.Runtime.Metrics;
using Kcm.Runtime.Queues;
using Microsoft.Extensions.Logging.Abstractions;

namespace Kcm.Controllers.Tests.GarbageCollector;

public sealed class GarbageCollectorMetricsTests
{
    [Fact]
    public async Task Resync_DiscoveryUnreachable_CountsResourcesSyncError()
    {
        // Nothing listens on port 1: discovery fails as it does while the API server is down.
        using var client = new KubeApiClient(new ClientConfig { Server = new Uri("https://127.0.0.1:1") });
        await using var events = new EventBroadcaster(client, NullLoggerFactory.Instance);
        var registry = new MetricsRegistry();
        var context = new ControllerContext
        {
            Clients = new SharedClients(client),
            Informers = new SharedInformerFactory(client, new SharedInformerFactoryOptions(), NullLoggerFactory.Instance),
            Events = events,
            QueueMetrics = NoopWorkQueueMetricsProvider.Instance,
            Loggers = NullLoggerFactory.Instance,
            Metrics = registry,
        };
        var collector = new Controllers.GarbageCollector.GarbageCollector(context);
        Assert.Contains("garbagecollector_controller_resources_sync_error_total 0", registry.Render());

        Assert.False(await collector.ResyncAsync(CancellationToken.None));
        Assert.False(await collector.ResyncAsync(CancellationToken.None));

        Assert.Contains("garbagecollector_controller_resources_sync_error_total 2", registry.Render());
    }
}

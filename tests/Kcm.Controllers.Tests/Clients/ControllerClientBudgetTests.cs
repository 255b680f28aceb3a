using System.Collections.Concurrent;
using Kcm.Client;
using Kcm.Client.Config;
using Kcm.Controllers.Clients;
using Kcm.Controllers.Namespaces;
using Kcm.Runtime.Events;
using Kcm.Runtime.Informers;
using Kcm.Runtime.Queues;
using Microsoft.Extensions.Logging.Abstractions;

namespace Kcm.Controllers.Tests.Clients;

/// <summary>Upstream raises two controllers' client budgets above --kube-api-qps/--kube-api-burst; ours must too.</summary>
public sealed class ControllerClientBudgetTests
{
    private static readonly ClientConfig Root = new() { Server = new Uri("https://127.0.0.1:6443"), Qps = 20, Burst = 30 };

    [Fact]
    public void For_WithScales_MultipliesQpsAndBurstAndKeepsOneClientPerBudget()
    {
        using var clients = new KubeconfigControllerClients(Root, new KubeClientOptions());

        var plain = clients.For("generic-garbage-collector");
        var doubled = clients.For("generic-garbage-collector", qpsScale: 2);
        var namespaces = clients.For("namespace-controller", qpsScale: 20, burstScale: 100);

        Assert.Equal((20f, 30), (plain.Config.Qps, plain.Config.Burst));
        Assert.Equal((40f, 30), (doubled.Config.Qps, doubled.Config.Burst));
        Assert.Equal((400f, 3000), (namespaces.Config.Qps, namespaces.Config.Burst));
        Assert.NotSame(plain, doubled);
        Assert.Same(doubled, clients.For("generic-garbage-collector", qpsScale: 2));
        Assert.EndsWith("/namespace-controller", namespaces.Config.UserAgent);
    }

    [Fact]
    public void Controllers_AskForUpstreamsBudgets()
    {
        using var root = new KubeApiClient(Root);
        var recording = new RecordingClients(root);
        var loggers = NullLoggerFactory.Instance;
        var context = new ControllerContext
        {
            Clients = recording,
            Informers = new SharedInformerFactory(root, new SharedInformerFactoryOptions(), loggers),
            Events = new EventBroadcaster(root, loggers),
            QueueMetrics = NoopWorkQueueMetricsProvider.Instance,
            Loggers = loggers,
        };

        using var gc = new Kcm.Controllers.GarbageCollector.GarbageCollector(context);
        _ = new NamespaceController(context);

        Assert.Equal((2f, 1), recording.Budgets["generic-garbage-collector"]);
        Assert.Equal((20f, 100), recording.Budgets["namespace-controller"]);
    }

    private sealed class RecordingClients(KubeApiClient client) : IControllerClients
    {
        public ConcurrentDictionary<string, (float Qps, int Burst)> Budgets { get; } = new();

        public KubeApiClient For(string serviceAccountName, float qpsScale = 1, int burstScale = 1)
        {
            Budgets[serviceAccountName] = (qpsScale, burstScale);
            return client;
        }

        public KubeApiClient RootFor(string name) => client;
    }
}

using Kcm.Client;
using Kcm.Client.Config;
using Kcm.Client.Flowcontrol;
using Kcm.Client.Transport;
using Kcm.Controllers.Clients;
using Kcm.Controllers.ServiceEndpoints;
using Kcm.Controllers.Tests.Support;
using Kcm.Controllers.Tests.Workloads;

namespace Kcm.Controllers.Tests.ServiceEndpoints;

/// <summary>
/// The workload fixture (deployment and replicaset controllers, simulated nodes) plus the endpoint controller, whose
/// client counts the requests it sends per namespace so tests can tell a no-op sync from a write. One worker, so
/// keys are synced in the order they were queued.
/// </summary>
public sealed class EndpointsFixture : WorkloadControllersFixture
{
    private KubeApiClient? _client;

    public EndpointsController Controller { get; private set; } = null!;

    public RequestCounter Requests { get; } = new();

    protected override IEnumerable<RunController> MoreControllers(ControllerTestHost host)
    {
        var path = Server.AdminKubeconfigPath;
        _client = KubeApiClient.FromKubeconfig(path, options: new KubeClientOptions
        {
            Handler = new CountingHandler(KubeHttpHandlerFactory.Create(KubeconfigLoader.LoadFromFile(path)), Requests),
            RateLimiter = new UnlimitedRateLimiter(),
        });
        host.Stopping.Register(_client.Dispose);
        var context = new ControllerContext
        {
            Clients = new SharedClients(_client),
            Informers = host.Context.Informers,
            Events = host.Context.Events,
            QueueMetrics = host.Context.QueueMetrics,
            Loggers = host.Context.Loggers,
            Time = host.Context.Time,
        };
        Controller = new EndpointsController(context, new EndpointsControllerOptions { Workers = 1 });
        return [ct => Controller.RunAsync(1, ct)];
    }

    /// <summary>Requests other than reads, by the namespace in their path.</summary>
    public sealed class RequestCounter
    {
        private readonly Dictionary<string, int> _writes = [];

        public int WritesIn(string ns)
        {
            lock (_writes)
            {
                return _writes.GetValueOrDefault(ns);
            }
        }

        public void Record(HttpRequestMessage request)
        {
            if (request.Method == HttpMethod.Get)
            {
                return;
            }
            var segments = request.RequestUri?.AbsolutePath.Split('/') ?? [];
            var at = Array.IndexOf(segments, "namespaces");
            var ns = at >= 0 && at + 1 < segments.Length ? segments[at + 1] : "";
            lock (_writes)
            {
                _writes[ns] = _writes.GetValueOrDefault(ns) + 1;
            }
        }
    }

    private sealed class CountingHandler(HttpMessageHandler inner, RequestCounter counter) : DelegatingHandler(inner)
    {
        protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            counter.Record(request);
            return base.SendAsync(request, cancellationToken);
        }
    }
}

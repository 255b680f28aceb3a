using Kcm.Api;
using Kcm.Api.Core.V1;
using Kcm.Api.Meta.V1;
using Kcm.Client;
using Kcm.Client.Errors;
using Kcm.Controllers.ServiceEndpoints;
using Kcm.Controllers.Tests.Workloads;
using Kcm.Runtime.Informers;
using Kcm.Testing;

namespace Kcm.Controllers.Tests.ServiceEndpoints;

/// <summary>
/// The endpoint controller against the test server (embedded, or the real one KCM_TEST_KUBECONFIG names). Pods here
/// live in namespaces the simulated nodes do not serve: the tests set their status through pods/status, as a kubelet.
/// </summary>
[Collection(WorkloadControllersCollection.Name)]
public sealed partial class EndpointsIntegrationTests(EndpointsFixture fixture) : IClassFixture<EndpointsFixture>, IAsyncLifetime
{
    private const string Finalizer = "kcm.test/hold";
    private string _ns = "";

    private KubeApiClient Client => fixture.Host.Client;

    public async Task InitializeAsync() => _ns = await TestNamespaces.CreateAsync(Client, "ep-");

    public Task DisposeAsync() => Task.CompletedTask;

    [Fact(Timeout = 60_000)]
    public async Task Endpoints_PodGoesReadyNotReadyTerminatingDeleted_AddressFollows()
    {
        await CreateServiceAsync("web", new() { ["app"] = "web" }, Port("http", 80, 8080));
        await CreatePodAsync("p1", "10.20.0.1", ready: false, finalizer: true);

        await WaitForAsync("web", "p1 not ready", ep => Ready(ep).Count == 0 && NotReady(ep).SequenceEqual(["10.20.0.1"]));
        await SetReadyAsync("p1", true);
        await WaitForAsync("web", "p1 ready", ep => Ready(ep).SequenceEqual(["10.20.0.1"]) && NotReady(ep).Count == 0);
        await SetReadyAsync("p1", false);
        await WaitForAsync("web", "p1 not ready again", ep => Ready(ep).Count == 0 && NotReady(ep).SequenceEqual(["10.20.0.1"]));
        await SetReadyAsync("p1", true);
        await WaitForAsync("web", "p1 ready again", ep => Ready(ep).Count == 1);

        await Client.DeleteAsync<Pod>(_ns, "p1", new DeleteOptions { GracePeriodSeconds = 0 });
        await WaitForAsync("web", "terminating p1 gone", ep => Ready(ep).Count == 0 && NotReady(ep).Count == 0);
        await Client.PatchAsync<Pod>(_ns, "p1", PatchType.Merge, """{"metadata":{"finalizers":null}}""");
        await Eventually.TrueAsync("p1 deleted", async () => !await ExistsAsync<Pod>("p1"));
        var ep = await Client.GetAsync<Endpoints>(_ns, "web");
        Assert.Empty(ep.Subsets ?? []);
    }

    [Fact(Timeout = 60_000)]
    public async Task Endpoints_NamedPortPublishNotReadyAndHeadless_AsUpstream()
    {
        await CreatePodAsync("a", "10.20.1.1", ready: true, webPort: 8080, hostname: "ha", subdomain: "hl");
        await CreatePodAsync("b", "10.20.1.2", ready: true, webPort: 8081);
        await CreatePodAsync("c", "10.20.1.3", ready: false, webPort: 8080);
        var selector = new Dictionary<string, string> { ["app"] = "web" };
        await CreateServiceAsync("named", selector, Port("http", 80, "web"));
        await CreateServiceAsync("pnr", selector, Port("http", 80, 8080), publishNotReady: true);
        await CreateServiceAsync("hl", selector, headless: true);

        // Waits for every pod: the Service may first be synced before the cache has all pods' status.
        var named = await WaitForAsync("named", "two subsets, all pods", ep => ep.Subsets?.Count == 2 && Ready(ep).Count == 2 && NotReady(ep).Count == 1);
        var by8080 = named.Subsets!.Single(s => s.Ports![0].Port == 8080);
        var by8081 = named.Subsets!.Single(s => s.Ports![0].Port == 8081);
        Assert.Equal(["10.20.1.1"], Ips(by8080.Addresses));
        Assert.Equal(["10.20.1.3"], Ips(by8080.NotReadyAddresses));
        Assert.Equal(["10.20.1.2"], Ips(by8081.Addresses));

        var pnr = await WaitForAsync("pnr", "all three ready", ep => Ready(ep).Count == 3);
        Assert.Empty(NotReady(pnr));

        var headless = await WaitForAsync("hl", "headless", ep => Ready(ep).Count == 2 && NotReady(ep).Count == 1);
        var subset = Assert.Single(headless.Subsets!);
        Assert.Empty(subset.Ports ?? []);
        Assert.Equal("ha", subset.Addresses!.Single(a => a.Ip == "10.20.1.1").Hostname);
        Assert.Equal(["10.20.1.3"], Ips(subset.NotReadyAddresses));
        Assert.Equal("", headless.Metadata!.Labels![EndpointsController.HeadlessServiceLabel]);
        Assert.False(named.Metadata!.Labels?.ContainsKey(EndpointsController.HeadlessServiceLabel) ?? false);
        Assert.NotNull(named.Metadata.Annotations?[EndpointsController.LastChangeTriggerTimeAnnotation]);
    }

    [Fact(Timeout = 60_000)]
    public async Task Endpoints_ServiceDeleted_EndpointsDeleted()
    {
        await CreatePodAsync("p1", "10.20.2.1", ready: true);
        await CreateServiceAsync("web", new() { ["app"] = "web" }, Port("http", 80, 8080));
        await WaitForAsync("web", "p1 listed", ep => Ready(ep).Count == 1);

        await Client.DeleteAsync<Service>(_ns, "web");

        await Eventually.TrueAsync("Endpoints web deleted", async () => !await ExistsAsync<Endpoints>("web"));
    }

    /// <summary>Upstream v1.26 skips a Service without selector entirely: Endpoints written earlier stay as they are (checked on the real cluster).</summary>
    [Fact(Timeout = 60_000)]
    public async Task Endpoints_SelectorRemoved_EndpointsLeftAlone()
    {
        await CreatePodAsync("p1", "10.20.3.1", ready: true);
        await CreateServiceAsync("web", new() { ["app"] = "web" }, Port("http", 80, 8080));
        await WaitForAsync("web", "p1 listed", ep => Ready(ep).Count == 1);
        await SettleAsync();
        var writes = fixture.Requests.WritesIn(_ns);

        await Client.PatchAsync<Service>(_ns, "web", PatchType.Json, """[{"op":"remove","path":"/spec/selector"}]""");
        // Once the controller's cache has it: a pod event read against the old selector would rightly rewrite.
        var services = fixture.Host.Context.Informers.InformerFor<Service>().Cache;
        await Eventually.TrueAsync("selector removal in the cache", () => Task.FromResult(services.Get(new ObjectKey(_ns, "web"))?.Spec?.Selector is null));
        await SetReadyAsync("p1", false);
        await SyncMarkerAsync();

        Assert.Equal(writes + 1, fixture.Requests.WritesIn(_ns)); // the marker's Endpoints only
        Assert.Equal(["10.20.3.1"], Ready(await Client.GetAsync<Endpoints>(_ns, "web")));
    }

    [Fact(Timeout = 60_000)]
    public async Task Resync_NothingChanged_NoEndpointsRequests()
    {
        await CreatePodAsync("p1", "10.20.4.1", ready: true, webPort: 8080);
        await CreatePodAsync("p2", "10.20.4.2", ready: false, webPort: 8081);
        await CreateServiceAsync("web", new() { ["app"] = "web" }, Port("http", 80, "web"), Port("metrics", 9090, 9090));
        await CreateServiceAsync("hl", new() { ["app"] = "web" }, headless: true);
        await WaitForAsync("web", "both pods", ep => Ready(ep).Count == 1 && NotReady(ep).Count == 1);
        await WaitForAsync("hl", "both pods", ep => Ready(ep).Count == 1 && NotReady(ep).Count == 1);
        // A pod change that does not concern endpoints.
        await Client.PatchAsync<Pod>(_ns, "p1", PatchType.Merge, """{"metadata":{"annotations":{"touched":"yes"}}}""");
        await SettleAsync();
        var writes = fixture.Requests.WritesIn(_ns);

        // What an informer resync does: every Service queued again.
        fixture.Controller.Workers.Queue.Add(new ObjectKey(_ns, "web"));
        fixture.Controller.Workers.Queue.Add(new ObjectKey(_ns, "hl"));
        await SyncMarkerAsync();

        Assert.Equal(writes + 1, fixture.Requests.WritesIn(_ns));
    }

    /// <summary>
    /// Waits until the controller's caches hold the server's pods and Endpoints of the namespace, then until every key
    /// queued so far is synced: a sync from a late event on a stale cache may rightly send a request (an update that
    /// conflicts), which is not what the counting tests are about.
    /// </summary>
    private async Task SettleAsync()
    {
        var informers = fixture.Host.Context.Informers;
        await Eventually.TrueAsync("the controller's caches caught up", async () =>
            await CachedAsync(informers.InformerFor<Pod>().Cache) && await CachedAsync(informers.InformerFor<Endpoints>().Cache));
        await SyncMarkerAsync();

        async Task<bool> CachedAsync<T>(IObjectCache<T> cache)
            where T : class, IListableResource
        {
            var items = (await Client.ListAsync<T>(_ns)).Items ?? [];
            return items.All(o => cache.Get(ObjectKey.Of(o))?.Metadata?.ResourceVersion == o.Metadata?.ResourceVersion);
        }
    }

    /// <summary>
    /// Creates a selector Service without pods and waits for its Endpoints: with the fixture's single worker, every key
    /// queued before it has been synced by then.
    /// </summary>
    private async Task SyncMarkerAsync()
    {
        var name = "marker-" + Guid.NewGuid().ToString("N")[..6];
        await CreateServiceAsync(name, new() { ["app"] = name }, Port("http", 80, 80));
        await Eventually.TrueAsync($"Endpoints {name}", () => ExistsAsync<Endpoints>(name));
    }

    internal static ServicePort Port(string name, int port, IntOrString target) => new() { Name = name, Port = port, TargetPort = target, Protocol = "TCP" };

    private Task<Service> CreateServiceAsync(string name, Dictionary<string, string> selector, ServicePort? port = null, ServicePort? port2 = null, bool publishNotReady = false, bool headless = false)
        => Client.CreateAsync(new Service
        {
            Metadata = new ObjectMeta { Name = name },
            Spec = new ServiceSpec
            {
                Selector = selector,
                Ports = new[] { port, port2 }.OfType<ServicePort>().ToList(),
                PublishNotReadyAddresses = publishNotReady ? true : null,
                ClusterIP = headless ? "None" : null,
            },
        }, _ns);

    private async Task CreatePodAsync(string name, string ip, bool ready, int webPort = 8080, bool finalizer = false, string? hostname = null, string? subdomain = null)
    {
        await Client.CreateAsync(new Pod
        {
            Metadata = new ObjectMeta { Name = name, Labels = new() { ["app"] = "web" }, Finalizers = finalizer ? [Finalizer] : null },
            Spec = new PodSpec
            {
                NodeName = "not-simulated",
                Hostname = hostname,
                Subdomain = subdomain,
                Containers = [new Container { Name = "c", Image = "nginx", Ports = [new ContainerPort { Name = "web", ContainerPortValue = webPort }] }],
            },
        }, _ns);
        await Client.PatchAsync<Pod>(_ns, name, PatchType.Merge,
            $$$"""{"status":{"phase":"Running","podIP":"{{{ip}}}","podIPs":[{"ip":"{{{ip}}}"}],"conditions":[{"type":"Ready","status":"{{{(ready ? "True" : "False")}}}"}]}}""",
            subresource: "status");
    }

    private Task SetReadyAsync(string pod, bool ready)
        => Client.PatchAsync<Pod>(_ns, pod, PatchType.Merge,
            $$$"""{"status":{"conditions":[{"type":"Ready","status":"{{{(ready ? "True" : "False")}}}"}]}}""", subresource: "status");

    private async Task<bool> ExistsAsync<T>(string name)
        where T : class, IResource
    {
        try
        {
            await Client.GetAsync<T>(_ns, name);
            return true;
        }
        catch (NotFoundException)
        {
            return false;
        }
    }

    private Task<Endpoints> WaitForAsync(string service, string what, Func<Endpoints, bool> condition)
        => Eventually.GetAsync($"Endpoints {_ns}/{service}: {what}", async () =>
        {
            try
            {
                var ep = await Client.GetAsync<Endpoints>(_ns, service);
                return condition(ep) ? ep : null;
            }
            catch (NotFoundException)
            {
                return null;
            }
        });

    internal static List<string> Ips(IEnumerable<EndpointAddress>? addresses) => [.. (addresses ?? []).Select(a => a.Ip!).Order()];

    internal static List<string> Ready(Endpoints ep) => Ips(ep.Subsets?.SelectMany(s => s.Addresses ?? []).DistinctBy(a => a.Ip));

    internal static List<string> NotReady(Endpoints ep) => Ips(ep.Subsets?.SelectMany(s => s.NotReadyAddresses ?? []).DistinctBy(a => a.Ip));
}

using Kcm.Api.Apps.V1;
using Kcm.Api.Core.V1;
using Kcm.Api.Meta.V1;
using Kcm.Client;
using Kcm.Client.Errors;
using Kcm.Controllers.Clients;
using Kcm.Controllers.Deployments;
using Kcm.Controllers.Tests.Support;
using Kcm.Runtime.Informers;
using Kcm.Testing;
using DeploymentObject = Kcm.Api.Apps.V1.Deployment;

namespace Kcm.Controllers.Tests.Deployments;

/// <summary>
/// A deployment controller in its own namespace. Without a ReplicaSet controller around, the tests play its part
/// by writing ReplicaSet status. <see cref="SyncAsync"/> steps the controller by hand (caches caught up first) for
/// tests that assert each step; <see cref="StartAsync"/> with run=true runs it as the manager would.
/// </summary>
internal sealed class DeploymentHarness : IAsyncDisposable
{
    private DeploymentHarness(ControllerTestHost host, DeploymentController controller, string ns, KubeApiClient client)
    {
        Host = host;
        Controller = controller;
        Namespace = ns;
        Client = client;
    }

    public ControllerTestHost Host { get; }

    public DeploymentController Controller { get; }

    public string Namespace { get; }

    /// <summary>The (unthrottled) client the controller and the test share.</summary>
    public KubeApiClient Client { get; }

    public static async Task<DeploymentHarness> StartAsync(EmbeddedServerFixture server, bool run)
    {
        var host = new ControllerTestHost(server);
        var ns = "deploy-" + Guid.NewGuid().ToString("N")[..8];
        await host.Client.CreateAsync(new Namespace { Metadata = new ObjectMeta { Name = ns } });
        await TestNamespaces.EnsureDefaultServiceAccountAsync(host.Client, ns);
        // Both the controller and the test poll or write a lot in a short time: neither is throttled (the
        // manager's own clients get --kube-api-qps; the test host's default 5 QPS would make steps crawl).
        var client = KubeApiClient.FromKubeconfig(server.AdminKubeconfigPath, options: new KubeClientOptions { RateLimiter = new Kcm.Client.Flowcontrol.UnlimitedRateLimiter() });
        var context = new ControllerContext
        {
            Clients = new SharedClients(client),
            Informers = host.Context.Informers,
            Events = host.Context.Events,
            QueueMetrics = host.Context.QueueMetrics,
            Loggers = host.Context.Loggers,
            Time = host.Context.Time,
        };
        var controller = new DeploymentController(context, new DeploymentControllerOptions { Workers = 2 });
        if (run)
        {
            host.Start(controller.RunAsync);
        }
        else
        {
            host.Start();
        }
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        await host.Context.Informers.WaitForCacheSyncAsync(timeout.Token);
        return new DeploymentHarness(host, controller, ns, client);
    }

    public static DeploymentObject NewDeployment(string name, int replicas, string image, string strategy = "RollingUpdate", object? maxSurge = null, object? maxUnavailable = null)
    {
        var d = new DeploymentObject
        {
            Metadata = new ObjectMeta { Name = name },
            Spec = new DeploymentSpec
            {
                Replicas = replicas,
                Selector = new LabelSelector { MatchLabels = new() { ["app"] = name } },
                Template = Template(name, image),
                Strategy = new DeploymentStrategy { Type = strategy },
            },
        };
        if (strategy == "RollingUpdate" && (maxSurge is not null || maxUnavailable is not null))
        {
            d.Spec.Strategy.RollingUpdate = new RollingUpdateDeployment { MaxSurge = ToIntOrString(maxSurge), MaxUnavailable = ToIntOrString(maxUnavailable) };
        }
        return d;
    }

    private static Kcm.Api.IntOrString? ToIntOrString(object? value) => value switch
    {
        int i => Kcm.Api.IntOrString.FromInt(i),
        string s => Kcm.Api.IntOrString.FromString(s),
        _ => (Kcm.Api.IntOrString?)null,
    };

    public static PodTemplateSpec Template(string app, string image) => new()
    {
        Metadata = new ObjectMeta { Labels = new() { ["app"] = app } },
        Spec = new PodSpec { Containers = [new Container { Name = "main", Image = image }] },
    };

    public Task<DeploymentObject> CreateAsync(DeploymentObject d) => Client.CreateAsync(d, Namespace);

    public Task<DeploymentObject> GetAsync(string name) => Client.GetAsync<DeploymentObject>(Namespace, name);

    /// <summary>Read-modify-write of the Deployment's spec/metadata, retried on conflicts with the controller.</summary>
    public async Task<DeploymentObject> UpdateAsync(string name, Action<DeploymentObject> change)
    {
        for (var attempt = 0; ; attempt++)
        {
            var d = await GetAsync(name);
            change(d);
            try
            {
                return await Client.UpdateAsync(d);
            }
            catch (ConflictException) when (attempt < 20)
            {
            }
        }
    }

    /// <summary>The namespace's ReplicaSets, oldest first (name breaks creation-second ties).</summary>
    public async Task<List<ReplicaSet>> ReplicaSetsAsync()
    {
        var list = (await Client.ListAsync<ReplicaSet>(Namespace)).Items?.ToList() ?? [];
        list.Sort(ReplicaSetOrder.ByCreationTimestamp);
        return list;
    }

    public static string ImageOf(ReplicaSet rs) => rs.Spec?.Template?.Spec?.Containers?[0].Image ?? "";

    public static int SpecReplicas(ReplicaSet rs) => rs.Spec?.Replicas ?? 0;

    /// <summary>Plays the ReplicaSet controller: the given counts in status, observedGeneration current.</summary>
    public async Task SetStatusAsync(string rsName, int replicas, int available)
    {
        for (var attempt = 0; ; attempt++)
        {
            var rs = await Client.GetAsync<ReplicaSet>(Namespace, rsName);
            rs.Status = new ReplicaSetStatus
            {
                Replicas = replicas,
                FullyLabeledReplicas = replicas,
                ReadyReplicas = available,
                AvailableReplicas = available,
                ObservedGeneration = rs.Metadata?.Generation,
            };
            try
            {
                await Client.UpdateStatusAsync(rs);
                return;
            }
            catch (ConflictException) when (attempt < 20)
            {
            }
        }
    }

    /// <summary>Every ReplicaSet's pods exist and are available, as many as its spec asks for.</summary>
    public async Task MakeAllAvailableAsync()
    {
        foreach (var rs in await ReplicaSetsAsync())
        {
            await SetStatusAsync(rs.Metadata!.Name!, SpecReplicas(rs), SpecReplicas(rs));
        }
    }

    /// <summary>One reconcile of the Deployment, run after the controller's caches show what the server holds.</summary>
    public async Task SyncAsync(string name)
    {
        await WaitForCachesAsync();
        await Controller.SyncAsync($"{Namespace}/{name}", CancellationToken.None);
        await WaitForCachesAsync();
    }

    public async Task WaitForCachesAsync()
    {
        var deployments = (await Client.ListAsync<DeploymentObject>(Namespace)).Items ?? [];
        var replicaSets = (await Client.ListAsync<ReplicaSet>(Namespace)).Items ?? [];
        var pods = (await Client.ListAsync<Pod>(Namespace)).Items ?? [];
        var dCache = Host.Context.Informers.InformerFor<DeploymentObject>().Cache;
        var rsCache = Host.Context.Informers.InformerFor<ReplicaSet>().Cache;
        var podCache = Host.Context.Informers.InformerFor<Pod>().Cache;
        await Eventually.TrueAsync("informer caches to catch up", () => Task.FromResult(
            Current(dCache, deployments) && Current(rsCache, replicaSets) && Current(podCache, pods)));
    }

    private bool Current<T>(IObjectCache<T> cache, IList<T> items)
        where T : class, Kcm.Api.IKubernetesObject
        => cache.ByIndex(KnownIndexers.Namespace, Namespace).Count == items.Count
           && items.All(i => cache.Get(ObjectKey.Of(i))?.Metadata?.ResourceVersion == i.Metadata?.ResourceVersion);

    public async Task<List<Event>> EventsAsync()
        => (await Client.ListAsync<Event>(Namespace)).Items?.ToList() ?? [];

    public async ValueTask DisposeAsync()
    {
        await Host.DisposeAsync();
        Client.Dispose();
    }
}

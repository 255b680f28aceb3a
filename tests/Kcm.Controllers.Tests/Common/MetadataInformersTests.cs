using System.Collections.Concurrent;
using System.Net;
using System.Text;
using System.Text.Json.Nodes;
using Kcm.Api.Core.V1;
using Kcm.Api.Meta.V1;
using Kcm.Client;
using Kcm.Client.Config;
using Kcm.Client.Errors;
using Kcm.Client.Flowcontrol;
using Kcm.Client.Transport;
using Kcm.Client.Watch;
using Kcm.Controllers.Clients;
using Kcm.Controllers.Common;
using Kcm.Controllers.GarbageCollector;
using Kcm.Controllers.ResourceQuotas;
using Kcm.Runtime.Events;
using Kcm.Runtime.Informers;
using Kcm.Runtime.Queues;
using Kcm.Testing;
using Microsoft.Extensions.Logging.Abstractions;
using CoreNamespace = Kcm.Api.Core.V1.Namespace;

namespace Kcm.Controllers.Tests.Common;

/// <summary>
/// The metadata-only list watcher (PartialObjectMetadata requests, the fallback for servers that refuse them) and the
/// informers built on it that the garbage collector's and the quota controller's monitors share.
/// </summary>
public sealed class MetadataInformersTests(EmbeddedServerFixture server) : IClassFixture<EmbeddedServerFixture>
{
    private const string ConfigMapListJson =
        """{"kind":"ConfigMapList","apiVersion":"v1","metadata":{"resourceVersion":"12"},"items":[{"metadata":{"name":"cm","namespace":"ns","uid":"u1","resourceVersion":"11","labels":{"a":"b"}},"data":{"k":"v"}}]}""";

    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(15);

    [Fact(Timeout = 30000)]
    public async Task ListAndWatch_EmbeddedServer_ObjectsComeAsPartialObjectMetadata()
    {
        using var client = RecordingClient(out _);
        var ns = await CreateNamespaceAsync(client);
        await client.CreateAsync(new ConfigMap { Metadata = new ObjectMeta { Name = "cm", Namespace = ns }, Data = new Dictionary<string, string> { ["k"] = "v" } });
        // Projected to the object as received, to see what the server sent.
        var listWatcher = new MetadataOnlyListWatcher<JsonObject>(client.Dynamic.Resource("", "v1", "configmaps", namespaced: true), (o, _, _) => o, pageSize: 2);

        var list = await listWatcher.ListAsync(CancellationToken.None);

        // Only a metadata response names this kind: a full object would keep "ConfigMap". Matched by name too: on a
        // shared real cluster another class's root-CA publisher may already have put kube-root-ca.crt in this namespace.
        var listed = Assert.Single(list.Items, o => Json.String(o["metadata"], "namespace") == ns && Json.String(o["metadata"], "name") == "cm");
        Assert.Equal(("meta.k8s.io/v1", "PartialObjectMetadata"), (Json.String(listed, "apiVersion"), Json.String(listed, "kind")));
        Assert.Equal("cm", Json.String(listed["metadata"], "name"));
        Assert.Null(listed["data"]);
        Assert.True(listWatcher.RequestsMetadata);

        using var cts = new CancellationTokenSource(Timeout);
        var watch = listWatcher.WatchAsync(list.ResourceVersion, TimeSpan.FromSeconds(10), cts.Token).GetAsyncEnumerator(cts.Token);
        await client.DeleteAsync<ConfigMap>(ns, "cm");
        WatchEvent<JsonObject>? deleted = null;
        while (deleted is null && await watch.MoveNextAsync())
        {
            // The watch spans all namespaces, and a real test cluster is shared with other classes' collectors.
            if (watch.Current.Type == WatchEventType.Deleted && Json.String(watch.Current.Object["metadata"], "namespace") == ns) deleted = watch.Current;
        }
        await watch.DisposeAsync();
        Assert.NotNull(deleted);
        Assert.Equal("PartialObjectMetadata", Json.String(deleted.Object, "kind"));
        Assert.Equal("cm", Json.String(deleted.Object["metadata"], "name"));
    }

    [Fact(Timeout = 30000)]
    public async Task ListAsync_ServerAnswers406_FallsBackToFullObjectsAndStaysThere()
    {
        var handler = new FakeServer(request => IsMetadataRequest(request)
            ? Respond(HttpStatusCode.NotAcceptable, """{"kind":"Status","apiVersion":"v1","status":"Failure","reason":"NotAcceptable","code":406}""")
            : Respond(HttpStatusCode.OK, ConfigMapListJson));
        using var client = new KubeApiClient(new ClientConfig { Server = new Uri("https://fake") }, new KubeClientOptions { Handler = handler, RateLimiter = new UnlimitedRateLimiter() });
        var listWatcher = new MetadataOnlyListWatcher<(ObservedMetadata Metadata, string? ApiVersion, string? Kind)>(
            client.Dynamic.Resource("", "v1", "configmaps", namespaced: true), (o, apiVersion, kind) => (ObservedMetadata.Of(o), apiVersion, kind));

        var first = await listWatcher.ListAsync(CancellationToken.None);
        await listWatcher.ListAsync(CancellationToken.None);

        // Items of a full list carry no apiVersion and kind: the projection is given the list's.
        var item = Assert.Single(first.Items);
        Assert.Equal(("v1", "ConfigMap", "ns", "cm", "u1"), (item.ApiVersion, item.Kind, item.Metadata.Namespace, item.Metadata.Name, item.Metadata.Uid));
        Assert.Equal("12", first.ResourceVersion);
        Assert.False(listWatcher.RequestsMetadata);
        // One refused metadata list, then full lists only.
        Assert.Equal([true, false, false], handler.Requests.Select(IsMetadataRequest));
    }

    [Fact(Timeout = 30000)]
    public async Task ListAsync_ServerIgnoresConversion_FullListProjected()
    {
        var handler = new FakeServer(_ => Respond(HttpStatusCode.OK, ConfigMapListJson));
        using var client = new KubeApiClient(new ClientConfig { Server = new Uri("https://fake") }, new KubeClientOptions { Handler = handler, RateLimiter = new UnlimitedRateLimiter() });
        var listWatcher = new MetadataOnlyListWatcher<ObservedMetadata>(client.Dynamic.Resource("", "v1", "configmaps", namespaced: true), (o, _, _) => ObservedMetadata.Of(o));

        var list = await listWatcher.ListAsync(CancellationToken.None);

        var item = Assert.Single(list.Items);
        Assert.Equal(("cm", "u1", "11"), (item.Name, item.Uid, item.ResourceVersion));
        Assert.True(listWatcher.RequestsMetadata);
        Assert.Contains("as=PartialObjectMetadataList;g=meta.k8s.io;v=v1", Assert.Single(handler.Requests).Accept);
    }

    [Fact(Timeout = 60000)]
    public async Task RunAsync_Monitors_ListAndWatchOnlyMetadata()
    {
        using var client = RecordingClient(out var handler);
        await using var events = new EventBroadcaster(client, NullLoggerFactory.Instance, TimeProvider.System);
        var context = ContextOn(client, events);
        using var collector = new Controllers.GarbageCollector.GarbageCollector(context);
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(45));
        var run = collector.RunAsync(1, cts.Token);

        await Eventually.TrueAsync("the collector watches configmaps",
            () => Task.FromResult(handler.Requests.Any(r => r.Path.StartsWith("/api/v1/configmaps?", StringComparison.Ordinal) && r.Path.Contains("watch=true"))),
            Timeout);
        // A dependent of an owner that never existed: the collector looks the owner up, then deletes the dependent.
        var ns = await CreateNamespaceAsync(client);
        await client.CreateAsync(new ConfigMap
        {
            Metadata = new ObjectMeta
            {
                Name = "orphaned",
                OwnerReferences = [new OwnerReference { ApiVersion = "v1", Kind = "ConfigMap", Name = "never-existed", Uid = Guid.NewGuid().ToString() }],
            },
        }, ns);
        // On a shared real cluster another class's collector may delete the dependent first; this one still looks the
        // owner up, since its virtual node stays queued until the lookup confirms the owner is absent.
        var ownerPath = $"/api/v1/namespaces/{ns}/configmaps/never-existed";
        await Eventually.TrueAsync("the dependent of a missing owner is collected after the owner was looked up", async () =>
        {
            if (!handler.Requests.Any(r => r.Path == ownerPath))
            {
                return false;
            }
            try
            {
                await client.GetAsync<ConfigMap>(ns, "orphaned");
                return false;
            }
            catch (NotFoundException)
            {
                return true;
            }
        }, Timeout);
        await cts.CancelAsync();
        await run.WaitAsync(Timeout).ContinueWith(_ => { }, TaskScheduler.Default);

        // Monitors list with limit= and watch with watch=true; nothing else the collector sends has either.
        var lists = handler.Requests.Where(r => r.Path.Contains("limit=")).ToList();
        var watches = handler.Requests.Where(r => r.Path.Contains("watch=true")).ToList();
        Assert.Contains(lists, r => r.Path.StartsWith("/api/v1/configmaps?", StringComparison.Ordinal));
        Assert.All(lists, r => Assert.StartsWith("application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1", r.Accept));
        Assert.All(watches, r => Assert.StartsWith("application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1", r.Accept));
        // Its single-object reads ask for metadata too (only the collector reads the owner that never existed).
        var ownerReads = handler.Requests.Where(r => r.Path == ownerPath).ToList();
        Assert.NotEmpty(ownerReads);
        Assert.All(ownerReads, r => Assert.StartsWith("application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1", r.Accept));
    }

    [Fact(Timeout = 60000)]
    public async Task Leases_OneListAndWatchPerResource_InformerStopsWithTheLastLease()
    {
        using var client = RecordingClient(out var handler);
        var informers = new SharedMetadataInformers(client, TimeProvider.System, NullLoggerFactory.Instance);
        var ns = await CreateNamespaceAsync(client);
        var deletedInNs = new ConcurrentQueue<string>();
        var first = informers.Lease(PodTemplates);
        first.AddEventHandler(new ResourceEventHandler<ObservedMetadata> { Added = (_, _) => { } });
        var second = informers.Lease(PodTemplates);
        second.AddEventHandler(new ResourceEventHandler<ObservedMetadata> { Deleted = (o, _) => { if (o.Namespace == ns) deletedInNs.Enqueue(o.Name); } });
        using var cts = new CancellationTokenSource(Timeout);

        first.Start(cts.Token);
        second.Start(cts.Token);
        await Eventually.TrueAsync("both leases synced and the informer watches", () => Task.FromResult(first.HasSynced && second.HasSynced && PodTemplateRequests(handler, "watch=true") == 1), Timeout);
        Assert.Same(first.Informer, second.Informer);
        Assert.Equal(1, PodTemplateRequests(handler, "limit="));

        // The informer runs on for the lease still held: it sees a template deleted after the first lease left.
        await first.ReleaseAsync();
        await client.CreateAsync(new PodTemplate { Metadata = new ObjectMeta { Name = "tpl" }, Template = new PodTemplateSpec { Spec = new PodSpec { Containers = [new Container { Name = "c", Image = "i" }] } } }, ns);
        await client.DeleteAsync<PodTemplate>(ns, "tpl");
        await Eventually.TrueAsync("the remaining lease sees the deletion", () => Task.FromResult(deletedInNs.Contains("tpl")), Timeout);
        Assert.Equal([PodTemplates.Resource], informers.Resources);

        // The last release stops the informer; a later lease gets a new one, which lists again.
        await second.ReleaseAsync();
        Assert.Empty(informers.Resources);
        var third = informers.Lease(PodTemplates);
        Assert.NotSame(first.Informer, third.Informer);
        third.Start(cts.Token);
        await Eventually.TrueAsync("the new informer lists", () => Task.FromResult(third.HasSynced), Timeout);
        Assert.Equal(2, PodTemplateRequests(handler, "limit="));
        await third.ReleaseAsync();
    }

    [Fact(Timeout = 90000)]
    public async Task GarbageCollectorAndQuota_OneWatchOfAResourceNoTypedInformerCovers()
    {
        using var client = RecordingClient(out var handler);
        await using var events = new EventBroadcaster(client, NullLoggerFactory.Instance, TimeProvider.System);
        var context = ContextOn(client, events);
        using var collector = new Controllers.GarbageCollector.GarbageCollector(context);
        var quota = new ResourceQuotaController(context, new ResourceQuotaControllerOptions());
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(75));
        // As the controller runner: the typed informers the controllers asked for (the quota's pods) start first.
        context.Informers.Start(cts.Token);
        var runs = new[] { collector.RunAsync(1, cts.Token), quota.RunAsync(cts.Token) };

        // Both monitor pod templates (no typed informer watches them) and have their initial lists.
        await Eventually.TrueAsync("both controllers' monitors synced, pod templates among them", () => Task.FromResult(
            collector.Graph.MonitoredResources.Contains(PodTemplates.Resource) && collector.Graph.IsSynced()
            && quota.Monitor.Resources.Contains(PodTemplates.Resource) && quota.Monitor.IsSynced()
            && PodTemplateRequests(handler, "watch=true") > 0), Timeout);
        Assert.Equal((1, 1), (PodTemplateRequests(handler, "limit="), PodTemplateRequests(handler, "watch=true")));
        Assert.Contains(PodTemplates.Resource, context.MetadataInformers.Resources);

        await cts.CancelAsync();
        await Task.WhenAll(runs).WaitAsync(Timeout).ContinueWith(_ => { }, TaskScheduler.Default);
    }

    private static readonly DiscoveredResource PodTemplates = new(new GroupVersionResource("", "v1", "podtemplates"), "PodTemplate", true, new HashSet<string> { "list", "watch", "delete" }, true);

    /// <summary>Cluster-wide pod template requests (the informers'; the tests' own calls name a namespace) whose query has <paramref name="marker"/>.</summary>
    private static int PodTemplateRequests(FakeServer handler, string marker)
        => handler.Requests.Count(r => r.Path.StartsWith("/api/v1/podtemplates?", StringComparison.Ordinal) && r.Path.Contains(marker, StringComparison.Ordinal));

    /// <summary>A controller context whose every client is <paramref name="client"/> (the recording one).</summary>
    private static ControllerContext ContextOn(KubeApiClient client, EventBroadcaster events) => new()
    {
        Clients = new SharedClients(client),
        Informers = new SharedInformerFactory(client, new SharedInformerFactoryOptions(), NullLoggerFactory.Instance),
        Events = events,
        QueueMetrics = NoopWorkQueueMetricsProvider.Instance,
        Loggers = NullLoggerFactory.Instance,
    };

    private KubeApiClient RecordingClient(out FakeServer handler)
    {
        var config = KubeconfigLoader.LoadFromFile(server.AdminKubeconfigPath);
        var transport = KubeHttpHandlerFactory.Create(config);
        handler = new FakeServer(null) { InnerHandler = transport };
        return new KubeApiClient(config, new KubeClientOptions { Handler = handler, RateLimiter = new UnlimitedRateLimiter() });
    }

    private static async Task<string> CreateNamespaceAsync(KubeApiClient client)
    {
        var name = "md-" + Guid.NewGuid().ToString("N")[..8];
        await client.CreateAsync(new CoreNamespace { Metadata = new ObjectMeta { Name = name } });
        return name;
    }

    private static bool IsMetadataRequest(SeenRequest request) => request.Accept.Contains("as=PartialObjectMetadata", StringComparison.Ordinal);

    private static HttpResponseMessage Respond(HttpStatusCode code, string json)
        => new(code) { Content = new StringContent(json, Encoding.UTF8, "application/json") };

    private sealed record SeenRequest(string Path, string Accept);

    /// <summary>Records each request's path and Accept header; answers itself, or passes on to the real transport.</summary>
    private sealed class FakeServer(Func<SeenRequest, HttpResponseMessage>? respond) : DelegatingHandler
    {
        private readonly ConcurrentQueue<SeenRequest> _requests = new();

        public IReadOnlyList<SeenRequest> Requests => [.. _requests];

        protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            var seen = new SeenRequest(request.RequestUri!.PathAndQuery, request.Headers.NonValidated["Accept"].ToString());
            _requests.Enqueue(seen);
            return respond is null ? base.SendAsync(request, cancellationToken) : Task.FromResult(respond(seen));
        }
    }
}

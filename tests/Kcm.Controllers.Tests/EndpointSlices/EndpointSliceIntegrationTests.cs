using System.Text.Json.Nodes;
using Kcm.Api;
using Kcm.Api.Core.V1;
using Kcm.Api.Discovery.V1;
using Kcm.Api.Meta.V1;
using Kcm.Client;
using Kcm.Controllers.EndpointSliceMirroring;
using Kcm.Controllers.EndpointSlices;
using Kcm.Controllers.Tests.Support;
using Kcm.Controllers.Tests.Workloads;
using Kcm.Testing;
using Microsoft.Extensions.Logging;
using CoreEndpointPort = Kcm.Api.Core.V1.EndpointPort;

namespace Kcm.Controllers.Tests.EndpointSlices;

/// <summary>
/// The endpointslice, endpointslicemirroring and garbage collector controllers as the manager starts them, against
/// the test server (embedded, or the real one KCM_TEST_KUBECONFIG names). No kubelet runs: pods are bound to a Node
/// object of this fixture's own and their status is patched here.
/// </summary>
public sealed class EndpointSliceControllersFixture : IAsyncLifetime
{
    public WorkloadServer Server { get; } = new();

    public ControllerTestHost Host { get; private set; } = null!;

    public string NodeName { get; } = $"es{Guid.NewGuid().ToString("N")[..6]}-node";

    /// <summary>Trace lines too: "Finished syncing service" tells a test its own Service was synced.</summary>
    public RecordingLoggerProvider Logs { get; } = new(LogLevel.Trace);

    public async Task InitializeAsync()
    {
        await Server.InitializeAsync();
        var loggers = LoggerFactory.Create(b =>
        {
            b.SetMinimumLevel(LogLevel.Trace).AddProvider(Logs);
            DebugFileLoggerProvider.AddFromEnvironment(b);
        });
        Host = new ControllerTestHost(Server, loggers, unthrottled: true);
        await Host.Client.CreateAsync(new Node { Metadata = new ObjectMeta { Name = NodeName, Labels = new() { [EndpointSliceLabels.TopologyZone] = "zone-x" } } });
        var slices = EndpointSliceDescriptors.EndpointSlice.Start(Host.Context, new EndpointSliceControllerOptions { Workers = 2 }) ?? throw new InvalidOperationException("endpointslice declined to start");
        var mirroring = EndpointSliceMirroringDescriptors.EndpointSliceMirroring.Start(Host.Context, new EndpointSliceMirroringControllerOptions { Workers = 2 }) ?? throw new InvalidOperationException("endpointslicemirroring declined to start");
        var collector = new Controllers.GarbageCollector.GarbageCollector(Host.Context);
        Host.Start(slices, mirroring, ct => collector.RunAsync(2, ct));
    }

    public async Task DisposeAsync()
    {
        try
        {
            await Host.Client.DeleteAsync<Node>(null, NodeName);
        }
        finally
        {
            await Host.DisposeAsync();
            await Server.DisposeAsync();
        }
    }
}

public sealed class EndpointSliceIntegrationTests(EndpointSliceControllersFixture fixture) : IClassFixture<EndpointSliceControllersFixture>
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(40);

    private KubeApiClient Client => fixture.Host.Client;

    [Fact(Timeout = 120_000)]
    public async Task Run_PodsGoReadyNotReadyTerminating_SlicesFollowWithNamedPorts()
    {
        var ns = await TestNamespaces.CreateAsync(Client, "es-");
        await Client.CreateAsync(NewService(ns, "web"), ns);
        await CreatePodAsync(ns, "web-a", "web", 8080);
        await CreatePodAsync(ns, "web-b", "web", 8081);
        await SetPodStatusAsync(ns, "web-a", "10.244.7.1", ready: true);
        await SetPodStatusAsync(ns, "web-b", "10.244.7.2", ready: true);

        // The named target port resolves to a different number on each pod: one slice per port set.
        var slices = await SlicesWhenAsync(ns, "web", "one ready endpoint per port", s =>
            s.Count == 2 && s.All(x => x.Endpoints?.Count == 1 && x.Endpoints[0].Conditions?.Ready == true));
        var byPort = slices.ToDictionary(s => s.Ports![0].Port!.Value, s => s.Endpoints![0]);
        Assert.Equal(["10.244.7.1"], byPort[8080].Addresses);
        Assert.Equal(["10.244.7.2"], byPort[8081].Addresses);
        Assert.All(slices, s =>
        {
            Assert.Equal("http", s.Ports![0].Name);
            Assert.Equal("IPv4", s.AddressType);
            Assert.Equal("endpointslice-controller.k8s.io", s.Metadata!.Labels![EndpointSliceLabels.ManagedBy]);
            Assert.StartsWith("web-", s.Metadata.Name, StringComparison.Ordinal);
            var owner = Assert.Single(s.Metadata.OwnerReferences!);
            Assert.Equal(("Service", "web", true, true), (owner.Kind, owner.Name, owner.Controller, owner.BlockOwnerDeletion));
        });
        Assert.Equal((fixture.NodeName, "zone-x"), (byPort[8080].NodeName, byPort[8080].Zone));
        Assert.Equal(("Pod", "web-a"), (byPort[8080].TargetRef!.Kind, byPort[8080].TargetRef!.Name));

        await SetPodStatusAsync(ns, "web-a", "10.244.7.1", ready: false);
        await SlicesWhenAsync(ns, "web", "web-a not ready", s => s.Any(x => x.Endpoints?.SingleOrDefault() is { Conditions: { Ready: false, Serving: false, Terminating: false } } e && e.TargetRef?.Name == "web-a"));

        // No kubelet finishes the graceful deletion: the pod stays terminating.
        await Client.DeleteAsync<Pod>(ns, "web-b");
        await SlicesWhenAsync(ns, "web", "web-b terminating", s => s.Any(x => x.Endpoints?.SingleOrDefault() is { Conditions: { Ready: false, Serving: true, Terminating: true } } e && e.TargetRef?.Name == "web-b"));

        await Client.DeleteAsync<Pod>(ns, "web-b", new DeleteOptions { GracePeriodSeconds = 0 });
        await Client.DeleteAsync<Pod>(ns, "web-a", new DeleteOptions { GracePeriodSeconds = 0 });
        var placeholder = await SlicesWhenAsync(ns, "web", "only the placeholder left", s => s.Count == 1 && s[0].Endpoints is not { Count: > 0 });
        Assert.Empty(placeholder[0].Ports ?? []);
    }

    [Fact(Timeout = 120_000)]
    public async Task Run_HeadlessServiceWithHostnames_HeadlessLabelAndHostname()
    {
        var ns = await TestNamespaces.CreateAsync(Client, "es-");
        var service = NewService(ns, "db");
        service.Spec!.ClusterIP = "None";
        service.Spec.Ports = null;
        await Client.CreateAsync(service, ns);
        await CreatePodAsync(ns, "db-0", "db", 5432, p =>
        {
            p.Spec!.Hostname = "db-0";
            p.Spec.Subdomain = "db";
        });
        await SetPodStatusAsync(ns, "db-0", "10.244.8.1", ready: true);

        var slice = Assert.Single(await SlicesWhenAsync(ns, "db", "the pod's endpoint", s => s.Count == 1 && s[0].Endpoints?.Count == 1));
        Assert.Equal("", slice.Metadata!.Labels![EndpointSliceLabels.HeadlessService]);
        Assert.Empty(slice.Ports ?? []);
        Assert.Equal("db-0", slice.Endpoints![0].Hostname);
        await Client.DeleteAsync<Pod>(ns, "db-0", new DeleteOptions { GracePeriodSeconds = 0 });
    }

    [Fact(Timeout = 120_000)]
    public async Task Run_ServiceDeleted_SlicesGarbageCollected()
    {
        var ns = await TestNamespaces.CreateAsync(Client, "es-");
        await Client.CreateAsync(NewService(ns, "gone"), ns);
        await SlicesWhenAsync(ns, "gone", "the placeholder slice", s => s.Count == 1);

        await Client.DeleteAsync<Service>(ns, "gone", new DeleteOptions { PropagationPolicy = "Background" });

        await SlicesWhenAsync(ns, "gone", "the slices collected", s => s.Count == 0);
    }

    [Fact(Timeout = 120_000)]
    public async Task Run_ResyncWithoutChange_WritesNothing()
    {
        var ns = await TestNamespaces.CreateAsync(Client, "es-");
        await Client.CreateAsync(NewService(ns, "calm"), ns);
        await CreatePodAsync(ns, "calm-a", "calm", 8080);
        await SetPodStatusAsync(ns, "calm-a", "10.244.9.1", ready: true);
        var settled = await SlicesWhenAsync(ns, "calm", "the ready endpoint", s => s.Count == 1 && s[0].Endpoints?.Count == 1);

        // The fixture's controllers see every namespace of a shared cluster, so the sync and the (absent) writes are
        // looked for on this Service alone.
        var finished = $"Finished syncing service \"{ns}/calm\" endpoint slices.";
        var syncs = fixture.Logs.Count(finished);
        // A Service update queues a sync; nothing it computes differs from what is stored.
        await Client.PatchAsync<Service>(ns, "calm", PatchType.Merge, """{"metadata":{"annotations":{"touched":"yes"}}}""");
        await Eventually.TrueAsync("a sync of the touched Service", () => Task.FromResult(fixture.Logs.Count(finished) > syncs), Wait);
        var after = Assert.Single(await SlicesAsync(ns, "calm"));
        Assert.Equal(settled[0].Metadata!.ResourceVersion, after.Metadata!.ResourceVersion);
        await Client.DeleteAsync<Pod>(ns, "calm-a", new DeleteOptions { GracePeriodSeconds = 0 });
    }

    [Fact(Timeout = 120_000)]
    public async Task Run_SelectorlessServiceWithCustomEndpoints_MirroredAndSkipMirrorHonoured()
    {
        var ns = await TestNamespaces.CreateAsync(Client, "es-");
        var service = NewService(ns, "ext");
        service.Spec!.Selector = null;
        service.Spec.Ports = [new ServicePort { Name = "pg", Port = 5432, Protocol = "TCP" }];
        await Client.CreateAsync(service, ns);
        await Client.CreateAsync(new Endpoints
        {
            Metadata = new ObjectMeta { Name = "ext", Namespace = ns, Labels = new() { ["team"] = "db" } },
            Subsets = [new EndpointSubset
            {
                Addresses = [new EndpointAddress { Ip = "192.168.5.10" }],
                NotReadyAddresses = [new EndpointAddress { Ip = "192.168.5.11" }],
                Ports = [new CoreEndpointPort { Name = "pg", Port = 5432, Protocol = "TCP" }],
            }],
        }, ns);

        var slice = Assert.Single(await MirroredWhenAsync(ns, "ext", "the mirrored slice", s => s.Count == 1 && s[0].Endpoints?.Count == 2));
        Assert.Equal("db", slice.Metadata!.Labels!["team"]);
        Assert.Equal(("Endpoints", "ext"), (slice.Metadata.OwnerReferences![0].Kind, slice.Metadata.OwnerReferences[0].Name));
        Assert.Equal(("pg", 5432), (slice.Ports![0].Name, slice.Ports[0].Port));
        var ready = slice.Endpoints!.ToDictionary(e => e.Addresses![0], e => e.Conditions!.Ready);
        Assert.Equal(new Dictionary<string, bool?> { ["192.168.5.10"] = true, ["192.168.5.11"] = false }, ready);
        // The endpointslice controller leaves a selector-less Service alone.
        Assert.Empty(await SlicesAsync(ns, "ext"));

        await Client.PatchAsync<Endpoints>(ns, "ext", PatchType.Merge, "{\"metadata\":{\"labels\":{\"" + EndpointSliceLabels.SkipMirror + "\":\"true\"}}}");
        await MirroredWhenAsync(ns, "ext", "the mirrored slice deleted", s => s.Count == 0);
    }


    private static Service NewService(string ns, string name) => new()
    {
        Metadata = new ObjectMeta { Name = name, Namespace = ns, Labels = new() { ["app"] = name } },
        Spec = new ServiceSpec
        {
            Selector = new() { ["app"] = name },
            Ports = [new ServicePort { Name = "http", Port = 80, Protocol = "TCP", TargetPort = IntOrString.FromString("web") }],
        },
    };

    private async Task CreatePodAsync(string ns, string name, string app, int webPort, Action<Pod>? configure = null)
    {
        var pod = new Pod
        {
            Metadata = new ObjectMeta { Name = name, Namespace = ns, Labels = new() { ["app"] = app } },
            Spec = new PodSpec
            {
                NodeName = fixture.NodeName,
                Containers = [new Container { Name = "c", Image = "nginx:1.25", Ports = [new ContainerPort { Name = "web", ContainerPortValue = webPort, Protocol = "TCP" }] }],
            },
        };
        configure?.Invoke(pod);
        await Client.CreateAsync(pod, ns);
    }

    private Task SetPodStatusAsync(string ns, string name, string ip, bool ready)
    {
        var now = DateTimeOffset.UtcNow.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", System.Globalization.CultureInfo.InvariantCulture);
        var patch = new JsonObject
        {
            ["status"] = new JsonObject
            {
                ["phase"] = "Running",
                ["podIP"] = ip,
                ["podIPs"] = new JsonArray(new JsonObject { ["ip"] = ip }),
                ["conditions"] = new JsonArray(new JsonObject { ["type"] = "Ready", ["status"] = ready ? "True" : "False", ["lastTransitionTime"] = now }),
            },
        };
        return Client.PatchAsync<Pod>(ns, name, PatchType.Merge, patch.ToJsonString(), subresource: "status");
    }

    private async Task<List<EndpointSlice>> SlicesAsync(string ns, string service, string managedBy = EndpointSliceController.ManagedByValue)
        => (await Client.ListAsync<EndpointSlice>(ns, new ListOptions { LabelSelector = $"{EndpointSliceLabels.ServiceName}={service},{EndpointSliceLabels.ManagedBy}={managedBy}" })).Items ?? [];

    private Task<List<EndpointSlice>> SlicesWhenAsync(string ns, string service, string what, Func<List<EndpointSlice>, bool> condition)
        => Eventually.GetAsync($"{service}: {what}", async () =>
        {
            var slices = await SlicesAsync(ns, service);
            return condition(slices) ? slices : null;
        }, Wait);

    private Task<List<EndpointSlice>> MirroredWhenAsync(string ns, string service, string what, Func<List<EndpointSlice>, bool> condition)
        => Eventually.GetAsync($"{service}: {what}", async () =>
        {
            var slices = await SlicesAsync(ns, service, EndpointSliceMirroringController.ManagedByValue);
            return condition(slices) ? slices : null;
        }, Wait);
}

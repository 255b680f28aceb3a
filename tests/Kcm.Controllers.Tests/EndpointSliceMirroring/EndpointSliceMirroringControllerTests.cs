using Kcm.Api.Core.V1;
using Kcm.Api.Discovery.V1;
using Kcm.Api.Meta.V1;
using Kcm.Controllers.EndpointSliceMirroring;
using Kcm.Controllers.EndpointSlices;
using Kcm.Controllers.Tests.EndpointSlices;
using Kcm.Runtime.Informers;
using Kcm.Runtime.Metrics;
using Kcm.Runtime.Queues;
using Kcm.Testing;
using Microsoft.Extensions.Logging.Abstractions;
using CoreEndpointPort = Kcm.Api.Core.V1.EndpointPort;
using Kcm.Controllers.Tests.Common;

namespace Kcm.Controllers.Tests.EndpointSliceMirroring;

public sealed class EndpointSliceMirroringControllerTests : IDisposable
{
    private const string Ns = "ns";
    private readonly ThreadSafeStore<Endpoints> _endpoints = TestStores.Store<Endpoints>();
    private readonly ThreadSafeStore<EndpointSlice> _slices = TestStores.Store<EndpointSlice>();
    private readonly ThreadSafeStore<Service> _services = TestStores.Store<Service>();
    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2026, 1, 2, 3, 4, 5, TimeSpan.Zero));
    private readonly RateLimitingQueue<ObjectKey> _queue;
    private readonly FakeEndpointSliceClient _client;
    private readonly RecordingEventRecorder _recorder = new();
    private readonly EndpointSliceMirroringMetrics _metrics = new(new MetricsRegistry());

    public EndpointSliceMirroringControllerTests()
    {
        _client = new FakeEndpointSliceClient(_slices);
        _queue = new RateLimitingQueue<ObjectKey>(new ItemExponentialFailureRateLimiter<ObjectKey>(TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(100)), new WorkQueueOptions { Name = "endpoint_slice_mirroring", TimeProvider = _time });
    }

    public void Dispose() => _queue.Dispose();

    private EndpointSliceMirroringController NewController(int maxPerSubset = 1000)
        => new(new EndpointSliceMirroringControllerOptions { MaxEndpointsPerSubset = maxPerSubset }, _endpoints, _slices, _services, _client, _queue, _recorder, _metrics, NullLogger.Instance, _time);

    private Task SyncAsync(EndpointSliceMirroringController controller) => controller.SyncAsync(new ObjectKey(Ns, "ext"), CancellationToken.None);

    private List<EndpointSlice> Mirrored() => _slices.List().OrderBy(s => s.Metadata!.Name, StringComparer.Ordinal).ToList();

    private void AddService(Dictionary<string, string>? selector = null)
        => _services.Upsert(new Service { Metadata = new ObjectMeta { Name = "ext", Namespace = Ns, Uid = "svc-uid" }, Spec = new ServiceSpec { Selector = selector, Ports = [new ServicePort { Name = "db", Port = 5432 }] } });

    private Endpoints AddEndpoints(Action<Endpoints>? configure = null)
    {
        var endpoints = new Endpoints
        {
            Metadata = new ObjectMeta
            {
                Name = "ext", Namespace = Ns, Uid = "ep-uid",
                Labels = new() { ["team"] = "db" },
                Annotations = new() { ["note"] = "x", [EndpointSliceLabels.LastChangeTriggerTime] = "2026-01-01T00:00:00Z" },
            },
            Subsets =
            [
                new EndpointSubset
                {
                    Addresses = [new EndpointAddress { Ip = "192.168.1.10", Hostname = "db-0", NodeName = "n1" }, new EndpointAddress { Ip = "not-an-ip" }],
                    NotReadyAddresses = [new EndpointAddress { Ip = "192.168.1.11" }],
                    Ports = [new CoreEndpointPort { Name = "db", Port = 5432, Protocol = "TCP" }],
                },
            ],
        };
        configure?.Invoke(endpoints);
        _endpoints.Upsert(endpoints);
        return endpoints;
    }

    [Fact(Timeout = 30_000)]
    public async Task Sync_SelectorlessServiceEndpoints_MirroredIntoOneSlice()
    {
        AddService();
        AddEndpoints();

        await SyncAsync(NewController());

        var slice = Assert.Single(Mirrored());
        Assert.Equal("ext-", slice.Metadata!.GenerateName);
        Assert.Equal(new Dictionary<string, string> { ["team"] = "db", [EndpointSliceLabels.ServiceName] = "ext", [EndpointSliceLabels.ManagedBy] = "endpointslicemirroring-controller.k8s.io" }, slice.Metadata.Labels);
        Assert.Equal(new Dictionary<string, string> { ["note"] = "x" }, slice.Metadata.Annotations);
        var owner = Assert.Single(slice.Metadata.OwnerReferences!);
        Assert.Equal(("v1", "Endpoints", "ext", "ep-uid", true, true), (owner.ApiVersion, owner.Kind, owner.Name, owner.Uid, owner.Controller, owner.BlockOwnerDeletion));
        Assert.Equal("IPv4", slice.AddressType);
        Assert.Equal(("db", 5432, "TCP"), (slice.Ports![0].Name, slice.Ports[0].Port, slice.Ports[0].Protocol));
        var endpoints = slice.Endpoints!.ToDictionary(e => e.Addresses![0]);
        Assert.Equal(2, endpoints.Count);
        Assert.Equal((true, "db-0", "n1"), (endpoints["192.168.1.10"].Conditions!.Ready!.Value, endpoints["192.168.1.10"].Hostname, endpoints["192.168.1.10"].NodeName));
        Assert.False(endpoints["192.168.1.11"].Conditions!.Ready);
        Assert.Null(endpoints["192.168.1.11"].Conditions!.Serving);
        Assert.Contains(_recorder.Events, e => e.Reason == "InvalidIPAddress" && e.Message == "Skipped 1 invalid IP addresses when mirroring to EndpointSlices");
    }

    [Fact(Timeout = 30_000)]
    public async Task Sync_Unchanged_WritesNothing()
    {
        AddService();
        AddEndpoints();
        var controller = NewController();
        await SyncAsync(controller);
        _client.Calls.Clear();

        await SyncAsync(controller);

        Assert.Empty(_client.Calls);
    }

    [Fact(Timeout = 30_000)]
    public async Task Sync_EndpointsLabelChanged_SliceUpdatedInPlace()
    {
        AddService();
        AddEndpoints();
        var controller = NewController();
        await SyncAsync(controller);
        var name = Assert.Single(Mirrored()).Metadata!.Name!;
        _client.Calls.Clear();

        AddEndpoints(e => e.Metadata!.Labels!["team"] = "storage");
        await SyncAsync(controller);

        Assert.Equal([("update", name)], _client.Calls);
        Assert.Equal("storage", Assert.Single(Mirrored()).Metadata!.Labels!["team"]);
    }

    [Theory(Timeout = 30_000)]
    [InlineData("skip-mirror")]
    [InlineData("selector")]
    [InlineData("no-service")]
    [InlineData("leader-election")]
    public async Task Sync_NoLongerMirrored_MirroredSlicesDeleted(string change)
    {
        AddService();
        AddEndpoints();
        var controller = NewController();
        await SyncAsync(controller);
        var name = Assert.Single(Mirrored()).Metadata!.Name!;
        _client.Calls.Clear();

        switch (change)
        {
            case "skip-mirror":
                AddEndpoints(e => e.Metadata!.Labels![EndpointSliceLabels.SkipMirror] = "true");
                break;
            case "selector":
                AddService(new() { ["app"] = "db" });
                break;
            case "no-service":
                _services.Delete(new ObjectKey(Ns, "ext"));
                break;
            default:
                AddEndpoints(e => e.Metadata!.Annotations![EndpointSliceLabels.LeaderElectionRecord] = "{}");
                break;
        }
        await SyncAsync(controller);

        Assert.Equal([("delete", name)], _client.Calls);
    }

    [Fact(Timeout = 30_000)]
    public async Task Sync_SkipMirrorFromTheStart_NothingCreated()
    {
        AddService();
        AddEndpoints(e => e.Metadata!.Labels![EndpointSliceLabels.SkipMirror] = "true");
        var controller = NewController();

        controller.OnEndpointsAdded(_endpoints.List()[0]);
        await SyncAsync(controller);

        Assert.Equal(0, _queue.Count);
        Assert.Empty(_client.Calls);
    }

    [Fact(Timeout = 30_000)]
    public async Task Sync_SubsetOverMaxEndpoints_TruncatedWithEvent()
    {
        AddService();
        AddEndpoints(e => e.Subsets![0].Addresses = Enumerable.Range(1, 5).Select(i => new EndpointAddress { Ip = $"192.168.2.{i}" }).ToList());

        await SyncAsync(NewController(maxPerSubset: 3));

        Assert.Equal(3, Assert.Single(Mirrored()).Endpoints!.Count);
        Assert.Contains(_recorder.Events, e => e.Reason == "TooManyAddressesToMirror" && e.Message == "A max of 3 addresses can be mirrored to EndpointSlices per Endpoints subset. 3 addresses were skipped");
    }

    [Fact(Timeout = 30_000)]
    public async Task Sync_MixedAddressFamilies_OneSlicePerFamily()
    {
        AddService();
        AddEndpoints(e => e.Subsets![0].Addresses = [new EndpointAddress { Ip = "192.168.1.10" }, new EndpointAddress { Ip = "fd00::10" }]);

        await SyncAsync(NewController());

        Assert.Equal(["IPv4", "IPv6"], Mirrored().Select(s => s.AddressType!).Order(StringComparer.Ordinal));
    }

    [Theory]
    [InlineData("10.0.0.1", "IPv4")]
    [InlineData("010.000.000.001", "IPv4")]
    [InlineData("::ffff:10.0.0.1", "IPv4")]
    [InlineData("fd00::1", "IPv6")]
    [InlineData("10.0.0", null)]
    [InlineData("1", null)]
    [InlineData("fe80::1%eth0", null)]
    [InlineData("example.com", null)]
    public void AddressType_GoParseIpSloppy_SameFamily(string address, string? expected)
        => Assert.Equal(expected, MirroringReconciler.AddressType(address));
}

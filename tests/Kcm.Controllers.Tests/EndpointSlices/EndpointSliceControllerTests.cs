using Kcm.Api;
using Kcm.Api.Core.V1;
using Kcm.Api.Discovery.V1;
using Kcm.Controllers.Common;
using Kcm.Controllers.EndpointSlices;
using Kcm.Runtime.Informers;

namespace Kcm.Controllers.Tests.EndpointSlices;

public sealed class EndpointSliceControllerTests : IDisposable
{
    private readonly EndpointSliceHarness _h = new();

    public void Dispose() => _h.Dispose();

    [Fact(Timeout = 30_000)]
    public async Task Sync_ReadyPod_OneSliceWithUpstreamShape()
    {
        _h.AddNode();
        var service = _h.AddService();
        _h.AddPod("p1", "10.1.0.1");

        await _h.SyncAsync();

        var slice = Assert.Single(_h.SlicesOf());
        Assert.Equal("svc-", slice.Metadata!.GenerateName);
        Assert.Equal("IPv4", slice.AddressType);
        Assert.Equal(new Dictionary<string, string>
        {
            ["team"] = "a",
            [EndpointSliceLabels.ServiceName] = "svc",
            [EndpointSliceLabels.ManagedBy] = "endpointslice-controller.k8s.io",
        }, slice.Metadata.Labels);
        var owner = Assert.Single(slice.Metadata.OwnerReferences!);
        Assert.Equal(("v1", "Service", "svc", "uid-svc", true, true), (owner.ApiVersion, owner.Kind, owner.Name, owner.Uid, owner.Controller, owner.BlockOwnerDeletion));
        var port = Assert.Single(slice.Ports!);
        Assert.Equal(("http", 8080, "TCP"), (port.Name, port.Port, port.Protocol));
        var endpoint = Assert.Single(slice.Endpoints!);
        Assert.Equal(["10.1.0.1"], endpoint.Addresses);
        Assert.Equal((true, true, false), (endpoint.Conditions!.Ready, endpoint.Conditions.Serving, endpoint.Conditions.Terminating));
        Assert.Equal(("node-a", "zone-a"), (endpoint.NodeName, endpoint.Zone));
        Assert.Equal(("Pod", "ns", "p1", "uid-p1"), (endpoint.TargetRef!.Kind, endpoint.TargetRef.Namespace, endpoint.TargetRef.Name, endpoint.TargetRef.Uid));
        // First sync of a Service: its creation time.
        Assert.Equal(PodEndpoints.FormatRfc3339Nano(service.Metadata!.CreationTimestamp!.Value), slice.Metadata.Annotations![EndpointSliceLabels.LastChangeTriggerTime]);
    }

    [Theory(Timeout = 30_000)]
    [InlineData(true, false, false, true, true, false)]
    [InlineData(false, false, false, false, false, false)]
    [InlineData(true, true, false, false, true, true)]
    [InlineData(false, false, true, true, false, false)]
    [InlineData(true, true, true, true, true, true)]
    public async Task Sync_PodState_EndpointConditions(bool podReady, bool terminating, bool publishNotReady, bool ready, bool serving, bool isTerminating)
    {
        _h.AddNode();
        _h.AddService(configure: s => s.Spec!.PublishNotReadyAddresses = publishNotReady);
        _h.AddPod("p1", "10.1.0.1", ready: podReady, configure: p => p.Metadata!.DeletionTimestamp = terminating ? _h.Time.GetUtcNow() : null);

        await _h.SyncAsync();

        var endpoint = Assert.Single(Assert.Single(_h.SlicesOf()).Endpoints!);
        Assert.Equal((ready, serving, isTerminating), (endpoint.Conditions!.Ready!.Value, endpoint.Conditions.Serving!.Value, endpoint.Conditions.Terminating!.Value));
    }

    [Fact(Timeout = 30_000)]
    public async Task Sync_1001Pods_SlicesSplitAt100()
    {
        _h.AddNode();
        _h.AddService();
        for (var i = 0; i < 1001; i++)
        {
            _h.AddPod($"p{i}", EndpointSliceHarness.Ip(i));
        }

        await _h.SyncAsync();

        var sizes = _h.SlicesOf().Select(s => s.Endpoints!.Count).OrderDescending().ToList();
        Assert.Equal([100, 100, 100, 100, 100, 100, 100, 100, 100, 100, 1], sizes);
        Assert.Equal(1001, _h.SlicesOf().SelectMany(s => s.Endpoints!).Select(e => e.TargetRef!.Name).Distinct().Count());
        Assert.Equal(11, _h.Client.Writes("create").Count());
        Assert.Equal(11, _h.Metrics.NumEndpointSlices.Value());
        Assert.Equal(11, _h.Metrics.DesiredEndpointSlices.Value());
        Assert.Equal(1001, _h.Metrics.EndpointsDesired.Value());
    }

    [Fact(Timeout = 30_000)]
    public async Task Sync_NothingChanged_WritesNothing()
    {
        _h.AddNode();
        _h.AddService();
        for (var i = 0; i < 150; i++)
        {
            _h.AddPod($"p{i}", EndpointSliceHarness.Ip(i));
        }
        await _h.SyncAsync();
        _h.Client.Calls.Clear();

        await _h.SyncAsync();

        Assert.Empty(_h.Client.Calls);
        Assert.Equal(2, _h.Metrics.Syncs.Value("success"));
    }

    [Fact(Timeout = 30_000)]
    public async Task Sync_OnePodReplacedByAnother_OnlyItsSliceUpdated()
    {
        _h.AddNode();
        _h.AddService();
        for (var i = 0; i < 250; i++)
        {
            _h.AddPod($"p{i}", EndpointSliceHarness.Ip(i));
        }
        await _h.SyncAsync();
        var before = _h.SlicesOf().ToDictionary(s => s.Metadata!.Name!, s => s.Metadata!.ResourceVersion);
        var holder = _h.SlicesOf().Single(s => s.Endpoints!.Any(e => e.TargetRef!.Name == "p7")).Metadata!.Name!;
        _h.Client.Calls.Clear();

        _h.Pods.Delete(new ObjectKey(EndpointSliceHarness.Ns, "p7"));
        _h.AddPod("p-new", EndpointSliceHarness.Ip(400));
        await _h.SyncAsync();

        Assert.Equal([("update", holder)], _h.Client.Calls);
        var after = _h.SlicesOf();
        Assert.Equal(3, after.Count);
        Assert.Contains(after.Single(s => s.Metadata!.Name == holder).Endpoints!, e => e.TargetRef!.Name == "p-new");
        Assert.All(after.Where(s => s.Metadata!.Name != holder), s => Assert.Equal(before[s.Metadata!.Name!], s.Metadata.ResourceVersion));
    }

    [Fact(Timeout = 30_000)]
    public async Task Sync_FewNewPods_FillUnchangedSliceWithRoomInsteadOfCreating()
    {
        _h.AddNode();
        _h.AddService();
        for (var i = 0; i < 130; i++)
        {
            _h.AddPod($"p{i}", EndpointSliceHarness.Ip(i));
        }
        await _h.SyncAsync();
        var partial = _h.SlicesOf().Single(s => s.Endpoints!.Count == 30).Metadata!.Name!;
        _h.Client.Calls.Clear();

        for (var i = 130; i < 140; i++)
        {
            _h.AddPod($"p{i}", EndpointSliceHarness.Ip(i));
        }
        await _h.SyncAsync();

        Assert.Equal([("update", partial)], _h.Client.Calls);
        Assert.Equal(40, _h.SlicesOf().Single(s => s.Metadata!.Name == partial).Endpoints!.Count);
    }

    [Fact(Timeout = 30_000)]
    public async Task Sync_AllPodsGone_EmptiedSliceRecycledAsPlaceholder()
    {
        _h.AddNode();
        _h.AddService();
        _h.AddPod("p1", "10.1.0.1");
        await _h.SyncAsync();
        var name = Assert.Single(_h.SlicesOf()).Metadata!.Name!;
        _h.Client.Calls.Clear();

        _h.Pods.Delete(new ObjectKey(EndpointSliceHarness.Ns, "p1"));
        await _h.SyncAsync();

        // The emptied slice takes the placeholder's place under its own name.
        Assert.Equal([("update", name)], _h.Client.Calls);
        var placeholder = Assert.Single(_h.SlicesOf());
        Assert.Empty(placeholder.Endpoints ?? []);
        Assert.Empty(placeholder.Ports ?? []);
        _h.Client.Calls.Clear();

        await _h.SyncAsync();
        Assert.Empty(_h.Client.Calls);
    }

    [Fact(Timeout = 30_000)]
    public async Task Sync_NamedTargetPortWithDifferentNumbers_OneSlicePerPortSet()
    {
        _h.AddNode();
        _h.AddService();
        _h.AddPod("p1", "10.1.0.1", webPort: 8080);
        _h.AddPod("p2", "10.1.0.2", webPort: 9090);
        _h.AddPod("p3", "10.1.0.3", configure: p => p.Spec!.Containers![0].Ports![0].Name = "other");

        await _h.SyncAsync();

        var byPort = _h.SlicesOf().ToDictionary(s => s.Ports!.Count == 0 ? 0 : s.Ports[0].Port!.Value, s => s.Endpoints!.Select(e => e.TargetRef!.Name).Single());
        Assert.Equal(new Dictionary<int, string?> { [8080] = "p1", [9090] = "p2", [0] = "p3" }, byPort);
    }

    [Fact(Timeout = 30_000)]
    public async Task Sync_HeadlessServiceWithoutPorts_HeadlessLabelAndNoPorts()
    {
        _h.AddNode();
        _h.AddService(configure: s =>
        {
            s.Spec!.ClusterIP = "None";
            s.Spec.Ports = null;
        });
        _h.AddPod("p1", "10.1.0.1", configure: p =>
        {
            p.Spec!.Hostname = "web-0";
            p.Spec.Subdomain = "svc";
        });

        await _h.SyncAsync();

        var slice = Assert.Single(_h.SlicesOf());
        Assert.Equal("", slice.Metadata!.Labels![EndpointSliceLabels.HeadlessService]);
        Assert.Empty(slice.Ports!);
        Assert.Equal("web-0", Assert.Single(slice.Endpoints!).Hostname);
    }

    [Fact(Timeout = 30_000)]
    public async Task Sync_DualStackService_OneSlicePerAddressType()
    {
        _h.AddNode();
        _h.AddService(configure: s => s.Spec!.IpFamilies = ["IPv4", "IPv6"]);
        _h.AddPod("p1", "10.1.0.1", configure: p => p.Status!.PodIPs = [new PodIP { Ip = "10.1.0.1" }, new PodIP { Ip = "fd00::1" }]);

        await _h.SyncAsync();

        var slices = _h.SlicesOf().ToDictionary(s => s.AddressType!, s => Assert.Single(Assert.Single(s.Endpoints!).Addresses!));
        Assert.Equal(new Dictionary<string, string> { ["IPv4"] = "10.1.0.1", ["IPv6"] = "fd00::1" }, slices);
    }

    [Fact(Timeout = 30_000)]
    public async Task Sync_PodOnUnknownNode_SkippedAndRetried()
    {
        _h.AddNode();
        _h.AddService();
        _h.AddPod("p1", "10.1.0.1");
        _h.AddPod("p2", "10.1.0.2", node: "gone");

        await Assert.ThrowsAsync<EndpointSliceSyncException>(() => _h.SyncAsync());

        Assert.Equal("p1", Assert.Single(Assert.Single(_h.SlicesOf()).Endpoints!).TargetRef!.Name);
        Assert.Equal(1, _h.Metrics.Syncs.Value("error"));
    }

    [Fact(Timeout = 30_000)]
    public async Task Sync_CacheMissesOwnWrite_StaleAndNoWrites()
    {
        _h.AddNode();
        _h.AddService();
        _h.AddPod("p1", "10.1.0.1");
        await _h.SyncAsync();
        var written = Assert.Single(_h.SlicesOf());
        // The informer has not delivered the slice yet: the cache is older than what the controller wrote.
        _h.Slices.Delete(ObjectKey.Of(written));
        _h.Client.Calls.Clear();

        await Assert.ThrowsAsync<StaleInformerCacheException>(() => _h.SyncAsync());

        Assert.Empty(_h.Client.Calls);
        Assert.Equal(1, _h.Metrics.Syncs.Value("stale"));
    }

    [Fact]
    public void OnSliceUpdated_OwnWriteEchoed_NotQueued()
    {
        var slice = new EndpointSlice
        {
            Metadata = new Kcm.Api.Meta.V1.ObjectMeta
            {
                Name = "svc-1", Namespace = "ns", Uid = "u1", Generation = 2,
                Labels = new() { [EndpointSliceLabels.ServiceName] = "svc", [EndpointSliceLabels.ManagedBy] = EndpointSliceController.ManagedByValue },
            },
        };
        _h.Controller.Tracker.Update(slice);

        _h.Controller.OnSliceUpdated(slice, slice);
        Assert.Equal(0, _h.Queue.Count + _h.Queue.WaitingCount);

        var edited = KubeObjects.Clone(slice);
        edited.Metadata!.Generation = 3;
        _h.Controller.OnSliceUpdated(slice, edited);
        Assert.Equal(1, _h.Queue.Count + _h.Queue.WaitingCount);
    }

    [Fact(Timeout = 30_000)]
    public async Task Sync_ServiceGone_NoWritesAndTrackerForgotten()
    {
        _h.AddNode();
        _h.AddService();
        _h.AddPod("p1", "10.1.0.1");
        await _h.SyncAsync();
        _h.Services.Delete(new ObjectKey(EndpointSliceHarness.Ns, "svc"));
        _h.Client.Calls.Clear();

        await _h.SyncAsync();

        // The garbage collector removes the slices through their owner reference.
        Assert.Empty(_h.Client.Calls);
        Assert.False(_h.Controller.Tracker.StaleSlices(new ObjectKey(EndpointSliceHarness.Ns, "svc"), []));
    }

    [Fact(Timeout = 30_000)]
    public async Task Sync_TopologyHintsAuto_EndpointsHintedToTheirZones()
    {
        _h.AddNode("node-a", "zone-a");
        _h.AddNode("node-b", "zone-b");
        _h.Controller.CheckNodeTopologyDistribution();
        _h.AddService(configure: s => s.Metadata!.Annotations = new() { [EndpointSliceLabels.TopologyAwareHints] = "auto" });
        for (var i = 0; i < 4; i++)
        {
            _h.AddPod($"p{i}", EndpointSliceHarness.Ip(i), node: i % 2 == 0 ? "node-a" : "node-b");
        }

        await _h.SyncAsync();

        var endpoints = Assert.Single(_h.SlicesOf()).Endpoints!;
        Assert.All(endpoints, e => Assert.Equal(e.Zone, Assert.Single(e.Hints!.ForZones!).Name));
        Assert.Contains(_h.Recorder.Events, e => e.Reason == "TopologyAwareHintsEnabled");
        Assert.Equal(1, _h.Metrics.SlicesChangedPerSync.Count("Auto"));
    }

    [Fact(Timeout = 30_000)]
    public async Task Sync_TopologyHintsAnnotationRemoved_HintsCleared()
    {
        _h.AddNode("node-a", "zone-a");
        _h.AddNode("node-b", "zone-b");
        _h.Controller.CheckNodeTopologyDistribution();
        var service = _h.AddService(configure: s => s.Metadata!.Annotations = new() { [EndpointSliceLabels.TopologyAwareHints] = "Auto" });
        _h.AddPod("p0", EndpointSliceHarness.Ip(0), node: "node-a");
        _h.AddPod("p1", EndpointSliceHarness.Ip(1), node: "node-b");
        await _h.SyncAsync();
        service.Metadata!.Annotations = null;
        _h.Services.Upsert(service);

        await _h.SyncAsync();

        Assert.All(Assert.Single(_h.SlicesOf()).Endpoints!, e => Assert.Null(e.Hints));
        Assert.Contains(_h.Recorder.Events, e => e.Reason == "TopologyAwareHintsDisabled");
    }

    [Fact]
    public void OnPodUpdated_ReadinessFlipped_ServiceQueued()
    {
        _h.AddService();
        var pod = _h.AddPod("p1", "10.1.0.1");
        var notReady = KubeObjects.Clone(pod);
        notReady.Metadata!.ResourceVersion = "2";
        notReady.Status!.Conditions![0].Status = "False";

        _h.Controller.OnPodUpdated(pod, notReady);

        Assert.Equal(1, _h.Queue.Count);
    }
}

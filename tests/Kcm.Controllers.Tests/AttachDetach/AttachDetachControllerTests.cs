using Kcm.Api;
using Kcm.Api.Core.V1;
using Kcm.Api.Meta.V1;
using Kcm.Api.Storage.V1;
using Kcm.Controllers.AttachDetach;
using Kcm.Controllers.Common;
using Kcm.Runtime.Informers;
using Kcm.Runtime.Queues;
using Kcm.Testing;
using Microsoft.Extensions.Logging.Abstractions;

namespace Kcm.Controllers.Tests.AttachDetach;

public sealed class AttachDetachControllerTests : IDisposable
{
    private const string Driver = "csi.example.com";
    private const string Node = "n1";
    private const string VolumeName = "kubernetes.io/csi/csi.example.com^h1";
    // What upstream v1.26.3 named the VolumeAttachment of handle h1, driver csi.example.com, node n1 on a real cluster.
    private const string AttachmentName = "csi-8157d03abc5a2bde671ba3121addefb9168531d96b38761bc92ae350c651387b";

    private readonly ThreadSafeStore<Pod> _pods = new(ObjectKey.Of, [new(PodPvcIndex.Name, PodPvcIndex.ClaimKeysOf)]);
    private readonly ThreadSafeStore<Node> _nodes = new(ObjectKey.Of);
    private readonly ThreadSafeStore<PersistentVolumeClaim> _claims = new(ObjectKey.Of);
    private readonly ThreadSafeStore<PersistentVolume> _volumes = new(ObjectKey.Of);
    private readonly ThreadSafeStore<CSIDriver> _drivers = new(ObjectKey.Of);
    private readonly ThreadSafeStore<VolumeAttachment> _attachments = new(ObjectKey.Of);
    private readonly RateLimitingQueue<ObjectKey> _queue = RateLimitingQueue<ObjectKey>.WithDefaultControllerRateLimiter(new WorkQueueOptions { Name = "pvcs" });
    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero));
    private readonly RecordingEventRecorder _recorder = new();
    private readonly FakeAttachDetachClient _client;
    private readonly AttachDetachController _controller;

    public AttachDetachControllerTests()
    {
        _client = new FakeAttachDetachClient(_attachments, _nodes);
        _controller = new AttachDetachController(_pods, _nodes, _claims, _volumes, _drivers, _attachments, _client, _recorder, _queue,
            new ReconcilerSettings(), _time, NullLoggerFactory.Instance);
    }

    public void Dispose() => _queue.Dispose();

    [Fact]
    public void AttachmentName_UpstreamExample_SameName()
        => Assert.Equal(AttachmentName, CsiAttachPlugin.AttachmentName("h1", Driver, Node));

    [Fact(Timeout = 20_000)]
    public async Task Reconcile_PodWithCsiClaimOnManagedNode_CreatesAttachmentThenReportsItAttached()
    {
        SeedVolume();
        var pod = AddPod("p1");

        await _controller.Reconciler.ReconcileAsync(CancellationToken.None);
        await AttachmentCreatedAsync();

        var created = Assert.Single(_client.Created);
        Assert.Equal((AttachmentName, Driver, Node, "pv1"),
            (created.Metadata!.Name, created.Spec!.Attacher, created.Spec.NodeName, created.Spec.Source!.PersistentVolumeName));
        Assert.Null(created.Spec.Source.InlineVolumeSpec);
        Assert.Empty(_client.NodePatches);

        MarkAttached();
        await DrainOperationsAsync();
        await _controller.Reconciler.ReconcileAsync(CancellationToken.None);

        Assert.Equal(AttachState.Attached, _controller.ActualState.GetAttachState(VolumeName, Node));
        var patch = Assert.Single(_client.NodePatches);
        Assert.Equal((Node, $"{{\"status\":{{\"volumesAttached\":[{{\"devicePath\":\"\",\"name\":\"{VolumeName}\"}}]}}}}"), patch);
        Assert.Contains(("p1", "Normal", "SuccessfulAttachVolume", "AttachVolume.Attach succeeded for volume \"pv1\" "), _recorder.Events);
        Assert.Equal(pod.Metadata!.Uid, Assert.Single(_controller.DesiredState.GetPodsToAdd()).Key);
    }

    [Fact(Timeout = 20_000)]
    public async Task Reconcile_PodGoneAndNodeNotMounting_RemovesFromNodeStatusThenDeletesAttachment()
    {
        SeedVolume();
        var pod = AddPod("p1");
        await AttachAsync();

        _controller.ProcessPodVolumes(pod, addVolumes: false);
        _controller.OnNodeUpdated(_nodes.Get(new ObjectKey(null, Node))!); // No volumesInUse: the node has unmounted it.
        await _controller.Reconciler.ReconcileAsync(CancellationToken.None);
        await DrainOperationsAsync();

        Assert.Equal((Node, "{\"status\":{\"volumesAttached\":null}}"), _client.NodePatches.Last());
        Assert.Equal(new[] { AttachmentName }, _client.Deleted);
        Assert.Equal(1, _client.NodeGets); // The safe-to-detach check read the node.
        Assert.Equal(AttachState.Detached, _controller.ActualState.GetAttachState(VolumeName, Node));
    }

    [Fact(Timeout = 20_000)]
    public async Task Reconcile_VolumeStillInUseOnReadyNode_NeverDetached()
    {
        SeedVolume();
        var pod = AddPod("p1");
        await AttachAsync();
        SetNode(ready: true, inUse: [VolumeName]);

        _controller.ProcessPodVolumes(pod, addVolumes: false);
        await _controller.Reconciler.ReconcileAsync(CancellationToken.None);
        _time.Advance(TimeSpan.FromMinutes(7));
        await _controller.Reconciler.ReconcileAsync(CancellationToken.None);

        Assert.Empty(_client.Deleted);
        Assert.Equal(AttachState.Attached, _controller.ActualState.GetAttachState(VolumeName, Node));
    }

    [Fact(Timeout = 20_000)]
    public async Task Reconcile_VolumeInUseOnNotReadyNode_ForceDetachedAfterMaxWaitForUnmount()
    {
        SeedVolume();
        var pod = AddPod("p1");
        await AttachAsync();
        SetNode(ready: false, inUse: [VolumeName]);

        _controller.ProcessPodVolumes(pod, addVolumes: false);
        await _controller.Reconciler.ReconcileAsync(CancellationToken.None);
        _time.Advance(TimeSpan.FromMinutes(5));
        await _controller.Reconciler.ReconcileAsync(CancellationToken.None);
        Assert.Empty(_client.Deleted);

        _time.Advance(TimeSpan.FromMinutes(1) + TimeSpan.FromSeconds(1));
        await _controller.Reconciler.ReconcileAsync(CancellationToken.None);
        await DrainOperationsAsync();

        Assert.Equal(new[] { AttachmentName }, _client.Deleted);
        Assert.Equal(0, _client.NodeGets); // Forced: no safe-to-detach check.
    }

    [Fact(Timeout = 20_000)]
    public async Task Reconcile_OutOfServiceTaint_DetachesAtOnceWithoutSafetyCheck()
    {
        SeedVolume();
        var pod = AddPod("p1");
        await AttachAsync();
        SetNode(ready: false, inUse: [VolumeName], taints: [new Taint { Key = AttachDetachReconciler.OutOfServiceTaint, Effect = "NoExecute" }]);

        _controller.ProcessPodVolumes(pod, addVolumes: false);
        await _controller.Reconciler.ReconcileAsync(CancellationToken.None);
        await DrainOperationsAsync();

        Assert.Equal(new[] { AttachmentName }, _client.Deleted);
        Assert.Equal(0, _client.NodeGets);
    }

    [Fact(Timeout = 20_000)]
    public async Task Reconcile_DriverWithoutAttachRequired_NoAttachment()
    {
        SeedVolume(attachRequired: false);
        AddPod("p1");

        await _controller.Reconciler.ReconcileAsync(CancellationToken.None);

        Assert.Empty(_client.Created);
        Assert.Empty(_controller.DesiredState.GetVolumesToAttach());
    }

    [Fact(Timeout = 20_000)]
    public async Task Reconcile_NodeWithoutManagedAnnotation_PodIgnored()
    {
        SeedVolume(managedNode: false);
        AddPod("p1");

        await _controller.Reconciler.ReconcileAsync(CancellationToken.None);

        Assert.Empty(_client.Created);
    }

    [Fact(Timeout = 20_000)]
    public async Task Reconcile_InlineCsiVolume_EphemeralSoNotAttached()
    {
        SeedVolume();
        var pod = Pod("inline", new Volume { Name = "v", Csi = new CSIVolumeSource { Driver = Driver } });
        _pods.Upsert(pod);
        _controller.OnPodAddedOrUpdated(pod);

        await _controller.Reconciler.ReconcileAsync(CancellationToken.None);

        Assert.Empty(_client.Created);
    }

    [Fact(Timeout = 20_000)]
    public async Task Reconcile_SucceededPod_VolumeNotWanted()
    {
        SeedVolume();
        var pod = Pod("done", ClaimVolume());
        pod.Status = new PodStatus { Phase = "Succeeded" };
        _pods.Upsert(pod);
        _controller.OnPodAddedOrUpdated(pod);

        await _controller.Reconciler.ReconcileAsync(CancellationToken.None);

        Assert.Empty(_client.Created);
    }

    [Fact(Timeout = 20_000)]
    public async Task SyncClaim_ClaimBoundAfterPodScheduled_VolumeAdded()
    {
        SeedVolume(claimBound: false);
        AddPod("p1");
        Assert.Empty(_controller.DesiredState.GetVolumesToAttach());

        var claim = _claims.Get(new ObjectKey("ns", "c1"))!;
        claim.Status = new PersistentVolumeClaimStatus { Phase = "Bound" };
        _claims.Upsert(claim);
        await _controller.SyncClaimAsync(new ObjectKey("ns", "c1"), CancellationToken.None);

        Assert.Equal(VolumeName, Assert.Single(_controller.DesiredState.GetVolumesToAttach()).VolumeName);
    }

    [Fact(Timeout = 20_000)]
    public async Task Sync_AttachmentNoLongerAttached_MarkedDetachedAndAttachedAgain()
    {
        SeedVolume();
        AddPod("p1");
        await AttachAsync();
        _attachments.Delete(new ObjectKey(null, AttachmentName));

        await _controller.Reconciler.SyncAsync(CancellationToken.None);

        Assert.Equal(AttachState.Detached, _controller.ActualState.GetAttachState(VolumeName, Node));
        await _controller.Reconciler.ReconcileAsync(CancellationToken.None);
        await AttachmentCreatedAsync();
        Assert.Equal(2, _client.Created.Count);
    }

    [Fact(Timeout = 20_000)]
    public async Task Attach_AttacherReportsError_UncertainWithFailedAttachEvent()
    {
        SeedVolume();
        AddPod("p1");

        await _controller.Reconciler.ReconcileAsync(CancellationToken.None);
        await AttachmentCreatedAsync();
        var attachment = _attachments.Get(new ObjectKey(null, AttachmentName))!;
        attachment.Status = new VolumeAttachmentStatus { Attached = false, AttachError = new VolumeError { Message = "disk busy" } };
        _attachments.Upsert(attachment);
        await DrainOperationsAsync();

        Assert.Equal(AttachState.Uncertain, _controller.ActualState.GetAttachState(VolumeName, Node));
        Assert.Contains(("p1", "Warning", "FailedAttachVolume", "AttachVolume.Attach failed for volume \"pv1\" : disk busy"), _recorder.Events);
    }

    [Fact(Timeout = 20_000)]
    public async Task Populate_NodeReportsAttachedVolumeNoPodUses_DetachedByName()
    {
        SeedVolume();
        SetNode(ready: true, inUse: [], attached: [new AttachedVolume { Name = VolumeName, DevicePath = "" }]);
        _attachments.Upsert(new VolumeAttachment
        {
            Metadata = new ObjectMeta { Name = AttachmentName },
            Spec = new VolumeAttachmentSpec { Attacher = Driver, NodeName = Node, Source = new VolumeAttachmentSource { PersistentVolumeName = "pv1" } },
            Status = new VolumeAttachmentStatus { Attached = true },
        });

        _controller.PopulateActualStateOfWorld();
        _controller.PopulateDesiredStateOfWorld();
        await _controller.Reconciler.ReconcileAsync(CancellationToken.None);
        await DrainOperationsAsync();

        Assert.Equal(new[] { AttachmentName }, _client.Deleted);
        Assert.Equal(AttachState.Detached, _controller.ActualState.GetAttachState(VolumeName, Node));
    }

    [Fact(Timeout = 20_000)]
    public async Task Reconcile_ReadWriteOnceVolumeWantedOnSecondNode_MultiAttachEventOnce()
    {
        SeedVolume();
        AddPod("p1");
        await AttachAsync();
        _nodes.Upsert(NodeObject("n2", ready: true, inUse: [], taints: null, attached: null));
        _controller.OnNodeUpdated(_nodes.Get(new ObjectKey(null, "n2"))!);
        var second = Pod("p2", ClaimVolume());
        second.Spec!.NodeName = "n2";
        _pods.Upsert(second);
        _controller.OnPodAddedOrUpdated(second);

        await _controller.Reconciler.ReconcileAsync(CancellationToken.None);
        await _controller.Reconciler.ReconcileAsync(CancellationToken.None);

        Assert.Single(_client.Created);
        Assert.Single(_recorder.Events, e => e == ("p2", "Warning", "FailedAttachVolume", "Multi-Attach error for volume \"pv1\" Volume is already used by pod(s) p1"));
    }

    [Fact]
    public void Patch_SameVolumesAsNode_EmptyPatch()
    {
        var node = NodeObject(Node, ready: true, inUse: [], taints: null, attached: [new AttachedVolume { Name = VolumeName, DevicePath = "" }]);

        Assert.Equal("{}", NodeStatusUpdater.Patch(node, [new AttachedVolume { Name = VolumeName, DevicePath = "" }]));
    }

    private async Task AttachAsync()
    {
        await _controller.Reconciler.ReconcileAsync(CancellationToken.None);
        await AttachmentCreatedAsync();
        MarkAttached();
        await DrainOperationsAsync();
        await _controller.Reconciler.ReconcileAsync(CancellationToken.None);
        Assert.Equal(AttachState.Attached, _controller.ActualState.GetAttachState(VolumeName, Node));
    }

    // Attaches run in the background: the first thing one does is create the VolumeAttachment.
    private async Task AttachmentCreatedAsync()
    {
        while (_attachments.Get(new ObjectKey(null, AttachmentName)) is null)
        {
            await Task.Delay(5);
        }
    }

    // The external attacher's part: it reports the VolumeAttachment attached.
    private void MarkAttached()
    {
        var attachment = _attachments.Get(new ObjectKey(null, AttachmentName))!;
        attachment.Status = new VolumeAttachmentStatus { Attached = true };
        _attachments.Upsert(attachment);
    }

    // Operations poll the caches on the (fake) clock: move it on until they finish.
    private async Task DrainOperationsAsync()
    {
        var idle = _controller.Operations.Pending.WaitIdleAsync();
        while (!idle.IsCompleted)
        {
            _time.Advance(TimeSpan.FromSeconds(1));
            await Task.WhenAny(idle, Task.Delay(5));
        }
        await idle;
    }

    private void SeedVolume(bool attachRequired = true, bool managedNode = true, bool claimBound = true)
    {
        _drivers.Upsert(new CSIDriver { Metadata = new ObjectMeta { Name = Driver }, Spec = new CSIDriverSpec { AttachRequired = attachRequired } });
        var node = NodeObject(Node, ready: true, inUse: [], taints: null, attached: null);
        if (!managedNode)
        {
            node.Metadata!.Annotations = null;
        }
        _nodes.Upsert(node);
        _controller.OnNodeAdded(node);
        _claims.Upsert(new PersistentVolumeClaim
        {
            Metadata = new ObjectMeta { Name = "c1", Namespace = "ns", Uid = "claim-uid" },
            Spec = new PersistentVolumeClaimSpec { VolumeName = "pv1" },
            Status = new PersistentVolumeClaimStatus { Phase = claimBound ? "Bound" : "Pending" },
        });
        _volumes.Upsert(new PersistentVolume
        {
            Metadata = new ObjectMeta { Name = "pv1" },
            Spec = new PersistentVolumeSpec
            {
                AccessModes = ["ReadWriteOnce"],
                Capacity = new() { ["storage"] = Quantity.Parse("1Gi") },
                ClaimRef = new ObjectReference { Namespace = "ns", Name = "c1", Uid = "claim-uid" },
                Csi = new CSIPersistentVolumeSource { Driver = Driver, VolumeHandle = "h1" },
            },
        });
    }

    private void SetNode(bool ready, List<string> inUse, List<Taint>? taints = null, List<AttachedVolume>? attached = null)
    {
        var current = _nodes.Get(new ObjectKey(null, Node));
        var node = NodeObject(Node, ready, inUse, taints, attached ?? current?.Status?.VolumesAttached);
        _nodes.Upsert(node);
        _controller.OnNodeUpdated(node);
    }

    private Pod AddPod(string name)
    {
        var pod = Pod(name, ClaimVolume());
        _pods.Upsert(pod);
        _controller.OnPodAddedOrUpdated(pod);
        return pod;
    }

    private static Volume ClaimVolume() => new() { Name = "data", PersistentVolumeClaim = new PersistentVolumeClaimVolumeSource { ClaimName = "c1" } };

    private static Pod Pod(string name, Volume volume) => new()
    {
        Metadata = new ObjectMeta { Name = name, Namespace = "ns", Uid = "uid-" + name },
        Spec = new PodSpec { NodeName = Node, Containers = [new Container { Name = "c", Image = "busybox" }], Volumes = [volume] },
        Status = new PodStatus { Phase = "Running" },
    };

    private static Node NodeObject(string name, bool ready, List<string> inUse, List<Taint>? taints, List<AttachedVolume>? attached) => new()
    {
        Metadata = new ObjectMeta { Name = name, Annotations = new() { [AttachDetachController.ManagedAnnotation] = "true" } },
        Spec = new NodeSpec { Taints = taints },
        Status = new NodeStatus
        {
            Conditions = [new NodeCondition { Type = "Ready", Status = ready ? "True" : "False" }],
            VolumesInUse = inUse,
            VolumesAttached = attached,
        },
    };
}

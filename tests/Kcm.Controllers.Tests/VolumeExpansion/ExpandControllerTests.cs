using Kcm.Api;
using Kcm.Api.Core.V1;
using Kcm.Api.Meta.V1;
using Kcm.Client.Errors;
using Kcm.Controllers.Common;
using Kcm.Controllers.Tests.AttachDetach;
using Kcm.Controllers.VolumeExpansion;
using Kcm.Runtime.Informers;
using Kcm.Runtime.Queues;
using Microsoft.Extensions.Logging.Abstractions;

namespace Kcm.Controllers.Tests.VolumeExpansion;

public sealed class ExpandControllerTests : IDisposable
{
    private const string Ignoring = "Ignoring the PVC: didn't find a plugin capable of expanding the volume; waiting for an external controller to process this PVC.";
    private readonly ThreadSafeStore<PersistentVolumeClaim> _claims = new(ObjectKey.Of);
    private readonly FakeExpandClient _client = new();
    private readonly RecordingEventRecorder _recorder = new();
    private readonly RateLimitingQueue<ObjectKey> _queue = RateLimitingQueue<ObjectKey>.WithDefaultControllerRateLimiter(new WorkQueueOptions { Name = ExpandController.QueueName });
    private readonly ExpandController _controller;

    public ExpandControllerTests()
    {
        // The v1.26 defaults: every migration on but Portworx and RBD.
        var migrated = CsiMigration.EnabledPlugins(gate => gate is not ("CSIMigrationPortworx" or "CSIMigrationRBD"));
        _controller = new ExpandController(_claims, _client, _recorder, _queue, new ExpandControllerSettings(migrated), NullLogger.Instance);
    }

    public void Dispose() => _queue.Dispose();

    [Fact(Timeout = 10_000)]
    public async Task Sync_CsiVolumeGrown_WarnsWaitingForExternalControllerAndWritesNothing()
    {
        Seed(request: "2Gi", new PersistentVolumeSpec { Csi = new CSIPersistentVolumeSource { Driver = "csi.example.com", VolumeHandle = "h1" } });

        await _controller.SyncAsync(new ObjectKey("ns", "c1"), CancellationToken.None);

        Assert.Equal(new[] { ("c1", "Warning", "ExternalExpanding", Ignoring) }, _recorder.Events);
        Assert.Empty(_client.Patches);
    }

    [Fact(Timeout = 10_000)]
    public async Task Sync_MigratedAwsVolumeGrown_AnnotatesResizerThroughStatus()
    {
        Seed(request: "2Gi", new PersistentVolumeSpec { AwsElasticBlockStore = new AWSElasticBlockStoreVolumeSource { VolumeID = "vol-1" } });

        await _controller.SyncAsync(new ObjectKey("ns", "c1"), CancellationToken.None);

        Assert.Equal(new[] { ("c1", "Normal", "ExternalExpanding", "CSI migration enabled for kubernetes.io/aws-ebs; waiting for external resizer to expand the pvc") }, _recorder.Events);
        Assert.Equal(new[] { ("ns", "c1", "{\"metadata\":{\"resourceVersion\":\"7\",\"annotations\":{\"volume.kubernetes.io/storage-resizer\":\"ebs.csi.aws.com\"}}}") }, _client.Patches);
    }

    [Fact(Timeout = 10_000)]
    public async Task Sync_PortworxMigrationOff_NoPluginWarning()
    {
        Seed(request: "2Gi", new PersistentVolumeSpec { PortworxVolume = new PortworxVolumeSource { VolumeID = "px" } });

        await _controller.SyncAsync(new ObjectKey("ns", "c1"), CancellationToken.None);

        Assert.Equal(new[] { ("c1", "Warning", "ExternalExpanding", Ignoring) }, _recorder.Events);
    }

    [Fact(Timeout = 10_000)]
    public async Task Sync_RequestNotAboveCapacity_Nothing()
    {
        Seed(request: "1Gi", new PersistentVolumeSpec { Csi = new CSIPersistentVolumeSource { Driver = "d", VolumeHandle = "h" } });

        await _controller.SyncAsync(new ObjectKey("ns", "c1"), CancellationToken.None);

        Assert.Empty(_recorder.Events);
    }

    [Fact(Timeout = 10_000)]
    public async Task Sync_VolumeBoundElsewhere_ErrorForRetry()
    {
        Seed(request: "2Gi", new PersistentVolumeSpec { Csi = new CSIPersistentVolumeSource { Driver = "d", VolumeHandle = "h" } }, claimUid: "other");

        var error = await Assert.ThrowsAsync<ExpandException>(() => _controller.SyncAsync(new ObjectKey("ns", "c1"), CancellationToken.None));

        Assert.Equal("persistent Volume is not bound to PVC being updated : ns/c1", error.Message);
    }

    [Fact(Timeout = 10_000)]
    public async Task Sync_VolumeMissing_ErrorForRetry()
    {
        _claims.Upsert(Claim("2Gi"));

        var error = await Assert.ThrowsAsync<ExpandException>(() => _controller.SyncAsync(new ObjectKey("ns", "c1"), CancellationToken.None));

        Assert.Equal("failed to get PV \"pv1\": persistentvolumes \"pv1\" not found", error.Message);
    }

    [Theory]
    [InlineData("1Gi", "2Gi", "1Gi", "1Gi", true)]   // request grew
    [InlineData("2Gi", "2Gi", "1Gi", "2Gi", true)]   // capacity grew
    [InlineData("2Gi", "2Gi", "1Gi", "1Gi", false)]  // unrelated change
    [InlineData("2Gi", "1Gi", "1Gi", "1Gi", false)]  // shrink
    public void OnClaimUpdated_EnqueuedOnlyWhenRequestOrCapacityGrows(string oldRequest, string newRequest, string oldCapacity, string newCapacity, bool enqueued)
    {
        var old = Claim(oldRequest, oldCapacity);
        var updated = Claim(newRequest, newCapacity);

        _controller.OnClaimUpdated(old, updated);

        Assert.Equal(enqueued ? 1 : 0, _queue.Count);
    }

    private void Seed(string request, PersistentVolumeSpec spec, string claimUid = "claim-uid")
    {
        _claims.Upsert(Claim(request));
        spec.ClaimRef = new ObjectReference { Namespace = "ns", Name = "c1", Uid = claimUid };
        spec.Capacity = new() { ["storage"] = Quantity.Parse("1Gi") };
        _client.Volumes["pv1"] = new PersistentVolume { Metadata = new ObjectMeta { Name = "pv1" }, Spec = spec };
    }

    private static PersistentVolumeClaim Claim(string request, string capacity = "1Gi") => new()
    {
        Metadata = new ObjectMeta { Name = "c1", Namespace = "ns", Uid = "claim-uid", ResourceVersion = "7" },
        Spec = new PersistentVolumeClaimSpec { VolumeName = "pv1", Resources = new ResourceRequirements { Requests = new() { ["storage"] = Quantity.Parse(request) } } },
        Status = new PersistentVolumeClaimStatus { Phase = "Bound", Capacity = new() { ["storage"] = Quantity.Parse(capacity) } },
    };

    private sealed class FakeExpandClient : IExpandClient
    {
        public Dictionary<string, PersistentVolume> Volumes { get; } = [];
        public List<(string Namespace, string Name, string Patch)> Patches { get; } = [];

        public Task<PersistentVolume> GetVolumeAsync(string name, CancellationToken cancellationToken)
            => Volumes.TryGetValue(name, out var pv) ? Task.FromResult(pv)
                : throw new NotFoundException(404, new Status { Reason = "NotFound", Message = $"persistentvolumes \"{name}\" not found" });

        public Task PatchClaimStatusAsync(string @namespace, string name, string patch, CancellationToken cancellationToken)
        {
            Patches.Add((@namespace, name, patch));
            return Task.CompletedTask;
        }
    }
}

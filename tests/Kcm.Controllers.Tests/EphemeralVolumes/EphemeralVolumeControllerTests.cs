using Kcm.Api.Core.V1;
using Kcm.Api.Meta.V1;
using Kcm.Client.Errors;
using Kcm.Controllers.Common;
using Kcm.Controllers.EphemeralVolumes;
using Kcm.Controllers.Tests.Deployments;
using Kcm.Runtime.Informers;
using Kcm.Runtime.Metrics;
using Kcm.Runtime.Queues;
using Microsoft.Extensions.Logging.Abstractions;

namespace Kcm.Controllers.Tests.EphemeralVolumes;

public sealed class EphemeralVolumeControllerTests : IDisposable
{
    private readonly ThreadSafeStore<Pod> _pods = new(ObjectKey.Of, [new(PodPvcIndex.Name, PodPvcIndex.ClaimKeysOf)]);
    private readonly ThreadSafeStore<PersistentVolumeClaim> _claims = new(ObjectKey.Of, []);
    private readonly FakeClient _client = new();
    private readonly RecordingEventRecorder _events = new();
    private readonly MetricsRegistry _metrics = new();
    private readonly RateLimitingQueue<ObjectKey> _queue = RateLimitingQueue<ObjectKey>.WithDefaultControllerRateLimiter(new WorkQueueOptions { Name = EphemeralVolumeController.QueueName });
    private readonly EphemeralVolumeController _controller;

    public EphemeralVolumeControllerTests()
    {
        _controller = new EphemeralVolumeController(_pods, _claims, _client, _events, _queue, _metrics, NullLogger.Instance);
    }

    public void Dispose() => _queue.Dispose();

    [Fact(Timeout = 10_000)]
    public async Task SyncAsync_PodWithEphemeralVolume_CreatesClaimFromTemplateOwnedByPod()
    {
        _pods.Upsert(Pod("p", "scratch"));

        await _controller.SyncAsync(new ObjectKey("ns", "p"), CancellationToken.None);

        var claim = Assert.Single(_client.Created);
        Assert.Equal("p-scratch", claim.Metadata!.Name);
        Assert.Equal("ns", claim.Metadata.Namespace);
        Assert.Equal("fast", claim.Spec!.StorageClassName);
        Assert.Equal("l", claim.Metadata.Labels!["k"]);
        Assert.Equal("a", claim.Metadata.Annotations!["k"]);
        var owner = Assert.Single(claim.Metadata.OwnerReferences!);
        Assert.Equal(("v1", "Pod", "p", "uid-p", true, true), (owner.ApiVersion, owner.Kind, owner.Name, owner.Uid, owner.Controller, owner.BlockOwnerDeletion));
        Assert.Equal(1, _metrics.Counter("ephemeral_volume_controller_create_total", "").Value());
        Assert.Equal(0, _metrics.Counter("ephemeral_volume_controller_create_failures_total", "").Value());
    }

    [Fact(Timeout = 10_000)]
    public async Task SyncAsync_ClaimExistsOwnedByPod_CreatesNothing()
    {
        var pod = Pod("p", "scratch");
        _pods.Upsert(pod);
        _claims.Upsert(Claim("p-scratch", [ControllerRefs.NewControllerRef(pod.Metadata!, Kcm.Api.Core.V1.Pod.Resource)]));

        await _controller.SyncAsync(new ObjectKey("ns", "p"), CancellationToken.None);

        Assert.Empty(_client.Created);
        Assert.Empty(_events.Events);
    }

    [Fact(Timeout = 10_000)]
    public async Task SyncAsync_ClaimExistsNotOwnedByPod_EventAndError()
    {
        _pods.Upsert(Pod("p", "scratch"));
        _claims.Upsert(Claim("p-scratch", null));

        var error = await Assert.ThrowsAsync<EphemeralVolumeSyncException>(() => _controller.SyncAsync(new ObjectKey("ns", "p"), CancellationToken.None));

        Assert.Empty(_client.Created);
        var e = Assert.Single(_events.Events);
        Assert.Equal(("Warning", "FailedBinding", "ephemeral volume scratch: PVC ns/p-scratch was not created for pod ns/p (pod is not owner)", "p"), e);
        Assert.Contains("pod ns/p, ephemeral volume scratch", error.Message);
    }

    [Fact(Timeout = 10_000)]
    public async Task SyncAsync_CreateFails_CountsFailureAndEvent()
    {
        _pods.Upsert(Pod("p", "scratch"));
        _client.Fail = true;

        await Assert.ThrowsAsync<EphemeralVolumeSyncException>(() => _controller.SyncAsync(new ObjectKey("ns", "p"), CancellationToken.None));

        Assert.Equal(1, _metrics.Counter("ephemeral_volume_controller_create_failures_total", "").Value());
        Assert.StartsWith("ephemeral volume scratch: create PVC p-scratch: ", Assert.Single(_events.Events).Message);
    }

    [Fact(Timeout = 10_000)]
    public async Task SyncAsync_PodBeingDeleted_CreatesNothing()
    {
        var pod = Pod("p", "scratch");
        pod.Metadata!.DeletionTimestamp = DateTimeOffset.UnixEpoch;
        _pods.Upsert(pod);

        await _controller.SyncAsync(new ObjectKey("ns", "p"), CancellationToken.None);

        Assert.Empty(_client.Created);
    }

    [Fact]
    public void OnClaimDeleted_QueuesPodsUsingIt()
    {
        _pods.Upsert(Pod("p", "scratch"));
        _pods.Upsert(Pod("q", "other"));

        _controller.OnClaimDeleted(Claim("p-scratch", null));

        Assert.True(_queue.TryTake(out var key));
        Assert.Equal(new ObjectKey("ns", "p"), key);
        Assert.Equal(0, _queue.Count);
    }

    private static Pod Pod(string name, string volume) => new()
    {
        Metadata = new ObjectMeta { Name = name, Namespace = "ns", Uid = "uid-" + name },
        Spec = new PodSpec
        {
            Volumes =
            [
                new Volume { Name = "plain", EmptyDir = new EmptyDirVolumeSource() },
                new Volume
                {
                    Name = volume,
                    Ephemeral = new EphemeralVolumeSource
                    {
                        VolumeClaimTemplate = new PersistentVolumeClaimTemplate
                        {
                            Metadata = new ObjectMeta { Labels = new() { ["k"] = "l" }, Annotations = new() { ["k"] = "a" } },
                            Spec = new PersistentVolumeClaimSpec { StorageClassName = "fast", AccessModes = ["ReadWriteOnce"] },
                        },
                    },
                },
            ],
        },
    };

    private static PersistentVolumeClaim Claim(string name, List<OwnerReference>? owners) => new()
    {
        Metadata = new ObjectMeta { Name = name, Namespace = "ns", OwnerReferences = owners },
    };

    private sealed class FakeClient : IEphemeralClaimClient
    {
        public List<PersistentVolumeClaim> Created { get; } = [];

        public bool Fail { get; set; }

        public Task CreateClaimAsync(PersistentVolumeClaim claim, CancellationToken cancellationToken)
        {
            if (Fail)
            {
                throw new ForbiddenException(403, new Status { Reason = "Forbidden", Message = "no" });
            }
            Created.Add(claim);
            return Task.CompletedTask;
        }
    }
}

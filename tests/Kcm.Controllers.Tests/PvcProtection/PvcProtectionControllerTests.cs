using Kcm.Api.Core.V1;
using Kcm.Api.Meta.V1;
using Kcm.Controllers.Common;
using Kcm.Controllers.PvcProtection;
using Kcm.Runtime.Informers;
using Kcm.Runtime.Queues;
using Microsoft.Extensions.Logging.Abstractions;

namespace Kcm.Controllers.Tests.PvcProtection;

public sealed class PvcProtectionControllerTests : IDisposable
{
    private const string Finalizer = "kubernetes.io/pvc-protection";
    private readonly ThreadSafeStore<PersistentVolumeClaim> _claims = new(ObjectKey.Of, []);
    private readonly ThreadSafeStore<Pod> _pods = new(ObjectKey.Of, [new(PodPvcIndex.Name, PodPvcIndex.ClaimKeysOf)]);
    private readonly FakeClient _client = new();
    private readonly RateLimitingQueue<ObjectKey> _queue = RateLimitingQueue<ObjectKey>.WithDefaultControllerRateLimiter(new WorkQueueOptions { Name = PvcProtectionController.QueueName });
    private readonly PvcProtectionController _controller;

    public PvcProtectionControllerTests()
    {
        _controller = new PvcProtectionController(_claims, _pods, _client, _queue, NullLogger.Instance);
    }

    public void Dispose() => _queue.Dispose();

    [Fact(Timeout = 10_000)]
    public async Task SyncAsync_ClaimWithoutFinalizer_AddsIt()
    {
        _claims.Upsert(Claim("c", finalizers: ["other"]));

        await _controller.SyncAsync(new ObjectKey("ns", "c"), CancellationToken.None);

        Assert.Equal(["other", Finalizer], Assert.Single(_client.Updates).Metadata!.Finalizers!);
    }

    [Fact(Timeout = 10_000)]
    public async Task SyncAsync_DeletingClaimUsedByScheduledPodInCache_KeepsFinalizer()
    {
        _claims.Upsert(Claim("c", finalizers: [Finalizer], deleting: true));
        _pods.Upsert(PodUsing("p", "c", node: "n1"));

        await _controller.SyncAsync(new ObjectKey("ns", "c"), CancellationToken.None);

        Assert.Empty(_client.Updates);
        Assert.Equal(0, _client.Lists);
    }

    [Fact(Timeout = 10_000)]
    public async Task SyncAsync_DeletingClaimUnusedInCacheButUsedInLiveList_KeepsFinalizer()
    {
        _claims.Upsert(Claim("c", finalizers: [Finalizer], deleting: true));
        _client.LivePods.Add(PodUsing("p", "c", node: "n1"));

        await _controller.SyncAsync(new ObjectKey("ns", "c"), CancellationToken.None);

        Assert.Empty(_client.Updates);
        Assert.Equal(1, _client.Lists);
    }

    [Fact(Timeout = 10_000)]
    public async Task SyncAsync_DeletingClaimUnused_RemovesOnlyItsFinalizer()
    {
        _claims.Upsert(Claim("c", finalizers: ["a", Finalizer, "b"], deleting: true));
        _pods.Upsert(PodUsing("other", "another-claim", node: "n1"));

        await _controller.SyncAsync(new ObjectKey("ns", "c"), CancellationToken.None);

        Assert.Equal(["a", "b"], Assert.Single(_client.Updates).Metadata!.Finalizers!);
    }

    // v1.26's podUsesPVC counts only pods with spec.nodeName set.
    [Fact(Timeout = 10_000)]
    public async Task SyncAsync_DeletingClaimUsedOnlyByUnscheduledPod_RemovesFinalizer()
    {
        _claims.Upsert(Claim("c", finalizers: [Finalizer], deleting: true));
        _pods.Upsert(PodUsing("p", "c", node: null));

        await _controller.SyncAsync(new ObjectKey("ns", "c"), CancellationToken.None);

        Assert.Single(_client.Updates);
    }

    [Fact(Timeout = 10_000)]
    public async Task SyncAsync_EphemeralClaimOwnedByPod_IsInUse()
    {
        var pod = EphemeralPod("p", "scratch", node: "n1");
        _pods.Upsert(pod);
        _claims.Upsert(Claim("p-scratch", finalizers: [Finalizer], deleting: true, owner: pod));

        await _controller.SyncAsync(new ObjectKey("ns", "p-scratch"), CancellationToken.None);

        Assert.Empty(_client.Updates);
    }

    [Fact(Timeout = 10_000)]
    public async Task SyncAsync_EphemeralClaimNotOwnedByPod_IsNotInUse()
    {
        _pods.Upsert(EphemeralPod("p", "scratch", node: "n1"));
        _claims.Upsert(Claim("p-scratch", finalizers: [Finalizer], deleting: true));

        await _controller.SyncAsync(new ObjectKey("ns", "p-scratch"), CancellationToken.None);

        Assert.Single(_client.Updates);
    }

    [Fact(Timeout = 10_000)]
    public async Task SyncAsync_ClaimNotInCache_DoesNothing()
    {
        await _controller.SyncAsync(new ObjectKey("ns", "gone"), CancellationToken.None);

        Assert.Empty(_client.Updates);
    }

    [Fact]
    public void OnClaimAddedOrUpdated_ProtectedAndNotDeleting_NotQueued()
    {
        _controller.OnClaimAddedOrUpdated(Claim("c", finalizers: [Finalizer]));
        Assert.Equal(0, _queue.Count);

        _controller.OnClaimAddedOrUpdated(Claim("d"));
        Assert.Equal(1, _queue.Count);
    }

    [Theory]
    [InlineData("n1", "Running", false, 0)]
    [InlineData("n1", "Succeeded", false, 1)]
    [InlineData("n1", "Running", true, 1)]
    [InlineData(null, "Pending", false, 1)]
    public void OnPodEvent_QueuesClaimsOnlyWhenUseMayHaveEnded(string? node, string phase, bool deleted, int queued)
    {
        var pod = PodUsing("p", "c", node);
        pod.Status = new PodStatus { Phase = phase };

        _controller.OnPodEvent(null, pod, deleted);

        Assert.Equal(queued, _queue.Count);
    }

    private static PersistentVolumeClaim Claim(string name, List<string>? finalizers = null, bool deleting = false, Pod? owner = null) => new()
    {
        Metadata = new ObjectMeta
        {
            Name = name,
            Namespace = "ns",
            Uid = "uid-" + name,
            Finalizers = finalizers,
            DeletionTimestamp = deleting ? DateTimeOffset.UnixEpoch : null,
            OwnerReferences = owner is null ? null : [ControllerRefs.NewControllerRef(owner.Metadata!, Pod.Resource)],
        },
    };

    private static Pod PodUsing(string name, string claim, string? node) => new()
    {
        Metadata = new ObjectMeta { Name = name, Namespace = "ns", Uid = "uid-" + name },
        Spec = new PodSpec
        {
            NodeName = node,
            Volumes = [new Volume { Name = "v", PersistentVolumeClaim = new PersistentVolumeClaimVolumeSource { ClaimName = claim } }],
        },
    };

    private static Pod EphemeralPod(string name, string volume, string? node) => new()
    {
        Metadata = new ObjectMeta { Name = name, Namespace = "ns", Uid = "uid-" + name },
        Spec = new PodSpec
        {
            NodeName = node,
            Volumes = [new Volume { Name = volume, Ephemeral = new EphemeralVolumeSource { VolumeClaimTemplate = new PersistentVolumeClaimTemplate() } }],
        },
    };

    private sealed class FakeClient : IPvcProtectionClient
    {
        public List<PersistentVolumeClaim> Updates { get; } = [];

        public List<Pod> LivePods { get; } = [];

        public int Lists { get; private set; }

        public Task UpdateClaimAsync(PersistentVolumeClaim claim, CancellationToken cancellationToken)
        {
            Updates.Add(claim);
            return Task.CompletedTask;
        }

        public Task<IReadOnlyList<Pod>> ListPodsAsync(string @namespace, CancellationToken cancellationToken)
        {
            Lists++;
            return Task.FromResult<IReadOnlyList<Pod>>(LivePods.Where(p => p.Metadata?.Namespace == @namespace).ToList());
        }
    }
}

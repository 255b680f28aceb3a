using Kcm.Api.Core.V1;
using Kcm.Api.Meta.V1;
using Kcm.Controllers.PvProtection;
using Kcm.Runtime.Informers;
using Kcm.Runtime.Queues;
using Microsoft.Extensions.Logging.Abstractions;

namespace Kcm.Controllers.Tests.PvProtection;

public sealed class PvProtectionControllerTests : IDisposable
{
    private const string Finalizer = "kubernetes.io/pv-protection";
    private readonly ThreadSafeStore<PersistentVolume> _volumes = new(ObjectKey.Of, []);
    private readonly FakeClient _client = new();
    private readonly RateLimitingQueue<ObjectKey> _queue = RateLimitingQueue<ObjectKey>.WithDefaultControllerRateLimiter(new WorkQueueOptions { Name = PvProtectionController.QueueName });
    private readonly PvProtectionController _controller;

    public PvProtectionControllerTests()
    {
        _controller = new PvProtectionController(_volumes, _client, _queue, NullLogger.Instance);
    }

    public void Dispose() => _queue.Dispose();

    [Fact(Timeout = 10_000)]
    public async Task SyncAsync_VolumeWithoutFinalizer_AddsIt()
    {
        _volumes.Upsert(Volume("pv", phase: "Available", finalizers: null));

        await _controller.SyncAsync(new ObjectKey(null, "pv"), CancellationToken.None);

        Assert.Equal([Finalizer], Assert.Single(_client.Updates).Metadata!.Finalizers!);
    }

    [Theory(Timeout = 10_000)]
    [InlineData("Bound", false)]
    [InlineData("Released", true)]
    [InlineData("Available", true)]
    [InlineData("Failed", true)]
    [InlineData(null, true)]
    public async Task SyncAsync_DeletingVolume_RemovesFinalizerUnlessBound(string? phase, bool removed)
    {
        _volumes.Upsert(Volume("pv", phase, ["x", Finalizer], deleting: true));

        await _controller.SyncAsync(new ObjectKey(null, "pv"), CancellationToken.None);

        if (removed)
        {
            Assert.Equal(["x"], Assert.Single(_client.Updates).Metadata!.Finalizers!);
        }
        else
        {
            Assert.Empty(_client.Updates);
        }
    }

    [Fact]
    public void OnVolumeAddedOrUpdated_QueuesOnlyVolumesNeedingWork()
    {
        _controller.OnVolumeAddedOrUpdated(Volume("a", "Bound", [Finalizer]));
        _controller.OnVolumeAddedOrUpdated(Volume("b", "Bound", [], deleting: true));
        Assert.Equal(0, _queue.Count);

        _controller.OnVolumeAddedOrUpdated(Volume("c", "Bound", null));
        _controller.OnVolumeAddedOrUpdated(Volume("d", "Bound", [Finalizer], deleting: true));
        Assert.Equal(2, _queue.Count);
    }

    private static PersistentVolume Volume(string name, string? phase, List<string>? finalizers, bool deleting = false) => new()
    {
        Metadata = new ObjectMeta { Name = name, Finalizers = finalizers, DeletionTimestamp = deleting ? DateTimeOffset.UnixEpoch : null },
        Status = new PersistentVolumeStatus { Phase = phase },
    };

    private sealed class FakeClient : IPvProtectionClient
    {
        public List<PersistentVolume> Updates { get; } = [];

        public Task UpdateVolumeAsync(PersistentVolume volume, CancellationToken cancellationToken)
        {
            Updates.Add(volume);
            return Task.CompletedTask;
        }
    }
}

using System.Collections.Concurrent;
using Kcm.Api;
using Kcm.Api.Core.V1;
using Kcm.Api.Meta.V1;
using Kcm.Client;
using Kcm.Client.Errors;
using Kcm.Controllers.Ttl;
using Kcm.Runtime.Informers;
using Kcm.Runtime.Queues;
using Microsoft.Extensions.Logging.Abstractions;

namespace Kcm.Controllers.Tests.Ttl;

/// <summary>The TTL controller without a server: the node cache is seeded by hand and node patches are recorded.</summary>
public sealed class TtlControllerTests : IDisposable
{
    private readonly ThreadSafeStore<Node> _nodes = new(ObjectKey.Of, []);
    private readonly FakeTtlNodeClient _client = new();
    private readonly RateLimitingQueue<ObjectKey> _queue = RateLimitingQueue<ObjectKey>.WithDefaultControllerRateLimiter(new WorkQueueOptions { Name = TtlController.QueueName });
    private readonly TtlController _controller;

    public TtlControllerTests()
    {
        _controller = new TtlController(_nodes, _client, _queue, NullLogger.Instance);
    }

    public void Dispose() => _queue.Dispose();

    [Fact]
    public async Task SyncAsync_NodeWithoutAnnotation_SendsUpstreamsStrategicMergePatch()
    {
        AddNode(NewNode("n1"));

        await _controller.SyncAsync(new ObjectKey(null, "n1"), CancellationToken.None);

        var patch = Assert.Single(_client.Patches);
        Assert.Equal(("n1", PatchType.StrategicMerge, """{"metadata":{"annotations":{"node.alpha.kubernetes.io/ttl":"0"}}}"""), patch);
    }

    [Fact]
    public async Task SyncAsync_AnnotationAlreadyDesired_SendsNothing()
    {
        AddNode(NewNode("n1", ttl: "0"));

        await _controller.SyncAsync(new ObjectKey(null, "n1"), CancellationToken.None);

        Assert.Empty(_client.Patches);
    }

    [Theory]
    [InlineData("15")]
    [InlineData("abc")]
    [InlineData(" 0")]
    [InlineData("")]
    public async Task SyncAsync_AnnotationWrongOrUnreadable_PatchesToDesired(string current)
    {
        AddNode(NewNode("n1", ttl: current));

        await _controller.SyncAsync(new ObjectKey(null, "n1"), CancellationToken.None);

        Assert.Equal("""{"metadata":{"annotations":{"node.alpha.kubernetes.io/ttl":"0"}}}""", Assert.Single(_client.Patches).Patch);
    }

    [Fact]
    public async Task SyncAsync_NodeNotInCache_SendsNothing()
    {
        var result = await _controller.SyncAsync(new ObjectKey(null, "gone"), CancellationToken.None);

        Assert.Equal(Kcm.Runtime.Controllers.ReconcileResult.Done, result);
        Assert.Empty(_client.Patches);
    }

    [Fact]
    public async Task SyncAsync_PatchFails_ThrowsForTheWorkerToRetry()
    {
        AddNode(NewNode("n1"));
        _client.Failure = new ConflictException(409, new Status { Reason = "Conflict", Code = 409 });

        await Assert.ThrowsAsync<ConflictException>(() => _controller.SyncAsync(new ObjectKey(null, "n1"), CancellationToken.None));
    }

    [Theory]
    [InlineData(1, 0)]
    [InlineData(100, 0)]
    [InlineData(101, 15)]
    [InlineData(500, 15)]
    [InlineData(501, 30)]
    [InlineData(1000, 30)]
    [InlineData(1001, 60)]
    [InlineData(2000, 60)]
    [InlineData(2001, 300)]
    public void OnNodeAdded_ClusterGrows_DesiredTtlFollowsBoundaries(int nodes, int expectedTtl)
    {
        Grow(nodes);

        Assert.Equal(expectedTtl, _controller.DesiredTtlSeconds);
    }

    [Theory]
    [InlineData(101, 95, 15)]
    [InlineData(101, 90, 15)]
    [InlineData(101, 89, 0)]
    [InlineData(100, 50, 0)]
    [InlineData(501, 450, 30)]
    [InlineData(501, 449, 15)]
    [InlineData(1001, 900, 60)]
    [InlineData(1001, 899, 30)]
    [InlineData(2001, 1800, 300)]
    [InlineData(2001, 1799, 60)]
    [InlineData(2001, 1000, 60)] // One step per delete event: 1799 stepped to 60, 1000 is still within 900..2000.
    [InlineData(2001, 899, 30)]
    public void OnNodeDeleted_ClusterShrinks_DesiredTtlKeepsHysteresis(int grownTo, int shrunkTo, int expectedTtl)
    {
        Grow(grownTo);

        for (var i = grownTo; i > shrunkTo; i--)
        {
            _controller.OnNodeDeleted();
        }

        Assert.Equal(expectedTtl, _controller.DesiredTtlSeconds);
    }

    [Fact]
    public void OnNodeAdded_ShrinkBelowThenGrowBack_StepsUpOnlyPastMaximum()
    {
        Grow(101);
        for (var i = 0; i < 12; i++)
        {
            _controller.OnNodeDeleted(); // 89 nodes: back to 0.
        }
        Assert.Equal(0, _controller.DesiredTtlSeconds);

        for (var i = 0; i < 11; i++)
        {
            _controller.OnNodeAdded(NewNode($"again-{i}")); // 100 nodes: still 0.
        }
        Assert.Equal(0, _controller.DesiredTtlSeconds);
        _controller.OnNodeAdded(NewNode("again-last"));
        Assert.Equal(15, _controller.DesiredTtlSeconds);
    }

    [Fact]
    public async Task SyncAsync_GrownPast100ThenShrunkTo95_KeepsFifteenSeconds()
    {
        var nodes = Enumerable.Range(0, 101).Select(i => NewNode($"n{i}", ttl: "0")).ToList();
        nodes.ForEach(AddNode);

        await _controller.SyncAsync(new ObjectKey(null, "n0"), CancellationToken.None);
        Assert.Equal(("n0", PatchType.StrategicMerge, """{"metadata":{"annotations":{"node.alpha.kubernetes.io/ttl":"15"}}}"""), Assert.Single(_client.Patches));

        foreach (var node in nodes.Skip(95))
        {
            _nodes.Delete(ObjectKey.Of(node));
            _controller.OnNodeDeleted();
        }
        _nodes.Upsert(NewNode("n1", ttl: "15"));
        await _controller.SyncAsync(new ObjectKey(null, "n1"), CancellationToken.None);

        Assert.Single(_client.Patches);
    }

    [Fact]
    public void OnNodeDeleted_MoreDeletesThanAdds_StaysOnFirstRow()
    {
        _controller.OnNodeDeleted();
        _controller.OnNodeAdded(NewNode("n1"));

        Assert.Equal(0, _controller.DesiredTtlSeconds);
    }

    [Fact]
    public void Handlers_AddAndUpdateQueueTheNode_DeleteDoesNot()
    {
        _controller.OnNodeAdded(NewNode("a"));
        _controller.OnNodeUpdated(NewNode("b"));
        _controller.OnNodeDeleted();

        Assert.Equal(2, _queue.Count);
        Assert.True(_queue.TryTake(out var first));
        Assert.True(_queue.TryTake(out var second));
        Assert.Equal([new ObjectKey(null, "a"), new ObjectKey(null, "b")], new[] { first, second });
    }

    private void Grow(int count)
    {
        for (var i = 0; i < count; i++)
        {
            _controller.OnNodeAdded(NewNode($"n{i}"));
        }
    }

    private void AddNode(Node node)
    {
        _nodes.Upsert(node);
        _controller.OnNodeAdded(node);
    }

    private static Node NewNode(string name, string? ttl = null) => new()
    {
        Metadata = new ObjectMeta
        {
            Name = name,
            Uid = $"uid-{name}",
            Annotations = ttl is null ? null : new() { [TtlController.AnnotationKey] = ttl },
        },
    };
}

internal sealed class FakeTtlNodeClient : ITtlNodeClient
{
    private readonly ConcurrentQueue<(string Node, PatchType Type, string Patch)> _patches = new();

    public Exception? Failure { get; set; }

    public IReadOnlyList<(string Node, PatchType Type, string Patch)> Patches => _patches.ToList();

    public Task PatchAsync(string nodeName, PatchType type, string patch, CancellationToken cancellationToken)
    {
        if (Failure is not null)
        {
            return Task.FromException(Failure);
        }
        _patches.Enqueue((nodeName, type, patch));
        return Task.CompletedTask;
    }
}

using System.Collections.Concurrent;
using System.Net;
using Kcm.Api.Meta.V1;
using Kcm.Api.Core.V1;
using Kcm.Controllers.NodeIpam;
using Kcm.Runtime.Events;
using Microsoft.Extensions.Logging.Abstractions;

namespace Kcm.Controllers.Tests.NodeIpam;

public sealed class RangeAllocatorTests
{
    private readonly ConcurrentDictionary<string, Node> _nodes = new();
    private readonly FakeCidrClient _client = new();
    private readonly FakeRecorder _recorder = new();

    private static IPNetwork Net(string text) => CidrSet.TryParse(text, out var cidr) ? cidr : throw new ArgumentException(text);

    private RangeAllocator NewAllocator(params (string Cluster, int Mask)[] clusters)
        => new([.. clusters.Select(c => new CidrSet(Net(c.Cluster), c.Mask))], _client, n => _nodes.GetValueOrDefault(n), _recorder, NullLogger.Instance);

    private Node AddNode(string name, params string[] podCidrs)
    {
        var node = new Node { Metadata = new ObjectMeta { Name = name }, Spec = new NodeSpec { PodCIDRs = podCidrs.Length > 0 ? [.. podCidrs] : null, PodCIDR = podCidrs.FirstOrDefault() } };
        _nodes[name] = node;
        return node;
    }

    [Fact(Timeout = 10_000)]
    public async Task AllocateOrOccupy_NewNodes_PatchedWithNextRangesSkippingServiceRange()
    {
        var allocator = NewAllocator(("10.200.0.0/16", 24));
        allocator.FilterOutServiceRange(Net("10.200.0.0/20"));
        allocator.AllocateOrOccupy(AddNode("a"));
        allocator.AllocateOrOccupy(AddNode("b"));
        while (await allocator.ProcessOneAsync(CancellationToken.None))
        {
        }
        Assert.Equal(["a=10.200.16.0/24", "b=10.200.17.0/24"], _client.Patches);
    }

    [Fact(Timeout = 10_000)]
    public async Task AllocateOrOccupy_DualStack_OneRangePerFamilyInClusterOrder()
    {
        var allocator = NewAllocator(("10.1.0.0/16", 24), ("fd00:1::/56", 64));
        allocator.AllocateOrOccupy(AddNode("a"));
        Assert.True(await allocator.ProcessOneAsync(CancellationToken.None));
        Assert.Equal(["a=10.1.0.0/24,fd00:1::/64"], _client.Patches);
        Assert.Equal("""{"spec":{"podCIDR":"10.1.0.0/24","podCIDRs":["10.1.0.0/24","fd00:1::/64"]}}""", ApiNodeCidrClient.PodCidrsPatch(["10.1.0.0/24", "fd00:1::/64"]));
    }

    [Fact(Timeout = 10_000)]
    public async Task OccupyCidrs_ExistingNodes_NewNodeGetsAFreeRange()
    {
        var allocator = NewAllocator(("10.0.0.0/22", 24));
        allocator.OccupyCidrs(AddNode("old0", "10.0.0.0/24"));
        allocator.OccupyCidrs(AddNode("old2", "10.0.2.0/24"));
        allocator.AllocateOrOccupy(AddNode("new"));
        await allocator.ProcessOneAsync(CancellationToken.None);
        Assert.Equal(["new=10.0.1.0/24"], _client.Patches);
    }

    [Fact]
    public void OccupyCidrs_RangeOutsideClusterCidr_ThrowsClearError()
    {
        var allocator = NewAllocator(("10.0.0.0/22", 24));
        var e = Assert.Throws<CidrSetException>(() => allocator.OccupyCidrs(AddNode("x", "10.9.0.0/24")));
        Assert.Contains("as occupied for node: x", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void AllocateOrOccupy_Exhausted_RecordsCidrNotAvailableOnTheNode()
    {
        var allocator = NewAllocator(("10.0.0.0/24", 24));
        allocator.FilterOutServiceRange(Net("10.0.0.0/24"));
        Assert.Throws<CidrSetException>(() => allocator.AllocateOrOccupy(AddNode("full")));
        var recorded = Assert.Single(_recorder.Events);
        Assert.Equal(("Node", "full", "Normal", "CIDRNotAvailable", "Node full status is now: CIDRNotAvailable"), recorded);
    }

    [Fact(Timeout = 10_000)]
    public async Task Release_DeletedNode_RangeHandedOutAgainAfterWrap()
    {
        var allocator = NewAllocator(("10.0.0.0/23", 24));
        allocator.AllocateOrOccupy(AddNode("a"));
        allocator.AllocateOrOccupy(AddNode("b"));
        while (await allocator.ProcessOneAsync(CancellationToken.None))
        {
        }
        allocator.Release(AddNode("a", "10.0.0.0/24"));
        allocator.AllocateOrOccupy(AddNode("c"));
        while (await allocator.ProcessOneAsync(CancellationToken.None))
        {
        }
        Assert.Equal(["a=10.0.0.0/24", "b=10.0.1.0/24", "c=10.0.0.0/24"], _client.Patches);
    }

    [Fact(Timeout = 10_000)]
    public async Task UpdateCidrsAllocation_PatchFailsThreeTimes_ReleasesAndRecordsAssignmentFailed()
    {
        var allocator = NewAllocator(("10.0.0.0/23", 24));
        _client.Failures = 3;
        AddNode("a");
        var ok = await allocator.UpdateCidrsAllocationAsync(new NodeReservedCidrs("a", [allocator.Sets[0].AllocateNext()]), CancellationToken.None);
        Assert.False(ok);
        Assert.Equal(3, _client.Attempts);
        Assert.Equal(0, allocator.Sets[0].AllocatedCount);
        Assert.Equal("CIDRAssignmentFailed", Assert.Single(_recorder.Events).Reason);
    }

    [Fact(Timeout = 10_000)]
    public async Task UpdateCidrsAllocation_NodeAlreadyHasOtherRange_ReleasesNewOneWithoutPatch()
    {
        var allocator = NewAllocator(("10.0.0.0/23", 24));
        allocator.OccupyCidrs(AddNode("a", "10.0.1.0/24"));
        var ok = await allocator.UpdateCidrsAllocationAsync(new NodeReservedCidrs("a", [allocator.Sets[0].AllocateNext()]), CancellationToken.None);
        Assert.True(ok);
        Assert.Empty(_client.Patches);
        Assert.Equal(1, allocator.Sets[0].AllocatedCount);
    }

    private sealed class FakeCidrClient : INodeCidrClient
    {
        public ConcurrentQueue<string> Queue { get; } = new();

        public List<string> Patches => [.. Queue];

        public int Failures { get; set; }

        public int Attempts { get; private set; }

        public Task PatchPodCidrsAsync(string nodeName, IReadOnlyList<string> cidrs, CancellationToken cancellationToken)
        {
            Attempts++;
            if (Failures-- > 0)
            {
                throw new HttpRequestException("connection refused");
            }
            Queue.Enqueue($"{nodeName}={string.Join(',', cidrs)}");
            return Task.CompletedTask;
        }
    }

    private sealed class FakeRecorder : IEventRecorder
    {
        public List<(string? Kind, string? Name, string Type, string Reason, string Message)> Events { get; } = [];

        public void Event(ObjectReference reference, string type, string reason, string message)
            => Events.Add((reference.Kind, reference.Name, type, reason, message));
    }
}

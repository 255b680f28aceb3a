using System.Net;
using Kcm.Controllers.NodeIpam;
using Kcm.Runtime.Metrics;

namespace Kcm.Controllers.Tests.NodeIpam;

public sealed class CidrSetTests
{
    private static IPNetwork Net(string text) => CidrSet.TryParse(text, out var cidr) ? cidr : throw new ArgumentException(text);

    private static string Next(CidrSet set) => CidrSet.Format(set.AllocateNext());

    [Fact]
    public void AllocateNext_FreshSet_HandsOutRangesInOrder()
    {
        var set = new CidrSet(Net("10.200.0.0/16"), 24);
        Assert.Equal("10.200.0.0/24", Next(set));
        Assert.Equal("10.200.1.0/24", Next(set));
        Assert.Equal("10.200.2.0/24", Next(set));
    }

    [Fact]
    public void AllocateNext_Ipv4With32BitsBetweenMasks_HandsOutRanges()
    {
        var set = new CidrSet(Net("0.0.0.0/0"), 32);
        Assert.Equal(1L << 32, set.MaxCidrs);
        Assert.Equal("0.0.0.0/32", Next(set));
        set.Occupy(Net("0.0.0.1/32"));
        Assert.Equal("0.0.0.2/32", Next(set));
    }

    [Fact]
    public void AllocateNext_AfterRelease_ContinuesAfterLastAllocatedNotAtFreedRange()
    {
        var set = new CidrSet(Net("10.0.0.0/22"), 24);
        Next(set);
        Next(set);
        set.Release(Net("10.0.0.0/24"));
        // Round robin: the freed first range comes back only after the end wraps.
        Assert.Equal("10.0.2.0/24", Next(set));
        Assert.Equal("10.0.3.0/24", Next(set));
        Assert.Equal("10.0.0.0/24", Next(set));
    }

    [Fact]
    public void AllocateNext_AllUsed_ThrowsNoRemaining()
    {
        var set = new CidrSet(Net("10.0.0.0/23"), 24);
        Next(set);
        Next(set);
        var e = Assert.Throws<CidrSetException>(() => set.AllocateNext());
        Assert.Equal(CidrSet.NoCidrsRemaining, e.Message);
    }

    [Fact]
    public void Occupy_ServiceRangeInsideCluster_SkipsItsNodeRanges()
    {
        var set = new CidrSet(Net("10.200.0.0/16"), 24);
        set.Occupy(Net("10.200.0.0/20"));
        Assert.Equal(16, set.AllocatedCount);
        Assert.Equal("10.200.16.0/24", Next(set));
    }

    [Fact]
    public void Occupy_RangeLargerThanCluster_UsesEverything()
    {
        var set = new CidrSet(Net("10.200.5.0/24"), 26);
        set.Occupy(Net("10.0.0.0/8"));
        Assert.Equal(4, set.AllocatedCount);
        Assert.Throws<CidrSetException>(() => set.AllocateNext());
    }

    [Fact]
    public void Occupy_RangeOutsideCluster_Throws()
    {
        var set = new CidrSet(Net("10.200.0.0/16"), 24);
        var e = Assert.Throws<CidrSetException>(() => set.Occupy(Net("10.201.0.0/24")));
        Assert.Contains("out the range of cluster cidr 10.200.0.0/16", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Release_OccupiedRange_CountsDownAndFreesIt()
    {
        var set = new CidrSet(Net("10.0.0.0/23"), 24);
        set.Occupy(Net("10.0.1.0/24"));
        set.Release(Net("10.0.1.0/24"));
        set.Release(Net("10.0.1.0/24"));
        Assert.Equal(0, set.AllocatedCount);
    }

    [Fact]
    public void AllocateNext_IPv6_UsesBitsAcrossTheHalves()
    {
        var set = new CidrSet(Net("fd00:10::/56"), 64);
        Assert.Equal("fd00:10::/64", Next(set));
        Assert.Equal("fd00:10:0:1::/64", Next(set));
        var deep = new CidrSet(Net("fd00::/112"), 120);
        Next(deep);
        Assert.Equal("fd00::100/120", Next(deep));
    }

    [Fact]
    public void Constructor_IPv6MoreThanSixteenBits_Throws()
    {
        Assert.Throws<CidrSetException>(() => new CidrSet(Net("fd00::/48"), 65));
    }

    [Fact]
    public void TryParse_HostBitsSet_MasksThemAway()
    {
        Assert.True(CidrSet.TryParse("10.1.2.3/16", out var cidr));
        Assert.Equal("10.1.0.0/16", CidrSet.Format(cidr));
        Assert.False(CidrSet.TryParse("10.1.2.3/33", out _));
        Assert.False(CidrSet.TryParse("nonsense", out _));
    }

    [Fact]
    public void Metrics_AllocateOccupyRelease_CountedPerClusterCidr()
    {
        var registry = new MetricsRegistry();
        var metrics = new CidrSetMetrics(registry);
        var set = new CidrSet(Net("10.0.0.0/22"), 24, metrics);
        set.Occupy(Net("10.0.0.0/24"));
        Next(set);
        set.Release(Net("10.0.1.0/24"));
        Assert.Equal(2, metrics.Allocations.Value("10.0.0.0/22"));
        Assert.Equal(1, metrics.Releases.Value("10.0.0.0/22"));
        Assert.Equal(0.25, metrics.Usage.Value("10.0.0.0/22"));
        Assert.Equal(1, metrics.TriesPerRequest.Count("10.0.0.0/22"));
    }
}

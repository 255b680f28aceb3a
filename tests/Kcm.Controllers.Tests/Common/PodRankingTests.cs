using Kcm.Api.Core.V1;
using Kcm.Controllers.Common;
using static Kcm.Controllers.Tests.Common.TestPods;

namespace Kcm.Controllers.Tests.Common;

public sealed class PodRankingTests
{
    private static string First(Pod a, Pod b, int rankA = 0, int rankB = 0, PodRankingFeatures? features = null)
    {
        // Both argument orders must agree, or the comparer is not a strict order.
        var ranking = new ActivePodsWithRanks(Now, features);
        var forward = ranking.Sort([a, b], [rankA, rankB])[0].Metadata!.Name!;
        var backward = ranking.Sort([b, a], [rankB, rankA])[0].Metadata!.Name!;
        Assert.Equal(forward, backward);
        return forward;
    }

    [Fact]
    public void Less_UnscheduledAndScheduled_UnscheduledFirst()
        => Assert.Equal("unscheduled", First(Pod("scheduled", "Running", node: "n1", readySince: Now.AddHours(-1)), Pod("unscheduled", "Running", readySince: Now.AddHours(-1))));

    [Theory]
    [InlineData("Pending", "Unknown")]
    [InlineData("Unknown", "Running")]
    [InlineData("Pending", "Running")]
    public void Less_DifferentPhases_EarlierPhaseFirst(string earlier, string later)
        => Assert.Equal("early", First(Pod("late", later, node: "n1"), Pod("early", earlier, node: "n1")));

    [Fact]
    public void Less_ReadyAndNotReady_NotReadyFirst()
        => Assert.Equal("not-ready", First(Pod("ready", "Running", node: "n1", readySince: Now.AddMinutes(-5)), Pod("not-ready", "Running", node: "n1")));

    [Fact]
    public void Less_DeletionCost_LowerCostFirst()
    {
        var cheap = Pod("cheap", "Running", node: "n1", annotations: new() { [ActivePodsWithRanks.PodDeletionCostAnnotation] = "-5" });
        var dear = Pod("dear", "Running", node: "n1", annotations: new() { [ActivePodsWithRanks.PodDeletionCostAnnotation] = "100" });
        Assert.Equal("cheap", First(dear, cheap, rankA: 5, rankB: 0));
    }

    [Fact]
    public void Less_DeletionCostGateOff_CostIgnored()
    {
        var cheap = Pod("cheap", "Running", node: "n1", annotations: new() { [ActivePodsWithRanks.PodDeletionCostAnnotation] = "-5" });
        var dear = Pod("dear", "Running", node: "n1", annotations: new() { [ActivePodsWithRanks.PodDeletionCostAnnotation] = "100" });
        Assert.Equal("dear", First(dear, cheap, rankA: 5, rankB: 0, new PodRankingFeatures(PodDeletionCost: false)));
    }

    [Theory]
    [InlineData("not-a-number")]
    [InlineData("99999999999")]
    public void DeletionCost_Invalid_IsZero(string value)
        => Assert.Equal(0, ActivePodsWithRanks.DeletionCost(Pod("p", annotations: new() { [ActivePodsWithRanks.PodDeletionCostAnnotation] = value })));

    [Fact]
    public void Less_MoreColocatedPods_DeletedFirst()
        => Assert.Equal("crowded", First(Pod("alone", "Running", node: "n1"), Pod("crowded", "Running", node: "n2"), rankA: 1, rankB: 3));

    [Fact]
    public void Less_BothReady_RecentlyReadyFirst()
    {
        var old = Pod("old", "Running", node: "n1", readySince: Now.AddDays(-10));
        var recent = Pod("recent", "Running", node: "n1", readySince: Now.AddMinutes(-1));
        Assert.Equal("recent", First(old, recent));
        Assert.Equal("recent", First(old, recent, features: new PodRankingFeatures(LogarithmicScaleDown: false)));
    }

    [Fact]
    public void Less_SameLogScaleReadyTime_TieBrokenByUid()
    {
        // 100 and 110 minutes ago fall in the same power-of-two bucket of nanoseconds: the UID decides.
        var a = Pod("a", "Running", node: "n1", readySince: Now.AddMinutes(-100), uid: "bbb");
        var b = Pod("b", "Running", node: "n1", readySince: Now.AddMinutes(-110), uid: "aaa");
        Assert.Equal(0, ActivePodsWithRanks.LogarithmicRankDiff(Now.AddMinutes(-100), Now.AddMinutes(-110), Now));
        Assert.Equal("b", First(a, b));
        // Without the gate the more recently ready pod goes first.
        Assert.Equal("a", First(a, b, features: new PodRankingFeatures(LogarithmicScaleDown: false)));
    }

    [Fact]
    public void Less_MoreRestarts_DeletedFirst()
        => Assert.Equal("flaky", First(Pod("steady", "Running", node: "n1"), Pod("flaky", "Running", node: "n1", restarts: 4)));

    [Fact]
    public void Less_DifferentCreationTimes_NewerFirst()
        => Assert.Equal("new", First(Pod("old", created: Now.AddDays(-30)), Pod("new", created: Now.AddSeconds(-5))));

    [Fact]
    public void LogarithmicRankDiff_NotInThePast_RanksBelowEverything()
        => Assert.True(ActivePodsWithRanks.LogarithmicRankDiff(Now.AddSeconds(1), Now.AddSeconds(-1), Now) < 0);

    [Fact]
    public void Sort_MixedPods_UpstreamOrder()
    {
        var pods = new[]
        {
            Pod("running-ready-old", "Running", node: "n1", readySince: Now.AddDays(-3)),
            Pod("pending-scheduled", "Pending", node: "n1"),
            Pod("running-not-ready", "Running", node: "n1"),
            Pod("unscheduled", "Pending"),
            Pod("running-ready-new", "Running", node: "n1", readySince: Now.AddSeconds(-30)),
        };
        var order = new ActivePodsWithRanks(Now).Sort(pods, new int[pods.Length]).Select(p => p.Metadata!.Name!).ToArray();
        Assert.Equal(["unscheduled", "pending-scheduled", "running-not-ready", "running-ready-new", "running-ready-old"], order);
    }

    [Fact]
    public void Sort_RanksOfWrongLength_Throws()
        => Assert.Throws<ArgumentException>(() => new ActivePodsWithRanks(Now).Sort([Pod("a")], []));
}

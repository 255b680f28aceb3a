using Kcm.Api;
using Kcm.Api.Apps.V1;
using Kcm.Api.Core.V1;
using Kcm.Api.Meta.V1;
using Kcm.Controllers.Common;
using Kcm.Controllers.Deployments;
using DeploymentObject = Kcm.Api.Apps.V1.Deployment;

namespace Kcm.Controllers.Tests.Deployments;

public sealed class DeploymentUtilTests
{
    internal static DeploymentObject Rolling(int replicas, IntOrString? maxSurge, IntOrString? maxUnavailable) => new()
    {
        Metadata = new ObjectMeta { Name = "d", Namespace = "ns", Generation = 1 },
        Spec = new DeploymentSpec
        {
            Replicas = replicas,
            Strategy = new DeploymentStrategy { Type = "RollingUpdate", RollingUpdate = new RollingUpdateDeployment { MaxSurge = maxSurge, MaxUnavailable = maxUnavailable } },
        },
        Status = new DeploymentStatus(),
    };

    internal static ReplicaSet Rs(string name, int replicas, int available = 0, int? maxReplicasAnnotation = null, DateTimeOffset? created = null)
    {
        var rs = new ReplicaSet
        {
            Metadata = new ObjectMeta { Name = name, Uid = name + "-uid", CreationTimestamp = created ?? DateTimeOffset.UnixEpoch, Annotations = [] },
            Spec = new ReplicaSetSpec { Replicas = replicas },
            Status = new ReplicaSetStatus { Replicas = replicas, AvailableReplicas = available },
        };
        if (maxReplicasAnnotation is { } max)
        {
            rs.Metadata.Annotations[DeploymentNames.MaxReplicasAnnotation] = max.ToString();
        }
        return rs;
    }

    [Theory]
    [InlineData("25%", "25%", 10, 3, 2)] // surge rounds up, unavailable rounds down
    [InlineData("25%", "25%", 1, 1, 0)]
    [InlineData("0%", "10%", 5, 0, 1)] // both resolve to zero: unavailable becomes 1
    [InlineData("1", "1", 4, 1, 1)]
    [InlineData("50%", "0", 3, 2, 0)]
    [InlineData("0", "0", 3, 0, 1)]
    public void ResolveFenceposts_IntOrPercent_UsesUpstreamRounding(string surge, string unavailable, int desired, int expectedSurge, int expectedUnavailable)
    {
        var (s, u) = DeploymentUtil.ResolveFenceposts(IntOrString.Parse(surge), IntOrString.Parse(unavailable), desired);
        Assert.Equal((expectedSurge, expectedUnavailable), (s, u));
    }

    [Fact]
    public void ResolveFenceposts_NotAPercentage_Throws()
    {
        Assert.Throws<InvalidIntOrPercentException>(() => DeploymentUtil.ResolveFenceposts(IntOrString.FromString("3"), IntOrString.FromInt(1), 10));
        Assert.Throws<InvalidIntOrPercentException>(() => DeploymentUtil.ResolveFenceposts(IntOrString.FromString("x%"), IntOrString.FromInt(1), 10));
    }

    [Fact]
    public void MaxUnavailable_LargerThanReplicas_IsCappedAndZeroForRecreateOrNoReplicas()
    {
        Assert.Equal(2, DeploymentUtil.MaxUnavailable(Rolling(2, 0, 5)));
        Assert.Equal(0, DeploymentUtil.MaxUnavailable(Rolling(0, 0, 5)));
        var recreate = Rolling(3, 1, 1);
        recreate.Spec!.Strategy!.Type = "Recreate";
        Assert.Equal(0, DeploymentUtil.MaxUnavailable(recreate));
        Assert.Equal(0, DeploymentUtil.MaxSurge(recreate));
    }

    [Theory]
    [InlineData(0, 10)] // first ReplicaSet: up to the full size
    [InlineData(10, 3)] // 10 old + surge 3: the new one may take 3
    [InlineData(13, 0)] // already at desired + surge: stays
    [InlineData(5, 8)] // room for 8, but never beyond the desired 10
    public void NewRSNewReplicas_RollingUpdate_StaysWithinSurge(int oldReplicas, int expectedNew)
    {
        var d = Rolling(10, 3, 2);
        var old = Rs("old", oldReplicas);
        var newRS = Rs("new", 0);
        Assert.Equal(expectedNew, DeploymentUtil.NewRSNewReplicas(d, [old, newRS], newRS));
    }

    [Fact]
    public void NewRSNewReplicas_UnknownStrategy_Throws()
    {
        var d = Rolling(1, 1, 1);
        d.Spec!.Strategy!.Type = "BlueGreen";
        Assert.Throws<UnsupportedDeploymentStrategyException>(() => DeploymentUtil.NewRSNewReplicas(d, [], Rs("n", 0)));
    }

    [Fact]
    public void ProportionalSizes_ScaleUpDuringRollout_SplitsByShareAndGivesLeftoverToLargest()
    {
        // A rollout of 10 (surge 3) stopped at old 8 / new 3; the deployment is scaled to 20: 12 more to spread.
        var d = Rolling(20, 3, 2);
        var old = Rs("old", 8, maxReplicasAnnotation: 13);
        var newRS = Rs("new", 3, maxReplicasAnnotation: 13, created: DateTimeOffset.UnixEpoch.AddMinutes(1));
        List<ReplicaSet> sorted = [old, newRS];
        sorted.Sort(ReplicaSetOrder.BySizeNewer);

        var sizes = DeploymentController.ProportionalSizes(d, sorted, 23 - 11);

        // old: round(8*23/13)=14, new: round(3*23/13)=5, leftover 23-19=4 to the largest.
        Assert.Equal(18, sizes["old"]);
        Assert.Equal(5, sizes["new"]);
    }

    [Fact]
    public void ProportionalSizes_ScaleToZero_RemovesEverything()
    {
        var d = Rolling(0, 3, 2);
        List<ReplicaSet> sorted = [Rs("a", 6, maxReplicasAnnotation: 13), Rs("b", 4, maxReplicasAnnotation: 13)];
        var sizes = DeploymentController.ProportionalSizes(d, sorted, -10);
        Assert.Equal(0, sizes["a"]);
        Assert.Equal(0, sizes["b"]);
    }

    [Theory]
    [InlineData(2.5, 3)]
    [InlineData(-2.5, -3)]
    [InlineData(2.49, 2)]
    public void RoundToInt32_Halves_RoundAwayFromZero(double value, int expected)
        => Assert.Equal(expected, DeploymentUtil.RoundToInt32(value));

    [Fact]
    public void Proportion_WithoutMaxReplicasAnnotation_FallsBackToStatusReplicas()
    {
        var d = Rolling(20, 0, 1);
        d.Status!.Replicas = 10;
        Assert.Equal(5, DeploymentUtil.Proportion(Rs("a", 5), d, 10, 0));
        Assert.Equal(3, DeploymentUtil.Proportion(Rs("a", 5), d, 10, 7)); // never beyond what is left
    }

    private static PodTemplateSpec Template(string image, Dictionary<string, string>? labels = null) => new()
    {
        Metadata = new ObjectMeta { Labels = labels ?? new() { ["app"] = "web" } },
        Spec = new PodSpec { Containers = [new Container { Name = "c", Image = image }] },
    };

    [Fact]
    public void ComputeHash_SameTemplate_IsStableAndChangesWithTemplateOrCollisionCount()
    {
        var a = PodTemplates.ComputeHash(Template("nginx:1"), null);
        Assert.Equal(a, PodTemplates.ComputeHash(Template("nginx:1"), null));
        Assert.NotEqual(a, PodTemplates.ComputeHash(Template("nginx:2"), null));
        Assert.NotEqual(a, PodTemplates.ComputeHash(Template("nginx:1"), 1));
        Assert.All(a, c => Assert.Contains(c, SafeEncoding.Alphabet));
        Assert.InRange(a.Length, 1, 10); // the decimal digits of a uint32
    }

    [Fact]
    public void EqualIgnoreHash_DiffersOnlyInHashLabelOrEmptyCollections_IsEqual()
    {
        var withHash = Template("nginx:1", new() { ["app"] = "web", ["pod-template-hash"] = "abc" });
        Assert.True(PodTemplates.EqualIgnoreHash(Template("nginx:1"), withHash));
        var emptyEnv = Template("nginx:1");
        emptyEnv.Spec!.Containers![0].Env = [];
        emptyEnv.Metadata!.Annotations = [];
        Assert.True(PodTemplates.EqualIgnoreHash(Template("nginx:1"), emptyEnv));
        Assert.False(PodTemplates.EqualIgnoreHash(Template("nginx:1"), Template("nginx:2")));
        Assert.False(PodTemplates.EqualIgnoreHash(Template("nginx:1"), Template("nginx:1", new() { ["app"] = "other" })));
    }

    [Fact]
    public void SetNewReplicaSetAnnotations_RollbackToExistingReplicaSet_RaisesRevisionAndKeepsHistory()
    {
        var d = Rolling(3, 1, 1);
        d.Metadata!.Annotations = new() { ["team"] = "a", [DeploymentNames.RevisionAnnotation] = "3" };
        var rs = Rs("rs", 3);
        rs.Metadata!.Annotations![DeploymentNames.RevisionAnnotation] = "1";

        Assert.True(DeploymentUtil.SetNewReplicaSetAnnotations(d, rs, "4", exists: true, DeploymentNames.MaxRevisionHistoryLengthInChars));

        Assert.Equal("4", rs.Metadata.Annotations[DeploymentNames.RevisionAnnotation]);
        Assert.Equal("1", rs.Metadata.Annotations[DeploymentNames.RevisionHistoryAnnotation]);
        Assert.Equal("a", rs.Metadata.Annotations["team"]);
        Assert.False(rs.Metadata.Annotations.ContainsKey(DeploymentNames.DesiredReplicasAnnotation)); // existing: replicas annotations untouched

        rs.Metadata.Annotations[DeploymentNames.RevisionAnnotation] = "4";
        DeploymentUtil.SetNewReplicaSetAnnotations(d, rs, "6", exists: true, DeploymentNames.MaxRevisionHistoryLengthInChars);
        Assert.Equal("1,4", rs.Metadata.Annotations[DeploymentNames.RevisionHistoryAnnotation]);
        Assert.False(DeploymentUtil.SetNewReplicaSetAnnotations(d, rs, "6", exists: true, DeploymentNames.MaxRevisionHistoryLengthInChars));
    }

    [Fact]
    public void SetNewReplicaSetAnnotations_NewReplicaSet_SetsRevisionAndReplicaAnnotations()
    {
        var d = Rolling(4, "25%", "25%");
        var rs = Rs("rs", 0);
        DeploymentUtil.SetNewReplicaSetAnnotations(d, rs, "1", exists: false, DeploymentNames.MaxRevisionHistoryLengthInChars);
        Assert.Equal("1", rs.Metadata!.Annotations![DeploymentNames.RevisionAnnotation]);
        Assert.Equal("4", rs.Metadata.Annotations[DeploymentNames.DesiredReplicasAnnotation]);
        Assert.Equal("5", rs.Metadata.Annotations[DeploymentNames.MaxReplicasAnnotation]);
        Assert.False(rs.Metadata.Annotations.ContainsKey(DeploymentNames.RevisionHistoryAnnotation));
    }

    [Fact]
    public void IsSaturated_RequiresSizeAnnotationAndAvailability()
    {
        var d = Rolling(3, 1, 1);
        var rs = Rs("rs", 3, available: 3);
        Assert.False(DeploymentUtil.IsSaturated(d, rs)); // no desired-replicas annotation
        rs.Metadata!.Annotations![DeploymentNames.DesiredReplicasAnnotation] = "3";
        Assert.True(DeploymentUtil.IsSaturated(d, rs));
        rs.Status!.AvailableReplicas = 2;
        Assert.False(DeploymentUtil.IsSaturated(d, rs));
    }

    [Fact]
    public void FindActiveOrLatest_NoneActive_ReturnsNewestOldWhenNoNew()
    {
        var older = Rs("older", 0, created: DateTimeOffset.UnixEpoch);
        var newer = Rs("newer", 0, created: DateTimeOffset.UnixEpoch.AddHours(1));
        Assert.Same(newer, DeploymentUtil.FindActiveOrLatest(null, [older, newer]));
        var active = Rs("active", 2);
        Assert.Same(active, DeploymentUtil.FindActiveOrLatest(active, [older, newer]));
        Assert.Null(DeploymentUtil.FindActiveOrLatest(active, [Rs("also-active", 1)]));
    }

    [Fact]
    public void DeploymentTimedOut_ProgressingConditionOlderThanDeadline_IsTrue()
    {
        var d = Rolling(1, 1, 1);
        d.Spec!.ProgressDeadlineSeconds = 10;
        var now = DateTimeOffset.Parse("2026-01-01T00:00:30Z");
        var status = new DeploymentStatus();
        DeploymentUtil.SetCondition(status, DeploymentUtil.NewCondition("Progressing", "True", DeploymentNames.ReplicaSetUpdatedReason, "m", now.AddSeconds(-11)));
        Assert.True(DeploymentUtil.DeploymentTimedOut(d, status, now));
        Assert.False(DeploymentUtil.DeploymentTimedOut(d, status, now.AddSeconds(-2)));
        d.Spec.ProgressDeadlineSeconds = int.MaxValue; // "no deadline"
        Assert.False(DeploymentUtil.DeploymentTimedOut(d, status, now));
    }

    [Fact]
    public void SetCondition_SameStatusNewReason_KeepsTransitionTime()
    {
        var t0 = DateTimeOffset.Parse("2026-01-01T00:00:00Z");
        var status = new DeploymentStatus();
        DeploymentUtil.SetCondition(status, DeploymentUtil.NewCondition("Progressing", "True", "A", "m", t0));
        DeploymentUtil.SetCondition(status, DeploymentUtil.NewCondition("Progressing", "True", "B", "m", t0.AddMinutes(1)));
        var c = Assert.Single(status.Conditions!);
        Assert.Equal("B", c.Reason);
        Assert.Equal(t0, c.LastTransitionTime);
        Assert.Equal(t0.AddMinutes(1), c.LastUpdateTime);
    }

    [Fact]
    public void OldPodsRunning_OnlyTerminatedPodsLeft_IsFalse()
    {
        var old = Rs("old", 0);
        old.Status!.Replicas = 0;
        Pod PodIn(string phase) => new() { Status = new PodStatus { Phase = phase } };
        Assert.False(DeploymentController.OldPodsRunning(null, [old], new() { ["old-uid"] = [PodIn("Succeeded"), PodIn("Failed")] }));
        Assert.True(DeploymentController.OldPodsRunning(null, [old], new() { ["old-uid"] = [PodIn("Running")] }));
        Assert.True(DeploymentController.OldPodsRunning(null, [old], new() { ["old-uid"] = [PodIn("Unknown")] }));
        old.Status.Replicas = 1;
        Assert.True(DeploymentController.OldPodsRunning(null, [old], []));
    }
}

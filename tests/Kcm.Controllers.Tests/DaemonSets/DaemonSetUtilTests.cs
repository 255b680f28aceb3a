using Kcm.Api;
using Kcm.Api.Apps.V1;
using Kcm.Api.Core.V1;
using Kcm.Controllers.DaemonSets;
using static Kcm.Controllers.Tests.DaemonSets.DaemonSetHarness;

namespace Kcm.Controllers.Tests.DaemonSets;

public sealed class DaemonSetUtilTests
{
    public static TheoryData<string, bool, bool> Placements => new()
    {
        { "plain", true, true },
        { "nodeSelector-mismatch", false, false },
        { "nodeSelector-match", true, true },
        { "taint-NoSchedule", false, true },
        { "taint-NoExecute", false, false },
        { "taint-NoSchedule-tolerated", true, true },
        { "taint-PreferNoSchedule", true, true },
        { "not-ready-NoExecute", true, true },
        { "unschedulable-taint", true, true },
        { "network-unavailable", false, true },
        { "network-unavailable-hostNetwork", true, true },
        { "affinity-expression-match", true, true },
        { "affinity-expression-mismatch", false, false },
        { "affinity-invalid-term-ignored", true, true },
        { "affinity-matchFields-other-node", false, false },
        { "template-nodeName-other", false, false },
        { "cordoned", true, true },
    };

    [Theory]
    [MemberData(nameof(Placements))]
    public void NodeShouldRunDaemonPod_Cases_AsUpstream(string situation, bool shouldRun, bool shouldContinueRunning)
    {
        var node = NewNode("n1", new() { ["zone"] = "a", ["size"] = "10" });
        var ds = NewDaemonSet();
        var spec = ds.Spec!.Template!.Spec!;
        NodeSelectorTerm Term(string key, string op, params string[] values) => new() { MatchExpressions = [new NodeSelectorRequirement { Key = key, Operator = op, Values = [.. values] }] };
        void Require(params NodeSelectorTerm[] terms) => spec.Affinity = new Affinity { NodeAffinity = new NodeAffinity { RequiredDuringSchedulingIgnoredDuringExecution = new NodeSelector { NodeSelectorTerms = [.. terms] } } };
        void Taint(string key, string effect) => node.Spec!.Taints = [new Taint { Key = key, Effect = effect }];
        switch (situation)
        {
            case "nodeSelector-mismatch": spec.NodeSelector = new() { ["zone"] = "b" }; break;
            case "nodeSelector-match": spec.NodeSelector = new() { ["zone"] = "a" }; break;
            case "taint-NoSchedule": Taint("dedicated", "NoSchedule"); break;
            case "taint-NoExecute": Taint("dedicated", "NoExecute"); break;
            case "taint-NoSchedule-tolerated": Taint("dedicated", "NoSchedule"); spec.Tolerations = [new Toleration { Key = "dedicated", Operator = "Exists" }]; break;
            case "taint-PreferNoSchedule": Taint("dedicated", "PreferNoSchedule"); break;
            case "not-ready-NoExecute": Taint("node.kubernetes.io/not-ready", "NoExecute"); break;
            case "unschedulable-taint": Taint("node.kubernetes.io/unschedulable", "NoSchedule"); break;
            case "network-unavailable": Taint("node.kubernetes.io/network-unavailable", "NoSchedule"); break;
            case "network-unavailable-hostNetwork": Taint("node.kubernetes.io/network-unavailable", "NoSchedule"); spec.HostNetwork = true; break;
            case "affinity-expression-match": Require(Term("zone", "NotIn", "b"), Term("size", "Gt", "100")); break;
            case "affinity-expression-mismatch": Require(Term("size", "Gt", "100")); break;
            case "affinity-invalid-term-ignored": Require(Term("zone", "Exists", "unexpected-value"), Term("size", "Lt", "11")); break;
            case "affinity-matchFields-other-node": spec.Affinity = DaemonSetUtil.ReplaceNodeNameNodeAffinity(null, "n2"); break;
            case "template-nodeName-other": spec.NodeName = "n2"; break;
            case "cordoned": node.Spec!.Unschedulable = true; break; // Not a taint here: upstream's daemon pods run on cordoned nodes.
        }

        Assert.Equal((shouldRun, shouldContinueRunning), DaemonSetUtil.NodeShouldRunDaemonPod(node, ds));
    }

    [Fact]
    public void DaemonPodTolerations_UserNotReadyWithSeconds_ReplacedInPlaceWithoutSeconds()
    {
        var spec = new PodSpec { Tolerations = [new Toleration { Key = "node.kubernetes.io/not-ready", Operator = "Exists", Effect = "NoExecute", TolerationSeconds = 300 }, new Toleration { Key = "x", Operator = "Equal", Value = "y" }] };

        var tolerations = DaemonSetUtil.DaemonPodTolerations(spec);

        Assert.Equal(7, tolerations.Count);
        Assert.Equal(("node.kubernetes.io/not-ready", (long?)null), (tolerations[0].Key, tolerations[0].TolerationSeconds));
        Assert.Equal("x", tolerations[1].Key);
        Assert.Equal(300, spec.Tolerations[0].TolerationSeconds); // The template itself is untouched.
    }

    [Fact]
    public void ReplaceNodeNameNodeAffinity_ExistingRequiredTerms_ReplacedKeepingPreferred()
    {
        var affinity = new Affinity
        {
            NodeAffinity = new NodeAffinity
            {
                RequiredDuringSchedulingIgnoredDuringExecution = new NodeSelector { NodeSelectorTerms = [new NodeSelectorTerm { MatchExpressions = [new NodeSelectorRequirement { Key = "zone", Operator = "In", Values = ["a"] }] }] },
                PreferredDuringSchedulingIgnoredDuringExecution = [new PreferredSchedulingTerm { Weight = 1, Preference = new NodeSelectorTerm() }],
            },
        };

        var replaced = DaemonSetUtil.ReplaceNodeNameNodeAffinity(affinity, "n7");

        var term = Assert.Single(replaced.NodeAffinity!.RequiredDuringSchedulingIgnoredDuringExecution!.NodeSelectorTerms!);
        Assert.Null(term.MatchExpressions);
        Assert.Equal(("metadata.name", "In", "n7"), (term.MatchFields![0].Key, term.MatchFields[0].Operator, term.MatchFields[0].Values![0]));
        Assert.Single(replaced.NodeAffinity.PreferredDuringSchedulingIgnoredDuringExecution!);
    }

    [Theory]
    [InlineData("RollingUpdate", "25%", 0, 10, 3, 0)]
    [InlineData("RollingUpdate", "0", "10%", 10, 0, 1)]
    [InlineData("OnDelete", "1", 0, 10, 0, 0)]
    public void Counts_Percentages_RoundUp(string type, object maxUnavailable, object maxSurge, int nodes, int expectedUnavailable, int expectedSurge)
    {
        static IntOrString Value(object v) => v is int i ? IntOrString.FromInt(i) : int.TryParse((string)v, out var n) ? IntOrString.FromInt(n) : IntOrString.FromString((string)v);
        var ds = NewDaemonSet(d => d.Spec!.UpdateStrategy = new DaemonSetUpdateStrategy { Type = type, RollingUpdate = new RollingUpdateDaemonSet { MaxUnavailable = Value(maxUnavailable), MaxSurge = Value(maxSurge) } });

        Assert.Equal((expectedUnavailable, expectedSurge), (DaemonSetUtil.UnavailableCount(ds, nodes), DaemonSetUtil.SurgeCount(ds, nodes)));
    }

    [Fact]
    public void SurgeCount_NotAPercentage_TypedError()
    {
        var ds = NewDaemonSet(d => d.Spec!.UpdateStrategy!.RollingUpdate!.MaxSurge = IntOrString.FromString("ten"));

        Assert.Throws<InvalidDaemonSetStrategyException>(() => DaemonSetUtil.SurgeCount(ds, 3));
        Assert.False(DaemonSetUtil.AllowsSurge(ds));
    }

    [Fact]
    public void TargetNodeName_UnboundPod_FromAffinity()
    {
        var pod = new Pod { Spec = new PodSpec { Affinity = DaemonSetUtil.ReplaceNodeNameNodeAffinity(null, "n3") } };

        Assert.Equal("n3", DaemonSetUtil.TargetNodeName(pod));
        Assert.Null(DaemonSetUtil.TargetNodeName(new Pod { Spec = new PodSpec() }));
    }

    [Fact]
    public void IsPodUpdated_TemplateGenerationOrHash()
    {
        var pod = new Pod { Metadata = new() { Labels = new() { ["pod-template-generation"] = "3", ["controller-revision-hash"] = "h1" } } };

        Assert.True(DaemonSetUtil.IsPodUpdated(pod, "h1", null));
        Assert.True(DaemonSetUtil.IsPodUpdated(pod, "h2", 3));
        Assert.False(DaemonSetUtil.IsPodUpdated(pod, "h2", 4));
        Assert.False(DaemonSetUtil.IsPodUpdated(pod, "", null));
    }

    [Fact]
    public void FailedPodsBackoff_Doubling_CappedAndForgottenAfterTwiceMax()
    {
        var time = new Kcm.Controllers.Tests.ReplicaSets.FixedTime(Now);
        var backoff = new FailedPodsBackoff(time, TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(4));

        var seen = new List<double>();
        for (var i = 0; i < 4; i++)
        {
            backoff.Next("k", time.Now);
            seen.Add(backoff.Get("k").TotalSeconds);
        }
        Assert.Equal([1, 2, 4, 4], seen);
        Assert.True(backoff.IsInBackOffSinceUpdate("k", time.Now.AddSeconds(3)));
        Assert.False(backoff.IsInBackOffSinceUpdate("k", time.Now.AddSeconds(4)));

        time.Now = Now.AddSeconds(9);
        backoff.Gc();
        Assert.Equal(TimeSpan.Zero, backoff.Get("k"));
    }
}

using Kcm.Api;
using Kcm.Api.Apps.V1;
using Kcm.Api.Core.V1;
using Kcm.Api.Meta.V1;
using Kcm.Controllers.Disruption;
using Kcm.Runtime.Controllers;
using Kcm.Runtime.Informers;
using static Kcm.Controllers.Tests.Disruption.DisruptionHarness;

namespace Kcm.Controllers.Tests.Disruption;

/// <summary>The disruption controller's status computation (upstream's disruption_test.go cases) without a server.</summary>
public sealed class DisruptionControllerTests : IDisposable
{
    private readonly DisruptionHarness _h = new();

    public void Dispose() => _h.Dispose();

    [Fact]
    public async Task SyncAsync_EmptySelector_SelectsEveryPodOfTheNamespace()
    {
        var pdb = _h.AddBudget(minAvailable: 3);
        pdb.Spec!.Selector = new LabelSelector();
        await _h.SyncAsync();
        _h.AssertStatus(0, 0, 3, 0);

        _h.AddPod("yo-yo-yo", labels: new() { ["other"] = "x" });
        await _h.SyncAsync();
        _h.AssertStatus(0, 1, 3, 1);
    }

    [Fact]
    public async Task SyncAsync_PodsComeAndOneTurnsUnready_CountsFollow()
    {
        _h.AddBudget(minAvailable: 3);
        await _h.SyncAsync();
        var pods = new List<Pod>();
        for (var i = 0; i < 4; i++)
        {
            _h.AssertStatus(0, i, 3, i);
            pods.Add(_h.AddPod($"yo-yo-yo {i}"));
            await _h.SyncAsync();
        }
        _h.AssertStatus(1, 4, 3, 4);

        pods[0].Status!.Conditions = [];
        _h.Pods.Upsert(pods[0]);
        await _h.SyncAsync();

        _h.AssertStatus(0, 3, 3, 4);
        var condition = Assert.Single(_h.Status().Conditions!);
        Assert.Equal(("DisruptionAllowed", "False", "InsufficientPods", 1L), (condition.Type, condition.Status, condition.Reason, condition.ObservedGeneration));
    }

    [Fact]
    public async Task SyncAsync_Allowed_ConditionSufficientPodsAndGenerationObserved()
    {
        _h.AddBudget(minAvailable: 1);
        _h.AddPod("a");
        _h.AddPod("b");

        await _h.SyncAsync();

        var status = _h.Status();
        Assert.Equal(1L, status.ObservedGeneration);
        var condition = Assert.Single(status.Conditions!);
        Assert.Equal(("True", "SufficientPods", "", _h.Clock.GetUtcNow()), (condition.Status, condition.Reason, condition.Message, condition.LastTransitionTime!.Value));
        Assert.Null(status.DisruptedPods);
    }

    [Fact]
    public async Task SyncAsync_IntegerMaxUnavailableNakedPod_AllowsNothing()
    {
        _h.AddBudget(maxUnavailable: 1);
        await _h.SyncAsync();
        Assert.Equal(0, _h.Status().DisruptionsAllowed);

        _h.AddPod("naked");
        await _h.SyncAsync();

        _h.AssertStatus(0, 1, 0, 0);
    }

    [Fact]
    public async Task SyncAsync_IntegerMaxUnavailableReplicaSetScaled_Recomputed()
    {
        _h.AddBudget(maxUnavailable: 2);
        var rs = _h.AddReplicaSet("rs", 7);
        _h.AddPod("pod", owner: ControllerRef("apps/v1", "ReplicaSet", "rs"));
        await _h.SyncAsync();
        _h.AssertStatus(0, 1, 5, 7);

        rs.Spec!.Replicas = 5;
        _h.ReplicaSets.Upsert(rs);
        await _h.SyncAsync();
        _h.AssertStatus(0, 1, 3, 5);
    }

    [Theory]
    [InlineData("30%", 7, 4)] // 7 - ceil(2.1)
    [InlineData("30%", 3, 2)] // 3 - ceil(0.9)
    [InlineData("100%", 3, 0)]
    [InlineData("150%", 3, 0)] // never below zero
    public async Task SyncAsync_PercentMaxUnavailable_RoundsUnavailableUp(string maxUnavailable, int replicas, int desired)
    {
        _h.AddBudget(maxUnavailable: maxUnavailable);
        _h.AddReplicaSet("rs", replicas);
        _h.AddPod("pod", owner: ControllerRef("apps/v1", "ReplicaSet", "rs"));

        await _h.SyncAsync();

        // One ready pod: it may go only when none need stay.
        _h.AssertStatus(desired == 0 ? 1 : 0, 1, desired, replicas);
    }

    [Theory]
    [InlineData("20%", 10, 2)]
    [InlineData("28%", 11, 4)] // ceil(3.08)
    [InlineData("50%", 3, 2)] // ceil(1.5)
    public async Task SyncAsync_PercentMinAvailable_RoundsUp(string minAvailable, int replicas, int desired)
    {
        _h.AddBudget(minAvailable: minAvailable);
        _h.AddReplicaSet("rs", replicas);
        _h.AddPod("pod", owner: ControllerRef("apps/v1", "ReplicaSet", "rs"));

        await _h.SyncAsync();

        _h.AssertStatus(0, 1, desired, replicas);
    }

    [Fact]
    public async Task SyncAsync_PercentWithUnmanagedPod_NoErrorAndNothingAllowed()
    {
        _h.AddBudget(minAvailable: "28%");
        _h.AddPod("unmanaged");

        await _h.SyncAsync();

        _h.AssertStatus(0, 1, 0, 0);
        Assert.Equal("InsufficientPods", Assert.Single(_h.Status().Conditions!).Reason);
    }

    [Fact]
    public async Task SyncAsync_DeploymentPods_CountTheDeploymentsScaleOnce()
    {
        _h.AddBudget(minAvailable: "50%");
        _h.Deployments.Upsert(new Deployment
        {
            Metadata = new ObjectMeta { Name = "web", Namespace = Ns, Uid = "uid-web" },
            Spec = new DeploymentSpec { Replicas = 4 },
        });
        _h.AddReplicaSet("web-1", 2, ControllerRef("apps/v1", "Deployment", "web"));
        _h.AddReplicaSet("web-2", 3, ControllerRef("apps/v1", "Deployment", "web"));
        _h.AddPod("a", owner: ControllerRef("apps/v1", "ReplicaSet", "web-1"));
        _h.AddPod("b", owner: ControllerRef("apps/v1", "ReplicaSet", "web-2"));
        _h.AddPod("c", owner: ControllerRef("apps/v1", "ReplicaSet", "web-2"));

        await _h.SyncAsync();

        _h.AssertStatus(1, 3, 2, 4);
    }

    [Fact]
    public async Task SyncAsync_ReplicationControllerAndStatefulSet_ScalesAdded()
    {
        _h.AddBudget(minAvailable: "100%");
        _h.Rcs.Upsert(new ReplicationController { Metadata = new ObjectMeta { Name = "rc", Namespace = Ns, Uid = "uid-rc" }, Spec = new ReplicationControllerSpec { Replicas = 2 } });
        _h.StatefulSets.Upsert(new StatefulSet { Metadata = new ObjectMeta { Name = "ss", Namespace = Ns, Uid = "uid-ss" }, Spec = new StatefulSetSpec { Replicas = 3 } });
        _h.AddPod("rc-1", owner: ControllerRef("v1", "ReplicationController", "rc"));
        _h.AddPod("ss-0", owner: ControllerRef("apps/v1", "StatefulSet", "ss"));

        await _h.SyncAsync();

        _h.AssertStatus(0, 2, 5, 5);
    }

    [Fact]
    public async Task SyncAsync_CustomResourceWithScale_UsesTheScaleSubresource()
    {
        _h.AddBudget(minAvailable: "50%");
        _h.Scales.Mappings[("example.com", "Widget")] = "widgets";
        _h.Scales.Scales[("widgets", "w")] = new ControllerScale("uid-w", 10);
        _h.AddPod("w-1", owner: ControllerRef("example.com/v1", "Widget", "w"));

        await _h.SyncAsync();

        _h.AssertStatus(0, 1, 5, 10);
    }

    [Fact]
    public async Task SyncAsync_CustomResourceWithoutScale_FailsSafeWithUpstreamsMessage()
    {
        _h.AddBudget(minAvailable: "50%");
        _h.Scales.Mappings[("example.com", "Widget")] = "widgets";
        _h.AddPod("w-1", owner: ControllerRef("example.com/v1", "Widget", "w"));

        var result = await _h.Controller.SyncAsync(new ObjectKey(Ns, "pdb"), CancellationToken.None);

        Assert.Equal(ReconcileResult.Done, result);
        var written = Assert.Single(_h.Writer.Statuses);
        var condition = Assert.Single(written.Status!.Conditions!);
        Assert.Equal(("False", "SyncFailed", "widgets.example.com does not implement the scale subresource"), (condition.Status, condition.Reason, condition.Message));
        Assert.Equal(0, written.Status.DisruptionsAllowed);
        // Written as Go writes a fresh status: zero counts present, a zero observedGeneration omitted.
        Assert.Equal((0, 0, 0), (written.Status.CurrentHealthy, written.Status.DesiredHealthy, written.Status.ExpectedPods));
        Assert.Null(condition.ObservedGeneration);
        Assert.Contains(_h.Events.Events, e => e is ("Warning", "CalculateExpectedPodCountFailed", "Failed to calculate the number of expected pods: widgets.example.com does not implement the scale subresource", "pdb"));
    }

    [Fact]
    public async Task SyncAsync_ControllerGone_NoControllersErrorFailsSafe()
    {
        _h.AddBudget(maxUnavailable: "10%");
        _h.Scales.Mappings[("apps", "ReplicaSet")] = "replicasets";
        _h.Scales.ResourcesWithScale.Add("replicasets");
        var budget = _h.Budgets.Get(new ObjectKey(Ns, "pdb"))!;
        budget.Status = new Kcm.Api.Policy.V1.PodDisruptionBudgetStatus { DisruptionsAllowed = 3, CurrentHealthy = 4, ExpectedPods = 4, ObservedGeneration = 1 };
        _h.AddPod("orphan", owner: ControllerRef("apps/v1", "ReplicaSet", "gone"));

        await _h.SyncAsync();

        var status = _h.Status();
        Assert.Equal((0, 4, 4), (status.DisruptionsAllowed, status.CurrentHealthy, status.ExpectedPods));
        Assert.Equal("found no controllers for pod \"orphan\"", Assert.Single(status.Conditions!).Message);
    }

    [Fact]
    public async Task SyncAsync_InvalidSelector_NoPodsWarningAndFailSafe()
    {
        var pdb = _h.AddBudget(minAvailable: 1);
        pdb.Spec!.Selector = new LabelSelector { MatchExpressions = [new LabelSelectorRequirement { Key = "k", Operator = "Near" }] };

        await _h.SyncAsync();

        Assert.Contains(_h.Events.Events, e => e.Type == "Warning" && e.Reason == "NoPods" && e.Message.StartsWith("Failed to get pods: ", StringComparison.Ordinal));
        Assert.Equal("SyncFailed", Assert.Single(_h.Status().Conditions!).Reason);
    }

    [Fact]
    public async Task SyncAsync_NoPods_NormalNoPodsEvent()
    {
        _h.AddBudget(minAvailable: 1);

        await _h.SyncAsync();

        Assert.Contains(_h.Events.Events, e => e is ("Normal", "NoPods", "No matching pods found", "pdb"));
    }

    [Fact]
    public async Task SyncAsync_StatusAlreadyCurrent_WritesNothing()
    {
        _h.AddBudget(minAvailable: 1);
        _h.AddPod("a");
        _h.AddPod("b");
        await _h.SyncAsync();
        Assert.Single(_h.Writer.Statuses);

        await _h.SyncAsync();

        Assert.Single(_h.Writer.Statuses);
    }

    [Fact]
    public async Task SyncAsync_NewGeneration_Rewritten()
    {
        _h.AddBudget(minAvailable: 1);
        _h.AddPod("a");
        await _h.SyncAsync();
        var pdb = _h.Budgets.Get(new ObjectKey(Ns, "pdb"))!;
        pdb.Metadata!.Generation = 2;

        await _h.SyncAsync();

        Assert.Equal(2, _h.Writer.Statuses.Count);
        Assert.Equal(2L, _h.Status().ObservedGeneration);
        Assert.Equal(2L, _h.Status().Conditions![0].ObservedGeneration);
    }

    [Fact]
    public async Task SyncAsync_StatusConflict_RetriedWithoutFailSafe()
    {
        _h.AddBudget(minAvailable: 1);
        _h.Writer.StatusError = FakeDisruptionWriter.Conflict();

        await Assert.ThrowsAsync<Kcm.Client.Errors.ConflictException>(() => _h.Controller.SyncAsync(new ObjectKey(Ns, "pdb"), CancellationToken.None));

        Assert.Empty(_h.Writer.Statuses);
    }

    [Fact]
    public async Task SyncAsync_BudgetGone_Done()
    {
        Assert.Equal(ReconcileResult.Done, await _h.Controller.SyncAsync(new ObjectKey(Ns, "missing"), CancellationToken.None));
        Assert.Empty(_h.Writer.Statuses);
    }

    [Fact]
    public async Task SyncAsync_DisruptedPods_ExpiredDeletingAndMissingDroppedRecheckAtTimeout()
    {
        var pdb = _h.AddBudget(minAvailable: 1);
        var now = _h.Clock.GetUtcNow();
        pdb.Status = new Kcm.Api.Policy.V1.PodDisruptionBudgetStatus
        {
            DisruptedPods = new()
            {
                ["p1"] = now, // deletion started
                ["p2"] = now - TimeSpan.FromMinutes(3), // expired
                ["p3"] = now - TimeSpan.FromMinutes(1), // still pending
                ["notthere"] = now, // deleted
            },
        };
        var p1 = _h.AddPod("p1");
        p1.Metadata!.DeletionTimestamp = now;
        _h.AddPod("p2");
        _h.AddPod("p3");

        await _h.SyncAsync();

        _h.AssertStatus(0, 1, 1, 3);
        Assert.Equal(["p3"], _h.Status().DisruptedPods!.Keys);
        Assert.Equal(now - TimeSpan.FromMinutes(1), _h.Status().DisruptedPods!["p3"]);
        Assert.Contains(_h.Events.Events, e => e is ("Warning", "NotDeleted", "Pod was expected by PDB default/default to be deleted but it wasn't", "p2"));
        Assert.Equal(1, _h.Queues.Recheck.WaitingCount);

        // At p3's timeout the recheck moves the budget to the main queue and p3 counts as healthy again.
        _h.Clock.Advance(TimeSpan.FromMinutes(1) + TimeSpan.FromSeconds(1));
        var rechecked = Assert.Single(Drain(_h.Queues.Recheck));
        Assert.Equal(new ObjectKey(Ns, "pdb"), rechecked);
        await _h.SyncAsync();
        _h.AssertStatus(1, 2, 1, 3); // p1 still counts as expected while it terminates

        Assert.Null(_h.Status().DisruptedPods);
    }

    [Fact]
    public async Task SyncAsync_TwoControllers_SumsTheirScales()
    {
        // upstream's TestTwoControllers, end state: 28% of 22 is 7 (ceil 6.16), 9 ready of 22.
        _h.AddBudget(minAvailable: "28%");
        _h.Rcs.Upsert(new ReplicationController { Metadata = new ObjectMeta { Name = "rc", Namespace = Ns, Uid = "uid-rc" }, Spec = new ReplicationControllerSpec { Replicas = 11 } });
        _h.AddReplicaSet("rs", 11);
        for (var i = 1; i <= 11; i++)
        {
            _h.AddPod($"quux {i}", ready: i > 6, owner: ControllerRef("v1", "ReplicationController", "rc"));
            _h.AddPod($"quuux {i}", ready: i > 7, owner: ControllerRef("apps/v1", "ReplicaSet", "rs"));
        }

        await _h.SyncAsync();

        _h.AssertStatus(2, 9, 7, 22);
    }

    [Fact]
    public void OnPodChanged_MatchingBudgets_EnqueuedAndSeveralReported()
    {
        _h.AddBudget(minAvailable: 1, name: "a");
        _h.AddBudget(minAvailable: 1, name: "b");
        var other = _h.AddBudget(minAvailable: 1, name: "other");
        other.Spec!.Selector = new LabelSelector { MatchLabels = new() { ["app"] = "x" } };
        var pod = _h.AddPod("p");

        _h.Controller.OnPodChanged(pod);

        var queued = Assert.Single(Drain(_h.Queues.Budgets));
        Assert.Contains(queued.Name, new[] { "a", "b" });
        Assert.Contains(_h.Events.Events, e => e.Reason == "MultiplePodDisruptionBudgets" && e.Object == "p"
            && e.Message == $"Pod \"default\"/\"p\" matches multiple PodDisruptionBudgets.  Chose \"{queued.Name}\" arbitrarily.");
    }

    [Fact]
    public void PodControllerFinders_BadApiVersion_Throws()
    {
        Assert.Throws<InvalidGroupVersionException>(() => PodControllerFinders.ParseGroupVersion("a/b/c"));
        Assert.Equal(("", "v1"), PodControllerFinders.ParseGroupVersion("v1"));
        Assert.Equal(("apps", "v1"), PodControllerFinders.ParseGroupVersion("apps/v1"));
    }
}

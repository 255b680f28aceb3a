using Kcm.Api;
using Kcm.Api.Apps.V1;
using Kcm.Api.Core.V1;
using Kcm.Api.Meta.V1;
using Kcm.Controllers.Common;
using Kcm.Controllers.DaemonSets;
using Kcm.Runtime.Informers;
using static Kcm.Controllers.Tests.DaemonSets.DaemonSetHarness;

namespace Kcm.Controllers.Tests.DaemonSets;

/// <summary>The sync loop over seeded caches: placement, expectations, rolling updates, history, backoff and status.</summary>
public sealed class DaemonSetSyncTests : IDisposable
{
    private readonly DaemonSetHarness _h = new();

    public void Dispose() => _h.Dispose();

    [Fact]
    public async Task SyncAsync_ThreeNodesAndATaintedOne_OnePodPerEligibleNodePinnedByAffinity()
    {
        _h.DaemonSets.Upsert(NewDaemonSet());
        _h.AddNodes("n1", "n2", "n3");
        _h.Nodes.Upsert(NewNode("tainted", null, new Taint { Key = "dedicated", Value = "db", Effect = "NoSchedule" }));

        await _h.SyncAsync();

        var created = _h.PodControl.Created.ToList();
        Assert.Equal(["n1", "n2", "n3"], created.Select(c => c.Template.Spec!.Affinity!.NodeAffinity!.RequiredDuringSchedulingIgnoredDuringExecution!.NodeSelectorTerms![0].MatchFields![0].Values![0]).Order());
        var template = created[0].Template;
        Assert.Null(template.Spec!.NodeName); // The scheduler binds.
        Assert.Equal(_h.CurrentHash(), template.Metadata!.Labels![DaemonSetNames.UniqueLabelKey]);
        Assert.Equal(
            ["node.kubernetes.io/not-ready:NoExecute", "node.kubernetes.io/unreachable:NoExecute", "node.kubernetes.io/disk-pressure:NoSchedule",
             "node.kubernetes.io/memory-pressure:NoSchedule", "node.kubernetes.io/pid-pressure:NoSchedule", "node.kubernetes.io/unschedulable:NoSchedule"],
            template.Spec.Tolerations!.Select(t => $"{t.Key}:{t.Effect}"));
        Assert.All(template.Spec.Tolerations!, t => Assert.Equal(("Exists", null), (t.Operator, t.TolerationSeconds)));
        Assert.Equal(("DaemonSet", "ds-uid"), (created[0].ControllerRef.Kind, created[0].ControllerRef.Uid));
        var status = _h.Client.StatusUpdates.Last().Status!;
        Assert.Equal((3, 0, 0, 1L), (status.DesiredNumberScheduled, status.CurrentNumberScheduled, status.NumberMisscheduled, status.ObservedGeneration));
    }

    [Fact]
    public async Task SyncAsync_PodCacheLagsBehind_CreatesEachPodOnce()
    {
        _h.DaemonSets.Upsert(NewDaemonSet());
        _h.AddNodes("n1", "n2");

        await _h.SyncAsync();
        await _h.SyncAsync();
        Assert.Equal(2, _h.PodControl.Created.Count);

        _h.ObserveCreatedPods();
        Assert.True(_h.Controller.Expectations.SatisfiedExpectations(Key));
        await _h.SyncAsync();
        Assert.Empty(_h.PodControl.Created);
        Assert.Equal(2, _h.Client.StatusUpdates.Last().Status!.CurrentNumberScheduled);
    }

    [Fact]
    public async Task SyncAsync_HostNetwork_ToleratesNetworkUnavailable()
    {
        _h.DaemonSets.Upsert(NewDaemonSet(ds => ds.Spec!.Template!.Spec!.HostNetwork = true));
        _h.AddNodes("n1");

        await _h.SyncAsync();

        Assert.Contains(_h.PodControl.Created.Single().Template.Spec!.Tolerations!, t => t.Key == "node.kubernetes.io/network-unavailable" && t.Effect == "NoSchedule");
    }

    [Fact]
    public async Task SyncAsync_UnchangedState_WritesStatusOnce()
    {
        _h.DaemonSets.Upsert(NewDaemonSet());
        _h.AddNodes("n1");
        await _h.SyncAsync();
        _h.ObserveCreatedPods();
        await _h.SyncAsync();
        var writes = _h.Client.StatusUpdates.Count;

        await _h.SyncAsync();

        Assert.Equal(writes, _h.Client.StatusUpdates.Count);
    }

    [Fact]
    public async Task SyncAsync_PodOnNodeThatNoLongerMatches_DeletedAndCountedMisscheduled()
    {
        _h.DaemonSets.Upsert(NewDaemonSet(ds => ds.Spec!.Template!.Spec!.NodeSelector = new() { ["role"] = "edge" }));
        _h.Nodes.Upsert(NewNode("n1", new() { ["role"] = "edge" }));
        _h.Nodes.Upsert(NewNode("n2", new() { ["role"] = "core" }));
        await _h.SyncAsync();
        var hash = _h.CurrentHash();
        _h.PodControl.Created.Clear();
        _h.Controller.Expectations.DeleteExpectations(Key);
        _h.AddPod("p1", "n1", hash);
        _h.AddPod("p2", "n2", hash);

        await _h.SyncAsync();

        Assert.Equal(["p2"], _h.PodControl.Deleted);
        var status = _h.Client.StatusUpdates.Last().Status!;
        Assert.Equal((1, 1, 1), (status.DesiredNumberScheduled, status.CurrentNumberScheduled, status.NumberMisscheduled));
    }

    [Fact]
    public async Task SyncAsync_EmptySelector_SelectingAllEventAndNothingElse()
    {
        _h.DaemonSets.Upsert(NewDaemonSet(ds => ds.Spec!.Selector = new LabelSelector()));
        _h.AddNodes("n1");

        await _h.SyncAsync();

        Assert.Equal(("Warning", "SelectingAll"), (_h.Events.Events.Single().Type, _h.Events.Events.Single().Reason));
        Assert.Empty(_h.PodControl.Created);
        Assert.Empty(_h.Revisions.Created);
    }

    [Fact]
    public async Task RollingUpdate_MaxUnavailableOne_DeletesOneOldPodAtATime()
    {
        _h.DaemonSets.Upsert(NewDaemonSet());
        _h.AddNodes("n1", "n2", "n3");
        foreach (var n in new[] { "n1", "n2", "n3" })
        {
            _h.AddPod("old-" + n, n, "oldhash");
        }

        await _h.SyncAsync();
        Assert.Single(_h.PodControl.Deleted);
        Assert.Empty(_h.PodControl.Created);

        // The deletion is seen; manage recreates that node's pod, which is not available yet: nothing more is deleted.
        _h.ObserveDeletedPods();
        await _h.SyncAsync();
        Assert.Single(_h.PodControl.Created);
        _h.ObserveCreatedPods();
        await _h.SyncAsync();
        Assert.Empty(_h.PodControl.Deleted);
        var status = _h.Client.StatusUpdates.Last().Status!;
        Assert.Equal((3, 1, 2), (status.DesiredNumberScheduled, status.UpdatedNumberScheduled, status.NumberAvailable));
    }

    [Fact]
    public async Task RollingUpdate_OldPodUnavailable_ReplacedBeyondMaxUnavailable()
    {
        _h.DaemonSets.Upsert(NewDaemonSet());
        _h.AddNodes("n1", "n2", "n3");
        _h.AddPod("old-n1", "n1", "oldhash", ready: false);
        _h.AddPod("old-n2", "n2", "oldhash", ready: false);
        _h.AddPod("old-n3", "n3", "oldhash");

        await _h.SyncAsync();

        // Both unavailable old pods are replaced; the one candidate fits in maxUnavailable 1 as nothing new is unavailable yet.
        Assert.Equal(["old-n1", "old-n2", "old-n3"], _h.PodControl.Deleted.Order());
    }

    [Fact]
    public async Task RollingUpdate_MaxSurge_CreatesBesideOldThenDeletesOldOnceAvailable()
    {
        _h.DaemonSets.Upsert(NewDaemonSet(ds => ds.Spec!.UpdateStrategy!.RollingUpdate = new RollingUpdateDaemonSet { MaxUnavailable = IntOrString.FromInt(0), MaxSurge = IntOrString.FromInt(1) }));
        _h.AddNodes("n1", "n2");
        _h.AddPod("old-n1", "n1", "oldhash");
        _h.AddPod("old-n2", "n2", "oldhash");

        await _h.SyncAsync();
        Assert.Single(_h.PodControl.Created);
        Assert.Empty(_h.PodControl.Deleted);
        var surgeNode = _h.PodControl.Created.Single().Template.Spec!.Affinity!.NodeAffinity!.RequiredDuringSchedulingIgnoredDuringExecution!.NodeSelectorTerms![0].MatchFields![0].Values![0];
        _h.ObserveCreatedPods();

        // The new pod becomes available: its node's old pod goes.
        var newPod = _h.Pods.List().Single(p => p.Metadata!.Name!.StartsWith("ds-new", StringComparison.Ordinal));
        newPod.Status = new PodStatus { Phase = "Running", Conditions = [new PodCondition { Type = "Ready", Status = "True", LastTransitionTime = Now.AddMinutes(-1) }] };
        _h.Pods.Upsert(newPod);
        await _h.SyncAsync();

        Assert.Equal(["old-" + surgeNode], _h.PodControl.Deleted);
    }

    [Fact]
    public async Task OnDelete_TemplateChanged_OldPodsStay()
    {
        _h.DaemonSets.Upsert(NewDaemonSet(ds => ds.Spec!.UpdateStrategy = new DaemonSetUpdateStrategy { Type = "OnDelete" }));
        _h.AddNodes("n1");
        _h.AddPod("old-n1", "n1", "oldhash");

        await _h.SyncAsync();

        Assert.Empty(_h.PodControl.Deleted);
        Assert.Equal(0, _h.Client.StatusUpdates.Last().Status!.UpdatedNumberScheduled);
    }

    [Fact]
    public async Task FailedPod_DeletedWithEventThenBackedOff()
    {
        _h.DaemonSets.Upsert(NewDaemonSet());
        _h.AddNodes("n1");
        await _h.SyncAsync();
        var hash = _h.CurrentHash();
        _h.PodControl.Created.Clear();
        _h.Controller.Expectations.DeleteExpectations(Key);
        _h.AddPod("failed-1", "n1", hash, ready: false, phase: "Failed");

        await _h.SyncAsync();
        Assert.Equal(["failed-1"], _h.PodControl.Deleted);
        Assert.Contains(_h.Events.Events, e => e.Reason == "FailedDaemonPod" && e.Message == "Found failed daemon pod default/failed-1 on node n1, will try to kill it");

        // The replacement fails too, within the 1 s backoff: it is left alone and the DaemonSet looked at again later.
        _h.ObserveDeletedPods();
        _h.AddPod("failed-2", "n1", hash, ready: false, phase: "Failed");
        _h.Controller.Expectations.DeleteExpectations(Key);
        await _h.SyncAsync();
        Assert.Empty(_h.PodControl.Deleted);

        _h.Time.Now = Now.AddSeconds(1);
        await _h.SyncAsync();
        Assert.Equal(["failed-2"], _h.PodControl.Deleted);
        Assert.Equal(TimeSpan.FromSeconds(2), _h.Controller.FailedPodsBackoff.Get(DaemonSetController.FailedPodsBackoffKey(_h.DaemonSets.Get(Key)!, "n1")));
    }

    [Fact]
    public async Task History_TemplateChanges_RevisionsNumberedAndTrimmedKeepingLiveHashes()
    {
        _h.DaemonSets.Upsert(NewDaemonSet(ds => ds.Spec!.RevisionHistoryLimit = 1));
        _h.AddNodes("n1");
        var hashes = new List<string>();
        for (var i = 1; i <= 4; i++)
        {
            var image = $"img:{i}";
            _h.DaemonSets.Upsert(NewDaemonSet(ds => { ds.Spec!.RevisionHistoryLimit = 1; ds.Spec.Template!.Spec!.Containers![0].Image = image; }));
            _h.Controller.Expectations.DeleteExpectations(Key);
            await _h.SyncAsync();
            hashes.Add(_h.CurrentHash());
            if (i == 1)
            {
                _h.PodControl.Created.Clear();
                _h.AddPod("live", "n1", hashes[0]); // Keeps revision 1 alive.
            }
        }

        // Limit 1: of the old revisions only the newest would stay, but revision 1 still labels a live pod.
        var remaining = _h.RevisionStore.List().Select(r => (r.Metadata!.Labels![DaemonSetNames.UniqueLabelKey], r.Revision ?? 0)).OrderBy(r => r.Item2);
        Assert.Equal([(hashes[0], 1L), (hashes[3], 4L)], remaining);
        Assert.All(_h.RevisionStore.List(), r => Assert.Equal("ds-uid", r.Metadata!.OwnerReferences![0].Uid));
    }

    [Fact]
    public async Task History_RollbackToOldTemplate_ReusesRevisionWithNewNumber()
    {
        _h.AddNodes("n1");
        _h.DaemonSets.Upsert(NewDaemonSet());
        await _h.SyncAsync();
        var first = _h.CurrentHash();
        _h.DaemonSets.Upsert(NewDaemonSet(ds => ds.Spec!.Template!.Spec!.Containers![0].Image = "img:2"));
        _h.Controller.Expectations.DeleteExpectations(Key);
        await _h.SyncAsync();

        _h.DaemonSets.Upsert(NewDaemonSet());
        _h.Controller.Expectations.DeleteExpectations(Key);
        await _h.SyncAsync();

        Assert.Equal(first, _h.CurrentHash());
        Assert.Equal(2, _h.Revisions.Created.Count);
        Assert.Equal(3, _h.Revisions.Updated.Last().Revision);
    }

    [Fact]
    public async Task Snapshot_NameTakenByOtherData_RaisesCollisionCountAndFails()
    {
        _h.AddNodes("n1");
        var ds = NewDaemonSet();
        _h.DaemonSets.Upsert(ds);
        await _h.SyncAsync();
        var name = _h.Revisions.Created.Single();
        // Someone else's revision under that name, with other data.
        var squatter = _h.RevisionStore.Get(new ObjectKey("default", name))!;
        squatter.Metadata!.OwnerReferences = null;
        squatter.Metadata.Labels = new() { ["other"] = "x" };
        squatter.Data = System.Text.Json.Nodes.JsonNode.Parse("{\"spec\":{}}");
        _h.RevisionStore.Upsert(squatter);

        await Assert.ThrowsAsync<RevisionCollisionException>(_h.SyncAsync);

        Assert.Equal(1, _h.DaemonSets.Get(Key)!.Status!.CollisionCount);
    }

    [Fact]
    public async Task Status_MinReadySeconds_AvailableOnlyAfterwardsAndRequeued()
    {
        _h.DaemonSets.Upsert(NewDaemonSet(ds => ds.Spec!.MinReadySeconds = 30));
        _h.AddNodes("n1");
        await _h.SyncAsync();
        var hash = _h.CurrentHash();
        _h.PodControl.Created.Clear();
        _h.Controller.Expectations.DeleteExpectations(Key);
        _h.AddPod("p", "n1", hash, readySince: Now.AddSeconds(-10));

        await _h.SyncAsync();

        var status = _h.Client.StatusUpdates.Last().Status!;
        Assert.Equal((1, 0, 1), (status.NumberReady, status.NumberAvailable, status.NumberUnavailable));
    }
}

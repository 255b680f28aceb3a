using System.Text.Json;
using System.Text.Json.Nodes;
using Kcm.Api.Apps.V1;
using Kcm.Api.Core.V1;
using Kcm.Api.Meta.V1;
using Kcm.Controllers.Common;
using Kcm.Controllers.DaemonSets;
using static Kcm.Controllers.Tests.DaemonSets.DaemonSetHarness;

namespace Kcm.Controllers.Tests.DaemonSets;

/// <summary>Informer events turned into keys: which changes wake a DaemonSet, and which observe expectations.</summary>
public sealed class DaemonSetEventHandlerTests : IDisposable
{
    private readonly DaemonSetHarness _h = new();

    public void Dispose() => _h.Dispose();

    [Fact]
    public void OnNodeUpdated_HeartbeatOnly_Ignored()
    {
        _h.DaemonSets.Upsert(NewDaemonSet());
        var old = NewNode("n1");
        var cur = NewNode("n1");
        cur.Metadata!.ResourceVersion = "2";
        cur.Status!.Conditions![0].LastHeartbeatTime = Now;

        _h.Controller.OnNodeUpdated(old, cur);

        Assert.Equal(0, _h.Queue.Count);
        Assert.True(DaemonSetController.ShouldIgnoreNodeUpdate(old, cur));
    }

    [Fact]
    public void ShouldIgnoreNodeUpdate_OnlyVersionConditionsAndEmptySectionsAreSkipped()
    {
        static (Node Old, Node Cur) Pair(Action<Node> change)
        {
            var old = NewNode("n1");
            old.Metadata!.ManagedFields = [new ManagedFieldsEntry { Manager = "kubelet", Operation = "Update", Subresource = "status", Time = Now }];
            old.Status!.Capacity = new() { ["cpu"] = new("4") };
            var cur = KubeObjects.Clone(old);
            cur.Metadata!.ResourceVersion = "2";
            cur.Status!.Conditions![0].LastHeartbeatTime = Now;
            change(cur);
            return (old, cur);
        }
        static bool Ignored((Node Old, Node Cur) p) => DaemonSetController.ShouldIgnoreNodeUpdate(p.Old, p.Cur);

        Assert.True(Ignored(Pair(_ => { })));
        Assert.True(Ignored(Pair(n => n.Status!.Conditions!.Add(new NodeCondition { Type = "MemoryPressure", Status = "False" }))));
        // The kubelet's restamped managedFields entry, as a real server writes it with each heartbeat.
        Assert.False(Ignored(Pair(n => n.Metadata!.ManagedFields![0].Time = Now.AddSeconds(10))));
        Assert.False(Ignored(Pair(n => n.Metadata!.ManagedFields!.Add(new ManagedFieldsEntry { Manager = "kubectl", Operation = "Update" }))));
        Assert.False(Ignored(Pair(n => n.Metadata!.ManagedFields![0].FieldsV1 = new JsonObject { ["f:status"] = new JsonObject() })));
        Assert.False(Ignored(Pair(n => n.Status!.Conditions![0].Status = "False")));
        Assert.False(Ignored(Pair(n => n.Status!.Capacity!["cpu"] = new("8"))));
        Assert.False(Ignored(Pair(n => n.Metadata!.Labels!["zone"] = "a")));
        Assert.False(Ignored(Pair(n => n.Spec!.Unschedulable = true)));
        Assert.False(Ignored(Pair(n => n.ExtensionData = new() { ["future"] = JsonDocument.Parse("1").RootElement })));

        // A node without metadata or status compares as one with empty ones (Go's zero-valued structs).
        var bare = new Node { Spec = new NodeSpec() };
        var empty = new Node { Metadata = new ObjectMeta { ResourceVersion = "7" }, Spec = new NodeSpec(), Status = new NodeStatus { Conditions = [] } };
        Assert.True(DaemonSetController.ShouldIgnoreNodeUpdate(bare, empty));
    }

    [Fact]
    public void OnNodeUpdated_UntoleratedTaintAdded_EnqueuesDaemonSet()
    {
        _h.DaemonSets.Upsert(NewDaemonSet());
        var cur = NewNode("n1", null, new Taint { Key = "k", Effect = "NoExecute" });
        cur.Metadata!.ResourceVersion = "2";

        _h.Controller.OnNodeUpdated(NewNode("n1"), cur);

        Assert.Equal(1, _h.Queue.Count);
    }

    [Fact]
    public void OnNodeUpdated_LabelIrrelevantToDaemonSet_NotEnqueued()
    {
        _h.DaemonSets.Upsert(NewDaemonSet());
        var cur = NewNode("n1", new() { ["other"] = "x" });
        cur.Metadata!.ResourceVersion = "2";

        _h.Controller.OnNodeUpdated(NewNode("n1"), cur);

        Assert.Equal(0, _h.Queue.Count);
    }

    [Fact]
    public void OnPodAdded_OwnedPod_ObservesCreation()
    {
        _h.DaemonSets.Upsert(NewDaemonSet());
        _h.Controller.Expectations.SetExpectations(Key, 1, 0);

        _h.Controller.OnPodAdded(_h.AddPod("p", "n1", "h"));

        Assert.True(_h.Controller.Expectations.SatisfiedExpectations(Key));
        Assert.Equal(1, _h.Queue.Count);
    }

    [Fact]
    public void OnPodUpdated_GracefulDeletionStarted_ObservesDeletion()
    {
        _h.DaemonSets.Upsert(NewDaemonSet());
        var old = _h.AddPod("p", "n1", "h");
        var cur = KubeObjects.Clone(old);
        cur.Metadata!.ResourceVersion = "2";
        cur.Metadata.DeletionTimestamp = Now;
        _h.Controller.Expectations.SetExpectations(Key, 0, 1);

        _h.Controller.OnPodUpdated(old, cur);

        Assert.True(_h.Controller.Expectations.SatisfiedExpectations(Key));
    }

    [Fact]
    public void OnRevisionAdded_MatchingOrphan_EnqueuesDaemonSetForAdoption()
    {
        _h.DaemonSets.Upsert(NewDaemonSet());

        _h.Controller.OnRevisionAdded(new ControllerRevision { Metadata = new ObjectMeta { Name = "r", Namespace = "default", Labels = new() { ["app"] = "d" } } });
        _h.Controller.OnRevisionAdded(new ControllerRevision { Metadata = new ObjectMeta { Name = "r2", Namespace = "default", Labels = new() { ["app"] = "other" } } });

        Assert.Equal(1, _h.Queue.Count);
    }

    [Fact]
    public void OnDaemonSetDeleted_ExpectationsCleared()
    {
        var ds = NewDaemonSet();
        _h.Controller.Expectations.SetExpectations(Key, 3, 0);

        _h.Controller.OnDaemonSetDeleted(ds);

        Assert.True(_h.Controller.Expectations.SatisfiedExpectations(Key));
        Assert.Equal(1, _h.Queue.Count);
    }
}

using Kcm.Api;
using Kcm.Api.Apps.V1;
using Kcm.Api.Core.V1;
using Kcm.Api.Meta.V1;
using Kcm.Controllers.Common;
using Kcm.Controllers.StatefulSets;
using Kcm.Runtime.Informers;

namespace Kcm.Controllers.Tests.StatefulSets;

public sealed class StatefulSetSyncTests : IDisposable
{
    private readonly StatefulSetHarness _h = new();

    public void Dispose() => _h.Dispose();

    [Fact]
    public async Task Sync_OrderedReadyWithClaimTemplate_CreatesClaimThenFirstMemberOnly()
    {
        _h.AddSet(s => s.Spec!.VolumeClaimTemplates = [StatefulSetHarness.ClaimTemplate("www")]);

        await _h.SyncAsync();

        Assert.Equal(["create-claim www-web-0", "create-pod web-0", "update-status"], _h.Api.Calls);
        var pod = _h.Pods.Get(new ObjectKey("default", "web-0"))!;
        Assert.Equal("web-", pod.Metadata!.GenerateName);
        Assert.Equal(("web-0", "web"), (pod.Spec!.Hostname, pod.Spec.Subdomain));
        Assert.Equal("web-0", pod.Metadata.Labels![StatefulSetNames.PodNameLabel]);
        Assert.Equal(_h.Set.Status!.UpdateRevision, pod.Metadata.Labels[StatefulSetNames.RevisionLabel]);
        Assert.Equal("www-web-0", Assert.Single(pod.Spec.Volumes!).PersistentVolumeClaim!.ClaimName);
        var owner = Assert.Single(pod.Metadata.OwnerReferences!);
        Assert.Equal(("StatefulSet", "web", true, true), (owner.Kind, owner.Name, owner.Controller, owner.BlockOwnerDeletion));
        var claim = _h.Claims.Get(new ObjectKey("default", "www-web-0"))!;
        Assert.Equal(new Dictionary<string, string> { ["app"] = "web" }, claim.Metadata!.Labels);
        Assert.Null(claim.Metadata.OwnerReferences);
        Assert.Equal(
            [
                ("Normal", "SuccessfulCreate", "create Claim www-web-0 Pod web-0 in StatefulSet web success", "web"),
                ("Normal", "SuccessfulCreate", "create Pod web-0 in StatefulSet web successful", "web"),
            ],
            _h.Events.Events);
        Assert.Equal(new StatefulSetStatus
        {
            ObservedGeneration = 1, Replicas = 1, ReadyReplicas = 0, AvailableReplicas = 0, CurrentReplicas = 1, UpdatedReplicas = 1, CollisionCount = 0,
            CurrentRevision = _h.Set.Status.UpdateRevision, UpdateRevision = _h.Set.Status.UpdateRevision,
        }, _h.Set.Status, StatusComparer.Instance);
    }

    [Fact]
    public async Task Sync_OrderedReady_NextMemberOnlyAfterPredecessorRunningAndReady()
    {
        _h.AddSet();
        await _h.SyncAsync();
        await _h.SyncAsync();
        Assert.Equal(["web-0"], _h.PodNames());

        _h.SetPhase("web-0", "Running", ready: false);
        await _h.SyncAsync();
        Assert.Equal(["web-0"], _h.PodNames());

        _h.SetPhase("web-0", "Running", ready: true);
        await _h.SyncAsync();
        Assert.Equal(["web-0", "web-1"], _h.PodNames());
    }

    [Fact]
    public async Task Sync_Parallel_CreatesEveryMemberAtOnce()
    {
        _h.AddSet(s => s.Spec!.PodManagementPolicy = StatefulSetNames.Parallel);

        await _h.SyncAsync();

        Assert.Equal(["web-0", "web-1", "web-2"], _h.PodNames());
    }

    [Fact]
    public async Task Sync_ScaleDownOrderedReady_HighestOrdinalFirstOneAtATime()
    {
        await StartReadyAsync(3);
        Scale(1);
        _h.Api.Calls.Clear();

        await _h.SyncAsync();
        Assert.Equal(["delete-pod web-2", "update-status"], _h.Api.Calls);
        await _h.SyncAsync();
        Assert.Equal(["web-0"], _h.PodNames());
        Assert.Contains(("Normal", "SuccessfulDelete", "delete Pod web-1 in StatefulSet web successful", "web"), _h.Events.Events);
    }

    [Fact]
    public async Task Sync_FailedMember_DeletedAndRecreatedWithWarning()
    {
        await StartReadyAsync(2);
        var oldUid = _h.Pods.Get(new ObjectKey("default", "web-1"))!.Metadata!.Uid;
        _h.SetPhase("web-1", "Failed", ready: false);
        _h.Api.Calls.Clear();

        await _h.SyncAsync();

        Assert.Equal(["delete-pod web-1", "create-pod web-1", "update-status"], _h.Api.Calls);
        Assert.NotEqual(oldUid, _h.Pods.Get(new ObjectKey("default", "web-1"))!.Metadata!.Uid);
        Assert.Contains(("Warning", "RecreatingFailedPod", "StatefulSet default/web is recreating failed Pod web-1", "web"), _h.Events.Events);
    }

    [Fact]
    public async Task Sync_NothingChanged_StatusWrittenOnlyOnce()
    {
        await StartReadyAsync(2);
        var updates = _h.Api.StatusUpdates.Count;

        await _h.SyncAsync();
        await _h.SyncAsync();

        Assert.Equal(updates, _h.Api.StatusUpdates.Count);
        Assert.Equal((2, 2, 2), (_h.Set.Status!.Replicas, _h.Set.Status.ReadyReplicas, _h.Set.Status.AvailableReplicas));
    }

    [Fact]
    public async Task Sync_RollingUpdateWithPartition_OnlyOrdinalsAtOrAbovePartitionReplaced()
    {
        await StartReadyAsync(3);
        var first = _h.Set.Status!.CurrentRevision;
        Update(s =>
        {
            s.Spec!.Template!.Spec!.Containers![0].Image = "nginx:2";
            s.Spec.UpdateStrategy!.RollingUpdate!.Partition = 1;
        });

        for (var i = 0; i < 10; i++)
        {
            await _h.SyncAsync();
            _h.MakeAllRunningAndReady();
        }

        var pods = _h.Pods.List().ToDictionary(p => p.Metadata!.Name!);
        Assert.Equal("nginx:1", pods["web-0"].Spec!.Containers![0].Image);
        Assert.Equal(first, pods["web-0"].Metadata!.Labels![StatefulSetNames.RevisionLabel]);
        Assert.All(new[] { "web-1", "web-2" }, n => Assert.Equal("nginx:2", pods[n].Spec!.Containers![0].Image));
        Assert.Equal((1, 2, first), (_h.Set.Status!.CurrentReplicas, _h.Set.Status.UpdatedReplicas, _h.Set.Status.CurrentRevision));
        // Highest first: web-2 went before web-1.
        var deletes = _h.Api.Calls.Where(c => c.StartsWith("delete-pod", StringComparison.Ordinal)).ToList();
        Assert.Equal(["delete-pod web-2", "delete-pod web-1"], deletes);
    }

    [Fact]
    public async Task Sync_OnDelete_TemplateChangeDeletesNothing()
    {
        await StartReadyAsync(2);
        Update(s =>
        {
            s.Spec!.UpdateStrategy = new StatefulSetUpdateStrategy { Type = StatefulSetNames.OnDelete };
            s.Spec.Template!.Spec!.Containers![0].Image = "nginx:2";
        });
        _h.Api.Calls.Clear();

        await _h.SyncAsync();

        Assert.DoesNotContain(_h.Api.Calls, c => c.StartsWith("delete-pod", StringComparison.Ordinal));
        Assert.Equal((2, 0), (_h.Set.Status!.CurrentReplicas, _h.Set.Status.UpdatedReplicas));
    }

    [Fact]
    public async Task Sync_MaxUnavailableGateOn_TwoMembersReplacedAtOnce()
    {
        using var h = new StatefulSetHarness(new StatefulSetFeatures(MaxUnavailable: true));
        h.AddSet(s => s.Spec!.UpdateStrategy!.RollingUpdate!.MaxUnavailable = IntOrString.FromInt(2));
        await h.SyncUntilStableReadyAsync();
        var set = KubeObjects.Clone(h.Set);
        set.Spec!.Template!.Spec!.Containers![0].Image = "nginx:2";
        set.Metadata!.Generation = 2;
        h.Sets.Upsert(set);
        h.Api.Calls.Clear();

        await h.SyncAsync();

        Assert.Equal(["delete-pod web-2", "delete-pod web-1", "update-status"], h.Api.Calls);
    }

    [Fact]
    public async Task Sync_MaxUnavailableGateOff_FieldIgnoredOneAtATime()
    {
        _h.AddSet(s => s.Spec!.UpdateStrategy!.RollingUpdate!.MaxUnavailable = IntOrString.FromInt(2));
        await _h.SyncUntilStableReadyAsync();
        Update(s => s.Spec!.Template!.Spec!.Containers![0].Image = "nginx:2");
        _h.Api.Calls.Clear();

        await _h.SyncAsync();

        Assert.Equal(["delete-pod web-2", "update-status"], _h.Api.Calls);
    }

    [Fact]
    public async Task NewRevision_DefaultedTemplate_NamedAsUpstreamNamesIt()
    {
        // The template as kube-apiserver v1.26.3 defaulted it; upstream's controller named its revision web-6d6cf975d5.
        var set = _h.AddSet(s => s.Spec!.Template!.Spec = new PodSpec
        {
            Containers = [new Container
            {
                Name = "c", Image = "nginx:1", ImagePullPolicy = "IfNotPresent", Resources = new ResourceRequirements(),
                TerminationMessagePath = "/dev/termination-log", TerminationMessagePolicy = "File",
            }],
            DnsPolicy = "ClusterFirst", RestartPolicy = "Always", SchedulerName = "default-scheduler",
            SecurityContext = new PodSecurityContext(), TerminationGracePeriodSeconds = 30,
        });

        var revision = StatefulSetUtil.NewRevision(set, 1, 0);

        Assert.Equal("web-6d6cf975d5", revision.Metadata!.Name);
        Assert.Equal("6d6cf975d5", revision.Metadata.Labels!["controller.kubernetes.io/hash"]);
    }

    [Fact]
    public async Task Sync_RollbackToEarlierTemplate_RenumbersTheEarlierRevision()
    {
        await StartReadyAsync(1);
        var first = _h.Set.Status!.CurrentRevision!;
        Update(s => s.Spec!.Template!.Spec!.Containers![0].Image = "nginx:2");
        await _h.SyncUntilStableReadyAsync();
        Update(s => s.Spec!.Template!.Spec!.Containers![0].Image = "nginx:1");
        await _h.SyncUntilStableReadyAsync();

        Assert.Equal(2, _h.RevisionStore.Count);
        Assert.Equal(3, _h.RevisionStore.Get(new ObjectKey("default", first))!.Revision);
        Assert.Equal(first, _h.Set.Status!.UpdateRevision);
        Assert.Equal(first, _h.Set.Status.CurrentRevision);
    }

    [Fact]
    public async Task Sync_HistoryLimit_OldestUnusedRevisionsDeleted()
    {
        await StartReadyAsync(1);
        Update(s => s.Spec!.RevisionHistoryLimit = 1);
        foreach (var image in new[] { "nginx:2", "nginx:3", "nginx:4" })
        {
            Update(s => s.Spec!.Template!.Spec!.Containers![0].Image = image);
            await _h.SyncUntilStableReadyAsync();
        }

        // The live revision plus one of history.
        Assert.Equal([3L, 4L], _h.RevisionStore.List().Select(r => r.Revision ?? 0).Order());
    }

    [Fact]
    public async Task Sync_MinReadySeconds_NextMemberWaitsUntilAvailableAndIsRequeued()
    {
        _h.AddSet(s => s.Spec!.MinReadySeconds = 30);
        await _h.SyncAsync();
        var pod = KubeObjects.Clone(_h.Pods.Get(new ObjectKey("default", "web-0"))!);
        pod.Status = new PodStatus { Phase = "Running", Conditions = [new PodCondition { Type = "Ready", Status = "True", LastTransitionTime = StatefulSetHarness.Now.AddSeconds(-10) }] };
        _h.Pods.Upsert(pod);

        await _h.SyncAsync();
        Assert.Equal(["web-0"], _h.PodNames());
        Assert.Equal((1, 0), (_h.Set.Status!.ReadyReplicas, _h.Set.Status.AvailableReplicas));

        _h.Time.Now = StatefulSetHarness.Now.AddSeconds(25);
        await _h.SyncAsync();
        Assert.Equal(["web-0", "web-1"], _h.PodNames());
        Assert.Equal(1, _h.Set.Status!.AvailableReplicas);
    }

    [Fact]
    public async Task Sync_Orphans_MembersAdoptedOthersIgnored()
    {
        _h.AddSet(s => s.Spec!.Replicas = 1);
        foreach (var name in new[] { "web-0", "cache-0", "web-x" })
        {
            _h.Pods.Upsert(new Pod
            {
                Metadata = new ObjectMeta { Name = name, Namespace = "default", Uid = "orphan-" + name, ResourceVersion = "1", Labels = new() { ["app"] = "web" } },
                Status = new PodStatus { Phase = "Running", Conditions = [new PodCondition { Type = "Ready", Status = "True", LastTransitionTime = StatefulSetHarness.Now }] },
            });
        }

        await _h.SyncAsync();

        // Adopted, given the identity label it lacked, then replaced for having no revision (the rolling update).
        Assert.Equal(["patch-pod web-0", "update-pod web-0", "delete-pod web-0", "update-status"], _h.Api.Calls);
        Assert.Equal(1, _h.Set.Status!.Replicas);
    }

    [Fact]
    public async Task Sync_SetBeingDeleted_OnlyStatus()
    {
        _h.AddSet(s => s.Metadata!.DeletionTimestamp = StatefulSetHarness.Now);

        await _h.SyncAsync();

        Assert.Equal(["update-status"], _h.Api.Calls);
    }

    [Theory]
    [InlineData(false, new[] { "web-0", "web-1" })]
    [InlineData(true, new[] { "web-5", "web-6" })]
    public async Task Sync_OrdinalsStart_HonouredOnlyWithGate(bool gate, string[] expected)
    {
        using var h = new StatefulSetHarness(new StatefulSetFeatures(StartOrdinal: gate));
        h.AddSet(s =>
        {
            s.Spec!.Replicas = 2;
            s.Spec.PodManagementPolicy = StatefulSetNames.Parallel;
            s.Spec.Ordinals = new StatefulSetOrdinals { Start = 5 };
        });

        await h.SyncAsync();

        Assert.Equal(expected, h.PodNames());
    }

    [Theory]
    [InlineData("web-0", "web", 0)]
    [InlineData("my-web-12", "my-web", 12)]
    [InlineData("web", "", -1)]
    [InlineData("web-x", "", -1)]
    [InlineData("web-99999999999", "web", -1)]
    public void ParentAndOrdinal_Names_AsUpstreamParsesThem(string name, string parent, int ordinal)
        => Assert.Equal((parent, ordinal), StatefulSetUtil.ParentAndOrdinal(name));

    [Fact]
    public async Task Sync_RevisionNameTakenByOtherData_CollisionCountedAndNextNameUsed()
    {
        var set = _h.AddSet(s => s.Spec!.Replicas = 1);
        var taken = StatefulSetUtil.NewRevision(set, 1, 0);
        taken.Metadata!.Labels = null; // Not selected by the set, so only the name clashes.
        taken.Metadata.OwnerReferences = null;
        taken.Data = System.Text.Json.Nodes.JsonNode.Parse("""{"other":true}""");
        _h.RevisionStore.Upsert(taken);

        await _h.SyncAsync();

        Assert.Equal(1, _h.Set.Status!.CollisionCount);
        Assert.Equal(StatefulSetUtil.NewRevision(set, 1, 1).Metadata!.Name, _h.Set.Status.UpdateRevision);
        Assert.NotEqual(taken.Metadata.Name, _h.Set.Status.UpdateRevision);
    }

    private async Task StartReadyAsync(int replicas)
    {
        _h.AddSet(s => s.Spec!.Replicas = replicas);
        await _h.SyncUntilStableReadyAsync();
        Assert.Equal(replicas, _h.Pods.Count);
    }

    private void Scale(int replicas) => Update(s => s.Spec!.Replicas = replicas);

    private void Update(Action<StatefulSet> change)
    {
        var set = KubeObjects.Clone(_h.Set);
        change(set);
        set.Metadata!.Generation = (set.Metadata.Generation ?? 0) + 1;
        _h.Sets.Upsert(set);
    }

    private sealed class StatusComparer : IEqualityComparer<StatefulSetStatus?>
    {
        public static readonly StatusComparer Instance = new();

        public bool Equals(StatefulSetStatus? x, StatefulSetStatus? y)
            => System.Text.Encoding.UTF8.GetString(KubeJson.Serialize(x)) == System.Text.Encoding.UTF8.GetString(KubeJson.Serialize(y));

        public int GetHashCode(StatefulSetStatus? obj) => 0;
    }
}

internal static class StatefulSetHarnessExtensions
{
    /// <summary>Syncs and lets every member become Running and Ready, until nothing more changes.</summary>
    public static async Task SyncUntilStableReadyAsync(this StatefulSetHarness h)
    {
        for (var i = 0; i < 30; i++)
        {
            var writes = h.Api.Writes;
            await h.SyncAsync();
            h.MakeAllRunningAndReady();
            if (h.Api.Writes == writes)
            {
                return;
            }
        }
        throw new InvalidOperationException("the controller kept writing");
    }
}

using Kcm.Api.Apps.V1;
using Kcm.Api.Core.V1;
using Kcm.Controllers.Common;
using Kcm.Controllers.StatefulSets;
using Kcm.Runtime.Informers;

namespace Kcm.Controllers.Tests.StatefulSets;

/// <summary>persistentVolumeClaimRetentionPolicy, which only the StatefulSetAutoDeletePVC gate (alpha, off in v1.26) turns on.</summary>
public sealed class ClaimRetentionTests
{
    [Theory]
    [InlineData("Retain", "Retain", false, false, false, false)]
    [InlineData("Delete", "Retain", true, false, true, false)]
    [InlineData("Retain", "Delete", false, false, false, true)]
    [InlineData("Delete", "Delete", true, false, false, true)]
    public async Task Sync_GateOn_ClaimOwnersFollowPolicy(string whenDeleted, string whenScaled, bool keptClaimOwnedBySet, bool keptClaimOwnedByPod, bool condemnedOwnedBySet, bool condemnedOwnedByPod)
    {
        using var h = new StatefulSetHarness(new StatefulSetFeatures(AutoDeletePvc: true));
        h.AddSet(s =>
        {
            s.Spec!.Replicas = 2;
            s.Spec.VolumeClaimTemplates = [StatefulSetHarness.ClaimTemplate("data")];
            s.Spec.PersistentVolumeClaimRetentionPolicy = new StatefulSetPersistentVolumeClaimRetentionPolicy { WhenDeleted = whenDeleted, WhenScaled = whenScaled };
        });
        await h.SyncUntilStableReadyAsync();
        var condemnedPodUid = h.Pods.Get(new ObjectKey("default", "web-1"))!.Metadata!.Uid;

        // Scaling down: the condemned member's claim is re-owned before its pod goes.
        var set = KubeObjects.Clone(h.Set);
        set.Spec!.Replicas = 1;
        set.Metadata!.Generation = 2;
        h.Sets.Upsert(set);
        await h.SyncAsync();

        var kept = h.Claims.Get(new ObjectKey("default", "data-web-0"))!;
        var condemned = h.Claims.Get(new ObjectKey("default", "data-web-1"))!;
        Assert.Equal((keptClaimOwnedBySet, keptClaimOwnedByPod), Owners(kept, h.Pods.Get(new ObjectKey("default", "web-0"))!.Metadata!.Uid));
        Assert.Equal((condemnedOwnedBySet, condemnedOwnedByPod), Owners(condemned, condemnedPodUid));
        Assert.Null(h.Pods.Get(new ObjectKey("default", "web-1")));
        // Plain owner references: the garbage collector deletes the claim, nothing controls it.
        Assert.All(condemned.Metadata!.OwnerReferences ?? [], r => Assert.Null(r.Controller));
    }

    [Fact]
    public async Task Sync_GateOff_PolicyIgnoredClaimsNeverOwned()
    {
        using var h = new StatefulSetHarness();
        h.AddSet(s =>
        {
            s.Spec!.Replicas = 2;
            s.Spec.VolumeClaimTemplates = [StatefulSetHarness.ClaimTemplate("data")];
            s.Spec.PersistentVolumeClaimRetentionPolicy = new StatefulSetPersistentVolumeClaimRetentionPolicy { WhenDeleted = "Delete", WhenScaled = "Delete" };
        });
        await h.SyncUntilStableReadyAsync();
        var set = KubeObjects.Clone(h.Set);
        set.Spec!.Replicas = 1;
        h.Sets.Upsert(set);
        await h.SyncUntilStableReadyAsync();

        Assert.Equal(2, h.Claims.Count);
        Assert.All(h.Claims.List(), c => Assert.Null(c.Metadata!.OwnerReferences));
        Assert.DoesNotContain(h.Api.Calls, c => c.StartsWith("update-claim", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Sync_GateOnClaimOwnedByEarlierPod_NewMemberWaits()
    {
        using var h = new StatefulSetHarness(new StatefulSetFeatures(AutoDeletePvc: true));
        h.AddSet(s =>
        {
            s.Spec!.Replicas = 1;
            s.Spec.VolumeClaimTemplates = [StatefulSetHarness.ClaimTemplate("data")];
            s.Spec.PersistentVolumeClaimRetentionPolicy = new StatefulSetPersistentVolumeClaimRetentionPolicy { WhenDeleted = "Retain", WhenScaled = "Delete" };
        });
        // The claim of an earlier web-0 that the garbage collector has not removed yet.
        h.Claims.Upsert(new PersistentVolumeClaim
        {
            Metadata = new() { Name = "data-web-0", Namespace = "default", Uid = "old-claim", ResourceVersion = "1", OwnerReferences = [new() { ApiVersion = "v1", Kind = "Pod", Name = "web-0", Uid = "earlier-web-0" }] },
        });

        await h.SyncAsync();

        Assert.Empty(h.Pods.List());
        Assert.DoesNotContain(h.Api.Calls, c => c.StartsWith("create-", StringComparison.Ordinal));
    }

    private static (bool Set, bool Pod) Owners(PersistentVolumeClaim claim, string? podUid)
        => ((claim.Metadata!.OwnerReferences ?? []).Any(r => r.Uid == "web-uid" && r.Kind == "StatefulSet"),
            (claim.Metadata.OwnerReferences ?? []).Any(r => r.Uid == podUid && r.Kind == "Pod"));
}

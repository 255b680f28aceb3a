using Kcm.Api;
using Kcm.Api.Core.V1;
using Kcm.Api.Meta.V1;
using Kcm.Controllers.PersistentVolumes;
using Kcm.Runtime.Informers;

namespace Kcm.Controllers.Tests.PersistentVolumes;

/// <summary>The volume index and FindMatchingVolume, after upstream's index_test.go.</summary>
public sealed class VolumeIndexTests
{
    private static int _version;

    private static PersistentVolume Volume(string name, string size, string[]? modes = null, string storageClass = "", string phase = "Available",
        ObjectReference? claimRef = null, Dictionary<string, string>? labels = null, string? volumeMode = null, bool deleting = false) => new()
    {
        Metadata = new ObjectMeta
        {
            Name = name,
            Labels = labels,
            ResourceVersion = (++_version).ToString(System.Globalization.CultureInfo.InvariantCulture),
            DeletionTimestamp = deleting ? DateTimeOffset.UtcNow : null,
        },
        Spec = new PersistentVolumeSpec
        {
            Capacity = new() { ["storage"] = Quantity.Parse(size) },
            AccessModes = [.. modes ?? ["ReadWriteOnce"]],
            StorageClassName = storageClass,
            ClaimRef = claimRef,
            VolumeMode = volumeMode,
        },
        Status = new PersistentVolumeStatus { Phase = phase },
    };

    private static PersistentVolumeClaim Claim(string size, string[]? modes = null, string? storageClass = "", LabelSelector? selector = null, string? volumeMode = null) => new()
    {
        Metadata = new ObjectMeta { Name = "claim", Namespace = "ns", Uid = "claim-uid" },
        Spec = new PersistentVolumeClaimSpec
        {
            AccessModes = [.. modes ?? ["ReadWriteOnce"]],
            Resources = new ResourceRequirements { Requests = new() { ["storage"] = Quantity.Parse(size) } },
            StorageClassName = storageClass,
            Selector = selector,
            VolumeMode = volumeMode,
        },
    };

    private static VolumeIndex IndexOf(params PersistentVolume[] volumes)
    {
        var index = new VolumeIndex();
        foreach (var v in volumes)
        {
            index.Store.Update(v);
        }
        return index;
    }

    [Theory]
    [InlineData("500Mi", "small")]
    [InlineData("1Gi", "small")]
    [InlineData("2Gi", "medium")]
    [InlineData("5Gi", "large")]
    [InlineData("6Gi", null)]
    public void FindBestMatchForClaim_Sizes_SmallestThatFits(string request, string? expected)
    {
        var index = IndexOf(Volume("large", "5Gi"), Volume("small", "1Gi"), Volume("medium", "3Gi"));

        var match = index.FindBestMatchForClaim(Claim(request), delayBinding: false);

        Assert.Equal(expected, match?.Metadata?.Name);
    }

    [Fact]
    public void FindBestMatchForClaim_WiderModesOnly_FallsBackToThem()
    {
        var index = IndexOf(Volume("rwo-rox", "10Gi", ["ReadWriteOnce", "ReadOnlyMany"]), Volume("rwx", "1Gi", ["ReadWriteOnce", "ReadOnlyMany", "ReadWriteMany"]));

        // The group with the fewest modes is searched first, even though its volume is bigger.
        Assert.Equal("rwo-rox", index.FindBestMatchForClaim(Claim("1Gi"), false)?.Metadata?.Name);
        Assert.Equal("rwx", index.FindBestMatchForClaim(Claim("1Gi", ["ReadWriteMany"]), false)?.Metadata?.Name);
        Assert.Null(index.FindBestMatchForClaim(Claim("1Gi", ["ReadWriteOncePod"]), false));
    }

    [Fact]
    public void AllPossibleMatchingAccessModes_Request_SetsContainingItFewestFirst()
    {
        var index = IndexOf(
            Volume("a", "1Gi", ["ReadWriteMany", "ReadWriteOnce", "ReadOnlyMany"]),
            Volume("b", "1Gi", ["ReadOnlyMany", "ReadWriteOnce"]),
            Volume("c", "1Gi", ["ReadOnlyMany"]));

        var sets = index.AllPossibleMatchingAccessModes(["ReadWriteOnce"]);

        Assert.Equal(["ReadWriteOnce,ReadOnlyMany", "ReadWriteOnce,ReadOnlyMany,ReadWriteMany"], sets.Select(s => string.Join(',', s)));
    }

    [Fact]
    public void FindBestMatchForClaim_ClassSelectorModePhaseDeletion_Filtered()
    {
        var index = IndexOf(
            Volume("other-class", "1Gi", storageClass: "fast"),
            Volume("released", "1Gi", phase: "Released"),
            Volume("block", "1Gi", volumeMode: "Block"),
            Volume("deleting", "1Gi", deleting: true),
            Volume("labelled", "2Gi", labels: new() { ["tier"] = "gold" }),
            Volume("claimed", "1Gi", claimRef: new ObjectReference { Namespace = "ns", Name = "someone-else" }));

        Assert.Equal("labelled", index.FindBestMatchForClaim(Claim("1Gi"), false)?.Metadata?.Name);
        Assert.Equal("labelled", index.FindBestMatchForClaim(Claim("1Gi", selector: new LabelSelector { MatchLabels = new() { ["tier"] = "gold" } }), false)?.Metadata?.Name);
        Assert.Null(index.FindBestMatchForClaim(Claim("1Gi", selector: new LabelSelector { MatchLabels = new() { ["tier"] = "silver" } }), false));
        Assert.Equal("other-class", index.FindBestMatchForClaim(Claim("1Gi", storageClass: "fast"), false)?.Metadata?.Name);
        Assert.Equal("block", index.FindBestMatchForClaim(Claim("1Gi", volumeMode: "Block"), false)?.Metadata?.Name);
    }

    [Fact]
    public void FindBestMatchForClaim_PreBoundVolume_WinsOverSmallerAndIgnoresPhaseAndClass()
    {
        var index = IndexOf(
            Volume("small", "1Gi"),
            Volume("reserved", "10Gi", storageClass: "elsewhere", phase: "Pending", claimRef: new ObjectReference { Namespace = "ns", Name = "claim" }));

        Assert.Equal("reserved", index.FindBestMatchForClaim(Claim("1Gi"), false)?.Metadata?.Name);
    }

    [Fact]
    public void FindBestMatchForClaim_PreBoundToOtherUid_Skipped()
    {
        var index = IndexOf(Volume("reserved", "1Gi", claimRef: new ObjectReference { Namespace = "ns", Name = "claim", Uid = "old-uid" }));

        Assert.Null(index.FindBestMatchForClaim(Claim("1Gi"), false));
    }

    [Fact]
    public void FindBestMatchForClaim_DelayBinding_OnlyPreBound()
    {
        var index = IndexOf(Volume("free", "1Gi"));
        Assert.Null(index.FindBestMatchForClaim(Claim("1Gi"), delayBinding: true));

        index.Store.Update(Volume("reserved", "2Gi", claimRef: new ObjectReference { Namespace = "ns", Name = "claim" }));
        Assert.Equal("reserved", index.FindBestMatchForClaim(Claim("1Gi"), delayBinding: true)?.Metadata?.Name);
    }

    [Fact]
    public void FindBestMatchForClaim_BadSelector_Throws()
    {
        var index = IndexOf(Volume("v", "1Gi"));
        var claim = Claim("1Gi", selector: new LabelSelector { MatchExpressions = [new LabelSelectorRequirement { Key = "a", Operator = "Near" }] });

        var e = Assert.Throws<Kcm.Api.Selectors.SelectorParseException>(() => index.FindBestMatchForClaim(claim, false));
        Assert.StartsWith("error creating internal label selector for claim: ns/claim:", e.Message);
    }

    [Fact]
    public void VersionedStore_OlderVersion_Ignored()
    {
        var store = new VersionedStore<PersistentVolume>(ObjectKey.Of, v => v.Metadata?.ResourceVersion);
        var newer = Volume("v", "1Gi");
        newer.Metadata!.ResourceVersion = "20";
        var older = Volume("v", "2Gi");
        older.Metadata!.ResourceVersion = "10";

        Assert.True(store.Update(newer));
        Assert.False(store.Update(older));
        Assert.True(store.Update(newer));
        Assert.Same(newer, store.Get(new ObjectKey(null, "v")));
    }

    [Theory]
    [InlineData("2Gi", null, null)]
    [InlineData("500Mi", null, "requested PV is too small")]
    [InlineData("1Gi", "fast", "storageClassName does not match")]
    public void VolumeDoesNotSatisfyClaim_Mismatch_UpstreamMessage(string size, string? storageClass, string? expected)
    {
        Assert.Equal(expected, VolumeBinding.VolumeDoesNotSatisfyClaim(Volume("v", size), Claim("1Gi", storageClass: storageClass)));
    }

    [Fact]
    public void BindVolumeToClaim_Unbound_ClaimRefAndBoundByController()
    {
        var claim = Claim("1Gi");
        claim.Metadata!.ResourceVersion = "7";

        var (bound, dirty) = VolumeBinding.BindVolumeToClaim(Volume("v", "1Gi"), claim);

        Assert.True(dirty);
        Assert.Equal("yes", bound.Metadata!.Annotations![VolumeAnnotations.BoundByController]);
        Assert.Equal(("PersistentVolumeClaim", "v1", "ns", "claim", "claim-uid", "7"),
            (bound.Spec!.ClaimRef!.Kind, bound.Spec.ClaimRef.ApiVersion, bound.Spec.ClaimRef.Namespace, bound.Spec.ClaimRef.Name, bound.Spec.ClaimRef.Uid, bound.Spec.ClaimRef.ResourceVersion));
    }

    [Fact]
    public void BindVolumeToClaim_PreBoundByUser_NoBoundByController()
    {
        var volume = Volume("v", "1Gi", claimRef: new ObjectReference { Namespace = "ns", Name = "claim" });

        var (bound, dirty) = VolumeBinding.BindVolumeToClaim(volume, Claim("1Gi"));

        Assert.True(dirty);
        Assert.Equal("claim-uid", bound.Spec!.ClaimRef!.Uid);
        Assert.False(VolumeAnnotations.Has(bound.Metadata, VolumeAnnotations.BoundByController));
    }
}

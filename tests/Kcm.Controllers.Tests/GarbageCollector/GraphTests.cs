using System.Text.Json.Nodes;
using Kcm.Api.Meta.V1;
using Kcm.Controllers.Common;
using Kcm.Controllers.GarbageCollector;
using Kcm.Runtime.Informers;

namespace Kcm.Controllers.Tests.GarbageCollector;

public sealed class GraphTests
{
    [Fact]
    public void ObservedMetadataOf_FullPod_ReadsIdentityOwnershipAndDeletion()
    {
        var pod = JsonNode.Parse("""
            {"metadata":{"name":"p","namespace":"ns","uid":"u1","resourceVersion":"7","labels":{"a":"b"},"annotations":{"big":"x"},
              "managedFields":[{"manager":"m"}],"finalizers":["f"],"deletionTimestamp":"2026-01-01T00:00:00Z",
              "ownerReferences":[{"apiVersion":"apps/v1","kind":"ReplicaSet","name":"rs","uid":"o1","blockOwnerDeletion":true}]},
             "spec":{"containers":[{"name":"c","image":"i"}]},"status":{"phase":"Running"}}
            """)!.AsObject();

        var meta = ObservedMetadata.Of(pod);

        Assert.Equal(("ns", "p", "u1", "7", true), (meta.Namespace, meta.Name, meta.Uid, meta.ResourceVersion, meta.BeingDeleted));
        Assert.Equal(["f"], meta.Finalizers);
        Assert.Equal([new OwnerRef("apps/v1", "ReplicaSet", "rs", "o1", null, true)], meta.Owners);
    }

    [Fact]
    public void ObservedMetadataOf_TwoDependentsOfOneOwner_NamespaceAndOwnerKindShared()
    {
        static JsonObject Parse(string name) => JsonNode.Parse($$$"""
            {"metadata":{"name":"{{{name}}}","namespace":"ns-shared","uid":"u-{{{name}}}","resourceVersion":"3","finalizers":["foregroundDeletion"],
              "ownerReferences":[{"apiVersion":"apps/v1","kind":"ReplicaSet","name":"rs","uid":"o1","controller":true}]}}
            """)!.AsObject();

        var first = ObservedMetadata.Of(Parse("a"));
        var second = ObservedMetadata.Of(Parse("b"));

        Assert.Same(first.Namespace, second.Namespace);
        Assert.Same(first.Owners[0].Kind, second.Owners[0].Kind);
        Assert.Same(first.Finalizers[0], second.Finalizers[0]);
        Assert.Equal([new OwnerRef("apps/v1", "ReplicaSet", "rs", "o1", true, null)], second.Owners);
        Assert.Equal(("b", "u-b", "3", true), (second.Name, second.Uid, second.ResourceVersion, second.HasForegroundFinalizer));
        Assert.Equal(new ObjectKey("ns-shared", "b"), ObservedMetadataAccessor.Instance.KeyOf(second));
        Assert.Equal("o1", ObservedMetadataAccessor.Instance.ControllerUidOf(second));
    }

    [Fact]
    public void ReferencesDiffs_AddedRemovedAndBlockingChanged_ReportedSeparately()
    {
        var kept = new OwnerRef("v1", "ConfigMap", "a", "1", null, null);
        var removed = new OwnerRef("v1", "ConfigMap", "b", "2", null, true);
        var before = new OwnerRef("v1", "ConfigMap", "c", "3", null, true);
        var after = before with { BlockOwnerDeletion = false };
        var added = new OwnerRef("v1", "ConfigMap", "d", "4", null, null);

        var (addedRefs, removedRefs, changedRefs) = GraphBuilder.ReferencesDiffs([kept, removed, before], [kept, after, added]);

        Assert.Equal([added], addedRefs);
        Assert.Equal([removed], removedRefs);
        Assert.Equal([(before, after)], changedRefs);
    }

    [Fact]
    public void UpdateChangesGraph_OnlyOwnersUidOrDeletionCount()
    {
        static ObjectMeta Meta(string rv, string uid = "u1", DateTimeOffset? deleting = null, params OwnerReference[] owners) => new()
        {
            Namespace = "kube-node-lease", Name = "node-1", Uid = uid, ResourceVersion = rv, DeletionTimestamp = deleting,
            OwnerReferences = owners.Length == 0 ? null : [.. owners],
        };
        static OwnerReference Owner(string uid = "n1", bool? blocks = null) => new() { ApiVersion = "v1", Kind = "Node", Name = "node-1", Uid = uid, BlockOwnerDeletion = blocks };
        var node = Owner();
        // A fresh reference with the same values, as a decoded watch event carries.
        var renewed = Meta("2", owners: Owner());

        // A lease renewal: only the resourceVersion (and the spec, not looked at) changed.
        Assert.False(GraphBuilder.UpdateChangesGraph(Meta("1", owners: node), renewed));
        Assert.False(GraphBuilder.UpdateChangesGraph(Meta("1"), new ObjectMeta { Namespace = "kube-node-lease", Name = "node-1", Uid = "u1", ResourceVersion = "2", OwnerReferences = [] }));
        Assert.True(GraphBuilder.UpdateChangesGraph(Meta("1"), renewed));
        Assert.True(GraphBuilder.UpdateChangesGraph(Meta("1", owners: node), Meta("2")));
        Assert.True(GraphBuilder.UpdateChangesGraph(Meta("1", owners: node), Meta("2", owners: Owner(blocks: true))));
        Assert.True(GraphBuilder.UpdateChangesGraph(Meta("1", owners: node), Meta("2", owners: Owner("n2"))));
        Assert.True(GraphBuilder.UpdateChangesGraph(Meta("1", owners: node), Meta("2", uid: "u2", owners: node)));
        Assert.True(GraphBuilder.UpdateChangesGraph(Meta("1", owners: node), Meta("2", deleting: DateTimeOffset.UnixEpoch, owners: node)));
        // Once deleting, every update counts: a finalizer change starts orphaning or foreground deletion.
        Assert.True(GraphBuilder.UpdateChangesGraph(Meta("1", deleting: DateTimeOffset.UnixEpoch), Meta("2", deleting: DateTimeOffset.UnixEpoch)));

        // The metadata-only monitors' view answers the same.
        var observed = ObservedMetadata.Of(Meta("1", owners: node));
        Assert.False(GraphBuilder.UpdateChangesGraph(observed, ObservedMetadata.Of(renewed)));
        Assert.True(GraphBuilder.UpdateChangesGraph(observed, ObservedMetadata.Of(Meta("2"))));
        Assert.True(GraphBuilder.UpdateChangesGraph(observed, ObservedMetadata.Of(Meta("2", uid: "u2", owners: node))));
        Assert.True(GraphBuilder.UpdateChangesGraph(observed, ObservedMetadata.Of(Meta("2", deleting: DateTimeOffset.UnixEpoch, owners: node))));
    }

    [Fact]
    public void PartitionDependents_DependentInOtherNamespaceOrWithOtherCoordinates_NonMatching()
    {
        var owner = new ObjectIdentity("v1", "ConfigMap", "ns", "owner", "u");
        var exact = Dependent("ns", new OwnerRef("v1", "ConfigMap", "owner", "u", null, null));
        var otherNamespace = Dependent("elsewhere", new OwnerRef("v1", "ConfigMap", "owner", "u", null, null));
        var otherKind = Dependent("ns", new OwnerRef("v1", "Secret", "owner", "u", null, null));

        var (matching, nonMatching) = GraphBuilder.PartitionDependents([exact, otherNamespace, otherKind], owner);

        Assert.Equal([exact], matching);
        Assert.Equal([otherNamespace, otherKind], nonMatching);
    }

    [Fact]
    public void BlockingDependents_OnlyReferencesWithBlockOwnerDeletion()
    {
        var owner = new GraphNode(new ObjectIdentity("v1", "ConfigMap", "ns", "owner", "u"), []);
        var blocking = Dependent("ns", new OwnerRef("v1", "ConfigMap", "owner", "u", null, true));
        var nonBlocking = Dependent("ns", new OwnerRef("v1", "ConfigMap", "owner", "u", null, false));
        owner.AddDependent(blocking);
        owner.AddDependent(nonBlocking);

        Assert.Equal([blocking], owner.BlockingDependents());
    }

    [Fact]
    public void AbsentOwnerCache_OverCapacity_EvictsLeastRecentlyUsed()
    {
        var cache = new AbsentOwnerCache(capacity: 2);
        var a = new ObjectIdentity("v1", "ConfigMap", "ns", "a", "1");
        var b = new ObjectIdentity("v1", "ConfigMap", "ns", "b", "2");
        var c = new ObjectIdentity("v1", "ConfigMap", "ns", "c", "3");
        cache.Add(a);
        cache.Add(b);
        Assert.True(cache.Has(a)); // a is now the most recent

        cache.Add(c);

        Assert.True(cache.Has(a));
        Assert.False(cache.Has(b));
        Assert.True(cache.Has(c));
    }

    private static GraphNode Dependent(string ns, params OwnerRef[] owners)
        => new(new ObjectIdentity("v1", "ConfigMap", ns, "dep-" + Guid.NewGuid().ToString("N")[..6], Guid.NewGuid().ToString()), owners);
}

using Kcm.Api.Core.V1;
using Kcm.Api.Meta.V1;
using Kcm.Runtime.Informers;

namespace Kcm.Runtime.Tests.Informers;

public sealed class ThreadSafeStoreTests
{
    private static ThreadSafeStore<Pod> NewStore()
    {
        var metadata = TypedMetadataAccessor<Pod>.Instance;
        return new ThreadSafeStore<Pod>(metadata.KeyOf, [
            new(KnownIndexers.Namespace, KnownIndexers.ByNamespace(metadata)),
            new(KnownIndexers.ControllerUid, KnownIndexers.ByControllerUid(metadata)),
            new(KnownIndexers.PodNodeName, KnownIndexers.NodeNameOf),
        ]);
    }

    /// <summary>The first owner uid is the pod's controller.</summary>
    private static Pod Pod(string ns, string name, string? node = null, params string[] ownerUids) => new()
    {
        Metadata = new ObjectMeta
        {
            Namespace = ns,
            Name = name,
            OwnerReferences = [.. ownerUids.Select((uid, i) => new OwnerReference { Uid = uid, Name = "owner", Kind = "ReplicaSet", ApiVersion = "apps/v1", Controller = i == 0 })],
        },
        Spec = new PodSpec { NodeName = node },
    };

    [Fact]
    public void Upsert_NewAndExisting_ReturnsReplacedObject()
    {
        var store = NewStore();
        var first = Pod("ns", "a");
        var second = Pod("ns", "a");

        Assert.Null(store.Upsert(first));
        Assert.Same(first, store.Upsert(second));
        Assert.Same(second, store.Get(new ObjectKey("ns", "a")));
        Assert.Equal(1, store.Count);
    }

    [Fact]
    public void ByIndex_NamespaceControllerAndNode_FindsIndexedObjects()
    {
        var store = NewStore();
        store.Upsert(Pod("ns1", "a", "node-1", "uid-1"));
        store.Upsert(Pod("ns1", "b", null, "uid-1", "uid-2"));
        store.Upsert(Pod("ns2", "c", "node-1"));

        Assert.Equal(["a", "b"], store.ByIndex(KnownIndexers.Namespace, "ns1").Select(p => p.Metadata!.Name).Order());
        Assert.Equal(["a", "b"], store.ByIndex(KnownIndexers.ControllerUid, "uid-1").Select(p => p.Metadata!.Name).Order());
        Assert.Empty(store.ByIndex(KnownIndexers.ControllerUid, "uid-2")); // an owner, not the controller
        Assert.Equal(["c"], store.ByIndex(KnownIndexers.ControllerUid, KnownIndexers.OrphanKey("ns2")).Select(p => p.Metadata!.Name));
        Assert.Empty(store.ByIndex(KnownIndexers.ControllerUid, KnownIndexers.OrphanKey("ns1")));
        Assert.Equal(["a", "c"], store.ByIndex(KnownIndexers.PodNodeName, "node-1").Select(p => p.Metadata!.Name).Order());
        Assert.Empty(store.ByIndex(KnownIndexers.PodNodeName, "node-2"));
        Assert.Equal(["node-1"], store.IndexValues(KnownIndexers.PodNodeName));
    }

    [Fact]
    public void Upsert_IndexedValuesUnchanged_IndexesServeTheNewObject()
    {
        var store = NewStore();
        store.Upsert(Pod("ns", "a", "node-1", "uid-1"));
        var updated = Pod("ns", "a", "node-1", "uid-1");

        store.Upsert(updated);

        Assert.Same(updated, Assert.Single(store.ByIndex(KnownIndexers.PodNodeName, "node-1")));
        Assert.Same(updated, Assert.Single(store.ByIndex(KnownIndexers.ControllerUid, "uid-1")));
        Assert.Same(updated, Assert.Single(store.ByIndex(KnownIndexers.Namespace, "ns")));
        store.Delete(new ObjectKey("ns", "a"));
        Assert.Empty(store.IndexValues(KnownIndexers.PodNodeName));
        Assert.Empty(store.IndexValues(KnownIndexers.Namespace));
    }

    [Fact]
    public void Upsert_IndexedValueChanges_MovesObjectBetweenIndexValues()
    {
        var store = NewStore();
        store.Upsert(Pod("ns", "a", "node-1", "uid-1"));

        store.Upsert(Pod("ns", "a", "node-2", "uid-2"));

        Assert.Empty(store.ByIndex(KnownIndexers.PodNodeName, "node-1"));
        Assert.Single(store.ByIndex(KnownIndexers.PodNodeName, "node-2"));
        Assert.Empty(store.ByIndex(KnownIndexers.ControllerUid, "uid-1"));
        Assert.Equal(["node-2"], store.IndexValues(KnownIndexers.PodNodeName));
    }

    [Fact]
    public void Delete_Cached_RemovedFromItemsAndIndexes()
    {
        var store = NewStore();
        var pod = Pod("ns", "a", "node-1", "uid-1");
        store.Upsert(pod);

        Assert.Same(pod, store.Delete(new ObjectKey("ns", "a")));
        Assert.Null(store.Delete(new ObjectKey("ns", "a")));

        Assert.Empty(store.List());
        Assert.Empty(store.ByIndex(KnownIndexers.Namespace, "ns"));
        Assert.Empty(store.IndexValues(KnownIndexers.ControllerUid));
    }

    [Fact]
    public void AddIndexer_AfterObjectsCached_IndexesExistingObjects()
    {
        var store = NewStore();
        store.Upsert(Pod("ns", "a"));
        store.Upsert(Pod("ns", "bb"));

        store.AddIndexer("nameLength", p => [p.Metadata!.Name!.Length.ToString(System.Globalization.CultureInfo.InvariantCulture)]);

        Assert.Equal("bb", Assert.Single(store.ByIndex("nameLength", "2")).Metadata!.Name);
        Assert.Throws<IndexerConflictException>(() => store.AddIndexer("nameLength", _ => []));
    }

    [Fact]
    public void ByIndex_UnknownIndexer_Throws()
    {
        Assert.Throws<UnknownIndexerException>(() => NewStore().ByIndex("nope", "x"));
    }
}

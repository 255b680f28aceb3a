using Kcm.Api.Core.V1;
using Kcm.Api.Meta.V1;
using Kcm.Controllers.Common;

namespace Kcm.Controllers.Tests.StatefulSets;

/// <summary>Pod events turned into StatefulSet keys.</summary>
public sealed class StatefulSetEventHandlerTests : IDisposable
{
    private readonly StatefulSetHarness _h = new();

    public StatefulSetEventHandlerTests() => _h.AddSet();

    public void Dispose() => _h.Dispose();

    [Fact]
    public void OnPodAdded_MatchingOrphan_EnqueuesSelectingSet()
    {
        _h.Controller.OnPodAdded(NewPod("web-0", owned: false));

        Assert.Equal(1, _h.Queue.Count);
    }

    [Fact]
    public void OnPodAdded_OwnedByAnotherSetOfThatName_Ignored()
    {
        var pod = NewPod("web-0", owned: true);
        pod.Metadata!.OwnerReferences![0].Uid = "an-earlier-web";

        _h.Controller.OnPodAdded(pod);

        Assert.Equal(0, _h.Queue.Count);
    }

    [Fact]
    public void OnPodUpdated_SameResourceVersion_Ignored()
    {
        var pod = NewPod("web-0", owned: true);

        _h.Controller.OnPodUpdated(pod, KubeObjects.Clone(pod));

        Assert.Equal(0, _h.Queue.Count);
    }

    [Fact]
    public void OnPodUpdated_ReleasedByItsSet_EnqueuesOldOwner()
    {
        var old = NewPod("web-0", owned: true);
        var cur = NewPod("web-0", owned: false);
        cur.Metadata!.Labels = new() { ["app"] = "other" };
        cur.Metadata.ResourceVersion = "2";

        _h.Controller.OnPodUpdated(old, cur);

        Assert.Equal(1, _h.Queue.Count);
    }

    [Fact]
    public void OnPodDeleted_Orphan_Ignored()
    {
        _h.Controller.OnPodDeleted(NewPod("web-0", owned: false));

        Assert.Equal(0, _h.Queue.Count);
    }

    private static Pod NewPod(string name, bool owned) => new()
    {
        Metadata = new ObjectMeta
        {
            Name = name,
            Namespace = "default",
            Uid = "uid-" + name,
            ResourceVersion = "1",
            Labels = new() { ["app"] = "web" },
            OwnerReferences = owned ? [new OwnerReference { ApiVersion = "apps/v1", Kind = "StatefulSet", Name = "web", Uid = "web-uid", Controller = true }] : null,
        },
    };
}

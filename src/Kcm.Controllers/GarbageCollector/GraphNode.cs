using Kcm.Controllers.Common;

namespace Kcm.Controllers.GarbageCollector;

/// <summary>
/// One object in the ownership graph (upstream's node). It holds only what collection needs — identity, owner
/// references and dependents — so the graph stays small next to the informers' caches. Owners and identity are
/// written only by the graph builder's single thread; workers read them. A "virtual" node stands for an owner
/// that dependents name but no informer has shown yet.
/// </summary>
public sealed class GraphNode
{
    private readonly object _dependentsLock = new();
    private HashSet<GraphNode>? _dependents;
    private volatile IReadOnlyList<OwnerRef> _owners;
    private volatile bool _virtual;
    private volatile bool _beingDeleted;
    private volatile bool _deletingDependents;

    public GraphNode(ObjectIdentity identity, IReadOnlyList<OwnerRef> owners, bool isVirtual = false, bool beingDeleted = false, bool deletingDependents = false)
    {
        Identity = identity;
        _owners = owners;
        _virtual = isVirtual;
        _beingDeleted = beingDeleted;
        _deletingDependents = deletingDependents;
    }

    public ObjectIdentity Identity { get; }

    public IReadOnlyList<OwnerRef> Owners
    {
        get => _owners;
        set => _owners = value;
    }

    /// <summary>True once an informer event showed the object (virtual nodes start unobserved).</summary>
    public bool IsObserved => !_virtual;

    public bool IsBeingDeleted => _beingDeleted;

    /// <summary>Being deleted in the foreground: waits for its blocking dependents to go first.</summary>
    public bool IsDeletingDependents => _deletingDependents;

    public void MarkObserved() => _virtual = false;

    public void MarkBeingDeleted() => _beingDeleted = true;

    public void MarkDeletingDependents()
    {
        _beingDeleted = true;
        _deletingDependents = true;
    }

    public void AddDependent(GraphNode dependent)
    {
        lock (_dependentsLock)
        {
            (_dependents ??= []).Add(dependent);
        }
    }

    public void RemoveDependent(GraphNode dependent)
    {
        lock (_dependentsLock)
        {
            if (_dependents is not null && _dependents.Remove(dependent) && _dependents.Count == 0)
            {
                _dependents = null;
            }
        }
    }

    public int DependentsCount
    {
        get
        {
            lock (_dependentsLock)
            {
                return _dependents?.Count ?? 0;
            }
        }
    }

    public IReadOnlyList<GraphNode> Dependents()
    {
        lock (_dependentsLock)
        {
            return _dependents is null ? [] : [.. _dependents];
        }
    }

    /// <summary>Dependents whose reference to this node has blockOwnerDeletion=true: foreground deletion waits for them.</summary>
    public IReadOnlyList<GraphNode> BlockingDependents()
        => [.. Dependents().Where(d => d.Owners.Any(o => o.Uid == Identity.Uid && o.Blocks))];

    /// <summary>A copy with another identity (the graph replaces nodes instead of mutating the identity others may be reading).</summary>
    public GraphNode CloneWithIdentity(ObjectIdentity identity)
    {
        var clone = new GraphNode(identity, _owners, _virtual, _beingDeleted, _deletingDependents);
        foreach (var dependent in Dependents())
        {
            clone.AddDependent(dependent);
        }
        return clone;
    }

    public override string ToString() => Identity.ToString();
}

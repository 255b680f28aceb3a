using Kcm.Api;
using Kcm.Api.Apps.V1;
using Kcm.Api.Core.V1;
using Kcm.Controllers.Common;
using LabelSelector = Kcm.Api.Selectors.LabelSelector;

namespace Kcm.Controllers.ReplicaSets;

/// <summary>A replica-set-like object's status, independent of its API type.</summary>
public sealed record ReplicaStatus(
    int Replicas,
    int FullyLabeledReplicas,
    int ReadyReplicas,
    int AvailableReplicas,
    long ObservedGeneration,
    IReadOnlyList<ReplicaCondition> Conditions)
{
    public ReplicaCondition? Condition(string type) => Conditions.FirstOrDefault(c => c.Type == type);

    public bool Equals(ReplicaStatus? other)
        => other is not null
            && Replicas == other.Replicas
            && FullyLabeledReplicas == other.FullyLabeledReplicas
            && ReadyReplicas == other.ReadyReplicas
            && AvailableReplicas == other.AvailableReplicas
            && ObservedGeneration == other.ObservedGeneration
            && Conditions.SequenceEqual(other.Conditions);

    public override int GetHashCode() => HashCode.Combine(Replicas, FullyLabeledReplicas, ReadyReplicas, AvailableReplicas, ObservedGeneration, Conditions.Count);
}

public sealed record ReplicaCondition(string Type, string Status, DateTimeOffset? LastTransitionTime, string? Reason, string? Message);

/// <summary>
/// What the shared replica controller needs from the kind it manages. Upstream runs ReplicationControllers through
/// the ReplicaSet code by converting them on the way in and out; here each kind reads its own fields and writes
/// its status back onto a copy of itself, so fields this controller does not know survive.
/// </summary>
public interface IReplicaSetKind<T>
    where T : class, IListableResource
{
    /// <summary>Upstream's controller name, used in logs ("replicaset", "replicationcontroller").</summary>
    string ControllerName { get; }

    /// <summary>The work queue's name ("replicaset", "replicationmanager").</summary>
    string QueueName { get; }

    /// <summary>The ServiceAccount and event source component ("replicaset-controller", "replication-controller").</summary>
    string Component { get; }

    int Replicas(T owner);

    int MinReadySeconds(T owner);

    /// <summary>The pod selector; null selects nothing. Throws <see cref="Kcm.Api.Selectors.SelectorParseException"/> when invalid.</summary>
    LabelSelector? Selector(T owner);

    /// <summary>The pod template's labels (fullyLabeledReplicas counts pods carrying all of them).</summary>
    IReadOnlyDictionary<string, string>? TemplateLabels(T owner);

    PodTemplateSpec Template(T owner);

    ReplicaStatus Status(T owner);

    /// <summary>A copy of <paramref name="owner"/> with <paramref name="status"/>; other status fields and unchanged conditions are kept as they were.</summary>
    T WithStatus(T owner, ReplicaStatus status);
}

public sealed class ReplicaSetKind : IReplicaSetKind<ReplicaSet>
{
    public static ReplicaSetKind Instance { get; } = new();

    public string ControllerName => "replicaset";

    public string QueueName => "replicaset";

    public string Component => "replicaset-controller";

    public int Replicas(ReplicaSet owner) => owner.Spec?.Replicas ?? 1;

    public int MinReadySeconds(ReplicaSet owner) => owner.Spec?.MinReadySeconds ?? 0;

    public LabelSelector? Selector(ReplicaSet owner) => LabelSelector.FromApi(owner.Spec?.Selector);

    public IReadOnlyDictionary<string, string>? TemplateLabels(ReplicaSet owner) => owner.Spec?.Template?.Metadata?.Labels;

    public PodTemplateSpec Template(ReplicaSet owner) => owner.Spec?.Template ?? new PodTemplateSpec();

    public ReplicaStatus Status(ReplicaSet owner)
    {
        var s = owner.Status;
        return ReplicaStatusFields.Read(s?.Replicas, s?.FullyLabeledReplicas, s?.ReadyReplicas, s?.AvailableReplicas, s?.ObservedGeneration,
            s?.Conditions, View);
    }

    public ReplicaSet WithStatus(ReplicaSet owner, ReplicaStatus status)
    {
        var copy = KubeObjects.Clone(owner);
        var target = copy.Status ??= new ReplicaSetStatus();
        (target.Replicas, target.FullyLabeledReplicas, target.ReadyReplicas, target.AvailableReplicas, target.ObservedGeneration) =
            (status.Replicas, status.FullyLabeledReplicas, status.ReadyReplicas, status.AvailableReplicas, status.ObservedGeneration);
        target.Conditions = ReplicaStatusFields.MergeConditions(target.Conditions, status.Conditions,
            View,
            c => new ReplicaSetCondition { Type = c.Type, Status = c.Status, LastTransitionTime = c.LastTransitionTime, Reason = c.Reason, Message = c.Message });
        return copy;
    }

    private static ReplicaCondition View(ReplicaSetCondition c) => new(c.Type ?? "", c.Status ?? "", c.LastTransitionTime, c.Reason, c.Message);
}

/// <summary>ReplicationControllers: a map selector (empty selects nothing for event routing, as upstream) and an optional template.</summary>
public sealed class ReplicationControllerKind : IReplicaSetKind<ReplicationController>
{
    public static ReplicationControllerKind Instance { get; } = new();

    public string ControllerName => "replicationcontroller";

    public string QueueName => "replicationmanager";

    public string Component => "replication-controller";

    public int Replicas(ReplicationController owner) => owner.Spec?.Replicas ?? 1;

    public int MinReadySeconds(ReplicationController owner) => owner.Spec?.MinReadySeconds ?? 0;

    public LabelSelector? Selector(ReplicationController owner)
        => owner.Spec?.Selector is { } selector ? LabelSelector.FromSet(selector) : null;

    public IReadOnlyDictionary<string, string>? TemplateLabels(ReplicationController owner) => owner.Spec?.Template?.Metadata?.Labels;

    public PodTemplateSpec Template(ReplicationController owner) => owner.Spec?.Template ?? new PodTemplateSpec();

    public ReplicaStatus Status(ReplicationController owner)
    {
        var s = owner.Status;
        return ReplicaStatusFields.Read(s?.Replicas, s?.FullyLabeledReplicas, s?.ReadyReplicas, s?.AvailableReplicas, s?.ObservedGeneration,
            s?.Conditions, View);
    }

    public ReplicationController WithStatus(ReplicationController owner, ReplicaStatus status)
    {
        var copy = KubeObjects.Clone(owner);
        var target = copy.Status ??= new ReplicationControllerStatus();
        (target.Replicas, target.FullyLabeledReplicas, target.ReadyReplicas, target.AvailableReplicas, target.ObservedGeneration) =
            (status.Replicas, status.FullyLabeledReplicas, status.ReadyReplicas, status.AvailableReplicas, status.ObservedGeneration);
        target.Conditions = ReplicaStatusFields.MergeConditions(target.Conditions, status.Conditions,
            View,
            c => new ReplicationControllerCondition { Type = c.Type, Status = c.Status, LastTransitionTime = c.LastTransitionTime, Reason = c.Reason, Message = c.Message });
        return copy;
    }

    private static ReplicaCondition View(ReplicationControllerCondition c) => new(c.Type ?? "", c.Status ?? "", c.LastTransitionTime, c.Reason, c.Message);
}

/// <summary>The status conversions both kinds share.</summary>
internal static class ReplicaStatusFields
{
    public static ReplicaStatus Read<TCondition>(int? replicas, int? fullyLabeled, int? ready, int? available, long? observedGeneration,
        IEnumerable<TCondition>? conditions, Func<TCondition, ReplicaCondition> view)
        => new(replicas ?? 0, fullyLabeled ?? 0, ready ?? 0, available ?? 0, observedGeneration ?? 0, (conditions ?? []).Select(view).ToList());

    /// <summary>The wanted conditions, reusing each existing condition object that is unchanged (so its unknown fields survive).</summary>
    public static List<TCondition>? MergeConditions<TCondition>(List<TCondition>? existing, IReadOnlyList<ReplicaCondition> wanted,
        Func<TCondition, ReplicaCondition> view, Func<ReplicaCondition, TCondition> create)
        where TCondition : class
        => wanted.Count == 0 ? null : wanted.Select(w => existing?.FirstOrDefault(e => view(e) == w) ?? create(w)).ToList();
}

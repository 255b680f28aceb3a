namespace Kcm.Controllers.Tests.Workloads;

/// <summary>
/// The classes that run deployment, replicaset or replication controllers run one after another. Those controllers act
/// on every namespace, so on a shared real cluster two such classes at once are two controller managers without leader
/// election: each creates and deletes pods by its own expectations (a 4-replica rollout then saw 14-18 pod creates and
/// 17-19 deletes instead of 8 and 4), and one may delete a Ready pod the other counted on. Upstream's guarantees, such
/// as the rollout bounds, hold for one active controller manager.
/// </summary>
[CollectionDefinition(Name)]
public sealed class WorkloadControllersCollection
{
    public const string Name = "workload controllers";
}

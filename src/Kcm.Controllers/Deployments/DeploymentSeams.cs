using Kcm.Api.Apps.V1;
using Kcm.Client;
using DeploymentObject = Kcm.Api.Apps.V1.Deployment;

namespace Kcm.Controllers.Deployments;

/// <summary>The Deployment controller's writes to ReplicaSets (a seam for unit tests, as IPodControl is for the ReplicaSet controller).</summary>
public interface IReplicaSetControl
{
    Task<ReplicaSet> CreateAsync(string? @namespace, ReplicaSet rs, CancellationToken cancellationToken);

    Task<ReplicaSet> UpdateAsync(ReplicaSet rs, CancellationToken cancellationToken);

    Task DeleteAsync(string? @namespace, string name, CancellationToken cancellationToken);

    /// <summary>A strategic merge patch (adoption and release of controller references).</summary>
    Task PatchAsync(string? @namespace, string name, string patch, CancellationToken cancellationToken);
}

/// <summary>The Deployment controller's reads and writes of Deployments themselves: a fresh read, spec and status writes.</summary>
public interface IDeploymentClient
{
    /// <summary>A fresh (uncached) read.</summary>
    Task<DeploymentObject> GetAsync(string? @namespace, string name, CancellationToken cancellationToken);

    /// <summary>Writes the spec (clearing the deprecated rollbackTo).</summary>
    Task<DeploymentObject> UpdateAsync(DeploymentObject d, CancellationToken cancellationToken);

    /// <summary>Writes deployments/status.</summary>
    Task<DeploymentObject> UpdateStatusAsync(DeploymentObject d, CancellationToken cancellationToken);
}

public sealed class ApiReplicaSetControl(KubeApiClient client) : IReplicaSetControl
{
    public Task<ReplicaSet> CreateAsync(string? @namespace, ReplicaSet rs, CancellationToken cancellationToken)
        => client.CreateAsync(rs, @namespace, cancellationToken: cancellationToken);

    public Task<ReplicaSet> UpdateAsync(ReplicaSet rs, CancellationToken cancellationToken)
        => client.UpdateAsync(rs, cancellationToken: cancellationToken);

    public Task DeleteAsync(string? @namespace, string name, CancellationToken cancellationToken)
        => client.DeleteAsync<ReplicaSet>(@namespace, name, cancellationToken: cancellationToken);

    public Task PatchAsync(string? @namespace, string name, string patch, CancellationToken cancellationToken)
        => client.PatchAsync<ReplicaSet>(@namespace, name, PatchType.StrategicMerge, patch, cancellationToken: cancellationToken);
}

public sealed class ApiDeploymentClient(KubeApiClient client) : IDeploymentClient
{
    public Task<DeploymentObject> GetAsync(string? @namespace, string name, CancellationToken cancellationToken)
        => client.GetAsync<DeploymentObject>(@namespace, name, cancellationToken);

    public Task<DeploymentObject> UpdateAsync(DeploymentObject d, CancellationToken cancellationToken)
        => client.UpdateAsync(d, cancellationToken: cancellationToken);

    public Task<DeploymentObject> UpdateStatusAsync(DeploymentObject d, CancellationToken cancellationToken)
        => client.UpdateStatusAsync(d, cancellationToken: cancellationToken);
}

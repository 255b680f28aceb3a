using Kcm.Api.Apps.V1;
using Kcm.Api.Core.V1;
using Kcm.Client;

namespace Kcm.Controllers.StatefulSets;

/// <summary>The StatefulSet controller's writes (and its one fresh read); a seam for unit tests. Reads otherwise come from the caches.</summary>
public interface IStatefulSetApi
{
    /// <summary>A fresh (uncached) read, for the adoption guard.</summary>
    Task<StatefulSet> GetSetAsync(string? @namespace, string name, CancellationToken cancellationToken);

    Task<StatefulSet> UpdateSetStatusAsync(StatefulSet set, CancellationToken cancellationToken);

    Task<Pod> CreatePodAsync(Pod pod, CancellationToken cancellationToken);

    Task<Pod> UpdatePodAsync(Pod pod, CancellationToken cancellationToken);

    Task DeletePodAsync(string? @namespace, string name, CancellationToken cancellationToken);

    /// <summary>A strategic merge patch (adoption and release of controller references).</summary>
    Task PatchPodAsync(string? @namespace, string name, string patch, CancellationToken cancellationToken);

    Task<PersistentVolumeClaim> CreateClaimAsync(PersistentVolumeClaim claim, CancellationToken cancellationToken);

    Task<PersistentVolumeClaim> UpdateClaimAsync(PersistentVolumeClaim claim, CancellationToken cancellationToken);
}

public sealed class ApiStatefulSetApi(KubeApiClient client) : IStatefulSetApi
{
    public Task<StatefulSet> GetSetAsync(string? @namespace, string name, CancellationToken cancellationToken)
        => client.GetAsync<StatefulSet>(@namespace, name, cancellationToken);

    public Task<StatefulSet> UpdateSetStatusAsync(StatefulSet set, CancellationToken cancellationToken)
        => client.UpdateStatusAsync(set, cancellationToken: cancellationToken);

    public Task<Pod> CreatePodAsync(Pod pod, CancellationToken cancellationToken)
        => client.CreateAsync(pod, pod.Metadata?.Namespace, cancellationToken: cancellationToken);

    public Task<Pod> UpdatePodAsync(Pod pod, CancellationToken cancellationToken)
        => client.UpdateAsync(pod, cancellationToken: cancellationToken);

    public Task DeletePodAsync(string? @namespace, string name, CancellationToken cancellationToken)
        => client.DeleteAsync<Pod>(@namespace, name, cancellationToken: cancellationToken);

    public Task PatchPodAsync(string? @namespace, string name, string patch, CancellationToken cancellationToken)
        => client.PatchAsync<Pod>(@namespace, name, PatchType.StrategicMerge, patch, cancellationToken: cancellationToken);

    public Task<PersistentVolumeClaim> CreateClaimAsync(PersistentVolumeClaim claim, CancellationToken cancellationToken)
        => client.CreateAsync(claim, claim.Metadata?.Namespace, cancellationToken: cancellationToken);

    public Task<PersistentVolumeClaim> UpdateClaimAsync(PersistentVolumeClaim claim, CancellationToken cancellationToken)
        => client.UpdateAsync(claim, cancellationToken: cancellationToken);
}

using Kcm.Api.Batch.V1;
using Kcm.Api.Meta.V1;
using Kcm.Client;

namespace Kcm.Controllers.CronJobs;

/// <summary>The CronJob reads and writes the controller makes (upstream cjControlInterface).</summary>
public interface ICronJobControl
{
    /// <summary>A fresh (uncached) read.</summary>
    Task<CronJob> GetAsync(string @namespace, string name, CancellationToken cancellationToken);

    Task<CronJob> UpdateStatusAsync(CronJob cronJob, CancellationToken cancellationToken);
}

/// <summary>The Job reads and writes the controller makes (upstream jobControlInterface).</summary>
public interface IJobControl
{
    /// <summary>A fresh (uncached) read.</summary>
    Task<Job> GetAsync(string @namespace, string name, CancellationToken cancellationToken);

    Task<Job> CreateAsync(string @namespace, Job job, CancellationToken cancellationToken);

    /// <summary>Deletes with background propagation: the Job goes at once, its pods after it.</summary>
    Task DeleteAsync(string @namespace, string name, CancellationToken cancellationToken);
}

public sealed class ApiCronJobControl(KubeApiClient client) : ICronJobControl
{
    public Task<CronJob> GetAsync(string @namespace, string name, CancellationToken cancellationToken)
        => client.GetAsync<CronJob>(@namespace, name, cancellationToken);

    public Task<CronJob> UpdateStatusAsync(CronJob cronJob, CancellationToken cancellationToken)
        => client.UpdateStatusAsync(cronJob, cancellationToken: cancellationToken);
}

public sealed class ApiJobControl(KubeApiClient client) : IJobControl
{
    public Task<Job> GetAsync(string @namespace, string name, CancellationToken cancellationToken)
        => client.GetAsync<Job>(@namespace, name, cancellationToken);

    public Task<Job> CreateAsync(string @namespace, Job job, CancellationToken cancellationToken)
        => client.CreateAsync(job, @namespace, cancellationToken: cancellationToken);

    public Task DeleteAsync(string @namespace, string name, CancellationToken cancellationToken)
        => client.DeleteAsync<Job>(@namespace, name, new DeleteOptions { PropagationPolicy = "Background" }, cancellationToken);
}

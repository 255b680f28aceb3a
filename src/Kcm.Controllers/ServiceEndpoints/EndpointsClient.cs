using Kcm.Api.Core.V1;
using Kcm.Client;

namespace Kcm.Controllers.ServiceEndpoints;

/// <summary>The endpoint controller's writes (a seam for unit tests).</summary>
public interface IEndpointsClient
{
    Task CreateAsync(string @namespace, Endpoints endpoints, CancellationToken cancellationToken);

    Task UpdateAsync(Endpoints endpoints, CancellationToken cancellationToken);

    /// <summary>Throws <see cref="Kcm.Client.Errors.NotFoundException"/> when there is nothing to delete.</summary>
    Task DeleteAsync(string @namespace, string name, CancellationToken cancellationToken);
}

public sealed class ApiEndpointsClient(KubeApiClient client) : IEndpointsClient
{
    public Task CreateAsync(string @namespace, Endpoints endpoints, CancellationToken cancellationToken)
        => client.CreateAsync(endpoints, @namespace, cancellationToken: cancellationToken);

    public Task UpdateAsync(Endpoints endpoints, CancellationToken cancellationToken)
        => client.UpdateAsync(endpoints, cancellationToken: cancellationToken);

    public Task DeleteAsync(string @namespace, string name, CancellationToken cancellationToken)
        => client.DeleteAsync<Endpoints>(@namespace, name, cancellationToken: cancellationToken);
}

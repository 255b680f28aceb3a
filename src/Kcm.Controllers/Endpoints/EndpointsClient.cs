using Kcm.Client;
using EndpointsObject = Kcm.Api.Core.V1.Endpoints;

namespace Kcm.Controllers.Endpoints;

/// <summary>The endpoint controller's writes (a seam for unit tests).</summary>
public interface IEndpointsClient
{
    Task CreateAsync(string @namespace, EndpointsObject endpoints, CancellationToken cancellationToken);

    Task UpdateAsync(EndpointsObject endpoints, CancellationToken cancellationToken);

    /// <summary>Throws <see cref="Kcm.Client.Errors.NotFoundException"/> when there is nothing to delete.</summary>
    Task DeleteAsync(string @namespace, string name, CancellationToken cancellationToken);
}

public sealed class ApiEndpointsClient(KubeApiClient client) : IEndpointsClient
{
    public Task CreateAsync(string @namespace, EndpointsObject endpoints, CancellationToken cancellationToken)
        => client.CreateAsync(endpoints, @namespace, cancellationToken: cancellationToken);

    public Task UpdateAsync(EndpointsObject endpoints, CancellationToken cancellationToken)
        => client.UpdateAsync(endpoints, cancellationToken: cancellationToken);

    public Task DeleteAsync(string @namespace, string name, CancellationToken cancellationToken)
        => client.DeleteAsync<EndpointsObject>(@namespace, name, cancellationToken: cancellationToken);
}

using Kcm.Api.Discovery.V1;
using Kcm.Client;

namespace Kcm.Controllers.EndpointSlices;

/// <summary>Writes EndpointSlices (a seam for unit tests); shared by the endpointslice and mirroring controllers.</summary>
public interface IEndpointSliceClient
{
    Task<EndpointSlice> CreateAsync(EndpointSlice slice, CancellationToken cancellationToken);

    Task<EndpointSlice> UpdateAsync(EndpointSlice slice, CancellationToken cancellationToken);

    Task DeleteAsync(string @namespace, string name, CancellationToken cancellationToken);
}

public sealed class ApiEndpointSliceClient(KubeApiClient client) : IEndpointSliceClient
{
    public Task<EndpointSlice> CreateAsync(EndpointSlice slice, CancellationToken cancellationToken)
        => client.CreateAsync(slice, slice.Metadata?.Namespace, cancellationToken: cancellationToken);

    public Task<EndpointSlice> UpdateAsync(EndpointSlice slice, CancellationToken cancellationToken)
        => client.UpdateAsync(slice, cancellationToken: cancellationToken);

    public Task DeleteAsync(string @namespace, string name, CancellationToken cancellationToken)
        => client.DeleteAsync<EndpointSlice>(@namespace, name, cancellationToken: cancellationToken);
}

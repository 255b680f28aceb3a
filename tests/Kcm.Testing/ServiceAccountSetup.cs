using Kcm.Api.Core.V1;
using Kcm.Api.Meta.V1;
using Kcm.Client;
using Kcm.Client.Errors;

namespace Kcm.Testing;

/// <summary>
/// Pods need their ServiceAccount to exist (ServiceAccount admission answers 403 otherwise). In a full cluster the
/// serviceaccount controller creates "default" in every namespace; tests that run without it create it themselves.
/// </summary>
public static class ServiceAccountSetup
{
    public static async Task EnsureDefaultAsync(KubeApiClient client, string @namespace, CancellationToken cancellationToken = default)
    {
        try
        {
            await client.CreateAsync(new ServiceAccount { Metadata = new ObjectMeta { Name = "default" } }, @namespace, cancellationToken: cancellationToken);
        }
        catch (AlreadyExistsException)
        {
        }
    }

    /// <summary>Creates a namespace and its "default" ServiceAccount, as a cluster with the serviceaccount controller would.</summary>
    public static async Task CreateNamespaceAsync(KubeApiClient client, string name, CancellationToken cancellationToken = default)
    {
        await client.CreateAsync(new Namespace { Metadata = new ObjectMeta { Name = name } }, cancellationToken: cancellationToken);
        await EnsureDefaultAsync(client, name, cancellationToken);
    }
}

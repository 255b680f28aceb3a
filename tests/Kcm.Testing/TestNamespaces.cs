using Kcm.Api.Core.V1;
using Kcm.Api.Meta.V1;
using Kcm.Client;
using Kcm.Client.Errors;

namespace Kcm.Testing;

/// <summary>Fresh namespaces, so tests stay independent on a cluster shared by the whole suite.</summary>
public static class TestNamespaces
{
    /// <summary>
    /// A new namespace (generated name) with its `default` ServiceAccount. A real apiserver's ServiceAccount admission
    /// refuses pods until that account exists, and no serviceaccount controller runs beside the tests to create it.
    /// </summary>
    public static async Task<string> CreateAsync(KubeApiClient client, string prefix, CancellationToken cancellationToken = default)
    {
        var created = await client.CreateAsync(new Namespace { Metadata = new ObjectMeta { GenerateName = prefix.EndsWith('-') ? prefix : prefix + "-" } },
            cancellationToken: cancellationToken);
        var name = created.Metadata!.Name!;
        await EnsureDefaultServiceAccountAsync(client, name, cancellationToken);
        return name;
    }

    /// <summary>The namespace with this exact name, and its `default` ServiceAccount.</summary>
    public static async Task CreateNamedAsync(KubeApiClient client, string name, CancellationToken cancellationToken = default)
    {
        await client.CreateAsync(new Namespace { Metadata = new ObjectMeta { Name = name } }, cancellationToken: cancellationToken);
        await EnsureDefaultServiceAccountAsync(client, name, cancellationToken);
    }

    /// <summary>Creates the namespace's `default` ServiceAccount unless a controller already did.</summary>
    public static async Task EnsureDefaultServiceAccountAsync(KubeApiClient client, string ns, CancellationToken cancellationToken = default)
    {
        try
        {
            await client.CreateAsync(new ServiceAccount { Metadata = new ObjectMeta { Name = "default", Namespace = ns } }, ns, cancellationToken: cancellationToken);
        }
        catch (AlreadyExistsException)
        {
        }
    }
}

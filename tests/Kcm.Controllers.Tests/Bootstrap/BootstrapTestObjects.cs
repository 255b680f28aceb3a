using System.Text;
using Kcm.Api.Core.V1;
using Kcm.Api.Meta.V1;
using Kcm.Client;
using Kcm.Client.Errors;
using Kcm.Controllers.Bootstrap;

namespace Kcm.Controllers.Tests.Bootstrap;

internal static class BootstrapTestObjects
{
    public static Secret Token(string ns, string id, string secret, DateTimeOffset? expires = null, bool signing = true)
    {
        var data = new Dictionary<string, byte[]>
        {
            [BootstrapTokens.TokenIdKey] = Encoding.UTF8.GetBytes(id),
            [BootstrapTokens.TokenSecretKey] = Encoding.UTF8.GetBytes(secret),
        };
        if (signing) data[BootstrapTokens.UsageSigningKey] = "true"u8.ToArray();
        if (expires is { } at) data[BootstrapTokens.ExpirationKey] = Encoding.UTF8.GetBytes(at.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'"));
        return new Secret
        {
            Metadata = new ObjectMeta { Name = BootstrapTokens.SecretNamePrefix + id, Namespace = ns },
            Type = BootstrapTokens.SecretType,
            Data = data,
        };
    }

    /// <summary>A fresh namespace, so tests neither see nor touch a real cluster's kube-system tokens.</summary>
    public static async Task<string> CreateNamespaceAsync(KubeApiClient client, string prefix)
    {
        var ns = await client.CreateAsync(new Namespace { Metadata = new ObjectMeta { GenerateName = prefix } });
        return ns.Metadata!.Name!;
    }

    public static async Task<bool> ExistsAsync<T>(KubeApiClient client, string ns, string name)
        where T : class, Kcm.Api.IResource
    {
        try
        {
            await client.GetAsync<T>(ns, name);
            return true;
        }
        catch (NotFoundException)
        {
            return false;
        }
    }
}

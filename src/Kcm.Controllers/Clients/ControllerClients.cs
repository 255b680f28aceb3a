using System.Collections.Concurrent;
using Kcm.Client;
using Kcm.Client.Config;

namespace Kcm.Controllers.Clients;

/// <summary>Hands each controller the API client it must use, by the ServiceAccount name upstream gives that controller.</summary>
public interface IControllerClients
{
    /// <summary>
    /// The client for the controller whose ServiceAccount is <paramref name="serviceAccountName"/> (e.g.
    /// "replicaset-controller"), with --kube-api-qps and --kube-api-burst multiplied by the scales, as upstream raises
    /// them for two controllers: the garbage collector (QPS x2, one deletion taking two requests) and the namespace
    /// controller (QPS x20, burst x100, it deletes everything in a namespace). One client per name and budget.
    /// </summary>
    KubeApiClient For(string serviceAccountName, float qpsScale = 1, int burstScale = 1);

    /// <summary>
    /// A client with the controller manager's own credentials even under --use-service-account-credentials, for the
    /// one controller upstream never gives a ServiceAccount: "tokens-controller", which mints those accounts' tokens.
    /// </summary>
    KubeApiClient RootFor(string name);
}

/// <summary>One client for every controller; for tests and embedding, where per-controller budgets do not matter.</summary>
public sealed class SharedClients(KubeApiClient client) : IControllerClients
{
    /// <summary>The one client, whatever budget is asked for.</summary>
    public KubeApiClient For(string serviceAccountName, float qpsScale = 1, int burstScale = 1) => client;

    public KubeApiClient RootFor(string name) => client;
}

/// <summary>
/// Upstream's SimpleControllerClientBuilder: each controller gets its own client from the controller manager's
/// kubeconfig credentials, with its own QPS budget and "/&lt;name&gt;" appended to the user agent.
/// </summary>
public sealed class KubeconfigControllerClients(ClientConfig rootConfig, KubeClientOptions options) : IControllerClients, IDisposable
{
    private readonly ConcurrentDictionary<(string Name, float QpsScale, int BurstScale), KubeApiClient> _clients = new();

    public KubeApiClient For(string serviceAccountName, float qpsScale = 1, int burstScale = 1)
        => _clients.GetOrAdd((serviceAccountName, qpsScale, burstScale), key => new KubeApiClient(
            WithBudget(rootConfig, key.QpsScale, key.BurstScale) with { UserAgent = UserAgentFor(rootConfig, key.Name) }, options));

    public KubeApiClient RootFor(string name) => For(name);

    internal static ClientConfig WithBudget(ClientConfig config, float qpsScale, int burstScale)
        => config with { Qps = config.Qps * qpsScale, Burst = config.Burst * burstScale };

    internal static string UserAgentFor(ClientConfig config, string suffix) => (config.UserAgent ?? Kcm.Client.Transport.UserAgent.Default) + "/" + suffix;

    public void Dispose()
    {
        foreach (var client in _clients.Values) client.Dispose();
    }
}

/// <summary>
/// --use-service-account-credentials, as upstream's DynamicControllerClientBuilder: each controller talks to the API
/// server as ServiceAccount kube-system/&lt;name&gt; (created when missing), with a TokenRequest token renewed before it
/// expires, and none of the controller manager's own credentials. RBAC then limits each controller to its
/// system:controller:&lt;name&gt; role.
/// </summary>
public sealed class ServiceAccountControllerClients : IControllerClients, IDisposable
{
    public const string Namespace = "kube-system";

    private readonly ClientConfig _anonymousConfig;
    private readonly KubeClientOptions _options;
    private readonly KubeApiClient _rootClient;
    private readonly KubeconfigControllerClients _rootClients;
    private readonly ConcurrentDictionary<(string Name, float QpsScale, int BurstScale), KubeApiClient> _clients = new();

    /// <param name="rootConfig">The controller manager's kubeconfig; its credentials are stripped for controller clients.</param>
    /// <param name="rootClient">Creates the ServiceAccounts and their tokens (upstream's "tokens-controller" root client).</param>
    public ServiceAccountControllerClients(ClientConfig rootConfig, KubeClientOptions options, KubeApiClient rootClient)
    {
        _anonymousConfig = rootConfig with { ClientCertificate = null, BearerToken = null, BearerTokenFile = null, Username = null, Password = null };
        _options = options;
        _rootClient = rootClient;
        _rootClients = new KubeconfigControllerClients(rootConfig, options);
    }

    public KubeApiClient RootFor(string name) => _rootClients.For(name);

    public KubeApiClient For(string serviceAccountName, float qpsScale = 1, int burstScale = 1)
        => _clients.GetOrAdd((serviceAccountName, qpsScale, burstScale), key =>
        {
            var tokens = new ServiceAccountTokenProvider(_rootClient, Namespace, key.Name, _options.TimeProvider);
            var config = KubeconfigControllerClients.WithBudget(_anonymousConfig, key.QpsScale, key.BurstScale) with
            {
                UserAgent = KubeconfigControllerClients.UserAgentFor(_anonymousConfig, $"system:serviceaccount:{Namespace}:{key.Name}"),
            };
            return new KubeApiClient(config, _options with { TokenProvider = tokens });
        });

    public void Dispose()
    {
        foreach (var client in _clients.Values) client.Dispose();
        _rootClients.Dispose();
    }
}

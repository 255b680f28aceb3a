using Kcm.Api.Core.V1;
using Kcm.Api.Meta.V1;
using Kcm.Client;
using Kcm.Client.Errors;
using Kcm.Controllers.Common;
using Kcm.Runtime.Controllers;
using Kcm.Runtime.Informers;
using Microsoft.Extensions.Logging;

namespace Kcm.Controllers.ServiceAccounts;

public sealed record ServiceAccountsControllerOptions
{
    /// <summary>The service accounts every active namespace gets (upstream: just "default").</summary>
    public IReadOnlyList<string> ServiceAccounts { get; init; } = ["default"];

    public int Workers { get; init; } = 1;
}

/// <summary>
/// Upstream's serviceaccount controller: makes sure each active namespace has the "default" ServiceAccount, and
/// recreates it when it is deleted. Keys are namespace names.
/// </summary>
public sealed class ServiceAccountsController
{
    public const string ControllerName = "serviceaccount";
    public const string ClientName = "service-account-controller";

    private readonly KubeApiClient _client;
    private readonly ServiceAccountsControllerOptions _options;
    private readonly SharedInformer<ServiceAccount> _serviceAccounts;
    private readonly SharedInformer<Namespace> _namespaces;
    private readonly ControllerWorkers<ObjectKey> _workers;

    public ServiceAccountsController(ControllerContext context, ServiceAccountsControllerOptions? options = null)
    {
        _options = options ?? new ServiceAccountsControllerOptions();
        _client = context.Clients.For(ClientName);
        var logger = context.Loggers.CreateLogger(ControllerName);
        var queue = context.NewQueue("serviceaccount");
        _serviceAccounts = context.Informers.InformerFor<ServiceAccount>();
        _serviceAccounts.AddEventHandler(new ResourceEventHandler<ServiceAccount>
        {
            Deleted = (sa, _) => queue.Add(new ObjectKey(null, sa.Metadata?.Namespace ?? "")),
        });
        _namespaces = context.Informers.InformerFor<Namespace>();
        _namespaces.AddEventHandler(new ResourceEventHandler<Namespace>
        {
            Added = (ns, _) => queue.Add(new ObjectKey(null, ns.Metadata?.Name ?? "")),
            Updated = (_, ns) => queue.Add(new ObjectKey(null, ns.Metadata?.Name ?? "")),
        });
        var policy = RetryPolicy.HandleError((key, error) => $"{key} failed with : {error.Message}");
        _workers = new ControllerWorkers<ObjectKey>(ControllerName, queue, SyncNamespaceAsync, logger, policy, [_serviceAccounts, _namespaces])
        {
            Description = "service account controller",
            CacheSyncName = "service account",
        };
    }

    public Task RunAsync(CancellationToken cancellationToken) => _workers.RunAsync(_options.Workers, cancellationToken);

    internal async Task<ReconcileResult> SyncNamespaceAsync(ObjectKey nsKey, CancellationToken cancellationToken)
    {
        var key = nsKey.Name;
        var ns = _namespaces.Cache.Get(nsKey);
        // Nothing is created in a namespace that is gone or terminating.
        if (ns is null || ns.Status?.Phase != "Active") return ReconcileResult.Done;

        var failures = new List<Exception>();
        foreach (var name in _options.ServiceAccounts)
        {
            if (_serviceAccounts.Cache.Get(new ObjectKey(key, name)) is not null) continue;
            try
            {
                await _client.CreateAsync(new ServiceAccount { Metadata = new ObjectMeta { Name = name, Namespace = key } }, key, cancellationToken: cancellationToken);
            }
            catch (AlreadyExistsException)
            {
            }
            catch (KubeApiException e) when (ApiErrors.IsNamespaceTerminating(e))
            {
            }
            catch (KubeApiException e)
            {
                failures.Add(e);
            }
        }
        return failures.Count switch
        {
            0 => ReconcileResult.Done,
            1 => throw failures[0],
            _ => throw new AggregateException(failures),
        };
    }
}

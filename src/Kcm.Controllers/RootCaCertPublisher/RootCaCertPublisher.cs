using System.Text;
using Kcm.Api;
using Kcm.Api.Core.V1;
using Kcm.Api.Meta.V1;
using Kcm.Client;
using Kcm.Client.Errors;
using Kcm.Controllers.Common;
using Kcm.Runtime.Controllers;
using Kcm.Runtime.Informers;
using Microsoft.Extensions.Logging;

namespace Kcm.Controllers.RootCaCertPublisher;

/// <summary>
/// Upstream's root-ca-cert-publisher: a "kube-root-ca.crt" ConfigMap with the root CA under "ca.crt" (and the
/// kubernetes.io/description annotation) in every namespace, put back when it is deleted or its data changes.
/// Keys are namespace names.
/// </summary>
public sealed class RootCaCertPublisher
{
    public const string ControllerName = "root-ca-cert-publisher";
    public const string ConfigMapName = "kube-root-ca.crt";
    public const string DataKey = "ca.crt";
    public const string DescriptionAnnotation = "kubernetes.io/description";
    public const string Description = "Contains a CA bundle that can be used to verify the kube-apiserver when using internal endpoints such as the internal service IP or kubernetes.default.svc. " +
        "No other usage is guaranteed across distributions of Kubernetes clusters.";

    private readonly KubeApiClient _client;
    private readonly string _rootCa;
    private readonly SharedInformer<ConfigMap> _configMaps;
    private readonly SharedInformer<Namespace> _namespaces;
    private readonly ControllerWorkers<ObjectKey> _workers;

    public RootCaCertPublisher(ControllerContext context, byte[] rootCa)
    {
        _client = context.Clients.For(ControllerName);
        _rootCa = Encoding.UTF8.GetString(rootCa);
        var logger = context.Loggers.CreateLogger(ControllerName);
        var queue = context.NewQueue("root_ca_cert_publisher");
        _configMaps = context.Informers.InformerFor<ConfigMap>();
        _configMaps.AddEventHandler(new ResourceEventHandler<ConfigMap>
        {
            Updated = (_, cm) => { if (cm.Metadata?.Name == ConfigMapName) queue.Add(new ObjectKey(null, cm.Metadata.Namespace ?? "")); },
            Deleted = (cm, _) => { if (cm.Metadata?.Name == ConfigMapName) queue.Add(new ObjectKey(null, cm.Metadata.Namespace ?? "")); },
        });
        _namespaces = context.Informers.InformerFor<Namespace>();
        _namespaces.AddEventHandler(new ResourceEventHandler<Namespace>
        {
            Added = (ns, _) => queue.Add(new ObjectKey(null, ns.Metadata?.Name ?? "")),
            // A terminating namespace is left alone: creates in it are refused anyway.
            Updated = (_, ns) => { if (ns.Status?.Phase == "Active") queue.Add(new ObjectKey(null, ns.Metadata?.Name ?? "")); },
        });
        var policy = RetryPolicy.HandleError((key, error) => $"syncing \"{key}\" failed: {error.Message}");
        _workers = new ControllerWorkers<ObjectKey>(ControllerName, queue, SyncNamespaceAsync, logger, policy, [_configMaps, _namespaces])
        {
            Description = "root CA certificate configmap publisher",
            CacheSyncName = "crt configmap",
        };
    }

    public Task RunAsync(CancellationToken cancellationToken) => _workers.RunAsync(1, cancellationToken);

    internal async Task<ReconcileResult> SyncNamespaceAsync(ObjectKey key, CancellationToken cancellationToken)
    {
        var ns = key.Name;
        if (ns.Length == 0) return ReconcileResult.Done;
        var cm = _configMaps.Cache.Get(new ObjectKey(ns, ConfigMapName));
        if (cm is null)
        {
            try
            {
                await _client.CreateAsync(new ConfigMap
                {
                    Metadata = new ObjectMeta { Name = ConfigMapName, Namespace = ns, Annotations = new() { [DescriptionAnnotation] = Description } },
                    Data = new() { [DataKey] = _rootCa },
                }, ns, cancellationToken: cancellationToken);
            }
            catch (NotFoundException)
            {
                // The namespace is gone.
            }
            catch (KubeApiException e) when (ApiErrors.IsNamespaceTerminating(e))
            {
            }
            return ReconcileResult.Done;
        }

        var dataMatches = cm.Data is { Count: 1 } data && data.TryGetValue(DataKey, out var value) && value == _rootCa;
        var described = cm.Metadata?.Annotations?.GetValueOrDefault(DescriptionAnnotation) is { Length: > 0 };
        if (dataMatches && described) return ReconcileResult.Done;

        var updated = KubeJson.Deserialize<ConfigMap>(KubeJson.Serialize(cm))!;
        updated.Data = new() { [DataKey] = _rootCa };
        var metadata = updated.Metadata ??= new ObjectMeta();
        (metadata.Annotations ??= [])[DescriptionAnnotation] = Description;
        await _client.UpdateAsync(updated, cancellationToken: cancellationToken);
        return ReconcileResult.Done;
    }
}

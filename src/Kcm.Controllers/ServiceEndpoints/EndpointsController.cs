using System.Net;
using System.Net.Sockets;
using Kcm.Api.Core.V1;
using Kcm.Api.Meta.V1;
using Kcm.Client.Errors;
using Kcm.Controllers.Common;
using Kcm.Runtime.Controllers;
using Kcm.Runtime.Events;
using Kcm.Runtime.Informers;
using Kcm.Runtime.Queues;
using Microsoft.Extensions.Logging;

namespace Kcm.Controllers.ServiceEndpoints;

public sealed record EndpointsControllerOptions
{
    /// <summary>--concurrent-endpoint-syncs.</summary>
    public int Workers { get; init; } = 5;

    /// <summary>--endpoint-updates-batch-period: pod events wait this long before their Services sync.</summary>
    public TimeSpan UpdatesBatchPeriod { get; init; }
}

/// <summary>
/// Upstream's endpoint controller (pkg/controller/endpoint): one Endpoints object per Service with a selector, named
/// as the Service, listing the selected pods' addresses, ready or not, for each port. Keys are Service keys; a pod
/// event queues every Service selecting the pod (before and after a label change).
/// </summary>
public sealed class EndpointsController
{
    public const string ControllerName = "endpoint";
    public const string ServiceAccountName = "endpoint-controller";
    public const string QueueName = "endpoint";
    public const int MaxRetries = 15;

    public const string LastChangeTriggerTimeAnnotation = "endpoints.kubernetes.io/last-change-trigger-time";
    public const string OverCapacityAnnotation = "endpoints.kubernetes.io/over-capacity";
    public const string Truncated = "truncated";
    public const string HeadlessServiceLabel = "service.kubernetes.io/headless";
    public const string LeaderElectionAnnotation = "control-plane.alpha.kubernetes.io/leader";

    public static RetryPolicy RetryPolicy { get; } = RetryPolicy.DropAfter(MaxRetries, "service") with
    {
        LogFailure = (logger, key, error, dropping) =>
        {
            if (!dropping)
            {
                logger.LogDebug("Error syncing endpoints, retrying {Service} {Err}", key, error.Message);
                return;
            }
            logger.LogWarning("Dropping service \"{Key}\" out of the queue: {Err}", key, error.Message);
            logger.LogError("{Message}", error.Message); // utilruntime.HandleError(err)
        },
    };

    private readonly IObjectCache<Service> _services;
    private readonly IObjectCache<Pod> _pods;
    private readonly IObjectCache<Endpoints> _endpoints;
    private readonly IEndpointsClient _client;
    private readonly IEventRecorder _recorder;
    private readonly RateLimitingQueue<ObjectKey> _queue;
    private readonly ILogger _logger;
    private readonly TimeSpan _batchPeriod;
    private readonly IReadOnlyList<ISharedInformer> _informers;
    private readonly ServiceSelectorCache _selectors = new();
    private readonly EndpointTriggerTimeTracker _triggerTimes = new();

    public EndpointsController(ControllerContext context, EndpointsControllerOptions options)
        : this(context, options, context.Informers.InformerFor<Service>(), context.Informers.InformerFor<Pod>(), context.Informers.InformerFor<Endpoints>())
    {
    }

    private EndpointsController(ControllerContext context, EndpointsControllerOptions options, SharedInformer<Service> services, SharedInformer<Pod> pods, SharedInformer<Endpoints> endpoints)
        : this(
            services.Cache,
            pods.Cache,
            endpoints.Cache,
            new ApiEndpointsClient(context.Clients.For(ServiceAccountName)),
            context.Events.NewRecorder(ServiceAccountName),
            context.NewQueue(QueueName),
            context.Loggers.CreateLogger<EndpointsController>(),
            options.UpdatesBatchPeriod,
            [pods, services, endpoints])
    {
        services.AddEventHandler(new ResourceEventHandler<Service>
        {
            Added = (service, _) => OnServiceUpdated(service),
            Updated = (_, service) => OnServiceUpdated(service),
            Deleted = (service, _) => OnServiceDeleted(service),
        });
        pods.AddEventHandler(new ResourceEventHandler<Pod>
        {
            Added = (pod, _) => OnPodAdded(pod),
            Updated = OnPodUpdated,
            Deleted = (pod, _) => OnPodAdded(pod),
        });
        endpoints.AddEventHandler(new ResourceEventHandler<Endpoints>
        {
            Deleted = (ep, _) => _queue.Add(ObjectKey.Of(ep)),
        });
    }

    /// <summary>Builds the controller on caches without informers (unit tests fill the caches and call the handlers).</summary>
    internal EndpointsController(
        IObjectCache<Service> services,
        IObjectCache<Pod> pods,
        IObjectCache<Endpoints> endpoints,
        IEndpointsClient client,
        IEventRecorder recorder,
        RateLimitingQueue<ObjectKey> queue,
        ILogger logger,
        TimeSpan batchPeriod,
        IReadOnlyList<ISharedInformer>? informers = null)
    {
        _services = services;
        _pods = pods;
        _endpoints = endpoints;
        _client = client;
        _recorder = recorder;
        _queue = queue;
        _logger = logger;
        _batchPeriod = batchPeriod;
        _informers = informers ?? [];
        Workers = new ControllerWorkers<ObjectKey>(ControllerName, queue, SyncAsync, logger, RetryPolicy, _informers);
    }

    public ControllerWorkers<ObjectKey> Workers { get; }

    /// <summary>Once the caches are in, queues every Endpoints object so those of Services deleted while no controller ran go too; then runs the workers.</summary>
    public async Task RunAsync(int workers, CancellationToken cancellationToken)
    {
        _logger.LogInformation("Starting endpoint controller");
        try
        {
            _logger.LogInformation("Waiting for caches to sync for {Name}", "endpoint");
            if (!await CacheSync.WaitAsync(_informers, cancellationToken).ConfigureAwait(false))
            {
                return;
            }
            _logger.LogInformation("Caches are synced for {Name}", "endpoint");
            QueueLeftoverEndpoints();
            await Workers.RunAsync(workers, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            _logger.LogInformation("Shutting down endpoint controller");
        }
    }

    internal void QueueLeftoverEndpoints()
    {
        foreach (var ep in _endpoints.List())
        {
            // Leader election records kept on Endpoints have no Service; deleting them would force re-elections.
            if (ep.Metadata?.Annotations?.ContainsKey(LeaderElectionAnnotation) == true)
            {
                continue;
            }
            _queue.Add(ObjectKey.Of(ep));
        }
    }

    internal void OnServiceUpdated(Service service)
    {
        var key = ObjectKey.Of(service);
        _selectors.Update(key, service.Spec?.Selector);
        _queue.Add(key);
    }

    internal void OnServiceDeleted(Service service)
    {
        var key = ObjectKey.Of(service);
        _selectors.Delete(key);
        _queue.Add(key);
    }

    internal void OnPodAdded(Pod pod)
    {
        foreach (var key in _selectors.PodServiceMemberships(_services, pod))
        {
            _queue.AddAfter(key, _batchPeriod);
        }
    }

    internal void OnPodUpdated(Pod oldPod, Pod newPod)
    {
        foreach (var key in _selectors.ServicesToUpdateOnPodChange(_services, oldPod, newPod))
        {
            _queue.AddAfter(key, _batchPeriod);
        }
    }

    public async Task<ReconcileResult> SyncAsync(ObjectKey key, CancellationToken cancellationToken)
    {
        var ns = key.Namespace ?? "";
        if (_services.Get(key) is not { } service)
        {
            // The Service is gone: so are its Endpoints (those missed while no controller ran are found at start).
            try
            {
                await _client.DeleteAsync(ns, key.Name, cancellationToken).ConfigureAwait(false);
            }
            catch (NotFoundException)
            {
            }
            _triggerTimes.DeleteService(key);
            return ReconcileResult.Done;
        }

        // Services without a selector get their Endpoints from whoever made them.
        if (!ServiceSelectorCache.HasSelector(service))
        {
            return ReconcileResult.Done;
        }

        var selector = Kcm.Api.Selectors.LabelSelector.FromSet(service.Spec!.Selector);
        var pods = _pods.ByIndex(KnownIndexers.Namespace, ns).Where(p => selector.Matches(p.Metadata?.Labels)).ToList();

        // Computed before the no-op check so the tracker sees every sync.
        var triggerTime = _triggerTimes.ComputeLastChangeTriggerTime(service, pods);

        var subsets = EndpointSubsets.Repack(DesiredSubsets(service, pods));
        var current = _endpoints.Get(key);
        var currentLabels = WithoutKey(current?.Metadata?.Labels, HeadlessServiceLabel);
        if (current is not null
            && EndpointSubsets.EqualIgnoreResourceVersion(current.Subsets, subsets)
            && LabelsEqual(currentLabels, service.Metadata?.Labels)
            && CapacityAnnotationSetCorrectly(current))
        {
            return ReconcileResult.Done;
        }

        var updated = current is null
            ? new Endpoints { Metadata = new ObjectMeta { Name = key.Name } }
            : KubeObjects.Clone(current);
        var metadata = updated.Metadata ??= new ObjectMeta();
        updated.Subsets = subsets;
        var annotations = metadata.Annotations is { } existing ? new Dictionary<string, string>(existing) : [];
        if (triggerTime is { } changed)
        {
            annotations[LastChangeTriggerTimeAnnotation] = PodEndpoints.FormatRfc3339Nano(changed);
        }
        else
        {
            annotations.Remove(LastChangeTriggerTimeAnnotation);
        }
        if (EndpointSubsets.Truncate(subsets))
        {
            annotations[OverCapacityAnnotation] = Truncated;
        }
        else
        {
            annotations.Remove(OverCapacityAnnotation);
        }
        metadata.Annotations = annotations.Count > 0 ? annotations : null;

        var labels = service.Metadata?.Labels is { } serviceLabels ? new Dictionary<string, string>(serviceLabels) : [];
        if (IsServiceIpSet(service))
        {
            labels.Remove(HeadlessServiceLabel);
        }
        else
        {
            labels[HeadlessServiceLabel] = "";
        }
        metadata.Labels = labels.Count > 0 ? labels : null;

        try
        {
            if (current is null)
            {
                await _client.CreateAsync(ns, updated, cancellationToken).ConfigureAwait(false);
            }
            else
            {
                await _client.UpdateAsync(updated, cancellationToken).ConfigureAwait(false);
            }
        }
        catch (KubeApiException e) when (current is null && e is ForbiddenException && ApiErrors.IsNamespaceTerminating(e))
        {
            // Creates keep failing until the namespace is gone: drop the key.
            return ReconcileResult.Done;
        }
        catch (KubeApiException e)
        {
            // As upstream, the event's object is the Endpoints as it would have been written (on create: without namespace).
            if (current is null)
            {
                _recorder.Event(updated, EventTypes.Warning, "FailedToCreateEndpoint", $"Failed to create endpoint for service {ns}/{key.Name}: {e.Message}");
            }
            else
            {
                _recorder.Event(updated, EventTypes.Warning, "FailedToUpdateEndpoint", $"Failed to update endpoint {ns}/{key.Name}: {e.Message}");
            }
            throw;
        }
        if (_logger.IsEnabled(LogLevel.Trace))
        {
            _logger.LogTrace("{Message}", $"Update endpoints for {ns}/{key.Name}, ready: {subsets.Sum(s => s.Addresses?.Count ?? 0)} not ready: {subsets.Sum(s => s.NotReadyAddresses?.Count ?? 0)}");
        }
        return ReconcileResult.Done;
    }

    /// <summary>One single-address subset per pod and Service port (portless for a headless Service without ports), before repacking.</summary>
    private static List<EndpointSubset> DesiredSubsets(Service service, IReadOnlyList<Pod> pods)
    {
        var publishNotReady = service.Spec?.PublishNotReadyAddresses == true;
        var ports = service.Spec?.Ports ?? [];
        var subsets = new List<EndpointSubset>();
        foreach (var pod in pods)
        {
            if (!PodEndpoints.ShouldPodBeInEndpoints(pod, publishNotReady) || AddressFor(service, pod) is not { } address)
            {
                continue;
            }
            if (PodEndpoints.ShouldSetHostname(pod, service))
            {
                address.Hostname = pod.Spec!.Hostname;
            }
            var ready = publishNotReady || PodReadiness.IsPodReady(pod);
            if (ports.Count == 0)
            {
                if (service.Spec?.ClusterIP == PodEndpoints.ClusterIpNone)
                {
                    subsets.Add(Subset(address, ready, null));
                }
                continue;
            }
            foreach (var servicePort in ports)
            {
                if (PodEndpoints.FindPort(pod, servicePort) is not { } portNumber)
                {
                    continue;
                }
                subsets.Add(Subset(address, ready, new EndpointPort
                {
                    Name = servicePort.Name,
                    Port = portNumber,
                    Protocol = servicePort.Protocol,
                    AppProtocol = servicePort.AppProtocol,
                }));
            }
        }
        return subsets;
    }

    private static EndpointSubset Subset(EndpointAddress address, bool ready, EndpointPort? port) => new()
    {
        Addresses = ready ? [address] : null,
        NotReadyAddresses = ready ? null : [address],
        Ports = port is null ? null : [port],
    };

    /// <summary>The pod's address of the Service's (first) IP family; null when the pod has none of that family.</summary>
    internal static EndpointAddress? AddressFor(Service service, Pod pod)
    {
        bool wantIpv6;
        if (service.Spec?.IpFamilies is { Count: > 0 } families)
        {
            wantIpv6 = families[0] == "IPv6";
        }
        else if (service.Spec?.ClusterIP is { Length: > 0 } clusterIp && clusterIp != PodEndpoints.ClusterIpNone)
        {
            wantIpv6 = IsIpv6(clusterIp);
        }
        else
        {
            // An old apiserver that does not fill ipFamilies, headless: go by the pod's primary IP.
            wantIpv6 = IsIpv6(pod.Status?.PodIP);
        }
        var ip = pod.Status?.PodIPs?.FirstOrDefault(p => wantIpv6 == IsIpv6(p.Ip))?.Ip;
        if (ip is null)
        {
            return null;
        }
        return new EndpointAddress
        {
            Ip = ip,
            NodeName = pod.Spec?.NodeName ?? "",
            TargetRef = new ObjectReference
            {
                Kind = "Pod",
                Namespace = pod.Metadata?.Namespace,
                Name = pod.Metadata?.Name,
                Uid = pod.Metadata?.Uid,
            },
        };
    }

    /// <summary>utilnet.IsIPv6String: a valid IP that is not IPv4 (an IPv4-mapped address counts as IPv4).</summary>
    internal static bool IsIpv6(string? ip)
        => ip is not null && !ip.Contains('%') && IPAddress.TryParse(ip, out var parsed)
            && parsed.AddressFamily == AddressFamily.InterNetworkV6 && !parsed.IsIPv4MappedToIPv6;

    private static bool IsServiceIpSet(Service service)
        => service.Spec?.ClusterIP is { Length: > 0 } ip && ip != PodEndpoints.ClusterIpNone;

    /// <summary>Over capacity is never "correct" (the stored object is truncated, so it is rewritten); under it, the annotation must be absent.</summary>
    private static bool CapacityAnnotationSetCorrectly(Endpoints endpoints)
        => EndpointSubsets.AddressCount(endpoints.Subsets) <= EndpointSubsets.MaxCapacity
            && endpoints.Metadata?.Annotations?.ContainsKey(OverCapacityAnnotation) != true;

    private static IReadOnlyDictionary<string, string>? WithoutKey(Dictionary<string, string>? labels, string key)
    {
        if (labels is null || !labels.ContainsKey(key))
        {
            return labels;
        }
        var copy = new Dictionary<string, string>(labels);
        copy.Remove(key);
        return copy;
    }

    /// <summary>apiequality.Semantic.DeepEqual on label maps: a missing map equals an empty one.</summary>
    private static bool LabelsEqual(IReadOnlyDictionary<string, string>? a, IReadOnlyDictionary<string, string>? b)
    {
        if ((a?.Count ?? 0) != (b?.Count ?? 0))
        {
            return false;
        }
        return a is null || a.All(kv => b!.TryGetValue(kv.Key, out var v) && v == kv.Value);
    }
}

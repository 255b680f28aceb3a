using Kcm.Api.Core.V1;
using Kcm.Api.Meta.V1;
using Kcm.Client;
using Kcm.Client.Config;
using Kcm.Client.Errors;
using Kcm.Client.Watch;
using Microsoft.Extensions.Logging;

namespace Kcm.ApiServer.Simulation;

/// <summary>
/// Stands in for the scheduler and one kubelet, so workloads can become Ready where no real node runs (demos
/// and tests). It is an ordinary API client with admin credentials: it registers a Ready Node, binds unscheduled
/// pods to it, marks bound pods Running and Ready after a delay, and finishes graceful deletions as a kubelet
/// does (delete with grace 0 once the pod is terminating). The API server itself behaves as without it.
/// </summary>
public sealed class SimulatedNode : IAsyncDisposable
{
    public const string NodeName = "embedded-node";

    private readonly KubeApiClient _client;
    private readonly TimeSpan _readyDelay;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly CancellationTokenSource _stop = new();
    private readonly Lock _gate = new();

    // Pods with an action running, each with the newest version seen meanwhile (null: none). That version is
    // handled when the action ends: an event dropped while, say, the binding was still in flight would leave
    // the pod Pending (or terminating) for good, as no further event comes for it.
    private readonly Dictionary<string, Pod?> _inFlight = [];
    private readonly SemaphoreSlim _writers = new(8);
    private Task _loop = Task.CompletedTask;
    private int _nextPodIp;

    private SimulatedNode(KubeApiClient client, TimeSpan readyDelay, TimeProvider time, ILogger logger)
    {
        _client = client;
        _readyDelay = readyDelay;
        _time = time;
        _logger = logger;
    }

    public static async Task<SimulatedNode> StartAsync(string adminKubeconfig, TimeSpan readyDelay, TimeProvider time, ILoggerFactory loggers, CancellationToken ct)
    {
        var config = KubeconfigLoader.BuildConfigFromFlags(null, adminKubeconfig) with { Qps = -1, UserAgent = "kubelet/v1.26.3 (simulated)" };
        var node = new SimulatedNode(new KubeApiClient(config, new KubeClientOptions { TimeProvider = time }), readyDelay, time, loggers.CreateLogger("simulated-node"));
        await node.RegisterNodeAsync(ct);
        node._loop = Task.Run(() => node.WatchPodsAsync(node._stop.Token), CancellationToken.None);
        return node;
    }

    private async Task RegisterNodeAsync(CancellationToken ct)
    {
        Node node;
        try
        {
            node = await _client.GetAsync<Node>(null, NodeName, ct);
        }
        catch (NotFoundException)
        {
            node = await _client.CreateAsync(new Node
            {
                Metadata = new ObjectMeta
                {
                    Name = NodeName,
                    Labels = new Dictionary<string, string>
                    {
                        ["kubernetes.io/hostname"] = NodeName,
                        ["kubernetes.io/os"] = "linux",
                        ["kubernetes.io/arch"] = "amd64",
                    },
                },
            }, cancellationToken: ct);
        }
        var now = _time.GetUtcNow();
        var capacity = new Dictionary<string, Kcm.Api.Quantity> { ["cpu"] = new Kcm.Api.Quantity("4"), ["memory"] = new Kcm.Api.Quantity("16Gi"), ["pods"] = new Kcm.Api.Quantity("110") };
        node.Status = new NodeStatus
        {
            Capacity = capacity,
            Allocatable = capacity,
            Addresses = [new NodeAddress { Type = "InternalIP", Address = "127.0.0.1" }, new NodeAddress { Type = "Hostname", Address = NodeName }],
            Conditions = [new NodeCondition { Type = "Ready", Status = "True", Reason = "KubeletReady", Message = "kubelet is posting ready status (simulated)", LastHeartbeatTime = now, LastTransitionTime = now }],
            NodeInfo = new NodeSystemInfo
            {
                KubeletVersion = "v1.26.3",
                KubeProxyVersion = "v1.26.3",
                OperatingSystem = "linux",
                Architecture = "amd64",
                ContainerRuntimeVersion = "simulated://1.0",
                OsImage = "simulated",
                KernelVersion = Environment.OSVersion.Version.ToString(),
                MachineID = "",
                SystemUUID = "",
                BootID = "",
            },
        };
        await _client.UpdateStatusAsync(node, cancellationToken: ct);
    }

    private async Task WatchPodsAsync(CancellationToken ct)
    {
        while (!ct.IsCancellationRequested)
        {
            try
            {
                var list = await _client.ListAllAsync<Pod>(null, cancellationToken: ct);
                foreach (var pod in list.Items ?? []) Handle(pod, ct);
                await foreach (var e in _client.WatchAsync<Pod>(null, new ListOptions { ResourceVersion = list.Metadata?.ResourceVersion, AllowWatchBookmarks = true }, ct))
                {
                    if (e.Object is { } pod && e.Type is WatchEventType.Added or WatchEventType.Modified) Handle(pod, ct);
                }
            }
            catch (OperationCanceledException) when (ct.IsCancellationRequested)
            {
                return;
            }
            catch (Exception ex) when (ex is KubeApiException or HttpRequestException or IOException)
            {
                _logger.LogWarning("Pod watch ended: {Error}; relisting", ex.Message);
                await Task.Delay(TimeSpan.FromSeconds(1), _time, ct).ConfigureAwait(false);
            }
        }
    }

    private void Handle(Pod pod, CancellationToken ct)
    {
        var meta = pod.Metadata!;
        var key = $"{meta.Namespace}/{meta.Name}/{meta.Uid}";
        (TimeSpan Delay, Func<Task> Run)? action;
        lock (_gate)
        {
            if (_inFlight.ContainsKey(key))
            {
                _inFlight[key] = pod;
                return;
            }
            action = ActionFor(pod, ct);
            if (action == null) return;
            _inFlight[key] = null;
        }
        _ = Task.Run(async () =>
        {
            var acquired = false;
            try
            {
                // The ready delay is waited out before taking a writer slot, so slow starts do not hold up binds.
                await Task.Delay(action.Value.Delay, _time, ct).ConfigureAwait(false);
                await _writers.WaitAsync(ct).ConfigureAwait(false);
                acquired = true;
                await action.Value.Run().ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (ct.IsCancellationRequested)
            {
            }
            catch (Exception ex) when (ex is KubeApiException or HttpRequestException or IOException)
            {
                _logger.LogDebug("Simulated node action on {Pod} failed: {Error}", key, ex.Message);
            }
            finally
            {
                if (acquired) _writers.Release();
                Pod? newer;
                lock (_gate)
                {
                    _inFlight.Remove(key, out newer);
                }
                if (newer != null && !ct.IsCancellationRequested) Handle(newer, ct);
            }
        }, CancellationToken.None);
    }

    private (TimeSpan Delay, Func<Task> Run)? ActionFor(Pod pod, CancellationToken ct)
    {
        if (pod.Metadata!.DeletionTimestamp != null)
        {
            return pod.Spec?.NodeName == NodeName ? (TimeSpan.Zero, () => FinishDeletionAsync(pod, ct)) : null;
        }
        if (string.IsNullOrEmpty(pod.Spec?.NodeName))
        {
            return (TimeSpan.Zero, () => BindAsync(pod, ct));
        }
        if (pod.Spec.NodeName == NodeName && pod.Status?.Phase is null or "Pending")
        {
            return (_readyDelay, () => StartPodAsync(pod, ct));
        }
        return null;
    }

    private Task BindAsync(Pod pod, CancellationToken ct) => _client.BindAsync(new Binding
    {
        Metadata = new ObjectMeta { Name = pod.Metadata!.Name, Namespace = pod.Metadata.Namespace, Uid = pod.Metadata.Uid },
        Target = new ObjectReference { Kind = "Node", ApiVersion = "v1", Name = NodeName },
    }, cancellationToken: ct);

    private async Task StartPodAsync(Pod pod, CancellationToken ct)
    {
        Pod current;
        try
        {
            current = await _client.GetAsync<Pod>(pod.Metadata!.Namespace, pod.Metadata.Name!, ct).ConfigureAwait(false);
        }
        catch (NotFoundException)
        {
            return;
        }
        if (current.Metadata?.Uid != pod.Metadata.Uid || current.Metadata?.DeletionTimestamp != null || current.Status?.Phase is not (null or "Pending")) return;
        var now = _time.GetUtcNow();
        var ip = Interlocked.Increment(ref _nextPodIp);
        current.Status ??= new PodStatus();
        current.Status.Phase = "Running";
        current.Status.HostIP = "127.0.0.1";
        current.Status.PodIP = $"10.244.{(ip / 250) % 250}.{ip % 250 + 2}";
        current.Status.PodIPs = [new PodIP { Ip = current.Status.PodIP }];
        current.Status.StartTime = now;
        current.Status.Conditions =
        [
            new PodCondition { Type = "Initialized", Status = "True", LastTransitionTime = now },
            new PodCondition { Type = "Ready", Status = "True", LastTransitionTime = now },
            new PodCondition { Type = "ContainersReady", Status = "True", LastTransitionTime = now },
            new PodCondition { Type = "PodScheduled", Status = "True", LastTransitionTime = now },
        ];
        current.Status.ContainerStatuses = [.. (current.Spec?.Containers ?? []).Select(c => new ContainerStatus
        {
            Name = c.Name,
            Image = c.Image,
            ImageID = "simulated://" + c.Image,
            ContainerID = "simulated://" + Guid.NewGuid().ToString("N"),
            Ready = true,
            Started = true,
            RestartCount = 0,
            State = new ContainerState { Running = new ContainerStateRunning { StartedAt = now } },
        })];
        await _client.UpdateStatusAsync(current, cancellationToken: ct).ConfigureAwait(false);
    }

    /// <summary>The kubelet's half of graceful deletion: containers "stop" at once, then the pod is removed with grace 0.</summary>
    private async Task FinishDeletionAsync(Pod pod, CancellationToken ct)
    {
        try
        {
            await _client.DeleteAsync<Pod>(pod.Metadata!.Namespace, pod.Metadata.Name!, new DeleteOptions
            {
                GracePeriodSeconds = 0,
                Preconditions = new Preconditions { Uid = pod.Metadata.Uid },
            }, ct).ConfigureAwait(false);
        }
        catch (NotFoundException)
        {
        }
        catch (ConflictException)
        {
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        await _loop.ConfigureAwait(false);
        _client.Dispose();
        _stop.Dispose();
    }
}

using Kcm.Api.Core.V1;
using Kcm.Client;
using Kcm.Client.Config;
using Kcm.Runtime.Controllers;
using Kcm.Runtime.Informers;
using Kcm.Runtime.Queues;
using Kcm.Simulator.Kubelet;
using Kcm.Simulator.Nodes;
using Kcm.Simulator.Scheduling;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Kcm.Simulator;

/// <summary>Thrown when a failure is injected into a node this simulator does not run.</summary>
public sealed class UnknownSimulatedNodeException(string name) : ArgumentException($"no simulated node named \"{name}\"");

/// <summary>
/// Simulated nodes driven entirely through the API (kwok-style), so the same setup works against the embedded
/// server or a real kube-apiserver: N Nodes that heartbeat like kubelets (Lease + status), a scheduler stand-in that
/// binds pending pods to them, and a kubelet stand-in that makes bound pods Running/Ready and finishes their
/// graceful deletion. Failures can be injected per node (<see cref="StopHeartbeats"/>, <see cref="RemoveNodeAsync"/>, or the
/// <see cref="SimulatorOptions.HeartbeatsAnnotation"/> annotation on the Node).
/// </summary>
public sealed class NodeSimulator : IAsyncDisposable
{
    public const string UserAgent = "kcm-simulator/v1.26.3";

    private readonly KubeApiClient _client;
    private readonly bool _ownsClient;
    private readonly SimulatorOptions _options;
    private readonly ILogger _logger;
    private readonly Dictionary<string, SimulatedNode> _nodes = [];
    private readonly Lock _nodesGate = new();
    private readonly HashSet<string> _stoppedByAnnotation = new(StringComparer.Ordinal);
    private readonly SharedInformer<Node> _nodeInformer;
    private readonly SharedInformer<Pod> _podInformer;
    private readonly RateLimitingQueue<ObjectKey> _scheduleQueue;
    private readonly RateLimitingQueue<ObjectKey> _kubeletQueue;
    private readonly Scheduler _scheduler;
    private readonly PodRunner _runner;
    private readonly ControllerWorkers<ObjectKey> _schedulerWorkers;
    private readonly ControllerWorkers<ObjectKey> _kubeletWorkers;
    private readonly CancellationTokenSource _stop = new();
    private readonly List<Task> _running = [];
    private Metrics.MetricsServer? _metrics;

    private NodeSimulator(KubeApiClient client, bool ownsClient, SimulatorOptions options, ILoggerFactory loggers)
    {
        _client = client;
        _ownsClient = ownsClient;
        _options = options;
        _logger = loggers.CreateLogger("node-simulator");
        _nodeInformer = new SharedInformer<Node>(client, loggerFactory: loggers);
        _podInformer = new SharedInformer<Pod>(client, loggerFactory: loggers);
        _scheduleQueue = RateLimitingQueue<ObjectKey>.WithDefaultControllerRateLimiter(new WorkQueueOptions { Name = "simulated-scheduler", TimeProvider = options.TimeProvider });
        _kubeletQueue = RateLimitingQueue<ObjectKey>.WithDefaultControllerRateLimiter(new WorkQueueOptions { Name = "simulated-kubelet", TimeProvider = options.TimeProvider });
        _scheduler = new Scheduler(client, options, _podInformer.Cache, OwnNodes, _scheduleQueue.Add, _logger);
        _runner = new PodRunner(client, options, _podInformer.Cache, NodeNamed, CachedNode, _logger);
        _schedulerWorkers = new ControllerWorkers<ObjectKey>("simulated-scheduler", _scheduleQueue, _scheduler.ScheduleAsync, _logger);
        _kubeletWorkers = new ControllerWorkers<ObjectKey>("simulated-kubelet", _kubeletQueue, _runner.SyncAsync, _logger);
        _podInformer.AddEventHandler(new ResourceEventHandler<Pod>
        {
            Added = (pod, _) => OnPod(pod),
            Updated = (old, pod) => OnPod(pod, old),
            Deleted = (pod, _) => OnPodDeleted(pod),
        });
        _nodeInformer.AddEventHandler(new ResourceEventHandler<Node>
        {
            Added = (node, _) => OnNode(node),
            Updated = (_, node) => OnNode(node),
        });
    }

    /// <summary>The node names, in index order (removed nodes left out).</summary>
    public IReadOnlyList<string> NodeNames
    {
        get
        {
            lock (_nodesGate)
            {
                return [.. _nodes.Values.OrderBy(n => n.Index).Select(n => n.Name)];
            }
        }
    }

    /// <summary>The metrics.k8s.io server, when <see cref="SimulatorOptions.Metrics"/> asked for one.</summary>
    public Metrics.MetricsServer? MetricsServer => _metrics;

    /// <summary>A client for the simulator from a kubeconfig: unthrottled, with the simulator's user agent.</summary>
    public static KubeApiClient CreateClient(string kubeconfigPath)
        => new(KubeconfigLoader.BuildConfigFromFlags(null, kubeconfigPath) with { Qps = -1, UserAgent = UserAgent });

    public static async Task<NodeSimulator> StartAsync(string kubeconfigPath, SimulatorOptions options, ILoggerFactory? loggers, CancellationToken ct)
        => await StartAsync(CreateClient(kubeconfigPath), ownsClient: true, options, loggers, ct).ConfigureAwait(false);

    /// <summary>Registers the nodes (and their leases), then starts heartbeats, scheduling and pod handling.</summary>
    public static Task<NodeSimulator> StartAsync(KubeApiClient client, SimulatorOptions options, ILoggerFactory? loggers, CancellationToken ct)
        => StartAsync(client, ownsClient: false, options, loggers, ct);

    private static async Task<NodeSimulator> StartAsync(KubeApiClient client, bool ownsClient, SimulatorOptions options, ILoggerFactory? loggers, CancellationToken ct)
    {
        options.Validate();
        var simulator = new NodeSimulator(client, ownsClient, options, loggers ?? NullLoggerFactory.Instance);
        try
        {
            await simulator.RunAsync(ct).ConfigureAwait(false);
            return simulator;
        }
        catch
        {
            await simulator.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    private async Task RunAsync(CancellationToken ct)
    {
        for (var i = 0; i < _options.NodeCount; i++)
        {
            var node = new SimulatedNode(_client, _options, i, CachedNode, _logger);
            await node.RegisterAsync(ct).ConfigureAwait(false);
            lock (_nodesGate)
            {
                _nodes[node.Name] = node;
            }
            node.Start();
        }
        var stop = _stop.Token;
        _running.Add(Task.Run(() => _nodeInformer.RunAsync(stop), CancellationToken.None));
        _running.Add(Task.Run(() => _podInformer.RunAsync(stop), CancellationToken.None));
        using (var linked = CancellationTokenSource.CreateLinkedTokenSource(ct, stop))
        {
            if (!await _nodeInformer.WaitForCacheSyncAsync(linked.Token).ConfigureAwait(false)
                || !await _podInformer.WaitForCacheSyncAsync(linked.Token).ConfigureAwait(false))
            {
                ct.ThrowIfCancellationRequested();
            }
        }
        _running.Add(_schedulerWorkers.RunAsync(4, stop));
        _running.Add(_kubeletWorkers.RunAsync(_options.KubeletWorkers, stop));
        if (_options.Metrics is { } metrics) _metrics = await Metrics.MetricsServer.StartAsync(_client, _podInformer.Cache, () => NodeNames, metrics, _options.TimeProvider, _logger, ct).ConfigureAwait(false);
        _logger.LogInformation("Simulating {Count} node(s) {First}..{Last}, pods Ready after {Delay}s", _options.NodeCount,
            _options.NodeName(0), _options.NodeName(_options.NodeCount - 1), _options.PodReadyDelay.TotalSeconds);
    }

    /// <summary>Simulates a node failure: its Lease and status stop being renewed and its pods are left alone.</summary>
    public void StopHeartbeats(string nodeName) => Named(nodeName).StopHeartbeats();

    /// <summary>The node recovers: heartbeats resume and its pods are handled again.</summary>
    public void ResumeHeartbeats(string nodeName)
    {
        Named(nodeName).ResumeHeartbeats();
        foreach (var pod in _podInformer.Cache.ByIndex(KnownIndexers.PodNodeName, nodeName)) _kubeletQueue.Add(Key(pod));
    }

    /// <summary>The machine is gone for good: heartbeats stop and its Node and Lease are deleted. Its pods stay bound.</summary>
    public async Task RemoveNodeAsync(string nodeName, CancellationToken ct)
    {
        var node = Named(nodeName);
        lock (_nodesGate)
        {
            _nodes.Remove(nodeName);
        }
        await node.StopAsync().ConfigureAwait(false);
        await node.DeleteAsync(ct).ConfigureAwait(false);
    }

    /// <summary>Whether the node heartbeats and runs its pods (false after a stop, by code or annotation).</summary>
    public bool IsUp(string nodeName) => Named(nodeName).IsUp;

    private SimulatedNode Named(string name) => NodeNamed(name) ?? throw new UnknownSimulatedNodeException(name);

    private SimulatedNode? NodeNamed(string name)
    {
        lock (_nodesGate)
        {
            return _nodes.GetValueOrDefault(name);
        }
    }

    private Node? CachedNode(string name) => _nodeInformer.Cache.Get(new ObjectKey(null, name));

    private IReadOnlyList<Node> OwnNodes()
    {
        lock (_nodesGate)
        {
            return [.. _nodes.Values.OrderBy(n => n.Index).Select(n => CachedNode(n.Name)).OfType<Node>()];
        }
    }

    private static ObjectKey Key(Pod pod) => ObjectKey.Of(pod);

    private void OnPod(Pod pod, Pod? old = null)
    {
        var key = Key(pod);
        _scheduler.Observed(key, pod);
        if (_scheduler.Wants(pod)) _scheduleQueue.Add(key);
        if (_runner.Wants(pod))
        {
            _runner.Observed(pod);
            _kubeletQueue.Add(key);
        }
        // A pod leaving a node (finished) frees capacity for pods that fit nowhere.
        if (old is not null && !string.IsNullOrEmpty(pod.Spec?.NodeName)
            && old.Status?.Phase is not ("Succeeded" or "Failed") && pod.Status?.Phase is "Succeeded" or "Failed")
        {
            _scheduler.RetryUnschedulable();
        }
    }

    private void OnPodDeleted(Pod pod)
    {
        _scheduler.Observed(Key(pod), null);
        _runner.Forget(pod);
        if (!string.IsNullOrEmpty(pod.Spec?.NodeName)) _scheduler.RetryUnschedulable();
    }

    private void OnNode(Node node)
    {
        var name = node.Metadata?.Name ?? "";
        if (NodeNamed(name) is not { } simulated) return;
        _scheduler.RetryUnschedulable();
        var stop = node.Metadata?.Annotations?.GetValueOrDefault(SimulatorOptions.HeartbeatsAnnotation) == "stopped";
        bool changed;
        lock (_nodesGate)
        {
            changed = stop ? _stoppedByAnnotation.Add(name) : _stoppedByAnnotation.Remove(name);
        }
        if (!changed) return;
        // Only what the annotation stopped is resumed by it; StopHeartbeats from code is left alone.
        if (stop && simulated.IsUp) StopHeartbeats(name);
        else if (!stop && !simulated.IsUp) ResumeHeartbeats(name);
    }

    /// <summary>Stops everything; with <see cref="SimulatorOptions.DeleteNodesOnStop"/> the Nodes and Leases are deleted too.</summary>
    public async ValueTask DisposeAsync()
    {
        if (_stop.IsCancellationRequested) return;
        if (_metrics is not null) await _metrics.DisposeAsync().ConfigureAwait(false);
        await _stop.CancelAsync().ConfigureAwait(false);
        List<SimulatedNode> nodes;
        lock (_nodesGate)
        {
            nodes = [.. _nodes.Values];
        }
        await Task.WhenAll(nodes.Select(n => n.StopAsync())).ConfigureAwait(false);
        try
        {
            await Task.WhenAll(_running).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
        }
        if (_options.DeleteNodesOnStop)
        {
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
            foreach (var node in nodes)
            {
                try
                {
                    await node.DeleteAsync(timeout.Token).ConfigureAwait(false);
                }
                catch (Exception ex) when (ex is Kcm.Client.Errors.KubeApiException or HttpRequestException or IOException or OperationCanceledException)
                {
                    _logger.LogWarning("Could not delete node {Node}: {Error}", node.Name, ex.Message);
                }
            }
        }
        _scheduleQueue.Dispose();
        _kubeletQueue.Dispose();
        if (_ownsClient) _client.Dispose();
        _stop.Dispose();
    }
}

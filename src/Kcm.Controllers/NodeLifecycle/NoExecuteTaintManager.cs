using System.Collections.Concurrent;
using Kcm.Api.Core.V1;
using Kcm.Client.Errors;
using Kcm.Runtime.Events;
using Kcm.Runtime.Informers;
using Kcm.Runtime.Logging;
using Kcm.Runtime.Queues;
using Microsoft.Extensions.Logging;

namespace Kcm.Controllers.NodeLifecycle;

/// <summary>
/// Upstream's NoExecuteTaintManager: keeps each node's NoExecute taints and schedules the deletion of every pod on it
/// that does not tolerate them all, at once or after the smallest tolerationSeconds of the tolerations used;
/// removed taints (or new tolerations) cancel scheduled deletions. Node and pod updates are sharded over workers by
/// node name, and a worker drains its node updates before each pod update, so a pod is judged by its node's
/// latest taints.
/// </summary>
public sealed class NoExecuteTaintManager
{
    /// <summary>Upstream's UpdateWorkerSize.</summary>
    public const int UpdateWorkerSize = 8;

    /// <summary>The event source component of the taint manager's events.</summary>
    public const string EventComponent = "taint-controller";

    private const int DeleteRetries = 5;

    private readonly INodeLifecycleClient _client;
    private readonly IObjectCache<Pod> _pods;
    private readonly IObjectCache<Node> _nodes;
    private readonly Func<string, IReadOnlyList<Pod>> _podsOnNode;
    private readonly IEventRecorder _recorder;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly Lock _taintedGate = new();
    private readonly Dictionary<string, List<Taint>> _taintedNodes = new(StringComparer.Ordinal);
    private readonly WorkQueue<string> _nodeUpdates;
    private readonly WorkQueue<PodUpdate> _podUpdates;
    private readonly Shard[] _shards;

    public NoExecuteTaintManager(
        INodeLifecycleClient client,
        IObjectCache<Pod> pods,
        IObjectCache<Node> nodes,
        Func<string, IReadOnlyList<Pod>> podsOnNode,
        IEventRecorder recorder,
        Func<string, WorkQueueOptions> queueOptions,
        TimeProvider time,
        ILogger logger)
    {
        _client = client;
        _pods = pods;
        _nodes = nodes;
        _podsOnNode = podsOnNode;
        _recorder = recorder;
        _time = time;
        _logger = logger;
        _nodeUpdates = new WorkQueue<string>(queueOptions("noexec_taint_node"));
        _podUpdates = new WorkQueue<PodUpdate>(queueOptions("noexec_taint_pod"));
        _shards = [.. Enumerable.Range(0, UpdateWorkerSize).Select(_ => new Shard())];
        Evictions = new TimedWorkerQueue(DeletePodAsync, time, logger);
    }

    /// <summary>The scheduled deletions (exposed for tests).</summary>
    public TimedWorkerQueue Evictions { get; }

    internal readonly record struct PodUpdate(string Namespace, string Name, string NodeName);

    private sealed class Shard
    {
        public ConcurrentQueue<string> Nodes { get; } = new();

        public ConcurrentQueue<PodUpdate> Pods { get; } = new();

        public SemaphoreSlim Signal { get; } = new(0);
    }

    public void PodUpdated(Pod? oldPod, Pod? newPod)
    {
        var pod = newPod ?? oldPod;
        if (pod is null)
        {
            return;
        }
        if (oldPod is not null && newPod is not null
            && oldPod.Spec?.NodeName == newPod.Spec?.NodeName
            && SameTolerations(oldPod.Spec?.Tolerations, newPod.Spec?.Tolerations))
        {
            return;
        }
        _podUpdates.Add(new PodUpdate(pod.Metadata?.Namespace ?? "", pod.Metadata?.Name ?? "", pod.Spec?.NodeName ?? ""));
    }

    public void NodeUpdated(Node? oldNode, Node? newNode)
    {
        var node = newNode ?? oldNode;
        if (node is null)
        {
            return;
        }
        if (oldNode is not null && newNode is not null
            && SameTaints(NodeTaints.NoExecuteOf(oldNode.Spec?.Taints), NodeTaints.NoExecuteOf(newNode.Spec?.Taints)))
        {
            return;
        }
        _nodeUpdates.Add(node.Metadata?.Name ?? "");
    }

    public async Task RunAsync(CancellationToken cancellationToken)
    {
        _logger.LogInformation(Klog.InfoS, "Starting NoExecuteTaintManager");
        _logger.LogInformation(Klog.InfoS, "Sending events to api server");
        Evictions.SetStopping(cancellationToken);
        using var stopQueues = cancellationToken.Register(() =>
        {
            _nodeUpdates.ShutDown();
            _podUpdates.ShutDown();
        });
        var tasks = new List<Task>
        {
            Task.Run(() => DispatchAsync(_nodeUpdates, name => name, (shard, item) => shard.Nodes.Enqueue(item)), CancellationToken.None),
            Task.Run(() => DispatchAsync(_podUpdates, item => item.NodeName, (shard, item) => shard.Pods.Enqueue(item)), CancellationToken.None),
        };
        tasks.AddRange(_shards.Select(shard => Task.Run(() => WorkAsync(shard, cancellationToken), CancellationToken.None)));
        try
        {
            await Task.WhenAll(tasks).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
        }
        finally
        {
            _nodeUpdates.ShutDown();
            _podUpdates.ShutDown();
        }
    }

    // Items stay in the work queue's processing set until their worker is done, so repeated updates are merged.
    private async Task DispatchAsync<T>(WorkQueue<T> queue, Func<T, string> nodeOf, Action<Shard, T> enqueue)
        where T : notnull
    {
        while (true)
        {
            var (item, shutdown) = await queue.GetAsync(CancellationToken.None).ConfigureAwait(false);
            if (shutdown)
            {
                return;
            }
            var shard = _shards[ShardOf(nodeOf(item))];
            enqueue(shard, item);
            shard.Signal.Release();
        }
    }

    private async Task WorkAsync(Shard shard, CancellationToken cancellationToken)
    {
        while (!cancellationToken.IsCancellationRequested)
        {
            await shard.Signal.WaitAsync(cancellationToken).ConfigureAwait(false);
            // One signal per item; node updates first, as upstream's worker empties the node channel before a pod.
            if (shard.Nodes.TryDequeue(out var nodeName))
            {
                await GuardAsync(() => HandleNodeUpdateAsync(nodeName, cancellationToken)).ConfigureAwait(false);
                _nodeUpdates.Done(nodeName);
            }
            else if (shard.Pods.TryDequeue(out var podUpdate))
            {
                await GuardAsync(() => { HandlePodUpdate(podUpdate); return Task.CompletedTask; }).ConfigureAwait(false);
                _podUpdates.Done(podUpdate);
            }
        }
    }

    private async Task GuardAsync(Func<Task> handle)
    {
        try
        {
            await handle().ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            _logger.LogError(ex, "NoExecuteTaintManager failed to handle an update");
        }
    }

    /// <summary>fnv32a of the node name, modulo the worker count (upstream's hash).</summary>
    internal static int ShardOf(string nodeName)
    {
        var hash = 2166136261u;
        foreach (var b in System.Text.Encoding.UTF8.GetBytes(nodeName))
        {
            hash ^= b;
            hash *= 16777619u;
        }
        return (int)(hash % UpdateWorkerSize);
    }

    internal void HandlePodUpdate(PodUpdate update)
    {
        var key = new ObjectKey(update.Namespace, update.Name);
        if (_pods.Get(key) is not { } pod)
        {
            _logger.LogTrace("Noticed pod deletion {pod}", key);
            CancelWorkWithEvent(key);
            return;
        }
        // Sharded by node name: an update for a node the pod no longer has is some other worker's business.
        var nodeName = pod.Spec?.NodeName ?? "";
        if (nodeName != update.NodeName || nodeName.Length == 0)
        {
            return;
        }
        List<Taint>? taints;
        lock (_taintedGate)
        {
            taints = _taintedNodes.GetValueOrDefault(nodeName);
        }
        // The node is gone, or its taints were removed (which cancelled what was needed).
        if (taints is null)
        {
            return;
        }
        ProcessPodOnNode(key, nodeName, pod.Spec?.Tolerations ?? [], taints, _time.GetUtcNow());
    }

    internal Task HandleNodeUpdateAsync(string nodeName, CancellationToken cancellationToken)
    {
        _ = cancellationToken;
        if (_nodes.Get(new ObjectKey(null, nodeName)) is not { } node)
        {
            _logger.LogTrace("Noticed node deletion {node}", nodeName);
            lock (_taintedGate)
            {
                _taintedNodes.Remove(nodeName);
            }
            return Task.CompletedTask;
        }
        var taints = NodeTaints.NoExecuteOf(node.Spec?.Taints);
        lock (_taintedGate)
        {
            if (taints.Count == 0)
            {
                _taintedNodes.Remove(nodeName);
            }
            else
            {
                _taintedNodes[nodeName] = taints;
            }
        }
        // Read after the taints are stored: a pod that arrives later is judged by its own update.
        var pods = _podsOnNode(nodeName);
        if (pods.Count == 0)
        {
            return Task.CompletedTask;
        }
        if (taints.Count == 0)
        {
            _logger.LogTrace("All taints were removed from the node. Cancelling all evictions... {node}", nodeName);
            foreach (var pod in pods)
            {
                CancelWorkWithEvent(ObjectKey.Of(pod));
            }
            return Task.CompletedTask;
        }
        var now = _time.GetUtcNow();
        foreach (var pod in pods)
        {
            ProcessPodOnNode(ObjectKey.Of(pod), nodeName, pod.Spec?.Tolerations ?? [], taints, now);
        }
        return Task.CompletedTask;
    }

    private void ProcessPodOnNode(ObjectKey pod, string nodeName, IReadOnlyList<Toleration> tolerations, IReadOnlyList<Taint> taints, DateTimeOffset now)
    {
        if (taints.Count == 0)
        {
            CancelWorkWithEvent(pod);
        }
        var (allTolerated, used) = NodeTaints.MatchingTolerations(taints, tolerations);
        if (!allTolerated)
        {
            _logger.LogDebug("Not all taints are tolerated after update for pod on node {Pod} {Node}", pod, nodeName);
            // Any scheduled deletion is replaced by an immediate one.
            CancelWorkWithEvent(pod);
            var at = _time.GetUtcNow();
            Evictions.AddWork(pod, at, at);
            return;
        }
        if (NodeTaints.MinTolerationTime(used) is not { } minTolerationTime)
        {
            _logger.LogTrace("Current tolerations for pod tolerate forever, cancelling any scheduled deletion {pod}", pod);
            CancelWorkWithEvent(pod);
            return;
        }
        var startTime = now;
        var triggerTime = startTime + minTolerationTime;
        if (Evictions.GetWorker(pod) is { } scheduled)
        {
            startTime = scheduled.CreatedAt;
            if (startTime + minTolerationTime < triggerTime)
            {
                return;
            }
            CancelWorkWithEvent(pod);
        }
        Evictions.AddWork(pod, startTime, triggerTime);
    }

    private void CancelWorkWithEvent(ObjectKey pod)
    {
        if (Evictions.CancelWork(pod))
        {
            _recorder.Event(PodReference(pod), EventTypes.Normal, "TaintManagerEviction", $"Cancelling deletion of Pod {pod}");
        }
    }

    // Upstream's reference names only kind, namespace and name.
    private static ObjectReference PodReference(ObjectKey pod) => new() { Kind = "Pod", Namespace = pod.Namespace, Name = pod.Name };

    private async Task DeletePodAsync(ObjectKey pod, CancellationToken cancellationToken)
    {
        _logger.LogInformation("NoExecuteTaintManager is deleting pod {pod}", pod);
        _recorder.Event(PodReference(pod), EventTypes.Normal, "TaintManagerEviction", $"Marking for deletion Pod {pod}");
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                await _client.ApplyTaintEvictionConditionAsync(pod.Namespace ?? "", pod.Name, _time.GetUtcNow(), cancellationToken).ConfigureAwait(false);
                await _client.DeletePodAsync(pod.Namespace ?? "", pod.Name, cancellationToken).ConfigureAwait(false);
                return;
            }
            catch (Exception ex) when (attempt < DeleteRetries && ex is KubeApiException or HttpRequestException or IOException)
            {
                await Task.Delay(TimeSpan.FromMilliseconds(10), _time, cancellationToken).ConfigureAwait(false);
            }
        }
    }

    private static bool SameTaints(List<Taint> a, List<Taint> b)
        => a.Count == b.Count && a.Zip(b).All(p => p.First.Key == p.Second.Key && p.First.Value == p.Second.Value && p.First.Effect == p.Second.Effect && p.First.TimeAdded == p.Second.TimeAdded);

    private static bool SameTolerations(List<Toleration>? a, List<Toleration>? b)
    {
        a ??= [];
        b ??= [];
        return a.Count == b.Count && a.Zip(b).All(p => p.First.Key == p.Second.Key && p.First.Operator == p.Second.Operator
            && p.First.Value == p.Second.Value && p.First.Effect == p.Second.Effect && p.First.TolerationSeconds == p.Second.TolerationSeconds);
    }
}

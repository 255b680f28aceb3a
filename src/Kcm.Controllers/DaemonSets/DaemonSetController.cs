using System.Text.Json.Nodes;
using Kcm.Api;
using Kcm.Api.Apps.V1;
using Kcm.Api.Core.V1;
using Kcm.Api.Meta.V1;
using Kcm.Client;
using Kcm.Controllers.Common;
using Kcm.Runtime.Controllers;
using Kcm.Runtime.Events;
using Kcm.Runtime.Informers;
using Kcm.Runtime.Queues;
using Microsoft.Extensions.Logging;

namespace Kcm.Controllers.DaemonSets;

public sealed record DaemonSetControllerOptions
{
    /// <summary>Upstream's BurstReplicas for DaemonSets: at most this many creations and deletions per sync.</summary>
    public int BurstReplicas { get; init; } = 250;

    /// <summary>
    /// ConcurrentDaemonSetSyncs: v1.26 has no flag for it, so it is always the componentconfig default.
    /// </summary>
    public int Workers { get; init; } = 2;

    public TimeSpan FailedPodsBackoffInitial { get; init; } = TimeSpan.FromSeconds(1);

    public TimeSpan FailedPodsBackoffMax { get; init; } = TimeSpan.FromMinutes(15);
}

/// <summary>The DaemonSet controller's reads and writes of DaemonSets themselves (a seam for unit tests).</summary>
public interface IDaemonSetClient
{
    /// <summary>A fresh (uncached) read.</summary>
    Task<DaemonSet> GetAsync(string? @namespace, string name, CancellationToken cancellationToken);

    Task<DaemonSet> UpdateStatusAsync(DaemonSet ds, CancellationToken cancellationToken);
}

public sealed class ApiDaemonSetClient(KubeApiClient client) : IDaemonSetClient
{
    public Task<DaemonSet> GetAsync(string? @namespace, string name, CancellationToken cancellationToken)
        => client.GetAsync<DaemonSet>(@namespace, name, cancellationToken);

    public Task<DaemonSet> UpdateStatusAsync(DaemonSet ds, CancellationToken cancellationToken)
        => client.UpdateStatusAsync(ds, cancellationToken: cancellationToken);
}

/// <summary>
/// Upstream's DaemonSetsController: one pod per eligible node (nodeSelector, required node affinity, taints against
/// the tolerations every daemon pod gets), each pod pinned to its node by node affinity so the scheduler binds it;
/// RollingUpdate (maxUnavailable or maxSurge) and OnDelete updates, the template history as ControllerRevisions,
/// failed pods replaced with a per-node backoff, and status written only when it changed.
/// </summary>
public sealed partial class DaemonSetController
{
    public const string ControllerName = "daemonset";
    public const string Component = "daemonset-controller";
    public const string ServiceAccount = "daemon-set-controller";
    public const string SelectingAllReason = "SelectingAll";
    public const string FailedDaemonPodReason = "FailedDaemonPod";

    private static readonly TimeSpan BackoffGcInterval = TimeSpan.FromMinutes(1);

    private readonly DaemonSetControllerOptions _options;
    private readonly IObjectCache<DaemonSet> _daemonSets;
    private readonly IObjectCache<ControllerRevision> _revisions;
    private readonly IObjectCache<Pod> _pods;
    private readonly IObjectCache<Node> _nodes;
    private readonly IPodControl _podControl;
    private readonly IControllerRevisionClient _revisionClient;
    private readonly IDaemonSetClient _client;
    private readonly IEventRecorder _events;
    private readonly RateLimitingQueue<ObjectKey> _queue;
    private readonly ILogger _logger;
    private readonly TimeProvider _time;
    private readonly OwnedObjectEvents<DaemonSet> _owned;

    public DaemonSetController(ControllerContext context, DaemonSetControllerOptions options)
        : this(context, options, context.Informers.InformerFor<DaemonSet>(), context.Informers.InformerFor<ControllerRevision>(),
            context.Informers.InformerFor<Pod>(), context.Informers.InformerFor<Node>())
    {
    }

    private DaemonSetController(
        ControllerContext context, DaemonSetControllerOptions options, SharedInformer<DaemonSet> dsInformer,
        SharedInformer<ControllerRevision> revisionInformer, SharedInformer<Pod> podInformer, SharedInformer<Node> nodeInformer)
        : this(
            options,
            dsInformer.Cache,
            revisionInformer.Cache,
            podInformer.Cache,
            nodeInformer.Cache,
            new PodControl(context.Clients.For(ServiceAccount), context.Events.NewRecorder(Component), context.Loggers.CreateLogger(typeof(PodControl))),
            new ApiControllerRevisionClient(context.Clients.For(ServiceAccount)),
            new ApiDaemonSetClient(context.Clients.For(ServiceAccount)),
            context.Events.NewRecorder(Component),
            context.NewQueue(ControllerName),
            context.Loggers.CreateLogger(typeof(DaemonSetController)),
            context.Time,
            [podInformer, nodeInformer, revisionInformer, dsInformer])
    {
        dsInformer.AddEventHandler(new ResourceEventHandler<DaemonSet>
        {
            Added = (ds, _) => OnDaemonSetAdded(ds),
            Updated = OnDaemonSetUpdated,
            Deleted = (ds, _) => OnDaemonSetDeleted(ds),
        });
        revisionInformer.AddEventHandler(new ResourceEventHandler<ControllerRevision>
        {
            Added = (r, _) => OnRevisionAdded(r),
            Updated = OnRevisionUpdated,
            Deleted = (r, _) => OnRevisionDeleted(r),
        });
        podInformer.AddEventHandler(new ResourceEventHandler<Pod>
        {
            Added = (pod, _) => OnPodAdded(pod),
            Updated = OnPodUpdated,
            Deleted = (pod, _) => OnPodDeleted(pod),
        });
        nodeInformer.AddEventHandler(new ResourceEventHandler<Node>
        {
            Added = (node, _) => OnNodeAdded(node),
            // A heartbeat (condition times only) is ignored before it reaches the handler's task; the comparison runs
            // here only, not again in OnNodeUpdated.
            UpdateWanted = (oldNode, curNode) => !ShouldIgnoreNodeUpdate(oldNode, curNode),
            Updated = OnNodeUpdated,
        });
    }

    /// <summary>Builds the controller from its parts without informers (unit tests feed the caches and call the handlers).</summary>
    internal DaemonSetController(
        DaemonSetControllerOptions options,
        IObjectCache<DaemonSet> daemonSets,
        IObjectCache<ControllerRevision> revisions,
        IObjectCache<Pod> pods,
        IObjectCache<Node> nodes,
        IPodControl podControl,
        IControllerRevisionClient revisionClient,
        IDaemonSetClient client,
        IEventRecorder events,
        RateLimitingQueue<ObjectKey> queue,
        ILogger logger,
        TimeProvider time,
        IReadOnlyList<ISharedInformer>? informers = null)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(options.BurstReplicas);
        _options = options;
        _daemonSets = daemonSets;
        _revisions = revisions;
        _pods = pods;
        _nodes = nodes;
        _podControl = podControl;
        _revisionClient = revisionClient;
        _client = client;
        _events = events;
        _queue = queue;
        _logger = logger;
        _time = time;
        Expectations = new ControllerExpectations(time, logger);
        _owned = new OwnedObjectEvents<DaemonSet>(daemonSets, Kind, ds => Kcm.Api.Selectors.LabelSelector.FromApi(ds.Spec?.Selector), (metadata, _) =>
            logger.LogError("{Message}", "user error! more than one daemon is selecting pods with labels: map["
                + string.Join(" ", metadata.Labels!.OrderBy(l => l.Key, StringComparer.Ordinal).Select(l => $"{l.Key}:{l.Value}")) + "]"));
        FailedPodsBackoff = new FailedPodsBackoff(time, options.FailedPodsBackoffInitial, options.FailedPodsBackoffMax);
        // Upstream's processNextWorkItem: utilruntime.HandleError(fmt.Errorf("%v failed with : %v", dsKey, err)).
        var policy = RetryPolicy.HandleError((key, error) => $"{key} failed with : {error.Message}");
        Workers = new ControllerWorkers<ObjectKey>(ControllerName, queue, SyncAsync, logger, policy, informers ?? [])
        {
            Description = "daemon sets controller",
            CacheSyncName = "daemon sets",
        };
    }

    public ControllerWorkers<ObjectKey> Workers { get; }

    internal ControllerExpectations Expectations { get; }

    internal FailedPodsBackoff FailedPodsBackoff { get; }

    internal RateLimitingQueue<ObjectKey> Queue => _queue;

    private static Kcm.Api.ResourceInfo Kind => DaemonSet.Resource;

    public async Task RunAsync(int workers, CancellationToken cancellationToken)
    {
        var gc = GcBackoffAsync(cancellationToken);
        await Workers.RunAsync(workers, cancellationToken).ConfigureAwait(false);
        await gc.ConfigureAwait(false);
    }

    private async Task GcBackoffAsync(CancellationToken cancellationToken)
    {
        using var timer = new PeriodicTimer(BackoffGcInterval, _time);
        try
        {
            while (await timer.WaitForNextTickAsync(cancellationToken).ConfigureAwait(false))
            {
                FailedPodsBackoff.Gc();
            }
        }
        catch (OperationCanceledException)
        {
            // Leadership lost or shutdown.
        }
    }

    // ---- Event routing: handlers only turn events into keys (and observe expectations).

    internal void OnDaemonSetAdded(DaemonSet ds)
    {
        _logger.LogTrace("Adding daemon set {Name}", ds.Metadata?.Name);
        _queue.Add(ObjectKey.Of(ds));
    }

    internal void OnDaemonSetUpdated(DaemonSet oldDs, DaemonSet curDs)
    {
        if (oldDs.Metadata?.Uid != curDs.Metadata?.Uid)
        {
            OnDaemonSetDeleted(oldDs); // Deleted and recreated between two watch events.
        }
        _logger.LogTrace("Updating daemon set {Name}", curDs.Metadata?.Name);
        _queue.Add(ObjectKey.Of(curDs));
    }

    internal void OnDaemonSetDeleted(DaemonSet ds)
    {
        var key = ObjectKey.Of(ds);
        _logger.LogTrace("Deleting daemon set {Name}", key.Name);
        // A new DaemonSet with the same name must start clean.
        Expectations.DeleteExpectations(key);
        _queue.Add(key);
    }

    internal void OnRevisionAdded(ControllerRevision revision)
    {
        if (revision.Metadata?.DeletionTimestamp is not null)
        {
            OnRevisionDeleted(revision);
            return;
        }
        // An owned revision: upstream only logs, the DaemonSet acted on it already.
        _owned.Added(revision.Metadata, _ => { }, Enqueue);
    }

    internal void OnRevisionUpdated(ControllerRevision oldRevision, ControllerRevision curRevision)
    {
        if (curRevision.Metadata?.ResourceVersion == oldRevision.Metadata?.ResourceVersion)
        {
            return;
        }
        _owned.Updated(oldRevision.Metadata, curRevision.Metadata, Enqueue, Enqueue);
    }

    internal void OnRevisionDeleted(ControllerRevision revision)
    {
        if (_owned.Owner(revision.Metadata) is { } ds)
        {
            Enqueue(ds);
        }
    }

    internal void OnPodAdded(Pod pod)
    {
        if (pod.Metadata?.DeletionTimestamp is not null)
        {
            // Seen for the first time already being deleted (e.g. after a restart): not a creation.
            OnPodDeleted(pod);
            return;
        }
        // Nobody waits for an orphan's creation: only the owner observes it.
        _owned.Added(pod.Metadata, ds =>
        {
            var key = ObjectKey.Of(ds);
            _logger.LogTrace("Pod \"{Name}\" added.", pod.Metadata?.Name);
            Expectations.CreationObserved(key);
            _queue.Add(key);
        }, Enqueue);
    }

    internal void OnPodUpdated(Pod oldPod, Pod curPod)
    {
        if (curPod.Metadata?.ResourceVersion == oldPod.Metadata?.ResourceVersion)
        {
            return; // A resync.
        }
        if (curPod.Metadata?.DeletionTimestamp is not null)
        {
            // Graceful deletion started: replace the pod now, not when the kubelet finally removes it.
            OnPodDeleted(curPod);
            return;
        }
        _owned.Updated(oldPod.Metadata, curPod.Metadata, ds =>
        {
            var key = ObjectKey.Of(ds);
            _queue.Add(key);
            var minReadySeconds = ds.Spec?.MinReadySeconds ?? 0;
            if (!PodReadiness.IsPodReady(oldPod) && PodReadiness.IsPodReady(curPod) && minReadySeconds > 0)
            {
                // Availability is not an event of its own: look again after minReadySeconds (plus a second of skew).
                _queue.AddAfter(key, TimeSpan.FromSeconds(minReadySeconds) + TimeSpan.FromSeconds(1));
            }
        }, Enqueue);
    }

    internal void OnPodDeleted(Pod pod)
    {
        if (_owned.Owner(pod.Metadata) is not { } ds)
        {
            return; // Nobody cares about an orphan's deletion.
        }
        var key = ObjectKey.Of(ds);
        _logger.LogTrace("Pod \"{Name}\" deleted.", pod.Metadata?.Name);
        Expectations.DeletionObserved(key);
        _queue.Add(key);
    }

    internal void OnNodeAdded(Node node)
    {
        foreach (var ds in _daemonSets.List())
        {
            if (DaemonSetUtil.NodeShouldRunDaemonPod(node, ds).ShouldRun)
            {
                _queue.Add(ObjectKey.Of(ds));
            }
        }
    }

    /// <summary>
    /// Updates <see cref="ShouldIgnoreNodeUpdate"/> ignores never get here: the informer drops them (the handler's
    /// UpdateWanted). For them no DaemonSet's should-run answer changes anyway.
    /// </summary>
    internal void OnNodeUpdated(Node oldNode, Node curNode)
    {
        foreach (var ds in _daemonSets.List())
        {
            if (DaemonSetUtil.NodeShouldRunDaemonPod(oldNode, ds) != DaemonSetUtil.NodeShouldRunDaemonPod(curNode, ds))
            {
                _queue.Add(ObjectKey.Of(ds));
            }
        }
    }

    /// <summary>
    /// shouldIgnoreNodeUpdate: nothing but the resource version and conditions changed, and the set of conditions that
    /// are True is the same (heartbeats and transition times do not matter).
    /// </summary>
    internal static bool ShouldIgnoreNodeUpdate(Node oldNode, Node curNode)
    {
        static HashSet<string> TrueConditions(Node n)
            => (n.Status?.Conditions ?? []).Where(c => c.Status == "True").Select(c => c.Type ?? "").ToHashSet(StringComparer.Ordinal);
        if (!TrueConditions(oldNode).SetEquals(TrueConditions(curNode)))
        {
            return false;
        }
        // A status write that changes anything restamps its manager's managedFields entry, so on a real server most
        // node updates already differ there: answered without serializing both nodes, as the full comparison would.
        if (ManagedFieldsStampsDiffer(oldNode.Metadata?.ManagedFields, curNode.Metadata?.ManagedFields))
        {
            return false;
        }
        return JsonNode.DeepEquals(WithoutResourceVersionAndConditions(oldNode), WithoutResourceVersionAndConditions(curNode));
    }

    private static bool ManagedFieldsStampsDiffer(List<ManagedFieldsEntry>? old, List<ManagedFieldsEntry>? cur)
    {
        var count = old?.Count ?? 0;
        if (count != (cur?.Count ?? 0))
        {
            return true;
        }
        for (var i = 0; i < count; i++)
        {
            var (a, b) = (old![i], cur![i]);
            if (a.Manager != b.Manager || a.Operation != b.Operation || a.Subresource != b.Subresource
                || a.Time?.ToUnixTimeSeconds() != b.Time?.ToUnixTimeSeconds())
            {
                return true;
            }
        }
        return false;
    }

    /// <summary>The node's JSON form with the fields the comparison skips removed; an empty metadata or status is dropped, since Go's zero-valued struct equals an absent one.</summary>
    private static JsonObject WithoutResourceVersionAndConditions(Node node)
    {
        var json = KubeJson.ToNode(node)!.AsObject();
        static void Drop(JsonObject parent, string section, string field)
        {
            if (parent[section] is JsonObject obj)
            {
                obj.Remove(field);
                if (obj.Count == 0)
                {
                    parent.Remove(section);
                }
            }
            else if (parent.TryGetPropertyValue(section, out var value) && value is null)
            {
                parent.Remove(section);
            }
        }
        Drop(json, "metadata", "resourceVersion");
        Drop(json, "status", "conditions");
        return json;
    }

    private void Enqueue(DaemonSet ds) => _queue.Add(ObjectKey.Of(ds));
}

using Kcm.Api.Apps.V1;
using Kcm.Api.Core.V1;
using Kcm.Api.Policy.V1;
using Kcm.Api.Selectors;
using Kcm.Client.Errors;
using Kcm.Controllers.Common;
using Kcm.Runtime.Controllers;
using Kcm.Runtime.Events;
using Kcm.Runtime.Informers;
using Kcm.Runtime.Logging;
using Kcm.Runtime.Queues;
using Microsoft.Extensions.Logging;

namespace Kcm.Controllers.Disruption;

/// <summary>The caches the disruption controller reads.</summary>
public sealed record DisruptionCaches(
    IObjectCache<PodDisruptionBudget> Budgets,
    IObjectCache<Pod> Pods,
    IObjectCache<ReplicationController> ReplicationControllers,
    IObjectCache<ReplicaSet> ReplicaSets,
    IObjectCache<Deployment> Deployments,
    IObjectCache<StatefulSet> StatefulSets);

/// <summary>The three queues upstream runs: budgets to sync, budgets to sync again later, pods whose DisruptionTarget condition went stale.</summary>
public sealed record DisruptionQueues(RateLimitingQueue<ObjectKey> Budgets, RateLimitingQueue<ObjectKey> Recheck, RateLimitingQueue<ObjectKey> StalePods);

/// <summary>
/// Upstream's disruption controller: keeps each PodDisruptionBudget's status (currentHealthy, desiredHealthy,
/// expectedPods, disruptionsAllowed, disruptedPods, the DisruptionAllowed condition) current from the pods it
/// selects and their controllers' scale, which is what the eviction subresource decides by. When a status cannot
/// be computed it "fails safe": disruptionsAllowed 0 and a SyncFailed condition. It also resets pods'
/// DisruptionTarget conditions that stayed True two minutes without the pod being deleted.
/// </summary>
public sealed class DisruptionController
{
    public const string ControllerName = "disruption";
    public const string ServiceAccountName = "disruption-controller";
    public const string QueueName = "disruption";
    public const string RecheckQueueName = "disruption_recheck";
    public const string StalePodQueueName = "stale_pod_disruption";

    /// <summary>Upstream records this controller's events as the component "controllermanager".</summary>
    public const string EventComponent = "controllermanager";

    public const string DisruptionTargetCondition = "DisruptionTarget";
    public const string TerminationByKubeletReason = "TerminationByKubelet";

    public static readonly TimeSpan StalePodDisruptionTimeout = TimeSpan.FromMinutes(2);

    private readonly DisruptionCaches _caches;
    private readonly PodControllerFinders _finders;
    private readonly IDisruptionWriter _writer;
    private readonly IEventRecorder _recorder;
    private readonly DisruptionQueues _queues;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;

    public DisruptionController(ControllerContext context)
    {
        var informers = context.Informers;
        var budgets = informers.InformerFor<PodDisruptionBudget>();
        var pods = informers.InformerFor<Pod>();
        var rcs = informers.InformerFor<ReplicationController>();
        var rss = informers.InformerFor<ReplicaSet>();
        var deployments = informers.InformerFor<Deployment>();
        var statefulSets = informers.InformerFor<StatefulSet>();
        var client = context.Clients.For(ServiceAccountName);
        _caches = new DisruptionCaches(budgets.Cache, pods.Cache, rcs.Cache, rss.Cache, deployments.Cache, statefulSets.Cache);
        _finders = new PodControllerFinders(rcs.Cache, rss.Cache, deployments.Cache, statefulSets.Cache, new ApiScaleClient(client));
        _writer = new ApiDisruptionWriter(client);
        _recorder = context.Events.NewRecorder(EventComponent, EventLogging.None);
        _queues = new DisruptionQueues(context.NewQueue(QueueName), context.NewQueue(RecheckQueueName), context.NewQueue(StalePodQueueName));
        _time = context.Time;
        _logger = context.Loggers.CreateLogger<DisruptionController>();
        (Workers, RecheckWorkers, StalePodWorkers) = NewWorkers([budgets, pods, rcs, rss, deployments, statefulSets]);

        pods.AddEventHandler(new ResourceEventHandler<Pod>
        {
            Added = (pod, _) => OnPodChanged(pod),
            Updated = (_, pod) => OnPodChanged(pod),
            Deleted = (pod, _) => OnPodDeleted(pod),
        });
        budgets.AddEventHandler(new ResourceEventHandler<PodDisruptionBudget>
        {
            Added = (pdb, _) => Enqueue(pdb),
            Updated = (_, pdb) => Enqueue(pdb),
            Deleted = (pdb, _) => Enqueue(pdb),
        });
    }

    /// <summary>Builds the controller without informers (unit tests feed the caches and call the handlers).</summary>
    internal DisruptionController(DisruptionCaches caches, IScaleClient scales, IDisruptionWriter writer, IEventRecorder recorder,
        DisruptionQueues queues, TimeProvider time, ILogger logger)
    {
        _caches = caches;
        _finders = new PodControllerFinders(caches.ReplicationControllers, caches.ReplicaSets, caches.Deployments, caches.StatefulSets, scales);
        _writer = writer;
        _recorder = recorder;
        _queues = queues;
        _time = time;
        _logger = logger;
        (Workers, RecheckWorkers, StalePodWorkers) = NewWorkers([]);
    }

    public ControllerWorkers<ObjectKey> Workers { get; }

    /// <summary>Moves a budget whose disruptedPods entries time out back to the main queue (rate limited, as upstream).</summary>
    public ControllerWorkers<ObjectKey> RecheckWorkers { get; }

    public ControllerWorkers<ObjectKey> StalePodWorkers { get; }

    /// <summary>One worker per queue, as upstream.</summary>
    public Task RunAsync(CancellationToken cancellationToken)
    {
        _logger.LogInformation("Sending events to api server.");
        return Task.WhenAll(Workers.RunAsync(1, cancellationToken), RecheckWorkers.RunAsync(1, cancellationToken), StalePodWorkers.RunAsync(1, cancellationToken));
    }

    private (ControllerWorkers<ObjectKey>, ControllerWorkers<ObjectKey>, ControllerWorkers<ObjectKey>) NewWorkers(IReadOnlyList<ISharedInformer> informers) => (
        new ControllerWorkers<ObjectKey>(ControllerName, _queues.Budgets, SyncAsync, _logger,
            RetryPolicy.HandleError((key, error) => $"Error syncing PodDisruptionBudget {key}, requeuing: {error.Message}"), informers)
        {
            Description = "disruption controller",
            CacheSyncName = "disruption",
        },
        new ControllerWorkers<ObjectKey>(RecheckQueueName, _queues.Recheck, Recheck, _logger, waitFor: informers),
        new ControllerWorkers<ObjectKey>(StalePodQueueName, _queues.StalePods, SyncStalePodAsync, _logger,
            RetryPolicy.HandleError((key, error) => $"error syncing Pod {key} to clear DisruptionTarget condition, requeueing: {error.Message}"), informers));

    internal void Enqueue(PodDisruptionBudget pdb) => _queues.Budgets.Add(ObjectKey.Of(pdb));

    internal void OnPodChanged(Pod pod)
    {
        if (BudgetForPod(pod) is { } pdb)
        {
            Enqueue(pdb);
        }
        if (StaleDisruptionCondition(pod) is { } cleanAfter)
        {
            _queues.StalePods.AddAfter(ObjectKey.Of(pod), cleanAfter);
        }
    }

    internal void OnPodDeleted(Pod pod)
    {
        if (BudgetForPod(pod) is { } pdb)
        {
            Enqueue(pdb);
        }
    }

    /// <summary>
    /// The budget a pod event concerns (GetPodPodDisruptionBudgets: any budget of the namespace whose valid selector
    /// matches, an empty selector matching all); with several, the first, and a warning event on the pod.
    /// </summary>
    private PodDisruptionBudget? BudgetForPod(Pod pod)
    {
        var matches = new List<PodDisruptionBudget>();
        foreach (var pdb in _caches.Budgets.ByIndex(KnownIndexers.Namespace, pod.Metadata?.Namespace ?? ""))
        {
            LabelSelector? selector;
            try
            {
                selector = LabelSelector.FromApi(pdb.Spec?.Selector);
            }
            catch (SelectorParseException)
            {
                continue;
            }
            if (selector is not null && selector.Matches(pod.Metadata?.Labels))
            {
                matches.Add(pdb);
            }
        }
        if (matches.Count == 0)
        {
            return null;
        }
        if (matches.Count > 1)
        {
            var message = $"Pod \"{pod.Metadata?.Namespace}\"/\"{pod.Metadata?.Name}\" matches multiple PodDisruptionBudgets.  Chose \"{matches[0].Metadata?.Name}\" arbitrarily.";
            _logger.LogWarning("{Message}", message);
            _recorder.Event(pod, EventTypes.Warning, "MultiplePodDisruptionBudgets", message);
        }
        return matches[0];
    }

    private Task<ReconcileResult> Recheck(ObjectKey key, CancellationToken cancellationToken)
    {
        _queues.Budgets.AddRateLimited(key);
        return Task.FromResult(ReconcileResult.Done);
    }

    public async Task<ReconcileResult> SyncAsync(ObjectKey key, CancellationToken cancellationToken)
    {
        if (_caches.Budgets.Get(key) is not { } pdb)
        {
            return ReconcileResult.Done;
        }
        try
        {
            await TrySyncAsync(pdb, cancellationToken).ConfigureAwait(false);
        }
        catch (ConflictException)
        {
            // Someone else wrote the budget (an eviction): retry without failing safe.
            throw;
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            _logger.LogError("{Message}", $"Failed to sync pdb {key}: {e.Message}");
            await FailSafeAsync(pdb, e, cancellationToken).ConfigureAwait(false);
        }
        return ReconcileResult.Done;
    }

    private async Task TrySyncAsync(PodDisruptionBudget pdb, CancellationToken cancellationToken)
    {
        List<Pod> pods;
        try
        {
            pods = PodsForBudget(pdb);
        }
        catch (SelectorParseException e)
        {
            _recorder.Event(pdb, EventTypes.Warning, "NoPods", $"Failed to get pods: {e.Message}");
            throw;
        }
        if (pods.Count == 0)
        {
            _recorder.Event(pdb, EventTypes.Normal, "NoPods", "No matching pods found");
        }

        int expectedCount, desiredHealthy;
        try
        {
            (expectedCount, desiredHealthy) = await ExpectedPodCountAsync(pdb, pods, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            _recorder.Event(pdb, EventTypes.Warning, "CalculateExpectedPodCountFailed", $"Failed to calculate the number of expected pods: {e.Message}");
            throw;
        }

        var now = _time.GetUtcNow();
        var disrupted = PdbStatus.BuildDisruptedPodMap(pods, pdb, now, out var recheckAt, out var overdue);
        foreach (var (pod, at) in overdue)
        {
            _logger.LogInformation(Klog.V1, "{Message}", $"Pod {ObjectKey.Of(pod)} was expected to be deleted at {at.UtcDateTime.ToString("yyyy-MM-dd HH:mm:ss", System.Globalization.CultureInfo.InvariantCulture)} +0000 UTC but it wasn't, updating pdb {ObjectKey.Of(pdb)}");
            // Upstream names the budget "namespace/namespace" here.
            _recorder.Event(pod, EventTypes.Warning, "NotDeleted", $"Pod was expected by PDB {pdb.Metadata?.Namespace}/{pdb.Metadata?.Namespace} to be deleted but it wasn't");
        }
        var currentHealthy = PdbStatus.CountHealthyPods(pods, disrupted, now);
        await UpdateStatusAsync(pdb, currentHealthy, desiredHealthy, expectedCount, disrupted, now, cancellationToken).ConfigureAwait(false);

        if (recheckAt is { } at2)
        {
            // One entry per budget: the queue keeps the earliest time it was given.
            _queues.Recheck.AddAfter(ObjectKey.Of(pdb), at2 - now);
        }
    }

    /// <summary>The budget's pods: its namespace's pods its selector matches (none for a missing selector).</summary>
    private List<Pod> PodsForBudget(PodDisruptionBudget pdb)
    {
        var selector = LabelSelector.FromApi(pdb.Spec?.Selector);
        if (selector is null)
        {
            return [];
        }
        return _caches.Pods.ByIndex(KnownIndexers.Namespace, pdb.Metadata?.Namespace ?? "")
            .Where(p => selector.Matches(p.Metadata?.Labels))
            .ToList();
    }

    /// <summary>
    /// getExpectedPodCount: maxUnavailable (int or percent) and a percent minAvailable count against the summed scale
    /// of the pods' controllers; an integer minAvailable counts against the pods found.
    /// </summary>
    internal async Task<(int ExpectedCount, int DesiredHealthy)> ExpectedPodCountAsync(PodDisruptionBudget pdb, List<Pod> pods, CancellationToken cancellationToken)
    {
        var spec = pdb.Spec;
        if (spec?.MaxUnavailable is { } maxUnavailable)
        {
            var expected = await ExpectedScaleAsync(pods, cancellationToken).ConfigureAwait(false);
            return (expected, Math.Max(0, expected - PdbStatus.Scaled(maxUnavailable, expected)));
        }
        if (spec?.MinAvailable is { } minAvailable)
        {
            if (minAvailable.IsInt)
            {
                return (pods.Count, minAvailable.IntValue!.Value);
            }
            var expected = await ExpectedScaleAsync(pods, cancellationToken).ConfigureAwait(false);
            return (expected, PdbStatus.Scaled(minAvailable, expected));
        }
        return (0, 0);
    }

    private async Task<int> ExpectedScaleAsync(List<Pod> pods, CancellationToken cancellationToken)
    {
        var (expected, unmanaged) = await _finders.ExpectedScaleAsync(pods, cancellationToken).ConfigureAwait(false);
        if (unmanaged.Count > 0)
        {
            _logger.LogTrace("found unmanaged pods associated with this PDB: {Pods}", string.Join(",'", unmanaged));
        }
        return expected;
    }

    private async Task UpdateStatusAsync(PodDisruptionBudget pdb, int currentHealthy, int desiredHealthy, int expectedCount,
        Dictionary<string, DateTimeOffset> disrupted, DateTimeOffset now, CancellationToken cancellationToken)
    {
        // A budget that matches no pods yet allows nothing, so its first pods are safe before the next sync.
        var allowed = currentHealthy - desiredHealthy;
        if (expectedCount <= 0 || allowed <= 0)
        {
            allowed = 0;
        }
        var status = pdb.Status;
        var generation = pdb.Metadata?.Generation ?? 0;
        if ((status?.CurrentHealthy ?? 0) == currentHealthy
            && (status?.DesiredHealthy ?? 0) == desiredHealthy
            && (status?.ExpectedPods ?? 0) == expectedCount
            && (status?.DisruptionsAllowed ?? 0) == allowed
            && PdbStatus.SameDisruptedPods(status?.DisruptedPods, disrupted)
            && (status?.ObservedGeneration ?? 0) == generation
            && PdbStatus.ConditionsAreUpToDate(pdb))
        {
            return;
        }

        // A fresh status, as upstream builds it: other conditions go, and DisruptionAllowed is set anew.
        var updated = KubeObjects.Clone(pdb);
        updated.Status = new PodDisruptionBudgetStatus
        {
            CurrentHealthy = currentHealthy,
            DesiredHealthy = desiredHealthy,
            ExpectedPods = expectedCount,
            DisruptionsAllowed = allowed,
            DisruptedPods = disrupted.Count == 0 ? null : disrupted.ToDictionary(p => p.Key, p => (DateTimeOffset?)p.Value, StringComparer.Ordinal),
            ObservedGeneration = generation == 0 ? null : generation,
        };
        PdbStatus.UpdateDisruptionAllowedCondition(updated.Status, now);
        await _writer.UpdateStatusAsync(updated, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// When the status cannot be computed: at least stop evictions (disruptionsAllowed 0, DisruptionAllowed False with
    /// reason SyncFailed and the error), keeping the rest of the status.
    /// </summary>
    private async Task FailSafeAsync(PodDisruptionBudget pdb, Exception error, CancellationToken cancellationToken)
    {
        var updated = KubeObjects.Clone(pdb);
        updated.Status ??= new PodDisruptionBudgetStatus();
        // The counts are not optional in the Go type: a fresh status carries them as zeros.
        updated.Status.CurrentHealthy ??= 0;
        updated.Status.DesiredHealthy ??= 0;
        updated.Status.ExpectedPods ??= 0;
        updated.Status.DisruptionsAllowed = 0;
        updated.Status.Conditions ??= [];
        PdbStatus.SetStatusCondition(updated.Status.Conditions, new Kcm.Api.Meta.V1.Condition
        {
            Type = PdbStatus.DisruptionAllowedCondition,
            Status = "False",
            Reason = PdbStatus.SyncFailedReason,
            Message = error.Message,
            ObservedGeneration = PdbStatus.OmitZero(updated.Status.ObservedGeneration),
        }, _time.GetUtcNow());
        await _writer.UpdateStatusAsync(updated, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// When a pod's DisruptionTarget condition (True, set by an eviction or a controller, not by the kubelet) becomes
    /// stale: null when it has none or it never goes stale (pod deleting, or in a terminal phase), else the time
    /// left until the timeout (zero when already past).
    /// </summary>
    internal TimeSpan? StaleDisruptionCondition(Pod pod)
    {
        if (pod.Metadata?.DeletionTimestamp is not null)
        {
            return null;
        }
        var condition = pod.Status?.Conditions?.FirstOrDefault(c => c.Type == DisruptionTargetCondition);
        if (condition is null || condition.Status != "True" || condition.Reason == TerminationByKubeletReason
            || pod.Status?.Phase is PodReadiness.PhaseSucceeded or PodReadiness.PhaseFailed)
        {
            return null;
        }
        // A missing time is Go's zero time: long stale.
        var since = condition.LastTransitionTime ?? DateTimeOffset.MinValue;
        var waitFor = StalePodDisruptionTimeout - (_time.GetUtcNow() - since);
        return waitFor < TimeSpan.Zero ? TimeSpan.Zero : waitFor;
    }

    public async Task<ReconcileResult> SyncStalePodAsync(ObjectKey key, CancellationToken cancellationToken)
    {
        if (_caches.Pods.Get(key) is not { } pod || StaleDisruptionCondition(pod) is not { } cleanAfter)
        {
            return ReconcileResult.Done;
        }
        if (cleanAfter > TimeSpan.Zero)
        {
            return ReconcileResult.After(cleanAfter);
        }
        await _writer.ResetDisruptionTargetAsync(pod, _time.GetUtcNow(), cancellationToken).ConfigureAwait(false);
        _logger.LogDebug("Reset stale DisruptionTarget condition to False {pod}", key);
        return ReconcileResult.Done;
    }
}

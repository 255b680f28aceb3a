using Kcm.Api.Core.V1;
using Kcm.Api.Storage.V1;
using Kcm.Controllers.Common;
using Kcm.Runtime.Controllers;
using Kcm.Runtime.Events;
using Kcm.Runtime.Informers;
using Kcm.Runtime.Logging;
using Kcm.Runtime.Queues;
using Microsoft.Extensions.Logging;

namespace Kcm.Controllers.AttachDetach;

/// <summary>The flags of the attachdetach group.</summary>
public sealed record AttachDetachSettings(bool DisableReconcileSync, TimeSpan ReconcileSyncPeriod, bool NodeOutOfServiceVolumeDetach = true);

/// <summary>
/// Upstream v1.26's attach/detach controller for CSI volumes: the desired state comes from scheduled, not terminated
/// pods on nodes annotated volumes.kubernetes.io/controller-managed-attach-detach; the actual state from the nodes'
/// status.volumesAttached and the VolumeAttachments found at start, then from its own attaches and detaches. The
/// reconciler creates and deletes the VolumeAttachments external attachers act on, and reports what is attached in
/// each node's status.volumesAttached.
/// </summary>
public sealed class AttachDetachController
{
    public const string ControllerName = "attachdetach";
    public const string ServiceAccountName = "attachdetach-controller";
    public const string ManagedAnnotation = "volumes.kubernetes.io/controller-managed-attach-detach";
    public const string KeepTerminatedPodVolumesAnnotation = "volumes.kubernetes.io/keep-terminated-pod-volumes";

    // Upstream's DefaultTimerConfig for the desired-state populator.
    private static readonly TimeSpan PopulatorLoopPeriod = TimeSpan.FromMinutes(1);
    private static readonly TimeSpan ListPodsRetryDuration = TimeSpan.FromMinutes(3);

    private readonly IObjectCache<Pod> _pods;
    private readonly IObjectCache<Node> _nodes;
    private readonly IObjectCache<PersistentVolumeClaim> _claims;
    private readonly IObjectCache<PersistentVolume> _volumes;
    private readonly IObjectCache<VolumeAttachment> _attachments;
    private readonly CsiAttachPlugin _plugin;
    private readonly RateLimitingQueue<ObjectKey> _claimQueue;
    private readonly IReadOnlyList<ISharedInformer> _informers;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private DateTimeOffset _lastListPods;

    public AttachDetachController(ControllerContext context, AttachDetachSettings settings)
        : this(context, settings, context.Informers.InformerFor<Pod>(), context.Informers.InformerFor<Node>(),
            context.Informers.InformerFor<PersistentVolumeClaim>(), context.Informers.InformerFor<PersistentVolume>(),
            context.Informers.InformerFor<CSIDriver>(), context.Informers.InformerFor<VolumeAttachment>())
    {
    }

    private AttachDetachController(ControllerContext context, AttachDetachSettings settings, SharedInformer<Pod> pods, SharedInformer<Node> nodes,
        SharedInformer<PersistentVolumeClaim> claims, SharedInformer<PersistentVolume> volumes, SharedInformer<CSIDriver> drivers,
        SharedInformer<VolumeAttachment> attachments)
        : this(PrepareIndex(pods), nodes.Cache, claims.Cache, volumes.Cache, drivers.Cache, attachments.Cache,
            new ApiAttachDetachClient(context.Clients.For(ServiceAccountName)), context.Events.NewRecorder(ServiceAccountName),
            context.NewQueue("pvcs"), new ReconcilerSettings
            {
                DisableReconcileSync = settings.DisableReconcileSync,
                SyncPeriod = settings.ReconcileSyncPeriod,
                NodeOutOfServiceVolumeDetach = settings.NodeOutOfServiceVolumeDetach,
            },
            context.Time, context.Loggers, [pods, nodes, claims, volumes, drivers, attachments])
    {
        pods.AddEventHandler(new ResourceEventHandler<Pod>
        {
            Added = (pod, _) => OnPodAddedOrUpdated(pod),
            Updated = (_, pod) => OnPodAddedOrUpdated(pod),
            Deleted = (pod, _) => ProcessPodVolumes(pod, addVolumes: false),
        });
        nodes.AddEventHandler(new ResourceEventHandler<Node>
        {
            Added = (node, _) => OnNodeAdded(node),
            Updated = (_, node) => OnNodeUpdated(node),
            Deleted = (node, _) => OnNodeDeleted(node),
        });
        claims.AddEventHandler(new ResourceEventHandler<PersistentVolumeClaim>
        {
            Added = (claim, _) => _claimQueue.Add(ObjectKey.Of(claim)),
            Updated = (_, claim) => _claimQueue.Add(ObjectKey.Of(claim)),
        });
    }

    internal AttachDetachController(IObjectCache<Pod> pods, IObjectCache<Node> nodes, IObjectCache<PersistentVolumeClaim> claims,
        IObjectCache<PersistentVolume> volumes, IObjectCache<CSIDriver> drivers, IObjectCache<VolumeAttachment> attachments,
        IAttachDetachClient client, IEventRecorder recorder, RateLimitingQueue<ObjectKey> claimQueue, ReconcilerSettings settings,
        TimeProvider time, ILoggerFactory loggers, IReadOnlyList<ISharedInformer>? informers = null, TimeSpan? attachTimeout = null)
    {
        _pods = pods;
        _nodes = nodes;
        _claims = claims;
        _volumes = volumes;
        _attachments = attachments;
        _claimQueue = claimQueue;
        _informers = informers ?? [];
        _time = time;
        _logger = loggers.CreateLogger<AttachDetachController>();
        // Upstream's InitPlugins lines for the attachable plugins a providerless build probes (fc and iscsi detach as no-ops here).
        foreach (var plugin in new[] { "kubernetes.io/fc", "kubernetes.io/iscsi", CsiAttachPlugin.PluginName }) _logger.LogInformation(Klog.V1, "Loaded volume plugin {pluginName}", plugin);
        _plugin = new CsiAttachPlugin(drivers);
        DesiredState = new DesiredStateOfWorld(_plugin);
        ActualState = new ActualStateOfWorld(time);
        var attacher = new CsiAttacher(client, _plugin, attachments, time, _logger) { Timeout = attachTimeout ?? CsiAttachPlugin.WatchTimeout };
        Operations = new VolumeOperations(attacher, client, new PendingOperations(time, _logger), ActualState, recorder, _logger);
        StatusUpdater = new NodeStatusUpdater(client, nodes, ActualState, _logger);
        Reconciler = new AttachDetachReconciler(DesiredState, ActualState, Operations, StatusUpdater, nodes, recorder, settings, time, _logger);
        ClaimWorkers = new ControllerWorkers<ObjectKey>("attach detach", claimQueue, SyncClaimAsync, _logger);
    }

    public DesiredStateOfWorld DesiredState { get; }

    public ActualStateOfWorld ActualState { get; }

    internal VolumeOperations Operations { get; }

    internal NodeStatusUpdater StatusUpdater { get; }

    public AttachDetachReconciler Reconciler { get; }

    internal ControllerWorkers<ObjectKey> ClaimWorkers { get; }

    public async Task RunAsync(CancellationToken cancellationToken)
    {
        _logger.LogInformation("Starting attach detach controller");
        try
        {
            _logger.LogInformation("Waiting for caches to sync for {Name}", "attach detach");
            if (!await CacheSync.WaitAsync(_informers, cancellationToken).ConfigureAwait(false))
            {
                return;
            }
            _logger.LogInformation("Caches are synced for {Name}", "attach detach");
            PopulateActualStateOfWorld();
            PopulateDesiredStateOfWorld();
            await Task.WhenAll(
                Task.Run(() => Reconciler.RunAsync(cancellationToken), CancellationToken.None),
                Task.Run(() => RunPopulatorAsync(cancellationToken), CancellationToken.None),
                Task.Run(() => ClaimWorkers.RunAsync(1, cancellationToken), CancellationToken.None)).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
        }
        finally
        {
            await Operations.Pending.WaitIdleAsync().ConfigureAwait(false);
            _logger.LogInformation("Shutting down attach detach controller");
        }
    }

    /// <summary>Seeds the actual state from the nodes' volumesAttached and the existing VolumeAttachments.</summary>
    internal void PopulateActualStateOfWorld()
    {
        foreach (var node in _nodes.List())
        {
            var nodeName = node.Metadata?.Name ?? "";
            foreach (var attached in node.Status?.VolumesAttached ?? [])
            {
                // No spec yet: fine for a volume no pod uses (it is detached by name); PopulateDesiredStateOfWorld fills in the rest.
                ActualState.MarkVolumeAsAttached(attached.Name ?? "", null, nodeName, attached.DevicePath ?? "");
                ProcessVolumesInUse(nodeName, node.Status?.VolumesInUse);
                AddNodeToDesiredState(node);
            }
        }
        foreach (var attachment in _attachments.List())
        {
            var nodeName = attachment.Spec?.NodeName ?? "";
            if (attachment.Spec?.Source?.PersistentVolumeName is not { } pvName)
            {
                _logger.LogWarning("Skipping the va as its pvName is nil, va.Name: \"{Attachment}\", nodeName: \"{Node}\"", attachment.Metadata?.Name, nodeName);
                continue;
            }
            if (_volumes.Get(new ObjectKey(null, pvName)) is not { } pv)
            {
                _logger.LogError("Unable to lookup pv object for: \"{Volume}\", err: persistentvolume \"{Volume}\" not found", pvName, pvName);
                continue;
            }
            var spec = VolumeSpec.FromPersistentVolume(pv);
            if (!_plugin.IsAttachable(spec))
            {
                _logger.LogWarning("Skipping processing the volume \"{Volume}\" on nodeName: \"{Node}\", no attacher interface found.", pvName, nodeName);
                continue;
            }
            var volumeName = CsiAttachPlugin.UniqueVolumeName(spec);
            if (ActualState.GetAttachState(volumeName, nodeName) == AttachState.Detached)
            {
                _logger.LogInformation(Klog.V1, "Marking volume attachment as uncertain as volume:\"{Volume}\" (\"{Node}\") is not attached (Detached)", volumeName, nodeName);
                ActualState.MarkVolumeAsUncertain(volumeName, spec, nodeName);
            }
        }
    }

    /// <summary>Adds the running pods' volumes, and gives attached volumes known only by name their spec.</summary>
    internal void PopulateDesiredStateOfWorld()
    {
        foreach (var pod in _pods.List())
        {
            OnPodAddedOrUpdated(pod);
            var nodeName = pod.Spec?.NodeName ?? "";
            foreach (var volume in pod.Spec?.Volumes ?? [])
            {
                if (CreateVolumeSpec(volume, pod) is not { } spec || !_plugin.IsAttachable(spec))
                {
                    continue;
                }
                var volumeName = CsiAttachPlugin.UniqueVolumeName(spec);
                if (ActualState.GetAttachState(volumeName, nodeName) != AttachState.Attached)
                {
                    continue;
                }
                var devicePath = _nodes.Get(new ObjectKey(null, nodeName))?.Status?.VolumesAttached?.FirstOrDefault(v => v.Name == volumeName)?.DevicePath;
                if (devicePath is null)
                {
                    _logger.LogError("Failed to find device path: Volume {Volume} not found on node {Node}", volumeName, nodeName);
                    continue;
                }
                ActualState.MarkVolumeAsAttached(volumeName, spec, nodeName, devicePath);
            }
        }
    }

    private async Task RunPopulatorAsync(CancellationToken cancellationToken)
    {
        _lastListPods = _time.GetUtcNow(); // The start-up population just listed them.
        while (!cancellationToken.IsCancellationRequested)
        {
            await Task.Delay(PopulatorLoopPeriod, _time, cancellationToken).ConfigureAwait(false);
            PopulatorPass();
        }
    }

    /// <summary>One pass of upstream's desired-state populator: drop pods that are gone, and every three minutes re-add active ones.</summary>
    internal void PopulatorPass()
    {
        foreach (var (uid, entry) in DesiredState.GetPodsToAdd())
        {
            var current = _pods.Get(ObjectKey.Of(entry.Pod));
            if (current is not null && DetermineVolumeAction(current, defaultAction: true) && current.Metadata?.Uid == uid)
            {
                continue;
            }
            _logger.LogInformation(Klog.V1, "Removing pod \"{Pod}\" (UID \"{Uid}\") from dsw because it does not exist in pod informer.", ObjectKey.Of(entry.Pod), uid);
            DesiredState.DeletePod(uid, entry.VolumeName, entry.NodeName);
        }
        foreach (var volume in DesiredState.GetVolumesToAttach())
        {
            if (_plugin.IsAttachable(volume.Spec))
            {
                continue;
            }
            _logger.LogInformation("Volume {Volume} changes from attachable to non-attachable.", volume.VolumeName);
            foreach (var pod in volume.ScheduledPods)
            {
                DesiredState.DeletePod(pod.Metadata?.Uid ?? "", volume.VolumeName, volume.NodeName);
            }
        }
        if (_time.GetUtcNow() - _lastListPods < ListPodsRetryDuration)
        {
            return;
        }
        _lastListPods = _time.GetUtcNow();
        foreach (var pod in _pods.List().Where(p => !IsTerminated(p)))
        {
            ProcessPodVolumes(pod, addVolumes: true);
        }
    }

    internal void OnPodAddedOrUpdated(Pod pod)
    {
        if (string.IsNullOrEmpty(pod.Spec?.NodeName))
        {
            return;
        }
        ProcessPodVolumes(pod, DetermineVolumeAction(pod, defaultAction: true));
    }

    internal void OnNodeAdded(Node node)
    {
        OnNodeUpdated(node);
        // A node object re-created without volumesAttached gets its report rewritten.
        ActualState.SetNodeStatusUpdateNeeded(node.Metadata?.Name ?? "");
    }

    internal void OnNodeUpdated(Node node)
    {
        AddNodeToDesiredState(node);
        ProcessVolumesInUse(node.Metadata?.Name ?? "", node.Status?.VolumesInUse);
    }

    internal void OnNodeDeleted(Node node)
    {
        var nodeName = node.Metadata?.Name ?? "";
        if (DesiredState.DeleteNode(nodeName) is { } error)
        {
            // This may happen during a drain; upstream logs it without acting.
            _logger.LogInformation("error removing node \"{Node}\" from desired-state-of-world: {Error}", nodeName, error);
        }
        ProcessVolumesInUse(nodeName, node.Status?.VolumesInUse);
    }

    /// <summary>Upstream's syncPVCByKey: a claim that became bound brings the volumes of the running pods that use it.</summary>
    internal Task<ReconcileResult> SyncClaimAsync(ObjectKey key, CancellationToken cancellationToken)
    {
        if (_claims.Get(key) is not { } claim || claim.Status?.Phase != "Bound" || string.IsNullOrEmpty(claim.Spec?.VolumeName))
        {
            return Task.FromResult(ReconcileResult.Done);
        }
        foreach (var pod in _pods.ByIndex(PodPvcIndex.Name, key.ToString()))
        {
            if (string.IsNullOrEmpty(pod.Spec?.NodeName) || IsTerminated(pod))
            {
                continue;
            }
            ProcessPodVolumes(pod, DetermineVolumeAction(pod, defaultAction: true));
        }
        return Task.FromResult(ReconcileResult.Done);
    }

    private void AddNodeToDesiredState(Node node)
    {
        var annotations = node.Metadata?.Annotations;
        if (annotations?.ContainsKey(ManagedAnnotation) == true)
        {
            DesiredState.AddNode(node.Metadata!.Name ?? "", annotations.TryGetValue(KeepTerminatedPodVolumesAnnotation, out var keep) && keep == "true");
        }
    }

    // The node mounts exactly the volumes it lists in status.volumesInUse.
    private void ProcessVolumesInUse(string nodeName, IReadOnlyCollection<string>? volumesInUse)
    {
        foreach (var attached in ActualState.GetAttachedVolumesForNode(nodeName))
        {
            ActualState.SetVolumeMountedByNode(attached.VolumeName, nodeName, volumesInUse?.Contains(attached.VolumeName) == true);
        }
    }

    /// <summary>Adds a pod's attachable volumes to, or removes them from, the desired state of its node.</summary>
    internal void ProcessPodVolumes(Pod pod, bool addVolumes)
    {
        var volumes = pod.Spec?.Volumes;
        var nodeName = pod.Spec?.NodeName ?? "";
        if (volumes is null || volumes.Count == 0 || nodeName.Length == 0)
        {
            return;
        }
        if (!DesiredState.NodeExists(nodeName))
        {
            _logger.LogDebug("Skipping processing of pod \"{Pod}\": it is scheduled to node \"{Node}\" which is not managed by the controller.", ObjectKey.Of(pod), nodeName);
            return;
        }
        var uid = pod.Metadata?.Uid ?? "";
        foreach (var volume in volumes)
        {
            if (CreateVolumeSpec(volume, pod) is not { } spec || !_plugin.IsAttachable(spec))
            {
                continue;
            }
            if (addVolumes)
            {
                try
                {
                    DesiredState.AddPod(uid, pod, spec, nodeName);
                }
                catch (InvalidVolumeSpecException e)
                {
                    _logger.LogTrace("Failed to add volume \"{Volume}\" for pod \"{Pod}\" to desiredStateOfWorld. {Error}", volume.Name, ObjectKey.Of(pod), e.Message);
                }
            }
            else
            {
                DesiredState.DeletePod(uid, CsiAttachPlugin.UniqueVolumeName(spec), nodeName);
            }
        }
    }

    /// <summary>
    /// Upstream's CreateVolumeSpec: a claim (or a generic ephemeral volume's claim, which must belong to the pod) must
    /// be bound to a PV that points back at it; otherwise the pod's in-line volume. Null (logged) when it cannot be built.
    /// </summary>
    internal VolumeSpec? CreateVolumeSpec(Volume volume, Pod pod)
    {
        var ns = pod.Metadata?.Namespace ?? "";
        var claimName = volume.Ephemeral is not null ? PodPvcIndex.EphemeralClaimName(pod, volume) : volume.PersistentVolumeClaim?.ClaimName;
        if (string.IsNullOrEmpty(claimName))
        {
            return VolumeSpec.FromVolume(volume);
        }
        string? problem = null;
        var claim = _claims.Get(new ObjectKey(ns, claimName));
        PersistentVolume? pv = null;
        if (claim is null)
        {
            problem = $"failed to find PVC {ns}/{claimName} in PVCInformer cache";
        }
        else if (claim.Status?.Phase != "Bound" || string.IsNullOrEmpty(claim.Spec?.VolumeName))
        {
            problem = $"PVC {ns}/{claimName} has non-bound phase (\"{claim.Status?.Phase}\") or empty pvc.Spec.VolumeName (\"{claim.Spec?.VolumeName}\")";
        }
        else if (volume.Ephemeral is not null && PodPvcIndex.EphemeralClaimNotForPod(pod, claim) is { } notForPod)
        {
            problem = notForPod;
        }
        else if ((pv = _volumes.Get(new ObjectKey(null, claim.Spec!.VolumeName!))) is null)
        {
            problem = $"failed to find PV \"{claim.Spec.VolumeName}\" in PVInformer cache";
        }
        else if (pv.Spec?.ClaimRef is null)
        {
            problem = $"found PV object \"{claim.Spec.VolumeName}\" but it has a nil pv.Spec.ClaimRef indicating it is not yet bound to the claim";
        }
        else if (pv.Spec.ClaimRef.Uid != claim.Metadata?.Uid)
        {
            problem = $"found PV object \"{claim.Spec.VolumeName}\" but its pv.Spec.ClaimRef.UID (\"{pv.Spec.ClaimRef.Uid}\") does not point to claim.UID (\"{claim.Metadata?.Uid}\")";
        }
        if (problem is not null)
        {
            _logger.LogTrace("Error processing volume \"{Volume}\" for pod \"{Pod}\": error processing PVC {Namespace}/{Claim}: {Problem}", volume.Name, ObjectKey.Of(pod), ns, claimName, problem);
            return null;
        }
        return VolumeSpec.FromPersistentVolume(pv!, volume.PersistentVolumeClaim?.ReadOnly == true);
    }

    /// <summary>A terminated pod keeps its volumes only on nodes annotated keep-terminated-pod-volumes.</summary>
    private bool DetermineVolumeAction(Pod pod, bool defaultAction)
    {
        if (pod.Spec?.Volumes is not { Count: > 0 })
        {
            return defaultAction;
        }
        return IsTerminated(pod) ? DesiredState.KeepTerminatedPodVolumes(pod.Spec.NodeName ?? "") : defaultAction;
    }

    private static bool IsTerminated(Pod pod) => PvcProtection.PvcProtectionController.IsTerminated(pod);

    private static IObjectCache<Pod> PrepareIndex(SharedInformer<Pod> pods)
    {
        PodPvcIndex.AddTo(pods);
        return pods.Cache;
    }
}

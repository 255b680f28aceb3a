using Kcm.Api.Core.V1;
using Kcm.Runtime.Events;
using Kcm.Runtime.Informers;
using Microsoft.Extensions.Logging;

namespace Kcm.Controllers.AttachDetach;

/// <summary>The reconciler's timers and switches (upstream's TimerConfig plus the two flags and the feature gate).</summary>
public sealed record ReconcilerSettings
{
    public TimeSpan LoopPeriod { get; init; } = TimeSpan.FromMilliseconds(100);
    public TimeSpan MaxWaitForUnmountDuration { get; init; } = TimeSpan.FromMinutes(6);
    public TimeSpan SyncPeriod { get; init; } = TimeSpan.FromMinutes(1);
    public bool DisableReconcileSync { get; init; }
    public bool NodeOutOfServiceVolumeDetach { get; init; } = true;
}

/// <summary>
/// Upstream's attach/detach reconciler: every loop period it first detaches what no pod needs any more (once the node
/// no longer mounts it, or after maxWaitForUnmountDuration on a node that is not Ready, or at once on an out-of-service
/// node), then attaches what pods need, then writes the nodes' volumesAttached; every sync period it checks that the
/// volumes it believes attached still are.
/// </summary>
public sealed class AttachDetachReconciler(
    DesiredStateOfWorld desiredState,
    ActualStateOfWorld actualState,
    VolumeOperations operations,
    NodeStatusUpdater statusUpdater,
    IObjectCache<Node> nodes,
    IEventRecorder recorder,
    ReconcilerSettings settings,
    TimeProvider time,
    ILogger logger)
{
    public const string OutOfServiceTaint = "node.kubernetes.io/out-of-service";

    private DateTimeOffset _lastSync = time.GetUtcNow();

    public async Task RunAsync(CancellationToken cancellationToken)
    {
        while (!cancellationToken.IsCancellationRequested)
        {
            try
            {
                await ReconcileAsync(cancellationToken).ConfigureAwait(false);
                if (!settings.DisableReconcileSync && settings.SyncPeriod >= TimeSpan.FromSeconds(1) && time.GetUtcNow() - _lastSync > settings.SyncPeriod)
                {
                    await SyncAsync(cancellationToken).ConfigureAwait(false);
                }
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                logger.LogError(e, "attach/detach reconcile failed");
            }
            await Task.Delay(settings.LoopPeriod, time, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>Verifies the confirmed attachments against their VolumeAttachments (reconciliationLoopFunc's sync).</summary>
    public async Task SyncAsync(CancellationToken cancellationToken)
    {
        logger.LogDebug("Starting reconciling attached volumes still attached");
        try
        {
            foreach (var (nodeName, volumes) in actualState.GetAttachedVolumesPerNode())
            {
                await operations.VerifyVolumesAreAttachedAsync(nodeName, volumes, cancellationToken).ConfigureAwait(false);
            }
        }
        finally
        {
            _lastSync = time.GetUtcNow();
        }
    }

    public async Task ReconcileAsync(CancellationToken cancellationToken)
    {
        // Detaches go first, so a volume whose pod moved to another node is released before it is attached there.
        foreach (var attached in actualState.GetAttachedVolumes())
        {
            if (desiredState.VolumeExists(attached.VolumeName, attached.NodeName))
            {
                continue;
            }
            var node = CsiAttachPlugin.IsMultiAttachAllowed(attached.Spec) ? attached.NodeName : "";
            if (!operations.Pending.IsSafeToRetry(attached.VolumeName, node, VolumeOperations.DetachOperationName))
            {
                continue;
            }
            // The operation may have finished between the two reads above.
            if (actualState.GetAttachState(attached.VolumeName, attached.NodeName) == AttachState.Detached)
            {
                continue;
            }
            if (actualState.SetDetachRequestTime(attached.VolumeName, attached.NodeName) is not { } elapsed)
            {
                logger.LogError("Cannot trigger detach because it fails to set detach request time with error volume {Volume} is no longer attached to the node \"{Node}\"",
                    attached.VolumeName, attached.NodeName);
                continue;
            }
            var timeout = elapsed > settings.MaxWaitForUnmountDuration;
            var cachedNode = nodes.Get(new ObjectKey(null, attached.NodeName));
            if (cachedNode is null)
            {
                logger.LogError("failed to get health of node {Node}: node \"{Node}\" not found", attached.NodeName, attached.NodeName);
            }
            var healthy = cachedNode is not null && IsReady(cachedNode);
            var forceDetach = !healthy && timeout;
            var outOfService = settings.NodeOutOfServiceVolumeDetach && cachedNode?.Spec?.Taints?.Any(t => t.Key == OutOfServiceTaint) == true;
            if (attached.MountedByNode && !forceDetach && !outOfService)
            {
                logger.LogTrace("Cannot detach volume because it is still mounted volume={Volume}", attached);
                continue;
            }

            // Stop reporting it before detaching: the node must not start using a volume that is going away.
            actualState.RemoveVolumeFromReportAsAttached(attached.VolumeName, attached.NodeName);
            if (!await statusUpdater.UpdateNodeStatusForNodeAsync(attached.NodeName, cancellationToken).ConfigureAwait(false))
            {
                logger.LogError("UpdateNodeStatusForNode failed while attempting to report volume as attached volume={Volume}", attached);
                actualState.AddVolumeToReportAsAttached(attached.VolumeName, attached.NodeName);
                continue;
            }
            if (outOfService)
            {
                logger.LogDebug("node \"{Node}\" has out-of-service taint", attached.NodeName);
            }
            try
            {
                if (operations.DetachVolume(attached, verifySafeToDetach: !(timeout || outOfService), cancellationToken))
                {
                    if (!timeout)
                    {
                        logger.LogInformation("attacherDetacher.DetachVolume started volume={Volume}", attached);
                    }
                    else
                    {
                        logger.LogInformation("attacherDetacher.DetachVolume started: this volume is not safe to detach, but maxWaitForUnmountDuration expired, force detaching duration={Duration} volume={Volume}",
                            settings.MaxWaitForUnmountDuration, attached);
                    }
                }
                else
                {
                    actualState.AddVolumeToReportAsAttached(attached.VolumeName, attached.NodeName);
                }
            }
            catch (VolumeOperationException e)
            {
                actualState.AddVolumeToReportAsAttached(attached.VolumeName, attached.NodeName);
                logger.LogError("attacherDetacher.DetachVolume failed to start volume={Volume}: {Error}", attached, e.Message);
            }
        }

        AttachDesiredVolumes(cancellationToken);
        await statusUpdater.UpdateNodeStatusesAsync(cancellationToken).ConfigureAwait(false);
    }

    private void AttachDesiredVolumes(CancellationToken cancellationToken)
    {
        foreach (var volume in desiredState.GetVolumesToAttach())
        {
            var multiAttach = CsiAttachPlugin.IsMultiAttachAllowed(volume.Spec);
            if (operations.Pending.IsPending(volume.VolumeName, multiAttach ? volume.NodeName : ""))
            {
                continue;
            }
            if (actualState.GetAttachState(volume.VolumeName, volume.NodeName) == AttachState.Attached)
            {
                actualState.ResetDetachRequestTime(volume.VolumeName, volume.NodeName);
                continue;
            }
            if (!multiAttach)
            {
                var elsewhere = actualState.GetNodesForAttachedVolume(volume.VolumeName);
                if (elsewhere.Count > 0)
                {
                    if (!volume.MultiAttachErrorReported)
                    {
                        ReportMultiAttachError(volume, elsewhere);
                        desiredState.SetMultiAttachError(volume.VolumeName, volume.NodeName);
                    }
                    continue;
                }
            }
            if (operations.AttachVolume(volume, cancellationToken))
            {
                logger.LogInformation("attacherDetacher.AttachVolume started volume={Volume}", volume);
            }
        }
    }

    // Each pod's event names only the pods of its own namespace that hold the volume; others are counted.
    private void ReportMultiAttachError(VolumeToAttach volume, IReadOnlyList<string> nodes)
    {
        var otherNodes = nodes.Where(n => n != volume.NodeName).ToList();
        var pods = desiredState.GetVolumePodsOnNodes(otherNodes, volume.VolumeName);
        const string prefix = "Multi-Attach error";
        if (pods.Count == 0)
        {
            var message = $"{prefix} for volume \"{volume.Spec.Name}\" Volume is already exclusively attached to one node and can't be attached to another";
            foreach (var pod in volume.ScheduledPods)
            {
                recorder.Event(pod, EventTypes.Warning, "FailedAttachVolume", message);
            }
            logger.LogInformation("Multi-Attach error: volume is already exclusively attached and can't be attached to another node attachedTo=[{Nodes}] volume={Volume}",
                string.Join(" ", otherNodes), volume);
            return;
        }
        foreach (var scheduled in volume.ScheduledPods)
        {
            var local = pods.Where(p => p.Metadata?.Namespace == scheduled.Metadata?.Namespace).Select(p => p.Metadata?.Name).ToList();
            var others = pods.Count - local.Count;
            var text = local.Count > 0
                ? $"Volume is already used by pod(s) {string.Join(", ", local)}" + (others > 0 ? $" and {others} pod(s) in different namespaces" : "")
                : $"Volume is already used by {others} pod(s) in different namespaces";
            recorder.Event(scheduled, EventTypes.Warning, "FailedAttachVolume", $"{prefix} for volume \"{volume.Spec.Name}\" {text}");
        }
        logger.LogInformation("Multi-Attach error: volume is already used by pods pods=[{Pods}] attachedTo=[{Nodes}] volume={Volume}",
            string.Join(" ", pods.Select(p => p.Metadata?.Namespace + "/" + p.Metadata?.Name)), string.Join(" ", otherNodes), volume);
    }

    private static bool IsReady(Node node) => node.Status?.Conditions?.Any(c => c.Type == "Ready" && c.Status == "True") == true;
}

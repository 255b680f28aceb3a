using Kcm.Client.Errors;
using Kcm.Runtime.Events;
using Kcm.Runtime.Logging;
using Microsoft.Extensions.Logging;

namespace Kcm.Controllers.AttachDetach;

/// <summary>
/// Upstream's operation generator and executor for attach, detach and verification: each operation runs in the
/// background under <see cref="PendingOperations"/> and records its outcome in the actual state of the world and, for
/// attaches, in events on the pods that wait for the volume.
/// </summary>
public sealed class VolumeOperations(CsiAttacher attacher, IAttachDetachClient client, PendingOperations pending, ActualStateOfWorld actualState, IEventRecorder recorder, ILogger logger)
{
    public const string AttachOperationName = "volume_attach";
    public const string DetachOperationName = "volume_detach";

    // In-tree plugins upstream also attaches with, whose controller-side detach does nothing.
    private static readonly string[] NoOpDetachPlugins = ["kubernetes.io/fc/", "kubernetes.io/iscsi/"];

    public PendingOperations Pending => pending;

    public bool AttachVolume(VolumeToAttach volume, CancellationToken cancellationToken)
    {
        var node = CsiAttachPlugin.IsMultiAttachAllowed(volume.Spec) ? volume.NodeName : "";
        return pending.TryStart(volume.VolumeName, node, AttachOperationName, ct => AttachAsync(volume, ct), failure =>
        {
            foreach (var pod in volume.ScheduledPods)
            {
                recorder.Event(pod, EventTypes.Warning, "FailedAttachVolume", failure.EventMessage ?? failure.Message);
            }
        }, cancellationToken);
    }

    /// <summary>Starts a detach; throws <see cref="VolumeOperationException"/> when no plugin can detach the volume (upstream's generation error).</summary>
    public bool DetachVolume(AttachedVolumeInfo volume, bool verifySafeToDetach, CancellationToken cancellationToken)
    {
        Func<CancellationToken, Task> detach;
        if (CsiAttachPlugin.SplitUniqueName(volume.VolumeName) is var (driver, handle))
        {
            detach = ct => attacher.DetachAsync(driver, handle, volume.NodeName, ct);
        }
        else if (NoOpDetachPlugins.Any(p => volume.VolumeName.StartsWith(p, StringComparison.Ordinal)))
        {
            detach = _ => Task.CompletedTask;
        }
        else
        {
            throw new VolumeOperationException(null, DetailedMessage(volume, "DetachVolume.FindAttachablePluginByName failed",
                ": no volume plugin matched name: " + PluginNameOf(volume.VolumeName)));
        }
        var node = CsiAttachPlugin.IsMultiAttachAllowed(volume.Spec) ? volume.NodeName : "";
        return pending.TryStart(volume.VolumeName, node, DetachOperationName, ct => DetachAsync(volume, verifySafeToDetach, detach, ct), null, cancellationToken);
    }

    private async Task AttachAsync(VolumeToAttach volume, CancellationToken cancellationToken)
    {
        try
        {
            await attacher.AttachAsync(volume.Spec, volume.NodeName, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (e is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            actualState.MarkVolumeAsUncertain(volume.VolumeName, volume.Spec, volume.NodeName);
            var suffix = ": " + e.Message;
            throw new VolumeOperationException(SimpleMessage(volume.Spec.Name, "AttachVolume.Attach failed", suffix),
                DetailedMessage(volume, "AttachVolume.Attach failed", suffix));
        }
        var succeeded = SimpleMessage(volume.Spec.Name, "AttachVolume.Attach succeeded", "");
        foreach (var pod in volume.ScheduledPods)
        {
            recorder.Event(pod, EventTypes.Normal, "SuccessfulAttachVolume", succeeded);
        }
        logger.LogInformation("{Message}", DetailedMessage(volume, "AttachVolume.Attach succeeded", ""));
        actualState.MarkVolumeAsAttached(volume.VolumeName, volume.Spec, volume.NodeName, "");
    }

    private async Task DetachAsync(AttachedVolumeInfo volume, bool verifySafeToDetach, Func<CancellationToken, Task> detach, CancellationToken cancellationToken)
    {
        try
        {
            if (verifySafeToDetach)
            {
                await VerifySafeToDetachAsync(volume, cancellationToken).ConfigureAwait(false);
            }
            await detach(cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (e is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            actualState.AddVolumeToReportAsAttached(volume.VolumeName, volume.NodeName);
            throw new VolumeOperationException(null, DetailedMessage(volume, "DetachVolume.Detach failed", ": " + e.Message));
        }
        logger.LogInformation("{Message}", DetailedMessage(volume, "DetachVolume.Detach succeeded", ""));
        actualState.MarkVolumeAsDetached(volume.VolumeName, volume.NodeName);
    }

    private async Task VerifySafeToDetachAsync(AttachedVolumeInfo volume, CancellationToken cancellationToken)
    {
        Api.Core.V1.Node node;
        try
        {
            node = await client.GetNodeAsync(volume.NodeName, cancellationToken).ConfigureAwait(false);
        }
        catch (NotFoundException)
        {
            logger.LogWarning("{Message}", DetailedMessage(volume, "Node not found on API server. DetachVolume will skip safe to detach check", ""));
            return;
        }
        catch (KubeApiException e)
        {
            throw new VolumeAttachException(DetailedMessage(volume, "DetachVolume failed fetching node from API server", ": " + e.Message));
        }
        if (node.Status?.VolumesInUse?.Contains(volume.VolumeName) == true)
        {
            throw new VolumeAttachException(DetailedMessage(volume, "DetachVolume failed", ": volume is still in use by node, according to Node status"));
        }
        logger.LogInformation("{Message}", DetailedMessage(volume, "Verified volume is safe to detach", ""));
    }

    /// <summary>Marks detached every confirmed volume of the node whose VolumeAttachment no longer says attached.</summary>
    public async Task VerifyVolumesAreAttachedAsync(string nodeName, IReadOnlyList<AttachedVolumeInfo> volumes, CancellationToken cancellationToken)
    {
        foreach (var volume in volumes)
        {
            if (volume.Spec is null)
            {
                logger.LogError("VerifyVolumesAreAttached: nil spec for volume {Volume}", volume.VolumeName);
                continue;
            }
            if (volume.Spec.PersistentVolume?.Spec?.Csi is null)
            {
                continue;
            }
            if (!await attacher.IsAttachedAsync(volume.Spec, nodeName, cancellationToken).ConfigureAwait(false))
            {
                actualState.MarkVolumeAsDetached(volume.VolumeName, nodeName);
                logger.LogInformation(Klog.V1, "VerifyVolumesAreAttached determined volume \"{Volume}\" (spec.Name: \"{Spec}\") is no longer attached to node \"{Node}\", therefore it was marked as detached.",
                    volume.VolumeName, volume.Spec.Name, nodeName);
            }
        }
    }

    // upstream's generateVolumeMsg: the event text quotes the volume, the log text adds its unique name and node.
    private static string SimpleMessage(string specName, string prefix, string suffix) => $"{prefix} for volume \"{specName}\" {suffix}";

    private static string DetailedMessage(VolumeToAttach v, string prefix, string suffix)
        => $"{prefix} for volume \"{v.Spec.Name}\" (UniqueName: \"{v.VolumeName}\") from node \"{v.NodeName}\" {suffix}";

    private static string DetailedMessage(AttachedVolumeInfo v, string prefix, string suffix)
        => $"{prefix} for volume \"{v.SpecName}\" (UniqueName: \"{v.VolumeName}\") on node \"{v.NodeName}\" {suffix}";

    private static string PluginNameOf(string uniqueName)
    {
        var parts = uniqueName.Split('/');
        return parts.Length >= 2 ? parts[0] + "/" + parts[1] : uniqueName;
    }
}

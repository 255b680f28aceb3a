using Kcm.Api.Meta.V1;
using Kcm.Api.Storage.V1;
using Kcm.Client.Errors;
using Kcm.Runtime.Informers;
using Microsoft.Extensions.Logging;

namespace Kcm.Controllers.AttachDetach;

/// <summary>
/// Upstream's csiAttacher as the controller uses it: attach creates the VolumeAttachment the external attacher acts
/// on and waits (reading the cache, backing off from 500 ms by 1.05 to 7 s, for at most two minutes) until it reports
/// attached; detach deletes it and waits until it is gone.
/// </summary>
public sealed class CsiAttacher(IAttachDetachClient client, CsiAttachPlugin plugin, IObjectCache<VolumeAttachment> attachments, TimeProvider time, ILogger logger)
{
    private const string Prefix = "kubernetes.io/csi: ";

    public TimeSpan Timeout { get; init; } = CsiAttachPlugin.WatchTimeout;

    public async Task AttachAsync(VolumeSpec spec, string nodeName, CancellationToken cancellationToken)
    {
        var csi = spec.PersistentVolume?.Spec?.Csi
            ?? throw new InvalidVolumeSpecException(Prefix + "attacher.Attach failed to get CSIPersistentVolumeSource: volume.Spec has no CSI source");
        var driver = csi.Driver ?? "";
        var handle = csi.VolumeHandle ?? "";
        var attachId = CsiAttachPlugin.AttachmentName(handle, driver, nodeName);
        if (attachments.Get(new ObjectKey(null, attachId)) is null)
        {
            var attachment = new VolumeAttachment
            {
                ApiVersion = "storage.k8s.io/v1",
                Kind = "VolumeAttachment",
                Metadata = new ObjectMeta { Name = attachId },
                Spec = new VolumeAttachmentSpec
                {
                    NodeName = nodeName,
                    Attacher = driver,
                    Source = new VolumeAttachmentSource { PersistentVolumeName = spec.PersistentVolume!.Metadata?.Name },
                },
            };
            try
            {
                await client.CreateVolumeAttachmentAsync(attachment, cancellationToken).ConfigureAwait(false);
                logger.LogDebug(Prefix + "attachment [{Attachment}] for volume [{Handle}] created successfully", attachId, handle);
            }
            catch (AlreadyExistsException)
            {
                logger.LogDebug(Prefix + "attachment [{Attachment}] for volume [{Handle}] already exists (will not be recreated)", attachId, handle);
            }
            catch (KubeApiException e)
            {
                throw new VolumeAttachException(Prefix + "attacher.Attach failed: " + e.Message);
            }
        }

        await WaitAsync(attachId, handle, driver, "Attach", () =>
        {
            var current = attachments.Get(new ObjectKey(null, attachId));
            if (current is null)
            {
                return false;
            }
            if (current.Metadata?.DeletionTimestamp is not null)
            {
                throw new VolumeAttachException("volume attachment is being deleted");
            }
            if (current.Status?.Attached == true)
            {
                return true;
            }
            return current.Status?.AttachError is { } attachError ? throw new VolumeAttachException(attachError.Message ?? "") : false;
        }, cancellationToken).ConfigureAwait(false);
        logger.LogDebug(Prefix + "attacher.Attach finished OK with VolumeAttachment object [{Attachment}]", attachId);
    }

    /// <summary>Detaches the volume the plugin names "driver^handle" from the node.</summary>
    public async Task DetachAsync(string driver, string handle, string nodeName, CancellationToken cancellationToken)
    {
        var attachId = CsiAttachPlugin.AttachmentName(handle, driver, nodeName);
        try
        {
            await client.DeleteVolumeAttachmentAsync(attachId, cancellationToken).ConfigureAwait(false);
        }
        catch (NotFoundException)
        {
            logger.LogDebug(Prefix + "VolumeAttachment object [{Attachment}] for volume [{Handle}] not found, object deleted", attachId, handle);
            return;
        }
        catch (KubeApiException e)
        {
            throw new VolumeAttachException($"{Prefix}detacher.Detach failed to delete VolumeAttachment [{attachId}]: {e.Message}");
        }
        logger.LogDebug(Prefix + "detacher deleted ok VolumeAttachment.ID={Attachment}", attachId);

        // During detach the spec may be unknown, so upstream names the driver "unknown" here.
        await WaitAsync(attachId, handle, "unknown", "Detach", () =>
        {
            if (attachments.Get(new ObjectKey(null, attachId)) is not { } current)
            {
                return true;
            }
            return current.Status?.DetachError is { } detachError ? throw new VolumeAttachException(detachError.Message ?? "") : false;
        }, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>VolumesAreAttached: each confirmed volume's VolumeAttachment still says attached (no-attach drivers always are).</summary>
    public async Task<bool> IsAttachedAsync(VolumeSpec spec, string nodeName, CancellationToken cancellationToken)
    {
        if (spec.PersistentVolume?.Spec?.Csi is not { } csi)
        {
            logger.LogError(Prefix + "attacher.VolumesAreAttached failed to get CSIPersistentVolumeSource");
            return false;
        }
        if (plugin.SkipAttach(csi.Driver ?? ""))
        {
            return true;
        }
        var attachId = CsiAttachPlugin.AttachmentName(csi.VolumeHandle ?? "", csi.Driver ?? "", nodeName);
        if (attachments.Get(new ObjectKey(null, attachId)) is { } cached)
        {
            return cached.Status?.Attached == true;
        }
        try
        {
            var live = await client.GetVolumeAttachmentAsync(attachId, cancellationToken).ConfigureAwait(false);
            return live.Status?.Attached == true;
        }
        catch (KubeApiException e)
        {
            logger.LogError(Prefix + "attacher.VolumesAreAttached failed for attach.ID={Attachment}: {Error}", attachId, e.Message);
            return false;
        }
    }

    private async Task WaitAsync(string attachId, string handle, string driver, string operation, Func<bool> verify, CancellationToken cancellationToken)
    {
        var deadline = time.GetUtcNow() + Timeout;
        var backoff = TimeSpan.FromMilliseconds(500);
        while (true)
        {
            var remaining = deadline - time.GetUtcNow();
            if (remaining <= TimeSpan.Zero)
            {
                logger.LogError(Prefix + "{Operation} timeout after {Timeout} [volume={Handle}; attachment.ID={Attachment}]", operation, Timeout, handle, attachId);
                throw new VolumeAttachException($"timed out waiting for external-attacher of {driver} CSI driver to {operation.ToLowerInvariant()} volume {handle}");
            }
            var jittered = backoff * (1 + 0.1 * Random.Shared.NextDouble());
            await Task.Delay(jittered < remaining ? jittered : remaining, time, cancellationToken).ConfigureAwait(false);
            if (jittered >= remaining)
            {
                continue;
            }
            if (verify())
            {
                return;
            }
            backoff = TimeSpan.FromTicks(Math.Min((long)(backoff.Ticks * 1.05), TimeSpan.FromSeconds(7).Ticks));
        }
    }
}

public sealed class VolumeAttachException(string message) : Exception(message);

using Kcm.Api.Core.V1;
using Kcm.Controllers.Common;
using Kcm.Runtime.Events;
using Kcm.Runtime.Informers;
using Microsoft.Extensions.Logging;

namespace Kcm.Controllers.PersistentVolumes;

/// <summary>A claim or volume the binder cannot handle as it stands (a class without a binding mode, a double binding).</summary>
public sealed class VolumeBindingException(string message) : Exception(message);

// syncClaim and syncVolume, branch by branch as upstream's pv_controller.go: the binding is two-step (volume first,
// then claim), every step may be interrupted, and the next sync finishes what the last one started.
public sealed partial class PersistentVolumeController
{
    internal async Task SyncClaimAsync(PersistentVolumeClaim claim, CancellationToken cancellationToken)
    {
        _logger.LogTrace("synchronizing PersistentVolumeClaim[{Claim}]: phase: {Phase}, bound to: \"{Volume}\"", VolumeBinding.ClaimKey(claim), claim.Status?.Phase, claim.Spec?.VolumeName);
        claim = await UpdateClaimMigrationAnnotationsAsync(claim, cancellationToken).ConfigureAwait(false);
        if (!VolumeAnnotations.Has(claim.Metadata, VolumeAnnotations.BindCompleted))
        {
            await SyncUnboundClaimAsync(claim, cancellationToken).ConfigureAwait(false);
        }
        else
        {
            await SyncBoundClaimAsync(claim, cancellationToken).ConfigureAwait(false);
        }
    }

    private async Task SyncUnboundClaimAsync(PersistentVolumeClaim claim, CancellationToken cancellationToken)
    {
        var claimKey = VolumeBinding.ClaimKey(claim);
        if (string.IsNullOrEmpty(claim.Spec?.VolumeName))
        {
            // The user did not ask for a particular volume.
            var delayBinding = IsDelayBindingMode(claim);
            PersistentVolume? volume;
            try
            {
                volume = _volumes.FindBestMatchForClaim(claim, delayBinding);
            }
            catch (Kcm.Api.Selectors.SelectorParseException e)
            {
                throw new VolumeBindingException($"error finding PV for claim \"{claimKey}\": {e.Message}");
            }
            if (volume is null)
            {
                _logger.LogTrace("synchronizing unbound PersistentVolumeClaim[{Claim}]: no volume found", claimKey);
                if (_gates("RetroactiveDefaultStorageClass") && await AssignDefaultStorageClassAsync(claim, cancellationToken).ConfigureAwait(false))
                {
                    return; // The update brings the claim back with its class.
                }
                if (delayBinding && !VolumeAnnotations.Has(claim.Metadata, VolumeAnnotations.SelectedNode))
                {
                    EmitEventForUnboundDelayBindingClaim(claim);
                }
                else if (VolumeBinding.ClaimClass(claim) != "")
                {
                    ProvisionClaim(claim, cancellationToken);
                    return;
                }
                else
                {
                    _recorder.Event(claim, EventTypes.Normal, "FailedBinding", "no persistent volumes available for this claim and no storage class is set");
                }
                await UpdateClaimStatusAsync(claim, VolumePhases.Pending, null, cancellationToken).ConfigureAwait(false);
                return;
            }
            _logger.LogTrace("synchronizing unbound PersistentVolumeClaim[{Claim}]: volume \"{Volume}\" found", claimKey, volume.Metadata?.Name);
            try
            {
                await BindAsync(volume, claim, cancellationToken).ConfigureAwait(false);
            }
            catch (Exception e)
            {
                _metrics.RecordOperation(claimKey, e);
                throw;
            }
            // Ends a provision-and-bind started for this claim.
            _metrics.RecordOperation(claimKey, null);
            return;
        }

        // The user asked for a particular volume.
        var requested = _volumes.Store.Get(new ObjectKey(null, claim.Spec.VolumeName));
        if (requested is null)
        {
            _logger.LogDebug("synchronizing unbound PersistentVolumeClaim[{Claim}]: volume \"{Volume}\" requested and not found, will try again next time", claimKey, claim.Spec.VolumeName);
            await UpdateClaimStatusAsync(claim, VolumePhases.Pending, null, cancellationToken).ConfigureAwait(false);
            return;
        }
        if (requested.Spec?.ClaimRef is null)
        {
            if (VolumeBinding.VolumeDoesNotSatisfyClaim(requested, claim) is { } mismatch)
            {
                _recorder.Event(claim, EventTypes.Warning, "VolumeMismatch", $"Cannot bind to requested volume \"{requested.Metadata?.Name}\": {mismatch}");
                await UpdateClaimStatusAsync(claim, VolumePhases.Pending, null, cancellationToken).ConfigureAwait(false);
                return;
            }
            await BindAsync(requested, claim, cancellationToken).ConfigureAwait(false);
            return;
        }
        if (VolumeBinding.IsVolumeBoundToClaim(requested, claim))
        {
            // Pre-bound to this claim: finish the binding (adds the claim's UID).
            await BindAsync(requested, claim, cancellationToken).ConfigureAwait(false);
            return;
        }
        var message = $"volume \"{requested.Metadata?.Name}\" already bound to a different claim.";
        _recorder.Event(claim, EventTypes.Warning, "FailedBinding", message);
        if (!VolumeAnnotations.Has(claim.Metadata, VolumeAnnotations.BoundByController))
        {
            // The user asked for a volume someone else has; try again later.
            await UpdateClaimStatusAsync(claim, VolumePhases.Pending, null, cancellationToken).ConfigureAwait(false);
            return;
        }
        // Only possible if someone removed bind-completed from the claim.
        throw new VolumeBindingException($"invalid binding of claim \"{claimKey}\" to volume \"{claim.Spec.VolumeName}\": volume already claimed by \"{VolumeBinding.ClaimKey(requested.Spec.ClaimRef)}\"");
    }

    private async Task SyncBoundClaimAsync(PersistentVolumeClaim claim, CancellationToken cancellationToken)
    {
        if (string.IsNullOrEmpty(claim.Spec?.VolumeName))
        {
            await UpdateClaimStatusWithEventAsync(claim, VolumePhases.Lost, null, EventTypes.Warning, "ClaimLost",
                "Bound claim has lost reference to PersistentVolume. Data on the volume is lost!", cancellationToken).ConfigureAwait(false);
            return;
        }
        var volume = _volumes.Store.Get(new ObjectKey(null, claim.Spec.VolumeName));
        if (volume is null)
        {
            await UpdateClaimStatusWithEventAsync(claim, VolumePhases.Lost, null, EventTypes.Warning, "ClaimLost",
                "Bound claim has lost its PersistentVolume. Data on the volume is lost!", cancellationToken).ConfigureAwait(false);
            return;
        }
        if (volume.Spec?.ClaimRef is null || volume.Spec.ClaimRef.Uid == claim.Metadata?.Uid)
        {
            // Either the volume came unbound (or its update has not arrived yet): bind it again; or all is well and
            // bind() finds nothing to write.
            await BindAsync(volume, claim, cancellationToken).ConfigureAwait(false);
            return;
        }
        await UpdateClaimStatusWithEventAsync(claim, VolumePhases.Lost, null, EventTypes.Warning, "ClaimMisbound",
            "Two claims are bound to the same volume, this one is bound incorrectly", cancellationToken).ConfigureAwait(false);
    }

    internal async Task SyncVolumeAsync(PersistentVolume volume, CancellationToken cancellationToken)
    {
        _logger.LogTrace("synchronizing PersistentVolume[{Volume}]: phase: {Phase}", volume.Metadata?.Name, volume.Status?.Phase);
        volume = await UpdateVolumeMigrationAnnotationsAsync(volume, cancellationToken).ConfigureAwait(false);
        var claimRef = volume.Spec?.ClaimRef;
        if (claimRef is null || string.IsNullOrEmpty(claimRef.Uid))
        {
            // Unused, or reserved for a claim whose sync will do the binding.
            await UpdateVolumePhaseAsync(volume, VolumePhases.Available, "", cancellationToken).ConfigureAwait(false);
            return;
        }

        var claim = _claims.Get(VolumeBinding.ClaimObjectKey(claimRef));
        if (claim is null && volume.Status?.Phase is not (VolumePhases.Released or VolumePhases.Failed))
        {
            // A claim made by an external provisioner or binder may not have reached this cache yet: ask the
            // informer, then the server, before releasing the volume.
            claim = _claimLister.Get(VolumeBinding.ClaimObjectKey(claimRef)) ?? await GetClaimAsync(claimRef, cancellationToken).ConfigureAwait(false);
        }
        if (claim is not null && claim.Metadata?.Uid != claimRef.Uid)
        {
            // The cached claim may be older than the claimRef: only the server can tell whether it was recreated.
            claim = await GetClaimAsync(claimRef, cancellationToken).ConfigureAwait(false);
            if (claim is not null && claim.Metadata?.Uid != claimRef.Uid)
            {
                claim = null; // The claim this volume was bound to is gone; a new one took its name.
            }
        }

        if (claim is null)
        {
            // Don't overwrite Failed: the user should see what went wrong while reclaiming is retried.
            if (volume.Status?.Phase is not (VolumePhases.Released or VolumePhases.Failed))
            {
                _logger.LogDebug("volume \"{Volume}\" is released and reclaim policy \"{Policy}\" will be executed", volume.Metadata?.Name, volume.Spec?.PersistentVolumeReclaimPolicy);
                volume = await UpdateVolumePhaseAsync(volume, VolumePhases.Released, "", cancellationToken).ConfigureAwait(false);
            }
            await ReclaimVolumeAsync(volume, cancellationToken).ConfigureAwait(false);
            return;
        }
        if (string.IsNullOrEmpty(claim.Spec?.VolumeName))
        {
            if (VolumeBinding.VolumeModeMismatches(claim, volume))
            {
                // findBestMatchForClaim never offers this volume to the claim, so say why here.
                _recorder.Event(volume, EventTypes.Warning, "VolumeMismatch", $"Cannot bind PersistentVolume to requested PersistentVolumeClaim \"{claim.Metadata?.Name}\" due to incompatible volumeMode.");
                _recorder.Event(claim, EventTypes.Warning, "VolumeMismatch", $"Cannot bind PersistentVolume \"{volume.Metadata?.Name}\" to requested PersistentVolumeClaim due to incompatible volumeMode.");
                return;
            }
            // The volume is bound and the claim still Pending: the claim's sync finishes it (this is how a
            // provisioned volume gets its claim bound), so hurry it along.
            _claimQueue.Add(ObjectKey.Of(claim));
            return;
        }
        if (claim.Spec.VolumeName == volume.Metadata?.Name)
        {
            await UpdateVolumePhaseAsync(volume, VolumePhases.Bound, "", cancellationToken).ConfigureAwait(false);
            return;
        }
        // The claim is bound to another volume.
        if (VolumeAnnotations.Has(volume.Metadata, VolumeAnnotations.DynamicallyProvisioned) && volume.Spec?.PersistentVolumeReclaimPolicy == "Delete")
        {
            // Provisioned for this claim, which got another volume: not needed any more.
            if (volume.Status?.Phase is not (VolumePhases.Released or VolumePhases.Failed))
            {
                _logger.LogDebug("dynamically provisioned volume \"{Volume}\" is released and it will be deleted", volume.Metadata?.Name);
                volume = await UpdateVolumePhaseAsync(volume, VolumePhases.Released, "", cancellationToken).ConfigureAwait(false);
            }
            await ReclaimVolumeAsync(volume, cancellationToken).ConfigureAwait(false);
            return;
        }
        // Bound by the controller: undo our binding. Pre-bound by the user: keep the reservation, drop the UID.
        await UnbindVolumeAsync(volume, cancellationToken).ConfigureAwait(false);
    }

    private async Task<PersistentVolumeClaim?> GetClaimAsync(ObjectReference claimRef, CancellationToken cancellationToken)
    {
        try
        {
            return await _client.GetAsync<PersistentVolumeClaim>(claimRef.Namespace, claimRef.Name ?? "", cancellationToken).ConfigureAwait(false);
        }
        catch (Kcm.Client.Errors.NotFoundException)
        {
            return null;
        }
    }

    /// <summary>storagehelpers.IsDelayBindingMode: the claim's class exists and waits for the first consumer.</summary>
    private bool IsDelayBindingMode(PersistentVolumeClaim claim)
    {
        var className = VolumeBinding.ClaimClass(claim);
        if (className == "" || _classLister.Get(new ObjectKey(null, className)) is not { } storageClass)
        {
            return false;
        }
        return storageClass.VolumeBindingMode is { } mode
            ? mode == "WaitForFirstConsumer"
            : throw new VolumeBindingException($"VolumeBindingMode not set for StorageClass \"{className}\"");
    }

    private void EmitEventForUnboundDelayBindingClaim(PersistentVolumeClaim claim)
    {
        var reason = "WaitForFirstConsumer";
        var message = "waiting for first consumer to be created before binding";
        var pods = _podLister.ByIndex(PodPvcIndex.Name, VolumeBinding.ClaimKey(claim))
            .Where(p => !VolumeBinding.IsPodTerminated(p) && string.IsNullOrEmpty(p.Spec?.NodeName))
            .Select(p => p.Metadata?.Name)
            .ToList();
        if (pods.Count > 0)
        {
            reason = "WaitForPodScheduled";
            message = pods.Count > 1 ? $"waiting for pods {string.Join(',', pods)} to be scheduled" : $"waiting for pod {pods[0]} to be scheduled";
        }
        _recorder.Event(claim, EventTypes.Normal, reason, message);
    }

    private async Task<bool> AssignDefaultStorageClassAsync(PersistentVolumeClaim claim, CancellationToken cancellationToken)
    {
        if (VolumeBinding.ClaimClass(claim) != "" || DefaultStorageClass.Find(_classLister.List()) is not { } storageClass)
        {
            return false;
        }
        _logger.LogTrace("assigning StorageClass[{Class}] to PersistentVolumeClaim[{Claim}]", storageClass.Metadata?.Name, VolumeBinding.ClaimKey(claim));
        var clone = KubeObjects.Clone(claim);
        (clone.Spec ??= new()).StorageClassName = storageClass.Metadata?.Name;
        try
        {
            await _client.UpdateAsync(clone, cancellationToken: cancellationToken).ConfigureAwait(false);
        }
        catch (Kcm.Client.Errors.KubeApiException e)
        {
            _metrics.RecordRetroactiveStorageClass(false);
            throw new VolumeBindingException($"can't update PersistentVolumeClaim[\"{VolumeBinding.ClaimKey(claim)}\"]: {e.Message}");
        }
        _metrics.RecordRetroactiveStorageClass(true);
        return true;
    }

    /// <summary>Writes the claim's phase, and its access modes and capacity from the volume (cleared without one).</summary>
    private async Task<PersistentVolumeClaim> UpdateClaimStatusAsync(PersistentVolumeClaim claim, string phase, PersistentVolume? volume, CancellationToken cancellationToken)
    {
        var clone = KubeObjects.Clone(claim);
        var status = clone.Status ??= new();
        var dirty = false;
        if (claim.Status?.Phase != phase)
        {
            status.Phase = phase;
            dirty = true;
        }
        if (volume is null)
        {
            if (status.AccessModes is not null || status.Capacity is not null)
            {
                status.AccessModes = null;
                status.Capacity = null;
                dirty = true;
            }
        }
        else
        {
            var modes = volume.Spec?.AccessModes;
            if (!(status.AccessModes ?? []).SequenceEqual(modes ?? []) || (status.AccessModes is null) != (modes is null))
            {
                status.AccessModes = modes is null ? null : [.. modes];
                dirty = true;
            }
            // Capacity only when the claim becomes Bound: a later difference may be intended (filesystem vs block size).
            if (claim.Status?.Phase != phase)
            {
                var volumeCapacity = VolumeBinding.VolumeStorage(volume)
                    ?? throw new VolumeBindingException($"PersistentVolume \"{volume.Metadata?.Name}\" is without a storage capacity");
                if (volume.Metadata?.Annotations?.TryGetValue(VolumeAnnotations.PreResizeCapacity, out var preResize) == true)
                {
                    (status.Capacity ??= [])["storage"] = Kcm.Api.Quantity.TryParse(preResize, out var q) ? q : volumeCapacity;
                    dirty = true;
                }
                else if (status.Capacity?.GetValueOrDefault("storage") is not { } claimCapacity || claimCapacity.CompareTo(volumeCapacity) != 0)
                {
                    status.Capacity = volume.Spec?.Capacity is { } capacity ? new(capacity) : null;
                    dirty = true;
                }
            }
        }
        if (!dirty)
        {
            return claim;
        }
        var updated = await _client.UpdateStatusAsync(clone, cancellationToken: cancellationToken).ConfigureAwait(false);
        StoreClaim(updated);
        _logger.LogDebug("claim \"{Claim}\" entered phase \"{Phase}\"", VolumeBinding.ClaimKey(claim), phase);
        return updated;
    }

    /// <summary>Saves the phase and emits the event only when the phase actually changes.</summary>
    private async Task<PersistentVolumeClaim> UpdateClaimStatusWithEventAsync(PersistentVolumeClaim claim, string phase, PersistentVolume? volume,
        string eventType, string reason, string message, CancellationToken cancellationToken)
    {
        if (claim.Status?.Phase == phase)
        {
            return claim;
        }
        var updated = await UpdateClaimStatusAsync(claim, phase, volume, cancellationToken).ConfigureAwait(false);
        _recorder.Event(updated, eventType, reason, message);
        return updated;
    }

    private async Task<PersistentVolume> UpdateVolumePhaseAsync(PersistentVolume volume, string phase, string message, CancellationToken cancellationToken)
    {
        if (volume.Status?.Phase == phase)
        {
            return volume;
        }
        var clone = KubeObjects.Clone(volume);
        var status = clone.Status ??= new();
        status.Phase = phase;
        status.Message = string.IsNullOrEmpty(message) ? null : message;
        var updated = await _client.UpdateStatusAsync(clone, cancellationToken: cancellationToken).ConfigureAwait(false);
        StoreVolume(updated);
        _logger.LogDebug("volume \"{Volume}\" entered phase \"{Phase}\"", volume.Metadata?.Name, phase);
        return updated;
    }

    private async Task<PersistentVolume> UpdateVolumePhaseWithEventAsync(PersistentVolume volume, string phase, string eventType, string reason, string message, CancellationToken cancellationToken)
    {
        if (volume.Status?.Phase == phase)
        {
            return volume;
        }
        var updated = await UpdateVolumePhaseAsync(volume, phase, message, cancellationToken).ConfigureAwait(false);
        _recorder.Event(updated, eventType, reason, message);
        return updated;
    }

    /// <summary>
    /// Binds both ways, volume first: the volume's claimRef, the volume's phase, the claim's volumeName with
    /// bind-completed (and bound-by-controller when the controller chose the volume), the claim's status.
    /// </summary>
    private async Task BindAsync(PersistentVolume volume, PersistentVolumeClaim claim, CancellationToken cancellationToken)
    {
        var (boundVolume, dirty) = VolumeBinding.BindVolumeToClaim(volume, claim);
        if (dirty)
        {
            _logger.LogDebug("claim \"{Claim}\" bound to volume \"{Volume}\"", VolumeBinding.ClaimKey(claim), volume.Metadata?.Name);
            volume = StoreVolume(await _client.UpdateAsync(boundVolume, cancellationToken: cancellationToken).ConfigureAwait(false));
        }
        volume = await UpdateVolumePhaseAsync(volume, VolumePhases.Bound, "", cancellationToken).ConfigureAwait(false);

        var claimClone = KubeObjects.Clone(claim);
        var claimDirty = false;
        if (claim.Spec?.VolumeName != volume.Metadata?.Name)
        {
            (claimClone.Spec ??= new()).VolumeName = volume.Metadata?.Name;
            if (!VolumeAnnotations.Has(claimClone.Metadata, VolumeAnnotations.BoundByController))
            {
                VolumeAnnotations.Set(claimClone.Metadata ??= new(), VolumeAnnotations.BoundByController, "yes");
            }
            claimDirty = true;
        }
        if (!VolumeAnnotations.Has(claimClone.Metadata, VolumeAnnotations.BindCompleted))
        {
            VolumeAnnotations.Set(claimClone.Metadata ??= new(), VolumeAnnotations.BindCompleted, "yes");
            claimDirty = true;
        }
        if (claimDirty)
        {
            _logger.LogDebug("volume \"{Volume}\" bound to claim \"{Claim}\"", volume.Metadata?.Name, VolumeBinding.ClaimKey(claim));
            claim = StoreClaim(await _client.UpdateAsync(claimClone, cancellationToken: cancellationToken).ConfigureAwait(false));
        }
        await UpdateClaimStatusAsync(claim, VolumePhases.Bound, volume, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Rolls a binding back: all of it when the controller made it, only the claim's UID when the user pre-bound it.</summary>
    private async Task UnbindVolumeAsync(PersistentVolume volume, CancellationToken cancellationToken)
    {
        var clone = KubeObjects.Clone(volume);
        if (VolumeAnnotations.Has(volume.Metadata, VolumeAnnotations.BoundByController))
        {
            clone.Spec!.ClaimRef = null;
            clone.Metadata!.Annotations!.Remove(VolumeAnnotations.BoundByController);
            if (clone.Metadata.Annotations.Count == 0)
            {
                clone.Metadata.Annotations = null;
            }
        }
        else
        {
            clone.Spec!.ClaimRef!.Uid = "";
        }
        var updated = StoreVolume(await _client.UpdateAsync(clone, cancellationToken: cancellationToken).ConfigureAwait(false));
        _logger.LogTrace("updating PersistentVolume[{Volume}]: rolled back", volume.Metadata?.Name);
        await UpdateVolumePhaseAsync(updated, VolumePhases.Available, "", cancellationToken).ConfigureAwait(false);
    }

    private async Task<PersistentVolumeClaim> UpdateClaimMigrationAnnotationsAsync(PersistentVolumeClaim claim, CancellationToken cancellationToken)
    {
        var clone = KubeObjects.Clone(claim);
        if (!UpdateMigrationAnnotations(clone.Metadata?.Annotations, forClaim: true))
        {
            return claim;
        }
        return StoreClaim(await _client.UpdateAsync(clone, cancellationToken: cancellationToken).ConfigureAwait(false));
    }

    private async Task<PersistentVolume> UpdateVolumeMigrationAnnotationsAsync(PersistentVolume volume, CancellationToken cancellationToken)
    {
        var clone = KubeObjects.Clone(volume);
        if (!UpdateMigrationAnnotations(clone.Metadata?.Annotations, forClaim: false))
        {
            return volume;
        }
        return StoreVolume(await _client.UpdateAsync(clone, cancellationToken: cancellationToken).ConfigureAwait(false));
    }

    /// <summary>Sets pv.kubernetes.io/migrated-to for objects of an in-tree plugin now served by a CSI driver, removes it otherwise.</summary>
    private bool UpdateMigrationAnnotations(Dictionary<string, string>? annotations, bool forClaim)
    {
        if (annotations is null)
        {
            return false;
        }
        if (!annotations.TryGetValue(forClaim ? VolumeAnnotations.StorageProvisioner : VolumeAnnotations.DynamicallyProvisioned, out var provisioner)
            && !(forClaim && annotations.TryGetValue(VolumeAnnotations.BetaStorageProvisioner, out provisioner)))
        {
            return false;
        }
        var migratedTo = annotations.GetValueOrDefault(VolumeAnnotations.MigratedTo) ?? "";
        if (CsiMigration.MigratedDriver(provisioner, _gates) is { } driver)
        {
            if (migratedTo == driver)
            {
                return false;
            }
            annotations[VolumeAnnotations.MigratedTo] = driver;
            return true;
        }
        return migratedTo != "" && annotations.Remove(VolumeAnnotations.MigratedTo);
    }
}

using System.Diagnostics;
using Kcm.Api.Core.V1;
using Kcm.Api.Storage.V1;
using Kcm.Client.Errors;
using Kcm.Controllers.Common;
using Kcm.Runtime.Events;
using Kcm.Runtime.Informers;
using Microsoft.Extensions.Logging;

namespace Kcm.Controllers.PersistentVolumes;

// The slow operations (provision, delete, recycle) run outside the workers, one per name at a time, with
// exponential backoff after failures (OperationMap). Each reads the newest volume first: an earlier run of the
// same operation may have just saved it.
public sealed partial class PersistentVolumeController
{
    private Task ReclaimVolumeAsync(PersistentVolume volume, CancellationToken cancellationToken)
    {
        if (!string.IsNullOrEmpty(volume.Metadata?.Annotations?.GetValueOrDefault(VolumeAnnotations.MigratedTo)))
        {
            return Task.CompletedTask; // Migrated to CSI: the external provisioner reclaims it.
        }
        var name = volume.Metadata?.Name ?? "";
        switch (volume.Spec?.PersistentVolumeReclaimPolicy)
        {
            case "Retain":
                _logger.LogTrace("reclaimVolume[{Volume}]: policy is Retain, nothing to do", name);
                return Task.CompletedTask;
            case "Recycle":
                _operations.TryRun($"recycle-{name}[{volume.Metadata?.Uid}]", ct => RecycleVolumeOperationAsync(volume, ct), cancellationToken);
                return Task.CompletedTask;
            case "Delete":
                _metrics.OperationStarted(name, GetProvisionerNameFromVolume(volume), "delete");
                _operations.TryRun($"delete-{name}[{volume.Metadata?.Uid}]", async ct =>
                {
                    try
                    {
                        await DeleteVolumeOperationAsync(volume, ct).ConfigureAwait(false);
                    }
                    catch (Exception e) when (e is not OperationCanceledException)
                    {
                        // Latency is recorded when the volume's deletion is seen; here only the error counts.
                        _metrics.RecordOperation(name, e);
                        throw;
                    }
                }, cancellationToken);
                return Task.CompletedTask;
            default:
                return UpdateVolumePhaseWithEventAsync(volume, VolumePhases.Failed, EventTypes.Warning, "VolumeUnknownReclaimPolicy",
                    "Volume has unrecognized PersistentVolumeReclaimPolicy", cancellationToken);
        }
    }

    private async Task RecycleVolumeOperationAsync(PersistentVolume volume, CancellationToken cancellationToken)
    {
        var name = volume.Metadata?.Name ?? "";
        PersistentVolume current;
        try
        {
            current = await _client.GetAsync<PersistentVolume>(null, name, cancellationToken).ConfigureAwait(false);
        }
        catch (KubeApiException e)
        {
            _logger.LogDebug("error reading persistent volume \"{Volume}\": {Error}", name, e.Message);
            return;
        }
        if (!IsVolumeReleased(current))
        {
            _logger.LogDebug("volume \"{Volume}\" no longer needs recycling, skipping", name);
            return;
        }
        var pods = VolumeUsers(current);
        // A cached claim of that name is a new claim (the volume is released), using another volume.
        var claimCached = volume.Spec?.ClaimRef is { } claimRef && _claims.Get(VolumeBinding.ClaimObjectKey(claimRef)) is not null;
        if (pods.Count > 0 && !claimCached)
        {
            _recorder.Event(volume, EventTypes.Normal, "VolumeFailedRecycle", "Volume is used by pods: " + string.Join(',', pods));
            return;
        }
        volume = current;
        IRecyclablePlugin plugin;
        try
        {
            plugin = _plugins.FindRecyclablePluginBySpec(volume);
        }
        catch (VolumePluginException)
        {
            // Failed, yet every later sync tries again.
            await UpdateVolumePhaseWithEventAsync(volume, VolumePhases.Failed, EventTypes.Warning, "VolumeFailedRecycle", "No recycler plugin found for the volume!", cancellationToken).ConfigureAwait(false);
            return;
        }
        try
        {
            await plugin.RecycleAsync(name, volume, (type, message) => _recorder.Event(volume, type, "RecyclerPod", "Recycler pod: " + message), cancellationToken).ConfigureAwait(false);
        }
        catch (VolumePluginException e)
        {
            await UpdateVolumePhaseWithEventAsync(volume, VolumePhases.Failed, EventTypes.Warning, "VolumeFailedRecycle", "Recycle failed: " + e.Message, cancellationToken).ConfigureAwait(false);
            return;
        }
        _logger.LogDebug("volume \"{Volume}\" recycled", name);
        _recorder.Event(volume, EventTypes.Normal, "VolumeRecycled", "Volume recycled");
        try
        {
            await UnbindVolumeAsync(volume, cancellationToken).ConfigureAwait(false);
        }
        catch (KubeApiException e)
        {
            _logger.LogDebug("recycleVolumeOperation [{Volume}]: failed to make recycled volume 'Available' ({Error}), we will recycle the volume again", name, e.Message);
        }
    }

    private async Task DeleteVolumeOperationAsync(PersistentVolume volume, CancellationToken cancellationToken)
    {
        var name = volume.Metadata?.Name ?? "";
        PersistentVolume current;
        try
        {
            current = await _client.GetAsync<PersistentVolume>(null, name, cancellationToken).ConfigureAwait(false);
        }
        catch (KubeApiException e)
        {
            _logger.LogDebug("error reading persistent volume \"{Volume}\": {Error}", name, e.Message);
            return;
        }
        if (current.Metadata?.DeletionTimestamp is not null)
        {
            _logger.LogDebug("Volume \"{Volume}\" is already being deleted", name);
            return;
        }
        if (!IsVolumeReleased(current))
        {
            _logger.LogDebug("volume \"{Volume}\" no longer needs deletion, skipping", name);
            return;
        }
        bool deleted;
        try
        {
            deleted = await DoDeleteVolumeAsync(volume, cancellationToken).ConfigureAwait(false);
        }
        catch (VolumePluginException e)
        {
            // Failed, yet every later sync tries again.
            await UpdateVolumePhaseWithEventAsync(volume, VolumePhases.Failed, EventTypes.Warning, "VolumeFailedDelete", e.Message, cancellationToken).ConfigureAwait(false);
            throw;
        }
        if (!deleted)
        {
            return; // An external deleter's job.
        }
        try
        {
            await _client.DeleteAsync<PersistentVolume>(null, name, cancellationToken: cancellationToken).ConfigureAwait(false);
        }
        catch (KubeApiException e)
        {
            // The next sync deletes it again.
            _logger.LogDebug("failed to delete volume \"{Volume}\" from database: {Error}", name, e.Message);
        }
    }

    /// <summary>Bound to a claim that is gone, or to one now bound to another volume.</summary>
    private bool IsVolumeReleased(PersistentVolume volume)
    {
        var claimRef = volume.Spec?.ClaimRef;
        if (claimRef is null || string.IsNullOrEmpty(claimRef.Uid))
        {
            return false;
        }
        var claim = _claims.Get(VolumeBinding.ClaimObjectKey(claimRef));
        if (claim is not null && claim.Metadata?.Uid == claimRef.Uid)
        {
            return !string.IsNullOrEmpty(claim.Spec?.VolumeName) && claim.Spec.VolumeName != volume.Metadata?.Name;
        }
        return true;
    }

    /// <summary>"namespace/name" of the pods, not terminated, that use the volume's claim (sorted).</summary>
    private List<string> VolumeUsers(PersistentVolume volume)
    {
        if (volume.Spec?.ClaimRef is not { } claimRef)
        {
            return [];
        }
        return _podLister.ByIndex(PodPvcIndex.Name, VolumeBinding.ClaimKey(claimRef))
            .Where(p => !VolumeBinding.IsPodTerminated(p))
            .Select(p => p.Metadata?.Namespace + "/" + p.Metadata?.Name)
            .Distinct()
            .Order(StringComparer.Ordinal)
            .ToList();
    }

    /// <summary>True when a plugin deleted the volume, false when an external deleter is expected.</summary>
    private async Task<bool> DoDeleteVolumeAsync(PersistentVolume volume, CancellationToken cancellationToken)
    {
        if (FindDeletablePlugin(volume) is not { } plugin)
        {
            _logger.LogDebug("external deleter for volume \"{Volume}\" requested, ignoring", volume.Metadata?.Name);
            return false;
        }
        var started = _time.GetTimestamp();
        try
        {
            await plugin.DeleteAsync(volume, cancellationToken).ConfigureAwait(false);
        }
        catch (VolumePluginException)
        {
            _metrics.ObservePluginOperation(plugin.Name, "volume_delete", _time.GetElapsedTime(started), failed: true);
            throw;
        }
        _metrics.ObservePluginOperation(plugin.Name, "volume_delete", _time.GetElapsedTime(started), failed: false);
        _logger.LogDebug("volume \"{Volume}\" deleted", volume.Metadata?.Name);
        return true;
    }

    /// <summary>The plugin that provisioned the volume, else one that fits its spec; null for external provisioners.</summary>
    private IDeletablePlugin? FindDeletablePlugin(PersistentVolume volume)
    {
        if (volume.Metadata?.Annotations?.GetValueOrDefault(VolumeAnnotations.DynamicallyProvisioned) is { Length: > 0 } provisioner)
        {
            try
            {
                return _plugins.FindDeletablePluginByName(provisioner);
            }
            catch (VolumePluginException) when (!provisioner.StartsWith("kubernetes.io/", StringComparison.Ordinal))
            {
                return null;
            }
        }
        try
        {
            return _plugins.FindDeletablePluginBySpec(volume);
        }
        catch (VolumePluginException e)
        {
            throw new VolumePluginException($"error getting deleter volume plugin for volume \"{volume.Metadata?.Name}\": {e.Message}", e);
        }
    }

    private string GetProvisionerNameFromVolume(PersistentVolume volume)
    {
        try
        {
            if (FindDeletablePlugin(volume) is { } plugin)
            {
                return plugin.Name;
            }
        }
        catch (VolumePluginException)
        {
            return "N/A";
        }
        if (_classLister.Get(new ObjectKey(null, VolumeBinding.VolumeClass(volume))) is not { } storageClass)
        {
            return "N/A";
        }
        var provisioner = storageClass.Provisioner ?? "";
        return CsiMigration.MigratedDriver(provisioner, _gates) ?? provisioner;
    }

    private void ProvisionClaim(PersistentVolumeClaim claim, CancellationToken cancellationToken)
    {
        if (!_options.EnableDynamicProvisioning)
        {
            return;
        }
        var claimKey = VolumeBinding.ClaimKey(claim);
        IProvisionablePlugin? plugin;
        StorageClass storageClass;
        try
        {
            (plugin, storageClass) = FindProvisionablePlugin(claim);
        }
        catch (VolumePluginException e)
        {
            // Retried at every sync of the claim.
            _recorder.Event(claim, EventTypes.Warning, "ProvisioningFailed", e.Message);
            // klog.Errorf upstream: one printf-style line.
            _logger.LogError("{Message}", $"error finding provisioning plugin for claim {claimKey}: {e.Message}");
            return;
        }
        _operations.TryRun($"provision-{claimKey}[{claim.Metadata?.Uid}]", async ct =>
        {
            _metrics.OperationStarted(claimKey, plugin?.Name ?? CsiMigration.MigratedDriver(storageClass.Provisioner ?? "", _gates) ?? storageClass.Provisioner ?? "", "provision");
            try
            {
                if (plugin is null)
                {
                    await ProvisionClaimOperationExternalAsync(claim, storageClass, ct).ConfigureAwait(false);
                }
                else
                {
                    await ProvisionClaimOperationAsync(claim, plugin, storageClass, ct).ConfigureAwait(false);
                }
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                _metrics.RecordOperation(claimKey, e);
                throw;
            }
        }, cancellationToken);
    }

    /// <summary>The in-tree plugin for the claim's class, or null (with the class) when an external provisioner is meant.</summary>
    private (IProvisionablePlugin? Plugin, StorageClass Class) FindProvisionablePlugin(PersistentVolumeClaim claim)
    {
        var className = VolumeBinding.ClaimClass(claim);
        var storageClass = _classLister.Get(new ObjectKey(null, className))
            ?? throw new VolumePluginException($"storageclass.storage.k8s.io \"{className}\" not found");
        var provisioner = storageClass.Provisioner ?? "";
        if (CsiMigration.MigratedDriver(provisioner, _gates) is not null)
        {
            return (null, storageClass);
        }
        try
        {
            return (_plugins.FindProvisionablePluginByName(provisioner), storageClass);
        }
        catch (VolumePluginException) when (!provisioner.StartsWith("kubernetes.io/", StringComparison.Ordinal))
        {
            return (null, storageClass);
        }
    }

    private async Task ProvisionClaimOperationAsync(PersistentVolumeClaim claim, IProvisionablePlugin plugin, StorageClass storageClass, CancellationToken cancellationToken)
    {
        var claimKey = VolumeBinding.ClaimKey(claim);
        var claimClass = VolumeBinding.ClaimClass(claim);
        if (claim.Spec?.DataSource is not null)
        {
            var message = $"plugin \"{plugin.Name}\" is not a CSI plugin. Only CSI plugin can provision a claim with a datasource";
            _recorder.Event(claim, EventTypes.Warning, "ProvisioningFailed", message);
            throw new VolumePluginException(message);
        }
        claim = await SetClaimProvisionerAsync(claim, storageClass.Provisioner ?? "", cancellationToken).ConfigureAwait(false);

        // A previous run may have provisioned the volume (its name is deterministic) just before we got here.
        var pvName = "pvc-" + claim.Metadata?.Uid;
        try
        {
            await _client.GetAsync<PersistentVolume>(null, pvName, cancellationToken).ConfigureAwait(false);
            _logger.LogTrace("provisionClaimOperation [{Claim}]: volume already exists, skipping", claimKey);
            return;
        }
        catch (NotFoundException)
        {
        }
        var claimRef = VolumeBinding.ReferenceTo(claim);
        var options = new ProvisionOptions(pvName, claim, storageClass.ReclaimPolicy ?? "Delete", storageClass.MountOptions ?? [], storageClass.Parameters ?? []);
        if (!plugin.SupportsMountOption && options.MountOptions.Count > 0)
        {
            _recorder.Event(claim, EventTypes.Warning, "ProvisioningFailed",
                $"Mount options are not supported by the provisioner but StorageClass \"{storageClass.Metadata?.Name}\" has mount options [{string.Join(' ', options.MountOptions)}]");
            throw new VolumePluginException($"provisioner \"{plugin.Name}\" doesn't support mount options");
        }
        try
        {
            plugin.CheckCanProvision();
        }
        catch (VolumePluginException e)
        {
            _recorder.Event(claim, EventTypes.Warning, "ProvisioningFailed", "Failed to create provisioner: " + e.Message);
            throw;
        }
        Node? selectedNode = null;
        if (claim.Metadata?.Annotations?.TryGetValue(VolumeAnnotations.SelectedNode, out var nodeName) == true)
        {
            selectedNode = _nodeLister.Get(new ObjectKey(null, nodeName));
            if (selectedNode is null)
            {
                _recorder.Event(claim, EventTypes.Warning, "ProvisioningFailed", $"Failed to get target node: node \"{nodeName}\" not found");
                throw new VolumePluginException($"node \"{nodeName}\" not found");
            }
        }

        PersistentVolume volume;
        var started = _time.GetTimestamp();
        try
        {
            volume = await plugin.ProvisionAsync(options, selectedNode, storageClass.AllowedTopologies, cancellationToken).ConfigureAwait(false);
            _metrics.ObservePluginOperation(plugin.Name, "volume_provision", _time.GetElapsedTime(started), failed: false);
        }
        catch (VolumePluginException e)
        {
            _metrics.ObservePluginOperation(plugin.Name, "volume_provision", _time.GetElapsedTime(started), failed: true);
            // Only a failed provisioning asks the scheduler to pick another node.
            await RescheduleProvisioningAsync(claim, cancellationToken).ConfigureAwait(false);
            _recorder.Event(claim, EventTypes.Warning, "ProvisioningFailed", $"Failed to provision volume with StorageClass \"{storageClass.Metadata?.Name}\": {e.Message}");
            throw;
        }
        volume.Metadata ??= new();
        if (string.IsNullOrEmpty(volume.Metadata.Name))
        {
            volume.Metadata.Name = pvName;
        }
        volume.Spec!.ClaimRef = claimRef;
        volume.Spec.StorageClassName = claimClass;
        volume.Status = new PersistentVolumeStatus { Phase = VolumePhases.Bound };
        VolumeAnnotations.Set(volume.Metadata, VolumeAnnotations.BoundByController, "yes");
        VolumeAnnotations.Set(volume.Metadata, VolumeAnnotations.DynamicallyProvisioned, plugin.Name);

        Exception? saveError = null;
        for (var i = 0; i < CreateProvisionedPvRetryCount; i++)
        {
            try
            {
                StoreVolume(await _client.CreateAsync(volume, cancellationToken: cancellationToken).ConfigureAwait(false));
                saveError = null;
                break;
            }
            catch (AlreadyExistsException)
            {
                saveError = null;
                break;
            }
            catch (KubeApiException e)
            {
                saveError = e;
                _logger.LogDebug("failed to save volume \"{Volume}\" for claim \"{Claim}\": {Error}", volume.Metadata.Name, claimKey, e.Message);
                await Task.Delay(CreateProvisionedPvInterval, _time, cancellationToken).ConfigureAwait(false);
            }
        }
        if (saveError is null)
        {
            _logger.LogDebug("volume \"{Volume}\" provisioned for claim \"{Claim}\"", volume.Metadata.Name, claimKey);
            _recorder.Event(claim, EventTypes.Normal, "ProvisioningSucceeded", $"Successfully provisioned volume {volume.Metadata.Name} using {plugin.Name}");
            return;
        }

        // The storage exists but its PV object could not be saved: delete the storage again.
        _recorder.Event(claim, EventTypes.Warning, "ProvisioningFailed", $"Error creating provisioned PV object for claim {claimKey}: {saveError.Message}. Deleting the volume.");
        Exception? deleteError = null;
        for (var i = 0; i < CreateProvisionedPvRetryCount; i++)
        {
            try
            {
                if (!await DoDeleteVolumeAsync(volume, cancellationToken).ConfigureAwait(false))
                {
                    _logger.LogError("Error finding internal deleter for volume plugin \"{Plugin}\"", plugin.Name);
                }
                deleteError = null;
                break;
            }
            catch (VolumePluginException e)
            {
                deleteError = e;
                await Task.Delay(CreateProvisionedPvInterval, _time, cancellationToken).ConfigureAwait(false);
            }
        }
        if (deleteError is not null)
        {
            _recorder.Event(claim, EventTypes.Warning, "ProvisioningCleanupFailed", $"Error cleaning provisioned volume for claim {claimKey}: {deleteError.Message}. Please delete manually.");
        }
    }

    private async Task ProvisionClaimOperationExternalAsync(PersistentVolumeClaim claim, StorageClass storageClass, CancellationToken cancellationToken)
    {
        var provisioner = storageClass.Provisioner ?? "";
        provisioner = CsiMigration.MigratedDriver(provisioner, _gates) ?? provisioner;
        claim = await SetClaimProvisionerAsync(claim, provisioner, cancellationToken).ConfigureAwait(false);
        var message = $"waiting for a volume to be created, either by external provisioner \"{provisioner}\" or manually created by system administrator";
        _recorder.Event(claim, EventTypes.Normal, "ExternalProvisioning", message);
        _logger.LogDebug("provisionClaimOperationExternal provisioning claim \"{Claim}\": {Message}", VolumeBinding.ClaimKey(claim), message);
    }

    /// <summary>Tells the scheduler to try another node by removing the selected-node annotation.</summary>
    private async Task RescheduleProvisioningAsync(PersistentVolumeClaim claim, CancellationToken cancellationToken)
    {
        if (!VolumeAnnotations.Has(claim.Metadata, VolumeAnnotations.SelectedNode))
        {
            return;
        }
        var clone = KubeObjects.Clone(claim);
        clone.Metadata!.Annotations!.Remove(VolumeAnnotations.SelectedNode);
        try
        {
            StoreClaim(await _client.UpdateAsync(clone, cancellationToken: cancellationToken).ConfigureAwait(false));
        }
        catch (KubeApiException e)
        {
            _logger.LogDebug("Failed to delete annotation 'storagehelpers.AnnSelectedNode' for PersistentVolumeClaim \"{Claim}\": {Error}", VolumeBinding.ClaimKey(claim), e.Message);
        }
    }

    /// <summary>Both storage-provisioner annotations (v1.26 still writes the beta one), so external provisioners start.</summary>
    private async Task<PersistentVolumeClaim> SetClaimProvisionerAsync(PersistentVolumeClaim claim, string provisioner, CancellationToken cancellationToken)
    {
        if (claim.Metadata?.Annotations?.GetValueOrDefault(VolumeAnnotations.StorageProvisioner) == provisioner)
        {
            return claim;
        }
        var clone = KubeObjects.Clone(claim);
        clone.Metadata ??= new();
        VolumeAnnotations.Set(clone.Metadata, VolumeAnnotations.BetaStorageProvisioner, provisioner);
        VolumeAnnotations.Set(clone.Metadata, VolumeAnnotations.StorageProvisioner, provisioner);
        UpdateMigrationAnnotations(clone.Metadata.Annotations, forClaim: true);
        return StoreClaim(await _client.UpdateAsync(clone, cancellationToken: cancellationToken).ConfigureAwait(false));
    }
}

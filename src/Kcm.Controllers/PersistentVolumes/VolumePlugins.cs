using Kcm.Api.Core.V1;
using Kcm.Api.Storage.V1;

namespace Kcm.Controllers.PersistentVolumes;

/// <summary>A volume plugin failed or none fits; the message is upstream's, shown in events and the volume's status.</summary>
public sealed class VolumePluginException(string message, Exception? inner = null) : Exception(message, inner);

/// <summary>The in-tree volume plugins the binder knows (upstream's ProbeControllerVolumePlugins in a providerless build).</summary>
public interface IVolumePlugin
{
    string Name { get; }

    bool CanSupport(PersistentVolume volume);
}

/// <summary>What a provisioner is given (upstream's volume.VolumeOptions).</summary>
public sealed record ProvisionOptions(string PvName, PersistentVolumeClaim Claim, string ReclaimPolicy, IReadOnlyList<string> MountOptions, IReadOnlyDictionary<string, string> Parameters);

public interface IProvisionablePlugin : IVolumePlugin
{
    bool SupportsMountOption { get; }

    /// <summary>Throws <see cref="VolumePluginException"/> when this plugin may not provision (NewProvisioner's error).</summary>
    void CheckCanProvision();

    Task<PersistentVolume> ProvisionAsync(ProvisionOptions options, Node? selectedNode, IReadOnlyList<TopologySelectorTerm>? allowedTopologies, CancellationToken cancellationToken);
}

public interface IDeletablePlugin : IVolumePlugin
{
    Task DeleteAsync(PersistentVolume volume, CancellationToken cancellationToken);
}

public interface IRecyclablePlugin : IVolumePlugin
{
    /// <summary>Scrubs the volume; blocks until the recycler finished. <paramref name="recorder"/> gets (type, message) of its events.</summary>
    Task RecycleAsync(string pvName, PersistentVolume volume, Action<string, string> recorder, CancellationToken cancellationToken);
}

/// <summary>Finds plugins by volume spec or name, failing with upstream's VolumePluginMgr messages.</summary>
public sealed class VolumePluginManager(IReadOnlyList<IVolumePlugin> plugins)
{
    public IReadOnlyList<IVolumePlugin> Plugins => plugins;

    public IVolumePlugin FindPluginBySpec(PersistentVolume volume)
    {
        var matches = plugins.Where(p => p.CanSupport(volume)).ToList();
        return matches.Count switch
        {
            0 => throw new VolumePluginException("no volume plugin matched"),
            1 => matches[0],
            _ => throw new VolumePluginException("multiple volume plugins matched: " + string.Join(',', matches.Select(p => p.Name))),
        };
    }

    public IRecyclablePlugin FindRecyclablePluginBySpec(PersistentVolume volume)
        => FindBySpec<IRecyclablePlugin>(volume) ?? throw new VolumePluginException("no recyclable volume plugin matched");

    public IDeletablePlugin FindDeletablePluginBySpec(PersistentVolume volume)
        => FindBySpec<IDeletablePlugin>(volume) ?? throw new VolumePluginException("no deletable volume plugin matched");

    public IProvisionablePlugin FindProvisionablePluginByName(string name)
        => FindByName<IProvisionablePlugin>(name) ?? throw new VolumePluginException("no provisionable volume plugin matched");

    public IDeletablePlugin FindDeletablePluginByName(string name)
        => FindByName<IDeletablePlugin>(name) ?? throw new VolumePluginException("no deletable volume plugin matched");

    /// <summary>The plugin name the pv_collector metrics use: "kubernetes.io/csi:&lt;driver&gt;" for CSI, "N/A" when none fits.</summary>
    public string MetricPluginName(PersistentVolume volume)
    {
        try
        {
            var name = FindPluginBySpec(volume).Name;
            return volume.Spec?.Csi is { } csi ? $"{name}:{csi.Driver}" : name;
        }
        catch (VolumePluginException)
        {
            return "N/A";
        }
    }

    // As upstream: the one plugin for the spec or name first (its errors win), then whether it can do this.
    private T? FindBySpec<T>(PersistentVolume volume) where T : class, IVolumePlugin
        => FindPluginBySpec(volume) as T;

    private T? FindByName<T>(string name) where T : class, IVolumePlugin
        => FindPluginByName(name) as T;

    public IVolumePlugin FindPluginByName(string name)
        => plugins.FirstOrDefault(p => p.Name == name) ?? throw new VolumePluginException("no volume plugin matched name: " + name);
}

/// <summary>kubernetes.io/local-volume: no provisioning, deleting or recycling, known for the metrics' plugin names.</summary>
public sealed class LocalVolumePlugin : IVolumePlugin
{
    public string Name => "kubernetes.io/local-volume";

    public bool CanSupport(PersistentVolume volume) => volume.Spec?.Local is not null;
}

/// <summary>kubernetes.io/csi: CSI volumes are provisioned and deleted by external sidecars; known for the metrics.</summary>
public sealed class CsiVolumePlugin : IVolumePlugin
{
    public string Name => "kubernetes.io/csi";

    public bool CanSupport(PersistentVolume volume) => volume.Spec?.Csi is not null;
}

/// <summary>kubernetes.io/nfs: recycling only, with the NFS share mounted into the recycler pod.</summary>
public sealed class NfsVolumePlugin(RecyclerConfig config, IRecyclerPodRunner runner) : IRecyclablePlugin
{
    public string Name => "kubernetes.io/nfs";

    public bool CanSupport(PersistentVolume volume) => volume.Spec?.Nfs is not null;

    public Task RecycleAsync(string pvName, PersistentVolume volume, Action<string, string> recorder, CancellationToken cancellationToken)
    {
        var nfs = volume.Spec?.Nfs ?? throw new VolumePluginException("spec.PersistentVolumeSource.NFS is nil");
        var pod = config.PodFor(volume, null, new NFSVolumeSource { Server = nfs.Server, Path = nfs.Path, ReadOnly = false });
        return runner.RecycleAsync(pvName, pod, recorder, cancellationToken);
    }
}

/// <summary>
/// kubernetes.io/host-path, for development and single-node test clusters only, as upstream's: provisions a new
/// directory under /tmp/hostpath_pv/ (only with --enable-hostpath-provisioner), deletes directories under /tmp/
/// only, recycles with a scrubber pod.
/// </summary>
public sealed class HostPathVolumePlugin(bool provisioningEnabled, RecyclerConfig config, IRecyclerPodRunner runner, string tmpRoot = "/tmp") : IProvisionablePlugin, IDeletablePlugin, IRecyclablePlugin
{
    public const string PluginName = "kubernetes.io/host-path";

    public string Name => PluginName;

    public bool SupportsMountOption => false;

    public bool CanSupport(PersistentVolume volume) => volume.Spec?.HostPath is not null;

    public void CheckCanProvision()
    {
        if (!provisioningEnabled)
        {
            throw new VolumePluginException($"provisioning in volume plugin \"{Name}\" is disabled");
        }
    }

    public Task<PersistentVolume> ProvisionAsync(ProvisionOptions options, Node? selectedNode, IReadOnlyList<TopologySelectorTerm>? allowedTopologies, CancellationToken cancellationToken)
    {
        if (VolumeBinding.ClaimModeIsBlock(options.Claim))
        {
            throw new VolumePluginException($"{Name} does not support block volume provisioning");
        }
        var path = $"{tmpRoot}/hostpath_pv/{Guid.NewGuid()}";
        var claimModes = options.Claim.Spec?.AccessModes;
        var volume = new PersistentVolume
        {
            Metadata = new() { Name = options.PvName, Annotations = new() { ["kubernetes.io/createdby"] = "hostpath-dynamic-provisioner" } },
            Spec = new PersistentVolumeSpec
            {
                PersistentVolumeReclaimPolicy = options.ReclaimPolicy,
                AccessModes = claimModes is { Count: > 0 } ? [.. claimModes] : ["ReadWriteOnce"],
                Capacity = new() { ["storage"] = VolumeBinding.RequestedStorage(options.Claim) ?? Kcm.Api.Quantity.Parse("0") },
                HostPath = new HostPathVolumeSource { Path = path },
            },
        };
        try
        {
            var directory = Directory.CreateDirectory(path);
            if (!OperatingSystem.IsWindows())
            {
                File.SetUnixFileMode(directory.FullName, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute | UnixFileMode.GroupRead | UnixFileMode.GroupExecute);
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new VolumePluginException($"mkdir {path}: {e.Message}", e);
        }
        return Task.FromResult(volume);
    }

    public Task DeleteAsync(PersistentVolume volume, CancellationToken cancellationToken)
    {
        var path = volume.Spec?.HostPath?.Path ?? throw new VolumePluginException("spec.PersistentVolumeSource.HostPath is nil");
        // Upstream's check is the unanchored regexp "/tmp/.+": anything containing /tmp/ and more.
        var at = path.IndexOf("/tmp/", StringComparison.Ordinal);
        if (at < 0 || at + 5 >= path.Length)
        {
            throw new VolumePluginException($"host_path deleter only supports /tmp/.+ but received provided {path}");
        }
        try
        {
            if (Directory.Exists(path))
            {
                Directory.Delete(path, recursive: true);
            }
            else if (File.Exists(path))
            {
                File.Delete(path);
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new VolumePluginException($"unlinkat {path}: {e.Message}", e);
        }
        return Task.CompletedTask;
    }

    public Task RecycleAsync(string pvName, PersistentVolume volume, Action<string, string> recorder, CancellationToken cancellationToken)
    {
        var hostPath = volume.Spec?.HostPath ?? throw new VolumePluginException("spec.PersistentVolume.Spec.HostPath is nil");
        var pod = config.PodFor(volume, new HostPathVolumeSource { Path = hostPath.Path }, null);
        return runner.RecycleAsync(pvName, pod, recorder, cancellationToken);
    }
}

/// <summary>The default class for claims without one (util.GetDefaultClass): the newest default, then by name.</summary>
public static class DefaultStorageClass
{
    public static bool IsDefault(StorageClass storageClass)
        => storageClass.Metadata?.Annotations is { } a
            && (a.GetValueOrDefault(VolumeAnnotations.IsDefaultClass) == "true" || a.GetValueOrDefault(VolumeAnnotations.BetaIsDefaultClass) == "true");

    public static StorageClass? Find(IEnumerable<StorageClass> classes)
        => classes.Where(IsDefault)
            .OrderByDescending(c => c.Metadata?.CreationTimestamp ?? DateTimeOffset.MinValue)
            .ThenBy(c => c.Metadata?.Name, StringComparer.Ordinal)
            .FirstOrDefault();
}

using Kcm.Api.Core.V1;

namespace Kcm.Controllers.Common;

/// <summary>An in-tree volume plugin and the CSI driver that replaces it (csi-translation-lib's table).</summary>
public sealed record MigratedPlugin(string InTreePluginName, string CsiDriverName, string FeatureGate, Func<PersistentVolumeSpec, bool> Supports);

/// <summary>
/// Upstream's csimigration plugin manager as the volume controllers use it: which PVs and provisioners belong to an
/// in-tree plugin whose CSI migration is on (per its feature gate; Cinder's always is), and the CSI driver that takes
/// them over.
/// </summary>
public static class CsiMigration
{
    public static IReadOnlyList<MigratedPlugin> Plugins { get; } =
    [
        new("kubernetes.io/aws-ebs", "ebs.csi.aws.com", "CSIMigrationAWS", s => s.AwsElasticBlockStore is not null),
        new("kubernetes.io/gce-pd", "pd.csi.storage.gke.io", "CSIMigrationGCE", s => s.GcePersistentDisk is not null),
        new("kubernetes.io/azure-disk", "disk.csi.azure.com", "CSIMigrationAzureDisk", s => s.AzureDisk is not null),
        new("kubernetes.io/azure-file", "file.csi.azure.com", "CSIMigrationAzureFile", s => s.AzureFile is not null),
        new("kubernetes.io/cinder", "cinder.csi.openstack.org", "", s => s.Cinder is not null),
        new("kubernetes.io/vsphere-volume", "csi.vsphere.vmware.com", "CSIMigrationvSphere", s => s.VsphereVolume is not null),
        new("kubernetes.io/portworx-volume", "pxd.portworx.com", "CSIMigrationPortworx", s => s.PortworxVolume is not null),
        new("kubernetes.io/rbd", "rbd.csi.ceph.com", "CSIMigrationRBD", s => s.Rbd is not null),
    ];

    /// <summary>The in-tree plugins whose migration the feature gates turn on.</summary>
    public static IReadOnlySet<string> EnabledPlugins(Func<string, bool> featureEnabled)
        => Plugins.Where(p => p.FeatureGate.Length == 0 || featureEnabled(p.FeatureGate)).Select(p => p.InTreePluginName).ToHashSet(StringComparer.Ordinal);

    /// <summary>The in-tree plugin the PV uses, if it is one that has a CSI replacement.</summary>
    public static MigratedPlugin? PluginFor(PersistentVolume pv)
        => pv.Spec is { } spec ? Plugins.FirstOrDefault(p => p.Supports(spec)) : null;

    /// <summary>The CSI driver that took over the in-tree <paramref name="plugin"/>, or null when it is not migrated.</summary>
    public static string? MigratedDriver(string plugin, Func<string, bool> featureEnabled)
        => Plugins.FirstOrDefault(p => p.InTreePluginName == plugin) is { } migrated
            && (migrated.FeatureGate.Length == 0 || featureEnabled(migrated.FeatureGate)) ? migrated.CsiDriverName : null;
}

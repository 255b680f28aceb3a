using System.Security.Cryptography;
using System.Text;
using Kcm.Api.Core.V1;
using Kcm.Api.Storage.V1;
using Kcm.Runtime.Informers;

namespace Kcm.Controllers.AttachDetach;

/// <summary>A volume as the controller sees it (upstream's volume.Spec): a PersistentVolume behind a claim, or a pod's in-line volume.</summary>
public sealed record VolumeSpec(PersistentVolume? PersistentVolume, Volume? Volume, bool ReadOnly = false)
{
    public static VolumeSpec FromPersistentVolume(PersistentVolume pv, bool readOnly = false) => new(pv, null, readOnly);

    public static VolumeSpec FromVolume(Volume volume) => new(null, volume);

    /// <summary>The PV's name or the in-line volume's; what upstream's messages quote as the volume.</summary>
    public string Name => PersistentVolume?.Metadata?.Name ?? Volume?.Name ?? "";
}

/// <summary>
/// The part of upstream's CSI volume plugin the attach/detach controller uses: which specs it attaches, their unique
/// names ("kubernetes.io/csi/&lt;driver&gt;^&lt;handle&gt;") and VolumeAttachment names. In-line CSI volumes in pods are
/// ephemeral, which the plugin never attaches; a PV's CSI volume is attached unless its CSIDriver says attachRequired: false.
/// </summary>
public sealed class CsiAttachPlugin(IObjectCache<CSIDriver> drivers)
{
    public const string PluginName = "kubernetes.io/csi";

    // Upstream's csiTimeout: how long an attach or detach waits for the external attacher.
    public static readonly TimeSpan WatchTimeout = TimeSpan.FromMinutes(2);

    private const char VolumeNameSeparator = '^';

    /// <summary>FindAttachablePluginBySpec found the CSI plugin and CanAttach said yes.</summary>
    public bool IsAttachable(VolumeSpec? spec)
    {
        if (spec?.PersistentVolume?.Spec?.Csi is not { } csi)
        {
            return false;
        }
        return !SkipAttach(csi.Driver ?? "");
    }

    /// <summary>A CSIDriver with attachRequired: false needs no VolumeAttachment; no CSIDriver object means attach.</summary>
    public bool SkipAttach(string driver) => drivers.Get(new ObjectKey(null, driver))?.Spec?.AttachRequired == false;

    /// <summary>GetUniqueVolumeNameFromSpec for the CSI plugin.</summary>
    public static string UniqueVolumeName(VolumeSpec spec)
    {
        var csi = spec.PersistentVolume?.Spec?.Csi ?? throw new InvalidVolumeSpecException($"volume {spec.Name} is not a CSI persistent volume");
        return UniqueVolumeName(csi.Driver ?? "", csi.VolumeHandle ?? "");
    }

    public static string UniqueVolumeName(string driver, string volumeHandle) => $"{PluginName}/{driver}{VolumeNameSeparator}{volumeHandle}";

    /// <summary>Splits "kubernetes.io/csi/driver^handle"; null when the name is not one the CSI plugin made.</summary>
    public static (string Driver, string Handle)? SplitUniqueName(string uniqueName)
    {
        if (!uniqueName.StartsWith(PluginName + "/", StringComparison.Ordinal))
        {
            return null;
        }
        var parts = uniqueName[(PluginName.Length + 1)..].Split(VolumeNameSeparator);
        return parts.Length == 2 ? (parts[0], parts[1]) : null;
    }

    /// <summary>The VolumeAttachment name: "csi-" and the hex SHA-256 of handle, driver and node, concatenated.</summary>
    public static string AttachmentName(string volumeHandle, string driver, string nodeName)
        => "csi-" + Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(volumeHandle + driver + nodeName)));

    /// <summary>util.IsMultiAttachAllowed: only a PV's access modes tell; RWX/ROX may be on several nodes, none listed means "let the attacher decide".</summary>
    public static bool IsMultiAttachAllowed(VolumeSpec? spec)
    {
        if (spec?.PersistentVolume is not { } pv)
        {
            return spec?.Volume is not { } volume || (volume.AzureDisk is null && volume.Cinder is null);
        }
        var modes = pv.Spec?.AccessModes;
        return modes is null || modes.Count == 0 || modes.Any(m => m is "ReadWriteMany" or "ReadOnlyMany");
    }
}

public sealed class InvalidVolumeSpecException(string message) : InvalidOperationException(message);

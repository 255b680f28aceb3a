using Kcm.Api.Core.V1;
using Kcm.Controllers.PersistentVolumes;

namespace Kcm.Controllers.Tests.PersistentVolumes;

/// <summary>Plugin lookups fail with upstream's VolumePluginMgr messages, which reach events and volume status.</summary>
public sealed class VolumePluginManagerTests
{
    private readonly VolumePluginManager _plugins = new([new LocalVolumePlugin(), new CsiVolumePlugin()]);

    [Fact]
    public void FindProvisionablePluginByName_UnknownName_NamesIt()
    {
        // A StorageClass of kubernetes.io/no-provisioner (local volumes) gets this on every claim nothing binds.
        var error = Assert.Throws<VolumePluginException>(() => _plugins.FindProvisionablePluginByName("kubernetes.io/no-provisioner"));
        Assert.Equal("no volume plugin matched name: kubernetes.io/no-provisioner", error.Message);
    }

    [Fact]
    public void FindProvisionablePluginByName_KnownPluginThatCannotProvision_SaysSo()
    {
        var error = Assert.Throws<VolumePluginException>(() => _plugins.FindProvisionablePluginByName("kubernetes.io/local-volume"));
        Assert.Equal("no provisionable volume plugin matched", error.Message);
    }

    [Fact]
    public void FindDeletablePluginBySpec_NoPluginForTheSource_NoVolumePluginMatched()
    {
        var iscsi = new PersistentVolume { Spec = new PersistentVolumeSpec { Iscsi = new ISCSIPersistentVolumeSource { TargetPortal = "10.0.0.1", Iqn = "iqn", Lun = 0 } } };
        var local = new PersistentVolume { Spec = new PersistentVolumeSpec { Local = new LocalVolumeSource { Path = "/mnt" } } };

        Assert.Equal("no volume plugin matched", Assert.Throws<VolumePluginException>(() => _plugins.FindDeletablePluginBySpec(iscsi)).Message);
        Assert.Equal("no deletable volume plugin matched", Assert.Throws<VolumePluginException>(() => _plugins.FindDeletablePluginBySpec(local)).Message);
        Assert.Equal("no recyclable volume plugin matched", Assert.Throws<VolumePluginException>(() => _plugins.FindRecyclablePluginBySpec(local)).Message);
    }
}

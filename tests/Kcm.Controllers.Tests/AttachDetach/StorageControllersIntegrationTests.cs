using Kcm.Api;
using Kcm.Api.Core.V1;
using Kcm.Api.Meta.V1;
using Kcm.Api.Storage.V1;
using Kcm.Client;
using Kcm.Client.Errors;
using Kcm.Controllers.AttachDetach;
using Kcm.Controllers.Common;
using Kcm.Controllers.Tests.Support;
using Kcm.Controllers.Tests.Workloads;
using Kcm.Controllers.VolumeExpansion;
using Kcm.Testing;

namespace Kcm.Controllers.Tests.AttachDetach;

/// <summary>
/// attachdetach and persistentvolume-expander as the manager starts them, against the test server (embedded, or the
/// real one KCM_TEST_KUBECONFIG names). No kubelet, binder or external attacher runs: the test creates a managed node
/// and a claim bound to a CSI volume itself, and plays the external attacher by setting VolumeAttachment status.
/// Not beside the classes that run a binder: on a shared real cluster that binder acts on these claims too, and marks
/// one Lost when it sees the claim before its volume (the attacher then skips a claim that is not Bound, the expander
/// refuses to grow it, and the binder's events land on it).
/// </summary>
[Collection(Kcm.Controllers.Tests.PvcProtection.PvcProtectionCollection.Name)]
public sealed class StorageControllersIntegrationTests : IAsyncLifetime
{
    private readonly WorkloadServer _server = new();
    private ControllerTestHost? _host;
    private string _ns = "";
    private string _id = "";
    private readonly List<Func<Task>> _cleanup = [];

    private KubeApiClient Client => _host!.Client;

    public async Task InitializeAsync()
    {
        await _server.InitializeAsync();
        _host = new ControllerTestHost(_server, DebugFileLoggerProvider.FromEnvironment());
        var attachDetach = AttachDetachDescriptor.Value.Start(_host.Context, new AttachDetachSettings(false, TimeSpan.FromMinutes(1)))!;
        var expander = ExpandControllerDescriptor.Value.Start(_host.Context,
            new ExpandControllerSettings(CsiMigration.EnabledPlugins(gate => gate is not ("CSIMigrationPortworx" or "CSIMigrationRBD"))))!;
        _host.Start(attachDetach, expander);
        _ns = await TestNamespaces.CreateAsync(_host.Client, "storage");
        _id = _ns.Split('-')[^1];
    }

    public async Task DisposeAsync()
    {
        foreach (var cleanup in _cleanup)
        {
            try
            {
                await cleanup();
            }
            catch (KubeApiException)
            {
            }
        }
        if (_host is not null)
        {
            await _host.DisposeAsync();
        }
        await _server.DisposeAsync();
    }

    [Fact(Timeout = 120_000)]
    public async Task CsiVolumeUsedByPod_AttachmentCreatedReportedThenRemovedAfterPodGoes()
    {
        var driver = $"csi-{_id}.example.com";
        var nodeName = "ad-node-" + _id;
        await CreateClusterObjectAsync(new CSIDriver { Metadata = new ObjectMeta { Name = driver }, Spec = new CSIDriverSpec { AttachRequired = true } });
        await CreateManagedNodeAsync(nodeName);
        var pvName = await CreateBoundClaimAsync("data", new PersistentVolumeSpec { Csi = new CSIPersistentVolumeSource { Driver = driver, VolumeHandle = "handle-1" } }, "");
        await Client.CreateAsync(new Pod
        {
            Metadata = new ObjectMeta { Name = "user", Namespace = _ns },
            Spec = new PodSpec
            {
                NodeName = nodeName,
                Containers = [new Container { Name = "c", Image = "busybox" }],
                Volumes = [new Volume { Name = "v", PersistentVolumeClaim = new PersistentVolumeClaimVolumeSource { ClaimName = "data" } }],
            },
        }, _ns);

        var attachmentName = CsiAttachPlugin.AttachmentName("handle-1", driver, nodeName);
        var attachment = await Eventually.GetAsync("the VolumeAttachment", () => FindAsync<VolumeAttachment>(null, attachmentName), TimeSpan.FromSeconds(60));
        _cleanup.Add(() => Client.DeleteAsync<VolumeAttachment>(null, attachmentName));
        Assert.Equal((driver, nodeName, pvName), (attachment.Spec!.Attacher, attachment.Spec.NodeName, attachment.Spec.Source!.PersistentVolumeName));

        // The external attacher's part.
        await Client.PatchAsync<VolumeAttachment>(null, attachmentName, PatchType.Merge, "{\"status\":{\"attached\":true}}", "status");

        var volumeName = $"kubernetes.io/csi/{driver}^handle-1";
        await Eventually.TrueAsync("volumesAttached on the node", async () =>
            (await Client.GetAsync<Node>(null, nodeName)).Status?.VolumesAttached is [{ } only] && only.Name == volumeName && only.DevicePath == "",
            TimeSpan.FromSeconds(60));
        await Eventually.TrueAsync("the SuccessfulAttachVolume event", async () => (await EventsAsync("user")).Any(e =>
            e.Reason == "SuccessfulAttachVolume" && e.Type == "Normal" && e.Message == $"AttachVolume.Attach succeeded for volume \"{pvName}\" "
            && e.Source?.Component == "attachdetach-controller"), TimeSpan.FromSeconds(60));

        await Client.DeleteAsync<Pod>(_ns, "user", new DeleteOptions { GracePeriodSeconds = 0 });

        await Eventually.TrueAsync("the VolumeAttachment gone", async () => await FindAsync<VolumeAttachment>(null, attachmentName) is null, TimeSpan.FromSeconds(60));
        await Eventually.TrueAsync("volumesAttached emptied", async () =>
            (await Client.GetAsync<Node>(null, nodeName)).Status?.VolumesAttached is null or [], TimeSpan.FromSeconds(60));
    }

    [Fact(Timeout = 120_000)]
    public async Task ClaimGrown_CsiVolumeLeftToExternalResizer_MigratedVolumeAnnotated_UnexpandableClassRefused()
    {
        await CreateClusterObjectAsync(new StorageClass { Metadata = new ObjectMeta { Name = "grow-" + _id }, Provisioner = "csi.example.com", AllowVolumeExpansion = true });
        await CreateClusterObjectAsync(new StorageClass { Metadata = new ObjectMeta { Name = "fixed-" + _id }, Provisioner = "csi.example.com" });
        await CreateBoundClaimAsync("csi", new PersistentVolumeSpec { Csi = new CSIPersistentVolumeSource { Driver = "csi.example.com", VolumeHandle = "h-" + _id } }, "grow-" + _id);
        await CreateBoundClaimAsync("ebs", new PersistentVolumeSpec { AwsElasticBlockStore = new AWSElasticBlockStoreVolumeSource { VolumeID = "vol-" + _id } }, "grow-" + _id);
        await CreateBoundClaimAsync("fixed", new PersistentVolumeSpec { Csi = new CSIPersistentVolumeSource { Driver = "csi.example.com", VolumeHandle = "f-" + _id } }, "fixed-" + _id);
        const string grow = "{\"spec\":{\"resources\":{\"requests\":{\"storage\":\"2Gi\"}}}}";

        // PersistentVolumeClaimResize admission: only a class with allowVolumeExpansion lets a claim grow.
        var refused = await Assert.ThrowsAsync<ForbiddenException>(() => Client.PatchAsync<PersistentVolumeClaim>(_ns, "fixed", PatchType.Merge, grow));
        Assert.Equal("persistentvolumeclaims \"fixed\" is forbidden: only dynamically provisioned pvc can be resized and the storageclass that provisions the pvc must support resize", refused.Message);
        await Client.PatchAsync<PersistentVolumeClaim>(_ns, "csi", PatchType.Merge, grow);
        await Client.PatchAsync<PersistentVolumeClaim>(_ns, "ebs", PatchType.Merge, grow);

        var annotated = await Eventually.GetAsync("the storage-resizer annotation", async () =>
            (await Client.GetAsync<PersistentVolumeClaim>(_ns, "ebs")) is { } c && c.Metadata?.Annotations?.ContainsKey(ExpandController.ResizerAnnotation) == true ? c : null,
            TimeSpan.FromSeconds(60));
        Assert.Equal("ebs.csi.aws.com", annotated.Metadata!.Annotations![ExpandController.ResizerAnnotation]);
        await Eventually.TrueAsync("the migration event", async () => (await EventsAsync("ebs")).Any(e => e.Type == "Normal" && e.Reason == "ExternalExpanding"
            && e.Message == "CSI migration enabled for kubernetes.io/aws-ebs; waiting for external resizer to expand the pvc" && e.Source?.Component == "volume_expand"),
            TimeSpan.FromSeconds(60));
        await Eventually.TrueAsync("the CSI claim's event", async () => (await EventsAsync("csi")).Any(e => e.Type == "Warning" && e.Reason == "ExternalExpanding"
            && e.Message == "Ignoring the PVC: didn't find a plugin capable of expanding the volume; waiting for an external controller to process this PVC."),
            TimeSpan.FromSeconds(60));
        var csiClaim = await Client.GetAsync<PersistentVolumeClaim>(_ns, "csi");
        Assert.False(csiClaim.Metadata!.Annotations?.ContainsKey(ExpandController.ResizerAnnotation) ?? false);
        Assert.Empty(await EventsAsync("fixed"));
    }

    private async Task CreateManagedNodeAsync(string name)
    {
        await CreateClusterObjectAsync(new Node
        {
            Metadata = new ObjectMeta { Name = name, Annotations = new() { [AttachDetachController.ManagedAnnotation] = "true" } },
        });
        var now = DateTimeOffset.UtcNow.ToString("yyyy-MM-ddTHH:mm:ssZ");
        await Client.PatchAsync<Node>(null, name, PatchType.Merge,
            $"{{\"status\":{{\"conditions\":[{{\"type\":\"Ready\",\"status\":\"True\",\"reason\":\"KubeletReady\",\"message\":\"ok\",\"lastHeartbeatTime\":\"{now}\",\"lastTransitionTime\":\"{now}\"}}]}}}}",
            "status");
    }

    // What the binder would leave: a claim and a PV pointing at each other, the claim Bound with 1Gi.
    private async Task<string> CreateBoundClaimAsync(string claimName, PersistentVolumeSpec volume, string storageClass)
    {
        var pvName = $"{claimName}-{_ns}";
        var claim = await Client.CreateAsync(new PersistentVolumeClaim
        {
            Metadata = new ObjectMeta { Name = claimName, Namespace = _ns },
            Spec = new PersistentVolumeClaimSpec
            {
                AccessModes = ["ReadWriteOnce"],
                StorageClassName = storageClass,
                VolumeName = pvName,
                Resources = new ResourceRequirements { Requests = new() { ["storage"] = Quantity.Parse("1Gi") } },
            },
        }, _ns);
        volume.StorageClassName = storageClass;
        volume.AccessModes = ["ReadWriteOnce"];
        volume.Capacity = new() { ["storage"] = Quantity.Parse("1Gi") };
        volume.ClaimRef = new ObjectReference { Namespace = _ns, Name = claimName, Uid = claim.Metadata!.Uid };
        await CreateClusterObjectAsync(new PersistentVolume { Metadata = new ObjectMeta { Name = pvName }, Spec = volume });
        await Client.PatchAsync<PersistentVolumeClaim>(_ns, claimName, PatchType.Merge,
            "{\"status\":{\"phase\":\"Bound\",\"accessModes\":[\"ReadWriteOnce\"],\"capacity\":{\"storage\":\"1Gi\"}}}", "status");
        return pvName;
    }

    private async Task CreateClusterObjectAsync<T>(T obj)
        where T : class, IResource, IListableResource
    {
        var created = await Client.CreateAsync(obj);
        var name = created.Metadata!.Name!;
        // Protection finalizers would hold a deleted PV without the pv-protection controller running here.
        _cleanup.Add(async () =>
        {
            await Client.PatchAsync<T>(null, name, PatchType.Merge, "{\"metadata\":{\"finalizers\":null}}");
            await Client.DeleteAsync<T>(null, name);
        });
    }

    private async Task<IReadOnlyList<Event>> EventsAsync(string involvedName)
        => ((await Client.ListAsync<Event>(_ns)).Items ?? []).Where(e => e.InvolvedObject?.Name == involvedName).ToList();

    private async Task<T?> FindAsync<T>(string? ns, string name)
        where T : class, IResource
    {
        try
        {
            return await Client.GetAsync<T>(ns, name);
        }
        catch (NotFoundException)
        {
            return null;
        }
    }
}

using Kcm.Api;
using Kcm.Api.Core.V1;
using Kcm.Api.Meta.V1;
using Kcm.Api.Storage.V1;
using Kcm.Client;
using Kcm.Client.Errors;
using Kcm.Controllers.PersistentVolumes;
using Kcm.Controllers.PvcProtection;
using Kcm.Controllers.PvProtection;
using Kcm.Controllers.Tests.Support;
using Kcm.Controllers.Tests.Workloads;
using Kcm.Testing;

namespace Kcm.Controllers.Tests.PersistentVolumes;

/// <summary>
/// persistentvolume-binder with the host-path provisioner, next to pvc-protection and pv-protection, as the manager
/// starts them, against the test server (embedded, or the real one KCM_TEST_KUBECONFIG names). Volumes are
/// cluster-scoped, so every test gives its volumes and claims a storage class of its own (named after its
/// namespace): no test, nor another class sharing the cluster, can bind another's volumes.
/// </summary>
[Collection(Kcm.Controllers.Tests.PvcProtection.PvcProtectionCollection.Name)]
public sealed class PersistentVolumeBinderIntegrationTests : IAsyncLifetime
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(60);
    private readonly WorkloadServer _server = new();
    private readonly List<string> _volumes = [];
    private ControllerTestHost? _host;
    private string _ns = "";

    private KubeApiClient Client => _host!.Client;

    private string Class => "pvb-" + _ns;

    public async Task InitializeAsync()
    {
        await _server.InitializeAsync();
        // Unthrottled: on a shared cluster the binder re-syncs every class's claims each period (events and status
        // writes for each), and at client-go's default 5 QPS this class's own steps queued behind them for up to a minute.
        _host = new ControllerTestHost(_server, DebugFileLoggerProvider.FromEnvironment(), unthrottled: true);
        var binder = PersistentVolumeBinderDescriptor.Value.Start(_host.Context, new PersistentVolumeBinderOptions
        {
            SyncPeriod = TimeSpan.FromSeconds(2),
            EnableHostPathProvisioning = true,
        })!;
        var pvc = PvcProtectionDescriptor.Value.Start(_host.Context, NoSettings.Value)!;
        var pv = PvProtectionDescriptor.Value.Start(_host.Context, NoSettings.Value)!;
        _host.Start(binder, pvc, pv);
        _ns = await TestNamespaces.CreateAsync(_host.Client, "pvb");
    }

    public async Task DisposeAsync()
    {
        if (_host is not null)
        {
            foreach (var name in _volumes)
            {
                await ForceDeleteVolumeAsync(name);
            }
            await _host.DisposeAsync();
        }
        await _server.DisposeAsync();
    }

    [Fact(Timeout = 120_000)]
    public async Task Claim_SeveralFittingVolumes_BindsSmallest()
    {
        await CreateVolumeAsync("large", "5Gi");
        await CreateVolumeAsync("small", "1Gi");
        await CreateVolumeAsync("medium", "3Gi");
        // Only Available volumes are candidates (upstream's too): a claim synced earlier could get "large".
        foreach (var name in new[] { "large", "small", "medium" })
        {
            await WaitForVolumePhaseAsync(name, "Available");
        }
        await CreateClaimAsync("data", "2Gi");

        var claim = await WaitForClaimPhaseAsync("data", "Bound");

        Assert.Equal(VolumeName("medium"), claim.Spec!.VolumeName);
        Assert.Equal("yes", claim.Metadata!.Annotations![VolumeAnnotations.BindCompleted]);
        Assert.Equal("yes", claim.Metadata.Annotations[VolumeAnnotations.BoundByController]);
        Assert.Equal("3Gi", claim.Status!.Capacity!["storage"].ToString());
        Assert.Equal(["ReadWriteOnce"], claim.Status.AccessModes!);
        var volume = await WaitForVolumePhaseAsync("medium", "Bound");
        Assert.Equal("yes", volume.Metadata!.Annotations![VolumeAnnotations.BoundByController]);
        Assert.Equal((claim.Metadata.Uid, "data", _ns, "PersistentVolumeClaim"), (volume.Spec!.ClaimRef!.Uid, volume.Spec.ClaimRef.Name, volume.Spec.ClaimRef.Namespace, volume.Spec.ClaimRef.Kind));
        Assert.Equal("Available", (await WaitForVolumePhaseAsync("small", "Available")).Status!.Phase);
    }

    [Fact(Timeout = 120_000)]
    public async Task PreBinding_VolumeClaimRefAndClaimVolumeName_Honoured()
    {
        await CreateVolumeAsync("small", "1Gi");
        await CreateVolumeAsync("reserved", "5Gi", claimRef: new ObjectReference { Namespace = _ns, Name = "wants-reserved" });
        await CreateVolumeAsync("named", "5Gi");
        await CreateClaimAsync("wants-reserved", "1Gi");
        await CreateClaimAsync("wants-named", "1Gi", volumeName: VolumeName("named"));

        var reservedClaim = await WaitForClaimPhaseAsync("wants-reserved", "Bound");
        var namedClaim = await WaitForClaimPhaseAsync("wants-named", "Bound");

        Assert.Equal(VolumeName("reserved"), reservedClaim.Spec!.VolumeName);
        Assert.Equal("yes", reservedClaim.Metadata!.Annotations![VolumeAnnotations.BoundByController]);
        var reserved = await WaitForVolumePhaseAsync("reserved", "Bound");
        Assert.False(VolumeAnnotations.Has(reserved.Metadata, VolumeAnnotations.BoundByController));
        Assert.Equal(reservedClaim.Metadata.Uid, reserved.Spec!.ClaimRef!.Uid);

        Assert.Equal(VolumeName("named"), namedClaim.Spec!.VolumeName);
        Assert.Equal("yes", namedClaim.Metadata!.Annotations![VolumeAnnotations.BindCompleted]);
        Assert.False(VolumeAnnotations.Has(namedClaim.Metadata, VolumeAnnotations.BoundByController));
        var named = await WaitForVolumePhaseAsync("named", "Bound");
        Assert.Equal("yes", named.Metadata!.Annotations![VolumeAnnotations.BoundByController]);
        Assert.Equal("Available", (await WaitForVolumePhaseAsync("small", "Available")).Status!.Phase);
    }

    [Fact(Timeout = 150_000)]
    public async Task WaitForFirstConsumer_SelectedNode_HostPathProvisionedThenDeletedWithClaim()
    {
        await Client.CreateAsync(new StorageClass
        {
            Metadata = new ObjectMeta { Name = Class },
            Provisioner = HostPathVolumePlugin.PluginName,
            VolumeBindingMode = "WaitForFirstConsumer",
            ReclaimPolicy = "Delete",
        });
        var node = "node-" + _ns;
        await Client.CreateAsync(new Node { Metadata = new ObjectMeta { Name = node } });
        try
        {
            var created = await CreateClaimAsync("data", "1Gi");
            await WaitForEventAsync("data", "WaitForFirstConsumer", "waiting for first consumer to be created before binding");
            Assert.Equal("Pending", (await Client.GetAsync<PersistentVolumeClaim>(_ns, "data")).Status!.Phase);

            await Client.PatchAsync<PersistentVolumeClaim>(_ns, "data", PatchType.Merge,
                "{\"metadata\":{\"annotations\":{\"" + VolumeAnnotations.SelectedNode + "\":\"" + node + "\"}}}");

            var claim = await WaitForClaimPhaseAsync("data", "Bound");
            var pvName = "pvc-" + created.Metadata!.Uid;
            _volumes.Add(pvName);
            Assert.Equal(pvName, claim.Spec!.VolumeName);
            Assert.Equal(HostPathVolumePlugin.PluginName, claim.Metadata!.Annotations![VolumeAnnotations.StorageProvisioner]);
            Assert.Equal(HostPathVolumePlugin.PluginName, claim.Metadata.Annotations[VolumeAnnotations.BetaStorageProvisioner]);
            var volume = await Client.GetAsync<PersistentVolume>(null, pvName);
            Assert.Equal(HostPathVolumePlugin.PluginName, volume.Metadata!.Annotations![VolumeAnnotations.DynamicallyProvisioned]);
            Assert.Equal("yes", volume.Metadata.Annotations[VolumeAnnotations.BoundByController]);
            Assert.Equal("hostpath-dynamic-provisioner", volume.Metadata.Annotations["kubernetes.io/createdby"]);
            Assert.Equal((Class, "Delete", "1Gi"), (volume.Spec!.StorageClassName, volume.Spec.PersistentVolumeReclaimPolicy, volume.Spec.Capacity!["storage"].ToString()));
            var path = volume.Spec.HostPath!.Path!;
            Assert.StartsWith("/tmp/hostpath_pv/", path, StringComparison.Ordinal);
            Assert.True(Directory.Exists(path));
            await WaitForEventAsync("data", "ProvisioningSucceeded", $"Successfully provisioned volume {pvName} using kubernetes.io/host-path");

            // Deleting the claim (pvc-protection lets it go, no pod uses it) releases the volume: Delete removes
            // the directory and the volume (pv-protection lets it go once it is no longer Bound).
            await Client.DeleteAsync<PersistentVolumeClaim>(_ns, "data");
            await Eventually.TrueAsync("the provisioned volume gone", () => GoneAsync<PersistentVolume>(null, pvName), Wait);
            Assert.False(Directory.Exists(path));
        }
        finally
        {
            await Client.DeleteAsync<Node>(null, node);
            await Client.DeleteAsync<StorageClass>(null, Class);
        }
    }

    [Fact(Timeout = 120_000)]
    public async Task ExternalProvisioner_Claim_AnnotatedAndWaits()
    {
        await Client.CreateAsync(new StorageClass { Metadata = new ObjectMeta { Name = Class }, Provisioner = "example.com/pvb" });
        try
        {
            await CreateClaimAsync("data", "1Gi");

            await WaitForEventAsync("data", "ExternalProvisioning",
                "waiting for a volume to be created, either by external provisioner \"example.com/pvb\" or manually created by system administrator");
            var claim = await Client.GetAsync<PersistentVolumeClaim>(_ns, "data");
            Assert.Equal("example.com/pvb", claim.Metadata!.Annotations![VolumeAnnotations.StorageProvisioner]);
            Assert.Equal("example.com/pvb", claim.Metadata.Annotations[VolumeAnnotations.BetaStorageProvisioner]);
            Assert.Equal("Pending", claim.Status!.Phase);
        }
        finally
        {
            await Client.DeleteAsync<StorageClass>(null, Class);
        }
    }

    [Fact(Timeout = 120_000)]
    public async Task BoundClaim_VolumeDisappears_ClaimLost()
    {
        await CreateVolumeAsync("v", "1Gi");
        await CreateClaimAsync("data", "1Gi");
        await WaitForClaimPhaseAsync("data", "Bound");

        // pv-protection holds a Bound volume; a user forcing it away takes the finalizer off.
        await Client.DeleteAsync<PersistentVolume>(null, VolumeName("v"));
        await Client.PatchAsync<PersistentVolume>(null, VolumeName("v"), PatchType.Merge, """{"metadata":{"finalizers":null}}""");

        var claim = await WaitForClaimPhaseAsync("data", "Lost");
        Assert.Null(claim.Status!.Capacity);
        await WaitForEventAsync("data", "ClaimLost", "Bound claim has lost its PersistentVolume. Data on the volume is lost!");
    }

    [Fact(Timeout = 120_000)]
    public async Task RetainedVolume_ClaimDeletedThenClaimRefRemoved_ReleasedThenAvailable()
    {
        await CreateVolumeAsync("v", "1Gi");
        await CreateClaimAsync("data", "1Gi");
        await WaitForClaimPhaseAsync("data", "Bound");

        await Client.DeleteAsync<PersistentVolumeClaim>(_ns, "data");

        var released = await WaitForVolumePhaseAsync("v", "Released");
        Assert.Equal("data", released.Spec!.ClaimRef!.Name);
        await Client.PatchAsync<PersistentVolume>(null, VolumeName("v"), PatchType.Json, """[{"op":"remove","path":"/spec/claimRef"}]""");

        await WaitForVolumePhaseAsync("v", "Available");
        await CreateClaimAsync("again", "1Gi");
        Assert.Equal(VolumeName("v"), (await WaitForClaimPhaseAsync("again", "Bound")).Spec!.VolumeName);
    }

    [Fact(Timeout = 120_000)]
    public async Task ReleasedVolume_NoRecyclerOrOutsideTmp_FailedWithUpstreamMessage()
    {
        await CreateVolumeAsync("local", "1Gi", reclaimPolicy: "Recycle", local: true);
        await CreateVolumeAsync("outside", "2Gi", reclaimPolicy: "Delete", path: "/var/pvb-" + _ns);
        await CreateClaimAsync("one", "1Gi");
        await CreateClaimAsync("two", "2Gi");
        await WaitForClaimPhaseAsync("one", "Bound");
        await WaitForClaimPhaseAsync("two", "Bound");

        await Client.DeleteAsync<PersistentVolumeClaim>(_ns, "one");
        await Client.DeleteAsync<PersistentVolumeClaim>(_ns, "two");

        var local = await WaitForVolumePhaseAsync("local", "Failed");
        Assert.Equal("No recycler plugin found for the volume!", local.Status!.Message);
        var outside = await WaitForVolumePhaseAsync("outside", "Failed");
        Assert.Equal($"host_path deleter only supports /tmp/.+ but received provided /var/pvb-{_ns}", outside.Status!.Message);
        await WaitForEventAsync(VolumeName("local"), "VolumeFailedRecycle", "No recycler plugin found for the volume!", "default");
    }

    [Fact(Timeout = 120_000)]
    public async Task RecycledVolume_RecyclerPodSucceeds_VolumeAvailableAgain()
    {
        // The recycler pod runs in "default", whose ServiceAccount admission wants.
        await TestNamespaces.EnsureDefaultServiceAccountAsync(Client, "default");
        await CreateVolumeAsync("v", "1Gi", reclaimPolicy: "Recycle");
        await CreateClaimAsync("data", "1Gi");
        await WaitForClaimPhaseAsync("data", "Bound");

        await Client.DeleteAsync<PersistentVolumeClaim>(_ns, "data");

        // No kubelet runs the scrubber: the test reports it finished.
        var podName = "recycler-for-" + VolumeName("v");
        var pod = await Eventually.GetAsync("the recycler pod", () => GetOrNullAsync<Pod>("default", podName), Wait);
        Assert.Equal("/tmp/pvb-" + VolumeName("v"), pod.Spec!.Volumes![0].HostPath!.Path);
        Assert.Equal(60, pod.Spec.ActiveDeadlineSeconds);
        pod.Status = new PodStatus { Phase = "Succeeded" };
        await Client.UpdateStatusAsync(pod);

        var volume = await WaitForVolumePhaseAsync("v", "Available");
        Assert.Null(volume.Spec!.ClaimRef);
        await WaitForEventAsync(VolumeName("v"), "VolumeRecycled", "Volume recycled", "default");
        await Eventually.TrueAsync("the recycler pod deleted", () => GoneAsync<Pod>("default", podName), Wait);
    }

    private string VolumeName(string name) => $"{_ns}-{name}";

    private async Task CreateVolumeAsync(string name, string size, ObjectReference? claimRef = null, string reclaimPolicy = "Retain", string? path = null, bool local = false)
    {
        var fullName = VolumeName(name);
        _volumes.Add(fullName);
        await Client.CreateAsync(new PersistentVolume
        {
            Metadata = new ObjectMeta { Name = fullName },
            Spec = new PersistentVolumeSpec
            {
                Capacity = new() { ["storage"] = Quantity.Parse(size) },
                AccessModes = ["ReadWriteOnce"],
                StorageClassName = Class,
                ClaimRef = claimRef,
                PersistentVolumeReclaimPolicy = reclaimPolicy,
                HostPath = local ? null : new HostPathVolumeSource { Path = path ?? $"/tmp/pvb-{fullName}" },
                Local = local ? new LocalVolumeSource { Path = "/mnt/" + fullName } : null,
                NodeAffinity = local
                    ? new VolumeNodeAffinity { Required = new NodeSelector { NodeSelectorTerms = [new NodeSelectorTerm { MatchExpressions = [new NodeSelectorRequirement { Key = "k", Operator = "In", Values = ["v"] }] }] } }
                    : null,
            },
        });
    }

    private Task<PersistentVolumeClaim> CreateClaimAsync(string name, string size, string? volumeName = null)
        => Client.CreateAsync(new PersistentVolumeClaim
        {
            Metadata = new ObjectMeta { Name = name, Namespace = _ns },
            Spec = new PersistentVolumeClaimSpec
            {
                AccessModes = ["ReadWriteOnce"],
                Resources = new ResourceRequirements { Requests = new() { ["storage"] = Quantity.Parse(size) } },
                StorageClassName = Class,
                VolumeName = volumeName,
            },
        }, _ns);

    private Task<PersistentVolumeClaim> WaitForClaimPhaseAsync(string name, string phase)
        => Eventually.GetAsync($"claim {name} {phase}", async () =>
        {
            var claim = await Client.GetAsync<PersistentVolumeClaim>(_ns, name);
            return claim.Status?.Phase == phase ? claim : null;
        }, Wait);

    private Task<PersistentVolume> WaitForVolumePhaseAsync(string name, string phase)
        => Eventually.GetAsync($"volume {name} {phase}", async () =>
        {
            var volume = await Client.GetAsync<PersistentVolume>(null, VolumeName(name));
            return volume.Status?.Phase == phase ? volume : null;
        }, Wait);

    private Task WaitForEventAsync(string objectName, string reason, string message, string? ns = null)
        => Eventually.TrueAsync($"event {reason} on {objectName}", async () =>
        {
            var events = await Client.ListAsync<Event>(ns ?? _ns);
            return (events.Items ?? []).Any(e => e.InvolvedObject?.Name == objectName && e.Reason == reason && e.Message == message
                && e.Source?.Component == PersistentVolumeController.EventComponent);
        }, Wait);

    private async Task<T?> GetOrNullAsync<T>(string? ns, string name)
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

    private async Task<bool> GoneAsync<T>(string? ns, string name)
        where T : class, IResource
        => await GetOrNullAsync<T>(ns, name) is null;

    private async Task ForceDeleteVolumeAsync(string name)
    {
        try
        {
            await Client.DeleteAsync<PersistentVolume>(null, name);
            await Client.PatchAsync<PersistentVolume>(null, name, PatchType.Merge, """{"metadata":{"finalizers":null}}""");
        }
        catch (NotFoundException)
        {
        }
    }
}

using Kcm.Api.Core.V1;
using Kcm.Api.Meta.V1;
using Kcm.Client.Errors;
using Kcm.Controllers.EphemeralVolumes;
using Kcm.Controllers.PvcProtection;
using Kcm.Controllers.PvProtection;
using Kcm.Controllers.Tests.Support;
using Kcm.Controllers.Tests.Workloads;
using Kcm.Testing;

namespace Kcm.Controllers.Tests.PvcProtection;

/// <summary>
/// pvc-protection, pv-protection and ephemeral-volume as the manager starts them (their descriptors) against the
/// test server (embedded, or the real one KCM_TEST_KUBECONFIG names). No kubelet runs: a pod "uses" a claim once
/// its spec.nodeName is set, which is all v1.26's pvc-protection looks at.
/// </summary>
[Collection(Kcm.Controllers.Tests.PvcProtection.PvcProtectionCollection.Name)]
public sealed class VolumeControllersIntegrationTests : IAsyncLifetime
{
    private const string PvcFinalizer = "kubernetes.io/pvc-protection";
    private const string PvFinalizer = "kubernetes.io/pv-protection";
    private readonly WorkloadServer _server = new();
    private ControllerTestHost? _host;
    private string _ns = "";

    public async Task InitializeAsync()
    {
        await _server.InitializeAsync();
        _host = new ControllerTestHost(_server, DebugFileLoggerProvider.FromEnvironment());
        var pvc = PvcProtectionDescriptor.Value.Start(_host.Context, NoSettings.Value)!;
        var pv = PvProtectionDescriptor.Value.Start(_host.Context, NoSettings.Value)!;
        var ephemeral = EphemeralVolumeDescriptor.Value.Start(_host.Context, new EphemeralVolumeControllerOptions())!;
        _host.Start(pvc, pv, ephemeral);
        _ns = await TestNamespaces.CreateAsync(_host.Client, "volprot");
    }

    public async Task DisposeAsync()
    {
        if (_host is not null)
        {
            await _host.DisposeAsync();
        }
        await _server.DisposeAsync();
    }

    [Fact(Timeout = 90_000)]
    public async Task DeleteClaim_UsedByScheduledPod_TerminatingUntilPodGone()
    {
        var client = _host!.Client;
        var claim = await client.CreateAsync(new PersistentVolumeClaim
        {
            Metadata = new ObjectMeta { Name = "data", Namespace = _ns },
            Spec = new PersistentVolumeClaimSpec { AccessModes = ["ReadWriteOnce"], Resources = new ResourceRequirements { Requests = new() { ["storage"] = Kcm.Api.Quantity.Parse("1Gi") } } },
        }, _ns);
        // StorageObjectInUseProtection admission adds the finalizer at create on both servers.
        Assert.Contains(PvcFinalizer, claim.Metadata!.Finalizers ?? []);
        await client.CreateAsync(new Pod
        {
            Metadata = new ObjectMeta { Name = "user", Namespace = _ns },
            Spec = new PodSpec
            {
                NodeName = "no-such-node",
                Containers = [new Container { Name = "c", Image = "busybox" }],
                Volumes = [new Volume { Name = "v", PersistentVolumeClaim = new PersistentVolumeClaimVolumeSource { ClaimName = "data" } }],
            },
        }, _ns);

        await client.CreateAsync(new PersistentVolumeClaim
        {
            Metadata = new ObjectMeta { Name = "unused", Namespace = _ns },
            Spec = new PersistentVolumeClaimSpec { AccessModes = ["ReadWriteOnce"], Resources = new ResourceRequirements { Requests = new() { ["storage"] = Kcm.Api.Quantity.Parse("1Gi") } } },
        }, _ns);

        await client.DeleteAsync<PersistentVolumeClaim>(_ns, "data");
        await client.DeleteAsync<PersistentVolumeClaim>(_ns, "unused");

        // The controller's single worker has judged both claims once the unused one is gone; the used one stays.
        await Eventually.TrueAsync("the unused claim gone", () => GoneAsync<PersistentVolumeClaim>(_ns, "unused"), TimeSpan.FromSeconds(60));
        var terminating = await client.GetAsync<PersistentVolumeClaim>(_ns, "data");
        Assert.NotNull(terminating.Metadata!.DeletionTimestamp);
        Assert.Contains(PvcFinalizer, terminating.Metadata.Finalizers ?? []);

        await client.DeleteAsync<Pod>(_ns, "user", new DeleteOptions { GracePeriodSeconds = 0 });

        await Eventually.TrueAsync("the claim gone after its pod", () => GoneAsync<PersistentVolumeClaim>(_ns, "data"), TimeSpan.FromSeconds(60));
    }

    [Fact(Timeout = 90_000)]
    public async Task DeleteVolume_Unbound_FinalizerRemovedAndVolumeGone()
    {
        var client = _host!.Client;
        var name = "pv-" + _ns;
        var volume = await client.CreateAsync(new PersistentVolume
        {
            Metadata = new ObjectMeta { Name = name },
            Spec = new PersistentVolumeSpec
            {
                Capacity = new() { ["storage"] = Kcm.Api.Quantity.Parse("1Gi") },
                AccessModes = ["ReadWriteOnce"],
                HostPath = new HostPathVolumeSource { Path = "/tmp/" + name },
            },
        });
        Assert.Contains(PvFinalizer, volume.Metadata!.Finalizers ?? []);

        await client.DeleteAsync<PersistentVolume>(null, name);

        await Eventually.TrueAsync("the unbound volume gone", () => GoneAsync<PersistentVolume>(null, name), TimeSpan.FromSeconds(60));
    }

    [Fact(Timeout = 90_000)]
    public async Task CreatePod_GenericEphemeralVolume_ClaimCreatedOwnedByPod()
    {
        var client = _host!.Client;
        var pod = await client.CreateAsync(new Pod
        {
            Metadata = new ObjectMeta { Name = "eph", Namespace = _ns },
            Spec = new PodSpec
            {
                Containers = [new Container { Name = "c", Image = "busybox" }],
                Volumes =
                [
                    new Volume
                    {
                        Name = "scratch",
                        Ephemeral = new EphemeralVolumeSource
                        {
                            VolumeClaimTemplate = new PersistentVolumeClaimTemplate
                            {
                                Metadata = new ObjectMeta { Labels = new() { ["tier"] = "scratch" } },
                                Spec = new PersistentVolumeClaimSpec { AccessModes = ["ReadWriteOnce"], Resources = new ResourceRequirements { Requests = new() { ["storage"] = Kcm.Api.Quantity.Parse("1Gi") } } },
                            },
                        },
                    },
                ],
            },
        }, _ns);

        var claim = await Eventually.GetAsync("the ephemeral volume's claim", async () =>
        {
            try
            {
                return await client.GetAsync<PersistentVolumeClaim>(_ns, "eph-scratch");
            }
            catch (NotFoundException)
            {
                return null;
            }
        }, TimeSpan.FromSeconds(60));

        var owner = Assert.Single(claim.Metadata!.OwnerReferences!);
        Assert.Equal(("v1", "Pod", "eph", pod.Metadata!.Uid, true, true), (owner.ApiVersion, owner.Kind, owner.Name, owner.Uid, owner.Controller, owner.BlockOwnerDeletion));
        Assert.Equal("scratch", claim.Metadata.Labels!["tier"]);
        Assert.Contains(PvcFinalizer, claim.Metadata.Finalizers ?? []);
    }

    private async Task<bool> GoneAsync<T>(string? ns, string name)
        where T : class, Kcm.Api.IResource
    {
        try
        {
            await _host!.Client.GetAsync<T>(ns, name);
            return false;
        }
        catch (NotFoundException)
        {
            return true;
        }
    }
}

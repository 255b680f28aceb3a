using Kcm.Api.Core.V1;
using Kcm.Api.Meta.V1;
using Kcm.Client;
using Kcm.Controllers.Tests.Workloads;
using Kcm.Testing;

namespace Kcm.Controllers.Tests.ServiceEndpoints;

/// <summary>
/// Seed 003 §10: nginx behind the NodePort Service "nginx-ds" (a Deployment until the DaemonSet controller exists),
/// pods run by the simulated nodes. The Endpoints list one ready address per running pod and follow the pods as they
/// go NotReady, terminate and are deleted.
/// </summary>
public sealed partial class EndpointsIntegrationTests
{
    [Fact(Timeout = 90_000)]
    public async Task SeedCheck_NginxDsNodePort_OneReadyAddressPerRunningPodThroughPodLifecycle()
    {
        var ns = await WorkloadNamespace.CreateAsync(Client, fixture.NamespacePrefix);
        var deployment = WorkloadNamespace.NewDeployment("nginx-ds", 2, "nginx:1.25");
        deployment.Spec!.Template!.Spec!.Containers![0].Ports = [new ContainerPort { Name = "http", ContainerPortValue = 80 }];
        await ns.CreateAsync(deployment);
        var service = await Client.CreateAsync(new Service
        {
            Metadata = new ObjectMeta { Name = "nginx-ds" },
            Spec = new ServiceSpec { Type = "NodePort", Selector = new() { ["app"] = "nginx-ds" }, Ports = [Port("http", 80, "http")] },
        }, ns.Name);
        Assert.InRange(service.Spec!.Ports![0].NodePort ?? 0, 30000, 32767);

        var ep = await WaitForPodsAsync(ns, "two running pods", (ready, notReady) => ready == 2 && notReady == 0);
        Assert.All(ep.Subsets!, s => Assert.Equal(80, Assert.Single(s.Ports!).Port));

        var pods = await ns.PodsAsync();
        var (first, second) = (pods[0].Metadata!.Name!, pods[1].Metadata!.Name!);
        await Client.PatchAsync<Pod>(ns.Name, first, PatchType.Merge, """{"status":{"conditions":[{"type":"Ready","status":"False"}]}}""", subresource: "status");
        await WaitForPodsAsync(ns, $"{first} not ready", (ready, notReady) => ready == 1 && notReady == 1);

        // Held by a finalizer, the deleted pod stays terminating; its replacement comes up meanwhile.
        await Client.PatchAsync<Pod>(ns.Name, second, PatchType.Merge, """{"metadata":{"finalizers":["kcm.test/hold"]}}""");
        await Client.DeleteAsync<Pod>(ns.Name, second, new DeleteOptions { GracePeriodSeconds = 0 });
        await WaitForPodsAsync(ns, $"{second} terminating, its replacement ready", (ready, notReady) => ready == 1 && notReady == 1,
            podsHold: all => all.Any(p => p.Metadata!.Name == second && p.Metadata.DeletionTimestamp is not null) && all.Count == 3);

        await Client.PatchAsync<Pod>(ns.Name, second, PatchType.Merge, """{"metadata":{"finalizers":null}}""");
        await Client.DeleteAsync<Pod>(ns.Name, first, new DeleteOptions { GracePeriodSeconds = 0 });
        await WaitForPodsAsync(ns, "both replaced and ready", (ready, notReady) => ready == 2 && notReady == 0,
            podsHold: all => all.Count == 2 && all.All(p => p.Metadata!.Name != first && p.Metadata.Name != second));
    }

    /// <summary>
    /// Waits until the pods satisfy <paramref name="podsHold"/> and counts, and the Endpoints list exactly the
    /// non-terminating pods with an IP: the ready ones as addresses, the others as not-ready addresses.
    /// </summary>
    private async Task<Endpoints> WaitForPodsAsync(WorkloadNamespace ns, string what, Func<int, int, bool> counts, Func<List<Pod>, bool>? podsHold = null)
    {
        var last = "";
        try
        {
            return await Eventually.GetAsync($"nginx-ds Endpoints: {what}", async () =>
            {
                var pods = await ns.PodsAsync();
                var live = pods.Where(p => p.Metadata!.DeletionTimestamp is null && p.Status?.PodIP is { Length: > 0 }).ToList();
                var ready = Ips(live.Where(WorkloadNamespace.IsReadyAndNotTerminating).Select(p => new EndpointAddress { Ip = p.Status!.PodIP }));
                var notReady = Ips(live.Where(p => !WorkloadNamespace.IsReadyAndNotTerminating(p)).Select(p => new EndpointAddress { Ip = p.Status!.PodIP }));
                var ep = await Client.GetAsync<Endpoints>(ns.Name, "nginx-ds");
                last = $"pods ready [{string.Join(",", ready)}] not ready [{string.Join(",", notReady)}]; endpoints ready [{string.Join(",", Ready(ep))}] not ready [{string.Join(",", NotReady(ep))}]";
                var ok = (podsHold?.Invoke(pods) ?? true) && counts(ready.Count, notReady.Count)
                    && Ready(ep).SequenceEqual(ready) && NotReady(ep).SequenceEqual(notReady);
                return ok ? ep : null;
            });
        }
        catch (TimeoutException e)
        {
            throw new TimeoutException($"{e.Message}; last seen: {last}", e);
        }
    }
}

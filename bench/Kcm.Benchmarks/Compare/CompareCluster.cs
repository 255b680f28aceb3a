using System.Diagnostics;
using Kcm.Api.Apps.V1;
using Kcm.Api.Core.V1;
using Kcm.Api.Discovery.V1;
using Kcm.Api.Meta.V1;
using Kcm.Client;
using Kcm.Client.Errors;

namespace Kcm.Benchmarks.Compare;

/// <summary>Cluster set-up shared by workloads, and the probe that says a controller manager's controllers are working.</summary>
internal static class CompareCluster
{
    private const string ProbeNamespace = "bench-probe";

    /// <summary>
    /// The namespace and its "default" ServiceAccount: kube-apiserver's ServiceAccount admission refuses pods until it
    /// exists, and the harness creates it itself so set-up does not depend on the controller manager.
    /// </summary>
    public static async Task CreateNamespaceAsync(KubeApiClient admin, string name, CancellationToken ct)
    {
        await admin.CreateAsync(new Namespace { Metadata = new ObjectMeta { Name = name } }, cancellationToken: ct);
        try
        {
            await admin.CreateAsync(new ServiceAccount { Metadata = new ObjectMeta { Name = "default" } }, name, cancellationToken: ct);
        }
        catch (AlreadyExistsException)
        {
        }
    }

    /// <summary>
    /// Creates a one-replica Deployment and a Service selecting it, and waits until the Deployment reports its replica
    /// and the Service has Endpoints and an EndpointSlice: deployment, replicaset, endpoint and endpointslice
    /// controllers have synced their informers and work. Only then does the measured window open.
    /// </summary>
    public static async Task ProbeAsync(KubeApiClient admin, TimeSpan timeout, ControllerManagerProcess kcm, CancellationToken ct)
    {
        await CreateNamespaceAsync(admin, ProbeNamespace, ct);
        await admin.CreateAsync(DeploymentsWorkload.NewDeployment("probe", 1), ProbeNamespace, cancellationToken: ct);
        await admin.CreateAsync(new Service
        {
            Metadata = new ObjectMeta { Name = "probe" },
            Spec = new ServiceSpec { Selector = new() { ["app"] = "probe" }, Ports = [new ServicePort { Port = 80, Protocol = "TCP" }] },
        }, ProbeNamespace, cancellationToken: ct);
        var clock = Stopwatch.StartNew();
        var state = "nothing yet";
        while (clock.Elapsed < timeout)
        {
            if (kcm.HasExited) throw new CompareSetupException($"controller manager exited before its controllers worked (log {kcm.LogPath}: {kcm.LastLine()})");
            var deployment = await admin.GetAsync<Deployment>(ProbeNamespace, "probe", ct);
            var deploymentOk = deployment.Status?.Replicas == 1;
            var endpointsOk = await ExistsAsync<Endpoints>(admin, "probe", ct);
            var slices = await admin.ListAsync<EndpointSlice>(ProbeNamespace, new ListOptions { LabelSelector = "kubernetes.io/service-name=probe" }, ct);
            var slicesOk = slices.Items?.Count > 0;
            if (deploymentOk && endpointsOk && slicesOk) return;
            state = $"deployment replicas {deployment.Status?.Replicas ?? 0}, endpoints {(endpointsOk ? "yes" : "no")}, endpointslice {(slicesOk ? "yes" : "no")}";
            await Task.Delay(250, ct);
        }
        throw new CompareSetupException($"controller manager's controllers not working within {timeout.TotalSeconds:F0} s (probe: {state}; log {kcm.LogPath}: {kcm.LastLine()})");
    }

    private static async Task<bool> ExistsAsync<T>(KubeApiClient admin, string name, CancellationToken ct) where T : class, Kcm.Api.IListableResource
    {
        try
        {
            await admin.GetAsync<T>(ProbeNamespace, name, ct);
            return true;
        }
        catch (NotFoundException)
        {
            return false;
        }
    }
}

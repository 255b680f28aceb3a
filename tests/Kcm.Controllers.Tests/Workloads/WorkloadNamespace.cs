using System.Text;
using Kcm.Api;
using Kcm.Api.Apps.V1;
using Kcm.Api.Core.V1;
using Kcm.Api.Meta.V1;
using Kcm.Client;
using Kcm.Client.Errors;
using Kcm.Testing;
using DeploymentObject = Kcm.Api.Apps.V1.Deployment;

namespace Kcm.Controllers.Tests.Workloads;

/// <summary>A test's own namespace and what the tests do there as a user would: create, edit and wait on Deployments.</summary>
internal sealed class WorkloadNamespace(KubeApiClient client, string name)
{
    public static readonly TimeSpan Wait = TimeSpan.FromSeconds(20);

    public string Name { get; } = name;

    /// <param name="prefix">The fixture's <see cref="WorkloadControllersFixture.NamespacePrefix"/>: its simulated nodes serve only those namespaces.</param>
    public static async Task<WorkloadNamespace> CreateAsync(KubeApiClient client, string prefix)
    {
        var name = prefix + Guid.NewGuid().ToString("N")[..8];
        await TestNamespaces.CreateNamedAsync(client, name);
        return new WorkloadNamespace(client, name);
    }

    public static DeploymentObject NewDeployment(string name, int replicas, string image) => new()
    {
        Metadata = new ObjectMeta { Name = name },
        Spec = new DeploymentSpec
        {
            Replicas = replicas,
            Selector = new LabelSelector { MatchLabels = new() { ["app"] = name } },
            Template = new PodTemplateSpec
            {
                Metadata = new ObjectMeta { Labels = new() { ["app"] = name } },
                Spec = new PodSpec { Containers = [new Container { Name = "nginx", Image = image }] },
            },
        },
    };

    public static string? ImageOf(PodTemplateSpec? template) => ImageOf(template?.Spec);

    public static string? ImageOf(PodSpec? spec) => spec?.Containers?.FirstOrDefault()?.Image;

    public static bool IsReadyAndNotTerminating(Pod pod)
        => pod.Metadata?.DeletionTimestamp == null && pod.Status?.Conditions?.Any(c => c.Type == "Ready" && c.Status == "True") == true;

    public Task<DeploymentObject> CreateAsync(DeploymentObject d) => client.CreateAsync(d, Name);

    public async Task<List<Pod>> PodsAsync() => [.. (await client.ListAsync<Pod>(Name)).Items ?? []];

    public async Task<List<ReplicaSet>> ReplicaSetsAsync() => [.. (await client.ListAsync<ReplicaSet>(Name)).Items ?? []];

    public Task SetImageAsync(string deployment, string image) => UpdateAsync(deployment, d => d.Spec!.Template!.Spec!.Containers![0].Image = image);

    public Task ScaleAsync(string deployment, int replicas) => UpdateAsync(deployment, d => d.Spec!.Replicas = replicas);

    /// <summary>Read-modify-write, retried when the controller wrote in between.</summary>
    public async Task UpdateAsync(string deployment, Action<DeploymentObject> change)
    {
        for (var attempt = 0; ; attempt++)
        {
            var d = await client.GetAsync<DeploymentObject>(Name, deployment);
            change(d);
            try
            {
                await client.UpdateAsync(d);
                return;
            }
            catch (ConflictException) when (attempt < 20)
            {
            }
        }
    }

    /// <summary>kubectl rollout status's notion of done: the current generation observed, every replica updated and available, no old ones left.</summary>
    public async Task WaitForRolloutAsync(string deployment, int replicas, string image)
    {
        try
        {
            await Eventually.TrueAsync($"deployment {deployment} rolled out to {replicas} x {image}", async () =>
            {
                var d = await client.GetAsync<DeploymentObject>(Name, deployment);
                return ImageOf(d.Spec?.Template) == image
                       && d.Status?.ObservedGeneration >= d.Metadata?.Generation
                       && d.Status is { } s
                       && s.UpdatedReplicas == replicas && s.Replicas == replicas && s.ReadyReplicas == replicas && s.AvailableReplicas == replicas
                       && (s.UnavailableReplicas ?? 0) == 0;
            }, Wait);
        }
        catch (TimeoutException ex)
        {
            throw new TimeoutException($"{ex.Message}; {await DescribeAsync(deployment)}", ex);
        }
    }

    /// <summary>The Deployment's status, its ReplicaSets and pods, for failure messages.</summary>
    public async Task<string> DescribeAsync(string deployment)
    {
        var d = await client.GetAsync<DeploymentObject>(Name, deployment);
        var replicaSets = await ReplicaSetsAsync();
        var pods = await PodsAsync();
        return $"deployment generation {d.Metadata?.Generation} status {Encoding.UTF8.GetString(KubeJson.Serialize(d.Status))}; ReplicaSets: "
               + string.Join("; ", replicaSets.Select(rs => $"{rs.Metadata!.Name} spec {rs.Spec?.Replicas} status {Encoding.UTF8.GetString(KubeJson.Serialize(rs.Status))}"))
               + "; pods: " + string.Join(", ", pods.Select(p => $"{p.Metadata!.Name} {p.Status?.Phase}{(IsReadyAndNotTerminating(p) ? " ready" : "")}{(p.Metadata.DeletionTimestamp != null ? " terminating" : "")} node={p.Spec?.NodeName}"));
    }
}

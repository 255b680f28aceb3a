using System.Diagnostics;
using Kcm.Api.Apps.V1;
using Kcm.Api.Core.V1;
using Kcm.Api.Meta.V1;

namespace Kcm.Benchmarks.Compare;

/// <summary>
/// N Deployments × R replicas (issue 19's 1,000 × 10). Converged when every Deployment's status has caught up with
/// its generation and shows replicas == updatedReplicas == R; with --nodes the simulator runs the pods and
/// availableReplicas == R is required too. Without nodes pods stay Pending, which both controller managers reach.
/// </summary>
internal sealed class DeploymentsWorkload : ICompareWorkload
{
    internal const string Namespace = "bench";
    private const int Writers = 16;

    public string Name => "deployments";

    public string Describe(CompareScale scale) =>
        $"{scale.Objects} Deployments x {scale.Replicas} replicas; converged when every Deployment shows replicas == updatedReplicas == {scale.Replicas}" +
        (Nodes(scale) > 0 ? $" and availableReplicas == {scale.Replicas} ({Nodes(scale)} simulated nodes run the pods)" : " (no nodes: pods stay Pending)");

    public int Nodes(CompareScale scale) => scale.Nodes ?? 0;

    public Task SetupAsync(CompareContext context, CancellationToken ct) => CompareCluster.CreateNamespaceAsync(context.Admin, Namespace, ct);

    public async Task RunAsync(CompareContext context, CancellationToken ct)
    {
        var (count, replicas) = (context.Scale.Objects, context.Scale.Replicas);
        var needAvailable = Nodes(context.Scale) > 0;
        await using var watch = await ObjectWatch<Deployment>.StartAsync(context.Admin, Namespace, ct);
        var clock = Stopwatch.StartNew();
        await CompareWorkloads.ParallelForAsync(count, Writers, i => context.Admin.CreateAsync(NewDeployment($"web-{i}", replicas), Namespace, cancellationToken: ct), ct);
        context.Extra.Add(new Figure("deployments created by the harness", "s", clock.Elapsed.TotalSeconds));
        context.Say($"{count} deployments created in {clock.Elapsed.TotalSeconds:F1} s; waiting for their status");

        bool Done(Deployment d) => d.Status is { } s && s.ObservedGeneration >= d.Metadata!.Generation
            && s.Replicas == replicas && s.UpdatedReplicas == replicas && (!needAvailable || s.AvailableReplicas == replicas);
        await ObjectWatch<Deployment>.WaitAsync(
            () => watch.Objects.Count(Done) >= count,
            () =>
            {
                var all = watch.Objects.ToList();
                var done = all.Count(Done);
                var example = all.FirstOrDefault(d => !Done(d));
                return $"{done}/{count} deployments converged" + (example is null ? "" :
                    $"; e.g. {example.Metadata!.Name}: replicas {example.Status?.Replicas ?? 0}, updated {example.Status?.UpdatedReplicas ?? 0}, available {example.Status?.AvailableReplicas ?? 0}");
            },
            () => watch.Version, context.Scale.Timeout, ct);
    }

    internal static Deployment NewDeployment(string name, int replicas) => new()
    {
        Metadata = new ObjectMeta { Name = name },
        Spec = new DeploymentSpec
        {
            Replicas = replicas,
            Selector = new LabelSelector { MatchLabels = new Dictionary<string, string> { ["app"] = name } },
            Template = new PodTemplateSpec
            {
                Metadata = new ObjectMeta { Labels = new Dictionary<string, string> { ["app"] = name } },
                Spec = new PodSpec { Containers = [new Container { Name = "nginx", Image = "nginx:1.25", Ports = [new ContainerPort { ContainerPortValue = 80 }] }] },
            },
        },
    };
}

using System.Diagnostics;
using Kcm.Api.Apps.V1;
using Kcm.Api.Core.V1;
using Kcm.Api.Meta.V1;
using Kcm.Client;

namespace Kcm.Benchmarks.Compare;

/// <summary>
/// Issue 14 (b): N DaemonSets (default rolling update, maxUnavailable 1) on the simulated nodes (100 unless --nodes).
/// Phase 1 until every DaemonSet has a Ready, up-to-date pod on every node; phase 2 changes every DaemonSet's template
/// and runs until every DaemonSet has rolled all its pods to the new template and they are available again.
/// </summary>
internal sealed class DaemonSetsWorkload : ICompareWorkload
{
    private const string Namespace = "bench";
    private const int Writers = 16;

    public string Name => "daemonsets";

    public string Describe(CompareScale scale) =>
        $"{scale.Objects} DaemonSets on {Nodes(scale)} simulated nodes: converged when every DaemonSet has a Ready pod on every node, " +
        "then again after a rolling update of every DaemonSet (maxUnavailable 1)";

    public int Nodes(CompareScale scale) => scale.Nodes ?? 100;

    public Task SetupAsync(CompareContext context, CancellationToken ct) => CompareCluster.CreateNamespaceAsync(context.Admin, Namespace, ct);

    public async Task RunAsync(CompareContext context, CancellationToken ct)
    {
        var (count, nodes) = (context.Scale.Objects, Nodes(context.Scale));
        await using var sets = await ObjectWatch<DaemonSet>.StartAsync(context.Admin, Namespace, ct);
        var clock = Stopwatch.StartNew();
        await CompareWorkloads.ParallelForAsync(count, Writers, i => context.Admin.CreateAsync(NewDaemonSet($"ds-{i}"), Namespace, cancellationToken: ct), ct);
        context.Say($"{count} daemonsets created in {clock.Elapsed.TotalSeconds:F1} s; waiting for {count * nodes} pods Ready");
        await WaitRolledOutAsync(context, sets, nodes, generation: 1, ct);
        context.Extra.Add(new Figure($"phase 1: {count * nodes} daemon pods Ready", "s", clock.Elapsed.TotalSeconds, 2));
        context.Say($"all daemon pods Ready after {clock.Elapsed.TotalSeconds:F1} s; rolling update of every daemonset");

        var update = Stopwatch.StartNew();
        await CompareWorkloads.ParallelForAsync(count, Writers, i => context.Admin.PatchAsync<DaemonSet>(Namespace, $"ds-{i}", PatchType.Merge,
            """{"spec":{"template":{"metadata":{"annotations":{"bench.kcm.dev/revision":"2"}}}}}""", cancellationToken: ct), ct);
        await WaitRolledOutAsync(context, sets, nodes, generation: 2, ct);
        context.Extra.Add(new Figure("phase 2: rolling update of every daemonset", "s", update.Elapsed.TotalSeconds, 2));
    }

    /// <summary>Every DaemonSet observed <paramref name="generation"/> and has an updated, available pod on every node.</summary>
    private static Task WaitRolledOutAsync(CompareContext context, ObjectWatch<DaemonSet> sets, int nodes, long generation, CancellationToken ct)
    {
        var count = context.Scale.Objects;
        bool Done(DaemonSet d) => d.Metadata!.Generation >= generation && d.Status is { } s && s.ObservedGeneration >= d.Metadata.Generation
            && s.DesiredNumberScheduled == nodes && s.UpdatedNumberScheduled == nodes && s.NumberReady == nodes && s.NumberAvailable == nodes
            && (s.NumberUnavailable ?? 0) == 0;
        return ObjectWatch<DaemonSet>.WaitAsync(
            () => sets.Objects.Count(Done) >= count,
            () =>
            {
                var example = sets.Objects.FirstOrDefault(d => !Done(d));
                return $"{sets.Objects.Count(Done)}/{count} daemonsets rolled out (generation {generation})" + (example is null ? "" :
                    $"; e.g. {example.Metadata!.Name}: desired {example.Status?.DesiredNumberScheduled ?? 0}, updated {example.Status?.UpdatedNumberScheduled ?? 0}, " +
                    $"ready {example.Status?.NumberReady ?? 0}, available {example.Status?.NumberAvailable ?? 0}");
            },
            () => sets.Version, context.Scale.Timeout, ct);
    }

    private static DaemonSet NewDaemonSet(string name) => new()
    {
        Metadata = new ObjectMeta { Name = name },
        Spec = new DaemonSetSpec
        {
            Selector = new LabelSelector { MatchLabels = new Dictionary<string, string> { ["app"] = name } },
            Template = new PodTemplateSpec
            {
                Metadata = new ObjectMeta { Labels = new Dictionary<string, string> { ["app"] = name } },
                Spec = new PodSpec { Containers = [new Container { Name = "agent", Image = "nginx:1.25" }] },
            },
        },
    };
}

using System.Diagnostics;
using Kcm.Api.Batch.V1;
using Kcm.Api.Core.V1;
using Kcm.Api.Meta.V1;
using Kcm.Simulator;

namespace Kcm.Benchmarks.Compare;

/// <summary>
/// Issue 14 (a): N Jobs × R completions, parallelism 5, every pod exiting 0 one second after it starts (the simulator's
/// exit-after annotation). Converged when every Job has its Complete condition.
/// </summary>
internal sealed class JobsWorkload : ICompareWorkload
{
    private const string Namespace = "bench";
    private const int Writers = 16;
    private const int Parallelism = 5;

    public string Name => "jobs";

    public string Describe(CompareScale scale) =>
        $"{scale.Objects} Jobs x {scale.Replicas} completions, parallelism {Parallelism}, pods exit 0 after 1 s ({Nodes(scale)} simulated nodes); " +
        "converged when every Job is Complete";

    public int Nodes(CompareScale scale) => scale.Nodes ?? Math.Clamp(scale.Objects * Parallelism / 50, 1, 100);

    public Task SetupAsync(CompareContext context, CancellationToken ct) => CompareCluster.CreateNamespaceAsync(context.Admin, Namespace, ct);

    public async Task RunAsync(CompareContext context, CancellationToken ct)
    {
        var (count, completions) = (context.Scale.Objects, context.Scale.Replicas);
        await using var jobs = await ObjectWatch<Job>.StartAsync(context.Admin, Namespace, ct);
        var clock = Stopwatch.StartNew();
        await CompareWorkloads.ParallelForAsync(count, Writers, i => context.Admin.CreateAsync(NewJob($"job-{i}", completions), Namespace, cancellationToken: ct), ct);
        context.Extra.Add(new Figure("jobs created by the harness", "s", clock.Elapsed.TotalSeconds));
        context.Say($"{count} jobs created in {clock.Elapsed.TotalSeconds:F1} s; waiting until they are Complete");

        static bool Complete(Job j) => j.Status?.Conditions?.Any(c => c.Type == "Complete" && c.Status == "True") == true;
        await ObjectWatch<Job>.WaitAsync(
            () => jobs.Objects.Count(Complete) >= count,
            () =>
            {
                var all = jobs.Objects.ToList();
                var example = all.FirstOrDefault(j => !Complete(j));
                return $"{all.Count(Complete)}/{count} jobs Complete" + (example is null ? "" :
                    $"; e.g. {example.Metadata!.Name}: active {example.Status?.Active ?? 0}, succeeded {example.Status?.Succeeded ?? 0}, failed {example.Status?.Failed ?? 0}");
            },
            () => jobs.Version, context.Scale.Timeout, ct);
    }

    private static Job NewJob(string name, int completions) => new()
    {
        Metadata = new ObjectMeta { Name = name },
        Spec = new JobSpec
        {
            Completions = completions,
            Parallelism = Parallelism,
            Template = new PodTemplateSpec
            {
                Metadata = new ObjectMeta { Annotations = new Dictionary<string, string> { [SimulatorOptions.ExitAfterAnnotation] = "1s:0" } },
                Spec = new PodSpec
                {
                    RestartPolicy = "Never",
                    Containers = [new Container { Name = "work", Image = "busybox:1.36", Command = ["sh", "-c", "sleep 1"] }],
                },
            },
        },
    };
}

using Kcm.Client;

namespace Kcm.Benchmarks.Compare;

/// <summary>
/// One workload of the compare benchmark. Per run: <see cref="SetupAsync"/> before the controller manager starts
/// (identical for both binaries, not measured), then <see cref="RunAsync"/> with the controller manager up and
/// ready: create the load and return when it converged (the measured window). New workloads go in new files and
/// one line in <see cref="CompareWorkloads.All"/>.
/// </summary>
internal interface ICompareWorkload
{
    string Name { get; }

    /// <summary>One line: the load and what "converged" means.</summary>
    string Describe(CompareScale scale);

    /// <summary>Simulated nodes the workload needs (0: no simulator; pods stay Pending as in an apiserver without kubelets).</summary>
    int Nodes(CompareScale scale);

    Task SetupAsync(CompareContext context, CancellationToken ct);

    /// <summary>Creates the load and waits until it converged; throws <see cref="CompareTimeoutException"/> saying what did not.</summary>
    Task RunAsync(CompareContext context, CancellationToken ct);

    /// <summary>Flags both controller managers get on top of the seeds' (said in <see cref="Describe"/>).</summary>
    IReadOnlyList<string> ExtraFlags(CompareScale scale) => [];
}

/// <summary>--scale (top-level objects), --replicas (per object), --nodes (simulated nodes; null: the workload's choice).</summary>
internal sealed record CompareScale(int Objects, int Replicas, int? Nodes, TimeSpan Timeout)
{
    /// <summary>--steady: how long a workload with a steady phase watches the controller manager idle under load.</summary>
    public TimeSpan Steady { get; init; } = TimeSpan.FromMinutes(5);
}

/// <summary>What a workload gets for one run: an admin client whose writes are counted, the scale, and a place for extra figures.</summary>
internal sealed class CompareContext(KubeApiClient admin, CompareScale scale, string kubeconfig)
{
    public KubeApiClient Admin { get; } = admin;

    public CompareScale Scale { get; } = scale;

    public string Kubeconfig { get; } = kubeconfig;

    /// <summary>The running controller manager's process id (set once it is working, before <see cref="ICompareWorkload.RunAsync"/>).</summary>
    public int ControllerManagerPid { get; set; }

    /// <summary>Workload-specific figures (e.g. a phase's seconds), added to the table after the common ones.</summary>
    public List<Figure> Extra { get; } = [];

    /// <summary>Progress on stderr (one line per phase), so stdout stays the report.</summary>
    public void Say(string text) => Console.Error.WriteLine($"  [{DateTime.UtcNow:HH:mm:ss}] {text}");
}

internal static class CompareWorkloads
{
    public static readonly IReadOnlyList<ICompareWorkload> All =
    [
        new DeploymentsWorkload(),
        new ServicesWorkload(),
        new JobsWorkload(),
        new DaemonSetsWorkload(),
        new NodesWorkload(),
    ];

    public static ICompareWorkload? Find(string name) => All.FirstOrDefault(w => w.Name == name);

    /// <summary>Runs <paramref name="body"/> for 0..count-1 on <paramref name="workers"/> concurrent workers.</summary>
    public static async Task ParallelForAsync(int count, int workers, Func<int, Task> body, CancellationToken ct)
    {
        var next = -1;
        await Task.WhenAll(Enumerable.Range(0, workers).Select(_ => Task.Run(async () =>
        {
            int i;
            while ((i = Interlocked.Increment(ref next)) < count)
            {
                ct.ThrowIfCancellationRequested();
                await body(i);
            }
        }, ct)));
    }
}

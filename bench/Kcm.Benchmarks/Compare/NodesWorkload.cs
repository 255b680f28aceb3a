using System.Diagnostics;
using Kcm.Api.Core.V1;
using Kcm.Api.Meta.V1;
using Kcm.Client;
using Kcm.Simulator;

namespace Kcm.Benchmarks.Compare;

/// <summary>
/// Issue 15: N simulated nodes heartbeating through Leases with R pods bound to each. The controller manager's CPU and
/// RSS over the --steady window, then a tenth of the nodes (at most 100) stop heartbeating: the time until every pod on
/// them is evicted (deletionTimestamp set; their kubelets are gone, so they stay Terminating). The pods tolerate
/// not-ready/unreachable for 5 s, and both controller managers get --node-eviction-rate=10: at the default 0.1 nodes/s
/// the zone's queue alone would take 1,000 s for 100 nodes, the same for both.
/// </summary>
internal sealed class NodesWorkload : ICompareWorkload
{
    private const string Namespace = "bench";
    private const int Writers = 16;
    private const long TolerationSeconds = 5;

    private static readonly string StopHeartbeatsPatch =
        "{\"metadata\":{\"annotations\":{\"" + SimulatorOptions.HeartbeatsAnnotation + "\":\"stopped\"}}}";

    public string Name => "nodes";

    public string Describe(CompareScale scale) =>
        $"{Nodes(scale)} simulated nodes heartbeating through Leases, {scale.Replicas} pods bound to each; controller manager CPU and RSS over " +
        $"{scale.Steady.TotalSeconds:F0} s of steady state, then {Stopped(scale)} nodes stop heartbeating: time until all their pods are evicted " +
        $"(tolerationSeconds {TolerationSeconds}, --node-eviction-rate=10 for both)";

    public int Nodes(CompareScale scale) => scale.Nodes ?? scale.Objects;

    public IReadOnlyList<string> ExtraFlags(CompareScale scale) => ["--node-eviction-rate=10"];

    private int Stopped(CompareScale scale) => Math.Clamp(Nodes(scale) / 10, 1, 100);

    public async Task SetupAsync(CompareContext context, CancellationToken ct)
    {
        var (nodes, perNode) = (Nodes(context.Scale), context.Scale.Replicas);
        await CompareCluster.CreateNamespaceAsync(context.Admin, Namespace, ct);
        await using var pods = await ObjectWatch<Pod>.StartAsync(context.Admin, Namespace, ct);
        var clock = Stopwatch.StartNew();
        var options = new SimulatorOptions();
        await CompareWorkloads.ParallelForAsync(nodes * perNode, Writers,
            i => context.Admin.CreateAsync(NewPod($"pod-{i / perNode}-{i % perNode}", options.NodeName(i / perNode)), Namespace, cancellationToken: ct), ct);
        context.Say($"{nodes * perNode} pods created in {clock.Elapsed.TotalSeconds:F1} s; waiting until the simulator has them Ready");
        static bool Ready(Pod p) => p.Status?.Conditions?.Any(c => c.Type == "Ready" && c.Status == "True") == true;
        await ObjectWatch<Pod>.WaitAsync(() => pods.Objects.Count(Ready) >= nodes * perNode,
            () => $"setup: {pods.Objects.Count(Ready)}/{nodes * perNode} pods Ready", () => pods.Version, context.Scale.Timeout, ct);
        context.Say($"{nodes * perNode} pods Ready after {clock.Elapsed.TotalSeconds:F1} s");
    }

    public async Task RunAsync(CompareContext context, CancellationToken ct)
    {
        var pid = context.ControllerManagerPid;
        var steady = context.Scale.Steady;
        context.Say($"steady state for {steady.TotalSeconds:F0} s");
        var cpu0 = ProcStats.CpuSeconds(pid) ?? 0;
        await Task.Delay(steady, ct);
        var cpu = (ProcStats.CpuSeconds(pid) ?? cpu0) - cpu0;
        context.Extra.Add(new Figure($"steady: controller manager CPU over {steady.TotalSeconds:F0} s", "s", cpu, 2));
        context.Extra.Add(new Figure("steady: controller manager RSS at its end", "MiB", ProcStats.RssMiB(pid) ?? 0, 0));

        var options = new SimulatorOptions();
        var stopped = Enumerable.Range(0, Stopped(context.Scale)).Select(options.NodeName).ToHashSet(StringComparer.Ordinal);
        await using var pods = await ObjectWatch<Pod>.StartAsync(context.Admin, Namespace, ct);
        var victims = pods.Objects.Where(p => stopped.Contains(p.Spec?.NodeName ?? "")).Select(p => p.Metadata!.Name!).ToHashSet(StringComparer.Ordinal);
        var clock = Stopwatch.StartNew();
        await CompareWorkloads.ParallelForAsync(stopped.Count, Writers, i => context.Admin.PatchAsync<Node>(null, options.NodeName(i), PatchType.Merge,
            StopHeartbeatsPatch, cancellationToken: ct), ct);
        context.Say($"{stopped.Count} nodes stopped heartbeating; waiting until their {victims.Count} pods are evicted");

        int Evicted()
        {
            var live = pods.Objects.Where(p => victims.Contains(p.Metadata!.Name!)).ToList();
            return victims.Count - live.Count(p => p.Metadata!.DeletionTimestamp is null);
        }
        await ObjectWatch<Pod>.WaitAsync(() => Evicted() >= victims.Count,
            () => $"{Evicted()}/{victims.Count} pods on the {stopped.Count} stopped nodes evicted", () => pods.Version, context.Scale.Timeout, ct);
        context.Extra.Add(new Figure($"eviction: {victims.Count} pods of {stopped.Count} stopped nodes", "s", clock.Elapsed.TotalSeconds, 2));
    }

    private static Pod NewPod(string name, string node) => new()
    {
        Metadata = new ObjectMeta { Name = name, Labels = new Dictionary<string, string> { ["app"] = "steady" } },
        Spec = new PodSpec
        {
            NodeName = node,
            Containers = [new Container { Name = "nginx", Image = "nginx:1.25" }],
            Tolerations =
            [
                new Toleration { Key = "node.kubernetes.io/not-ready", Operator = "Exists", Effect = "NoExecute", TolerationSeconds = TolerationSeconds },
                new Toleration { Key = "node.kubernetes.io/unreachable", Operator = "Exists", Effect = "NoExecute", TolerationSeconds = TolerationSeconds },
            ],
        },
    };
}

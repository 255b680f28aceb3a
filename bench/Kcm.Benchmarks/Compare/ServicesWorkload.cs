using System.Diagnostics;
using Kcm.Api;
using Kcm.Api.Core.V1;
using Kcm.Api.Discovery.V1;
using Kcm.Api.Meta.V1;

namespace Kcm.Benchmarks.Compare;

/// <summary>
/// Issue 13: N Services × R Ready pods. The pods exist and are Ready (simulated nodes) before the controller manager
/// starts; the measured window runs from the first Service create until every Service's Endpoints lists R ready
/// addresses and its EndpointSlices (endpointslice-controller's) hold R ready endpoints; then through a rolling
/// restart of every pod (each replaced by a new pod, created before the old one is deleted) until Endpoints and
/// EndpointSlices list only the new pods, all ready. Both phases are reported as extra figures.
/// </summary>
internal sealed class ServicesWorkload : ICompareWorkload
{
    private const string Namespace = "bench";
    private const int Writers = 16;

    public string Name => "services";

    public string Describe(CompareScale scale) =>
        $"{scale.Objects} Services x {scale.Replicas} Ready pods ({Nodes(scale)} simulated nodes; pods Ready before the controller manager starts); " +
        $"converged when every Endpoints has {scale.Replicas} ready addresses and every Service's EndpointSlices {scale.Replicas} ready endpoints, " +
        "then again after a rolling restart of every pod (new pod created, old one deleted)";

    public int Nodes(CompareScale scale) => scale.Nodes ?? Math.Clamp(scale.Objects * scale.Replicas / 100, 1, 100);

    public async Task SetupAsync(CompareContext context, CancellationToken ct)
    {
        var (count, replicas) = (context.Scale.Objects, context.Scale.Replicas);
        await CompareCluster.CreateNamespaceAsync(context.Admin, Namespace, ct);
        await using var pods = await ObjectWatch<Pod>.StartAsync(context.Admin, Namespace, ct);
        var clock = Stopwatch.StartNew();
        await CompareWorkloads.ParallelForAsync(count * replicas, Writers,
            i => context.Admin.CreateAsync(NewPod($"svc-{i / replicas}-{i % replicas}", $"svc-{i / replicas}"), Namespace, cancellationToken: ct), ct);
        context.Say($"{count * replicas} pods created in {clock.Elapsed.TotalSeconds:F1} s; waiting until the simulator has them Ready");
        static bool Ready(Pod p) => p.Status?.PodIP is { Length: > 0 } && p.Status.Conditions?.Any(c => c.Type == "Ready" && c.Status == "True") == true;
        await ObjectWatch<Pod>.WaitAsync(() => pods.Objects.Count(Ready) >= count * replicas,
            () => $"setup: {pods.Objects.Count(Ready)}/{count * replicas} pods Ready", () => pods.Version, context.Scale.Timeout, ct);
        context.Say($"{count * replicas} pods Ready after {clock.Elapsed.TotalSeconds:F1} s");
    }

    public async Task RunAsync(CompareContext context, CancellationToken ct)
    {
        var (count, replicas) = (context.Scale.Objects, context.Scale.Replicas);
        await using var endpoints = await ObjectWatch<Endpoints>.StartAsync(context.Admin, Namespace, ct);
        await using var slices = await ObjectWatch<EndpointSlice>.StartAsync(context.Admin, Namespace, ct,
            "endpointslice.kubernetes.io/managed-by=endpointslice-controller.k8s.io");
        var clock = Stopwatch.StartNew();
        await CompareWorkloads.ParallelForAsync(count, Writers, i => context.Admin.CreateAsync(NewService($"svc-{i}"), Namespace, cancellationToken: ct), ct);
        context.Extra.Add(new Figure("services created by the harness", "s", clock.Elapsed.TotalSeconds));
        context.Say($"{count} services created in {clock.Elapsed.TotalSeconds:F1} s; waiting for Endpoints and EndpointSlices");

        await WaitConvergedAsync(context, endpoints, slices, "", ct);
        var created = clock.Elapsed.TotalSeconds;
        context.Extra.Add(new Figure("phase 1: services to Endpoints+EndpointSlices", "s", created, 2));
        context.Say($"Endpoints and EndpointSlices converged after {created:F1} s; rolling restart of {count * replicas} pods");

        var restart = Stopwatch.StartNew();
        await CompareWorkloads.ParallelForAsync(count * replicas, Writers, async i =>
        {
            var (service, ordinal) = ($"svc-{i / replicas}", i % replicas);
            await context.Admin.CreateAsync(NewPod($"{service}-{ordinal}{RestartedSuffix}", service), Namespace, cancellationToken: ct);
            await context.Admin.DeleteAsync<Pod>(Namespace, $"{service}-{ordinal}", cancellationToken: ct);
        }, ct);
        context.Say($"{count * replicas} pods replaced in {restart.Elapsed.TotalSeconds:F1} s; waiting for Endpoints and EndpointSlices");
        await WaitConvergedAsync(context, endpoints, slices, RestartedSuffix, ct);
        context.Extra.Add(new Figure("phase 2: rolling restart to Endpoints+EndpointSlices", "s", restart.Elapsed.TotalSeconds, 2));
    }

    private const string RestartedSuffix = "-r";

    /// <summary>Every Service's Endpoints and slices list exactly R ready pods, all of them named with <paramref name="suffix"/>.</summary>
    private static Task WaitConvergedAsync(CompareContext context, ObjectWatch<Endpoints> endpoints, ObjectWatch<EndpointSlice> slices, string suffix, CancellationToken ct)
    {
        var (count, replicas) = (context.Scale.Objects, context.Scale.Replicas);
        bool Current(ObjectReference? target) => target?.Name is { } name && (suffix.Length == 0 || name.EndsWith(suffix, StringComparison.Ordinal));
        bool EndpointsDone(Endpoints e)
        {
            var ready = e.Subsets?.SelectMany(s => s.Addresses ?? []).ToList() ?? [];
            return ready.Count == replicas && ready.All(a => Current(a.TargetRef)) && e.Subsets!.Sum(s => s.NotReadyAddresses?.Count ?? 0) == 0;
        }
        int EndpointsDoneCount() => endpoints.Objects.Count(e => e.Metadata!.Name!.StartsWith("svc-", StringComparison.Ordinal) && EndpointsDone(e));
        int SlicesDone() => slices.Objects
            .GroupBy(s => s.Metadata?.Labels?.GetValueOrDefault("kubernetes.io/service-name") ?? "")
            .Count(g =>
            {
                if (!g.Key.StartsWith("svc-", StringComparison.Ordinal)) return false;
                var all = g.SelectMany(s => s.Endpoints ?? []).ToList();
                return all.Count == replicas && all.All(e => e.Conditions?.Ready == true && Current(e.TargetRef));
            });
        return ObjectWatch<Endpoints>.WaitAsync(
            () => EndpointsDoneCount() >= count && SlicesDone() >= count,
            () => $"{EndpointsDoneCount()}/{count} Endpoints and {SlicesDone()}/{count} Services' EndpointSlices with exactly {replicas} ready " +
                (suffix.Length == 0 ? "addresses" : "restarted pods"),
            () => endpoints.Version + slices.Version, context.Scale.Timeout, ct);
    }

    private static Pod NewPod(string name, string app) => new()
    {
        Metadata = new ObjectMeta { Name = name, Labels = new Dictionary<string, string> { ["app"] = app } },
        Spec = new PodSpec { Containers = [new Container { Name = "nginx", Image = "nginx:1.25", Ports = [new ContainerPort { ContainerPortValue = 80 }] }] },
    };

    private static Service NewService(string name) => new()
    {
        Metadata = new ObjectMeta { Name = name },
        Spec = new ServiceSpec
        {
            Selector = new Dictionary<string, string> { ["app"] = name },
            Ports = [new ServicePort { Name = "http", Port = 80, TargetPort = IntOrString.FromInt(80), Protocol = "TCP" }],
        },
    };
}

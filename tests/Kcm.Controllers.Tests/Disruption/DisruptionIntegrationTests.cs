using Kcm.Api;
using Kcm.Api.Core.V1;
using Kcm.Api.Meta.V1;
using Kcm.Api.Policy.V1;
using Kcm.Client;
using Kcm.Client.Errors;
using Kcm.Controllers.Disruption;
using Kcm.Controllers.Tests.Support;
using Kcm.Controllers.Tests.Workloads;
using Kcm.Testing;

namespace Kcm.Controllers.Tests.Disruption;

/// <summary>The workload controllers and simulated nodes, plus the disruption controller as the manager starts it.</summary>
public sealed class DisruptionFixture : WorkloadControllersFixture
{
    protected override IEnumerable<RunController> MoreControllers(ControllerTestHost host)
        => [DisruptionDescriptor.Value.Start(host.Context, NoSettings.Value) ?? throw new InvalidOperationException("the disruption controller declined to start")];
}

/// <summary>
/// Budgets end to end on the test server (embedded, or the real one KCM_TEST_KUBECONFIG names): the controller
/// computes the status the eviction subresource then enforces, as `kubectl drain` meets it.
/// </summary>
[Collection(WorkloadControllersCollection.Name)]
public sealed class DisruptionIntegrationTests(DisruptionFixture fixture) : IClassFixture<DisruptionFixture>, IDisposable
{
    private const string BudgetMessage = "Cannot evict pod as it would violate the pod's disruption budget.";

    private readonly KubectlScope _kubectl = new(fixture.Server.AdminKubeconfigPath);

    private KubeApiClient Client => fixture.Host.Client;

    private KubectlRunner Kubectl => _kubectl.Runner;

    public void Dispose() => _kubectl.Dispose();

    [Fact(Timeout = 120_000)]
    public async Task Deployment_PercentBudget_StatusFromScaleEvictionsWhileAllowed()
    {
        var ns = await WorkloadNamespace.CreateAsync(Client, fixture.NamespacePrefix);
        await ns.CreateAsync(WorkloadNamespace.NewDeployment("web", 3, "nginx:1.24"));
        await Client.CreateAsync(Budget("web-pdb", minAvailable: "50%", app: "web"), ns.Name);

        // 50% of the Deployment's 3 replicas, rounded up: 2 must stay, so one may go.
        var pdb = await WaitForStatusAsync(ns.Name, "web-pdb", s => s is { CurrentHealthy: 3, DesiredHealthy: 2, ExpectedPods: 3, DisruptionsAllowed: 1 });
        Assert.Equal(1L, pdb.Status!.ObservedGeneration);
        var condition = Assert.Single(pdb.Status.Conditions!);
        Assert.Equal(("DisruptionAllowed", "True", "SufficientPods", ""), (condition.Type, condition.Status, condition.Reason, condition.Message ?? ""));

        var victim = (await ReadyPodsAsync(ns.Name, "web"))[0];
        await EvictAsync(ns.Name, victim);

        // The replacement becomes ready, the evicted pod goes, and the budget allows one disruption again.
        await WaitForStatusAsync(ns.Name, "web-pdb", s => s is { CurrentHealthy: 3, ExpectedPods: 3, DisruptionsAllowed: 1 } && (s.DisruptedPods?.Count ?? 0) == 0);
        var pods = await ReadyPodsAsync(ns.Name, "web");
        Assert.DoesNotContain(victim, pods);
        await EvictAsync(ns.Name, pods[0]);
    }

    [Fact(Timeout = 120_000)]
    public async Task NakedPods_IntegerBudget_EvictionRefusedWith429UntilAPodComesBack()
    {
        // A namespace the simulated nodes do not serve: these pods stay unscheduled and are made ready here.
        var ns = await TestNamespaces.CreateAsync(Client, "pdbnaked");
        foreach (var name in (string[])["p1", "p2", "p3"])
        {
            await CreateReadyPodAsync(ns, name);
        }
        await Client.CreateAsync(Budget("pdb", minAvailable: 2, app: "naked"), ns);
        await WaitForStatusAsync(ns, "pdb", s => s is { CurrentHealthy: 3, DesiredHealthy: 2, ExpectedPods: 3, DisruptionsAllowed: 1 });

        await EvictAsync(ns, "p1");
        var budget = await Client.GetAsync<PodDisruptionBudget>(ns, "pdb");
        Assert.True(budget.Status!.DisruptionsAllowed == 0, "the eviction consumed the only allowed disruption");

        // The controller sees p1 gone (unscheduled pods are deleted at once): 2 healthy of 2 needed.
        await WaitForStatusAsync(ns, "pdb", s => s is { CurrentHealthy: 2, DesiredHealthy: 2, ExpectedPods: 2, DisruptionsAllowed: 0 } && s.DisruptedPods is null);
        var refused = await Assert.ThrowsAsync<TooManyRequestsException>(() => EvictAsync(ns, "p2"));
        Assert.Equal((429, "TooManyRequests", BudgetMessage), (refused.StatusCode, refused.Reason, refused.Status.Message));
        var cause = Assert.Single(refused.Status.Details!.Causes!);
        Assert.Equal(("DisruptionBudget", "The disruption budget pdb needs 2 healthy pods and has 2 currently"), (cause.Reason, cause.Message));
        var condition = Assert.Single((await Client.GetAsync<PodDisruptionBudget>(ns, "pdb")).Status!.Conditions!);
        Assert.Equal(("False", "InsufficientPods"), (condition.Status, condition.Reason));

        await CreateReadyPodAsync(ns, "p4");
        await WaitForStatusAsync(ns, "pdb", s => s is { CurrentHealthy: 3, DisruptionsAllowed: 1 });
        await EvictAsync(ns, "p2");
        await Eventually.TrueAsync("p2 deleted", async () => (await Client.ListAsync<Pod>(ns)).Items!.All(p => p.Metadata!.Name != "p2"));
    }

    [Fact(Timeout = 120_000)]
    public async Task KubectlDrain_BudgetAllowsNone_RetriesUntilTimeoutThenDrainsOnceAllowed()
    {
        string[] nodes = [fixture.NodeName(0), fixture.NodeName(1)];
        var ns = await WorkloadNamespace.CreateAsync(Client, fixture.NamespacePrefix);
        try
        {
            // Cordoning the second node first puts both replicas on the first, so draining it meets the budget twice.
            await Kubectl.OkAsync("cordon", nodes[1]);
            await ns.CreateAsync(WorkloadNamespace.NewDeployment("drained", 2, "nginx:1.24"));
            await Client.CreateAsync(Budget("drained-pdb", minAvailable: 2, app: "drained"), ns.Name);
            await WaitForStatusAsync(ns.Name, "drained-pdb", s => s is { CurrentHealthy: 2, DesiredHealthy: 2, DisruptionsAllowed: 0 });
            await Kubectl.OkAsync("uncordon", nodes[1]);
            var before = await PodNodesAsync(ns.Name, "drained");
            // The simulator may not have seen the cordon yet when it placed them: drain whichever node holds most.
            var drained = before.Values.GroupBy(n => n).MaxBy(g => g.Count())!.Key!;
            var other = nodes.Single(n => n != drained);
            var evicted = before.Where(p => p.Value == drained).Select(p => p.Key).ToList();

            // No disruption allowed: every eviction is answered 429, which drain reports and retries until its timeout.
            var blocked = await Kubectl.RunAsync("drain", drained, "--pod-selector=app=drained", "--timeout=6s");
            Assert.True(blocked.ExitCode != 0, $"drain succeeded although the budget allows no disruption: {blocked.Output}");
            Assert.Contains($"(will retry after 5s): {BudgetMessage}", blocked.Stderr);
            Assert.Contains("global timeout reached: 6s", blocked.Output);
            Assert.True((await Client.GetAsync<Node>(null, drained)).Spec?.Unschedulable == true, "drain did not cordon the node");
            Assert.Equal(Describe(before), Describe(await PodNodesAsync(ns.Name, "drained")));

            // One disruption allowed: a pod is evicted and comes back on the other node before the next may go.
            await Client.PatchAsync<PodDisruptionBudget>(ns.Name, "drained-pdb", PatchType.Merge, """{"spec":{"minAvailable":1}}""");
            await WaitForStatusAsync(ns.Name, "drained-pdb", s => s is { ObservedGeneration: 2, DesiredHealthy: 1, DisruptionsAllowed: 1 });
            var allowed = await Kubectl.RunAsync("drain", drained, "--pod-selector=app=drained", "--timeout=60s");
            Assert.True(allowed.ExitCode == 0, $"drain failed: {allowed.Output}");
            Assert.All(evicted, pod => Assert.Contains($"pod/{pod} evicted", allowed.Stdout));
            Assert.Contains($"node/{drained} drained", allowed.Stdout);
            await Eventually.TrueAsync("two Ready pods on the other node", async () =>
            {
                var pods = await PodNodesAsync(ns.Name, "drained", readyOnly: true);
                return pods.Count == 2 && pods.Values.All(n => n == other) && !pods.Keys.Intersect(evicted).Any();
            }, TimeSpan.FromSeconds(30));
            await WaitForStatusAsync(ns.Name, "drained-pdb", s => s is { CurrentHealthy: 2, DisruptionsAllowed: 1 });

            await Kubectl.OkAsync("uncordon", drained);
            Assert.NotEqual(true, (await Client.GetAsync<Node>(null, drained)).Spec?.Unschedulable);
        }
        finally
        {
            // The other tests of this class share the nodes.
            await Kubectl.RunAsync(["uncordon", .. nodes]);
        }
    }

    private static PodDisruptionBudget Budget(string name, IntOrString minAvailable, string app) => new()
    {
        Metadata = new ObjectMeta { Name = name },
        Spec = new PodDisruptionBudgetSpec { MinAvailable = minAvailable, Selector = new LabelSelector { MatchLabels = new() { ["app"] = app } } },
    };

    private async Task CreateReadyPodAsync(string ns, string name)
    {
        await Client.CreateAsync(new Pod
        {
            Metadata = new ObjectMeta { Name = name, Labels = new() { ["app"] = "naked" } },
            Spec = new PodSpec { Containers = [new Container { Name = "c", Image = "nginx:1.24" }] },
        }, ns);
        await Client.PatchAsync<Pod>(ns, name, PatchType.Merge,
            """{"status":{"phase":"Running","conditions":[{"type":"Ready","status":"True"}]}}""", "status");
    }

    private Task EvictAsync(string ns, string pod)
        => Client.EvictAsync(new Eviction { Metadata = new ObjectMeta { Name = pod, Namespace = ns } });

    private async Task<List<string>> ReadyPodsAsync(string ns, string app)
        => (await Client.ListAsync<Pod>(ns, new ListOptions { LabelSelector = "app=" + app })).Items!
            .Where(WorkloadNamespace.IsReadyAndNotTerminating)
            .Select(p => p.Metadata!.Name!)
            .Order(StringComparer.Ordinal)
            .ToList();

    private async Task<Dictionary<string, string?>> PodNodesAsync(string ns, string app, bool readyOnly = false)
        => (await Client.ListAsync<Pod>(ns, new ListOptions { LabelSelector = "app=" + app })).Items!
            .Where(p => !readyOnly || WorkloadNamespace.IsReadyAndNotTerminating(p))
            .ToDictionary(p => p.Metadata!.Name!, p => p.Spec?.NodeName);

    private static string Describe(Dictionary<string, string?> podNodes)
        => string.Join(", ", podNodes.OrderBy(p => p.Key, StringComparer.Ordinal).Select(p => $"{p.Key}@{p.Value}"));

    private Task<PodDisruptionBudget> WaitForStatusAsync(string ns, string name, Func<PodDisruptionBudgetStatus, bool> done)
        => Eventually.GetAsync($"PodDisruptionBudget {ns}/{name} status", async () =>
        {
            var pdb = await Client.GetAsync<PodDisruptionBudget>(ns, name);
            return pdb.Status is { } s && done(s) ? pdb : null;
        }, TimeSpan.FromSeconds(60));
}

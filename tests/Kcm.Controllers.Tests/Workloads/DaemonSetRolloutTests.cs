using Kcm.Api.Apps.V1;
using Kcm.Api.Core.V1;
using Kcm.Api.Meta.V1;
using Kcm.Client;
using Kcm.Client.Errors;
using Kcm.Controllers.DaemonSets;
using Kcm.Controllers.Tests.Support;
using Kcm.Simulator;
using Kcm.Testing;
using static Kcm.Controllers.Tests.Workloads.WorkloadNamespace;

namespace Kcm.Controllers.Tests.Workloads;

/// <summary>
/// The daemonset controller against four simulated nodes of this fixture's own, the last one tainted. Nodes are
/// cluster-wide, so they carry a label unique to the fixture and every DaemonSet here selects it: other test classes'
/// nodes are never targeted.
/// </summary>
public sealed class DaemonSetFixture() : SimulatedNodesFixture("ds")
{
    public const string PoolLabel = "kcm-test/daemonset-pool";
    public const int Nodes = 4;

    public string Pool => Id;

    public string TaintedNode => NodeName(Nodes - 1);

    protected override SimulatorOptions ConfigureSimulator(SimulatorOptions defaults) => defaults with
    {
        NodeCount = Nodes,
        ConfigureNode = (index, node) =>
        {
            node.Metadata!.Labels = new Dictionary<string, string>(node.Metadata.Labels ?? new Dictionary<string, string>()) { [PoolLabel] = Pool };
            if (index == Nodes - 1)
            {
                node.Spec ??= new NodeSpec();
                node.Spec.Taints = [.. node.Spec.Taints ?? [], new Taint { Key = "kcm-test/dedicated", Value = "db", Effect = "NoSchedule" }];
            }
        },
    };

    protected override IEnumerable<RunController> Controllers(ControllerTestHost host)
    {
        var daemonSets = new DaemonSetController(host.Context, new DaemonSetControllerOptions());
        return [ct => daemonSets.RunAsync(2, ct)];
    }
}

/// <summary>DaemonSets placed, rolled and rolled back for real; rollout guarantees are checked at every watch event.</summary>
public sealed class DaemonSetRolloutTests(DaemonSetFixture fixture) : IClassFixture<DaemonSetFixture>, IAsyncLifetime, IDisposable
{
    private readonly KubectlScope _kubectl = new(fixture.Server.AdminKubeconfigPath);
    private WorkloadNamespace _ns = null!;

    private KubeApiClient Client => fixture.Host.Client;

    private KubectlRunner Kubectl => _kubectl.Runner;

    public async Task InitializeAsync()
    {
        _ns = await WorkloadNamespace.CreateAsync(Client, fixture.NamespacePrefix);
        await TestNamespaces.EnsureDefaultServiceAccountAsync(Client, _ns.Name);
    }

    public Task DisposeAsync() => Task.CompletedTask;

    public void Dispose() => _kubectl.Dispose();

    [Fact(Timeout = 90_000)]
    public async Task Create_ThreeNodesAndATaintedOne_PodOnEachUntaintedNodeUntilTolerated()
    {
        await Client.CreateAsync(NewDaemonSet("agent", "agent:1"), _ns.Name);

        var ds = await WaitForStatusAsync("agent", s => s is { DesiredNumberScheduled: 3, NumberReady: 3, NumberAvailable: 3, UpdatedNumberScheduled: 3 });
        Assert.Equal(0, ds.Status!.NumberMisscheduled);
        var pods = await _ns.PodsAsync();
        Assert.Equal([fixture.NodeName(0), fixture.NodeName(1), fixture.NodeName(2)], pods.Select(p => p.Spec!.NodeName!).Order());
        Assert.All(pods, p => Assert.Equal(p.Spec!.NodeName, p.Spec.Affinity!.NodeAffinity!.RequiredDuringSchedulingIgnoredDuringExecution!.NodeSelectorTerms![0].MatchFields![0].Values![0]));
        var revision = Assert.Single((await Client.ListAsync<ControllerRevision>(_ns.Name)).Items!);
        Assert.All(pods, p => Assert.Equal(revision.Metadata!.Labels![DaemonSetNames.UniqueLabelKey], p.Metadata!.Labels![DaemonSetNames.UniqueLabelKey]));

        // Tolerating the taint brings the fourth node in; with OnDelete the three pods of the old revision stay.
        await UpdateAsync("agent", d =>
        {
            d.Spec!.UpdateStrategy = new DaemonSetUpdateStrategy { Type = "OnDelete" };
            d.Spec.Template!.Spec!.Tolerations = [new Toleration { Key = "kcm-test/dedicated", Operator = "Exists" }];
        });
        await WaitForStatusAsync("agent", s => s is { DesiredNumberScheduled: 4, NumberReady: 4, UpdatedNumberScheduled: 1 });
        var after = await _ns.PodsAsync();
        Assert.Equal(4, after.Count);
        Assert.Equal(3, after.Count(p => pods.Any(old => old.Metadata!.Uid == p.Metadata!.Uid)));
        Assert.Contains(after, p => p.Spec!.NodeName == fixture.TaintedNode);
    }

    [Fact(Timeout = 120_000)]
    public async Task KubectlRollout_SetImageStatusHistoryUndo_NeverMoreThanMaxUnavailableDown()
    {
        await Client.CreateAsync(NewDaemonSet("logs", "fluent:1"), _ns.Name);
        Assert.Contains("successfully rolled out", await Kubectl.OkAsync("-n", _ns.Name, "rollout", "status", "ds/logs", "--timeout=60s"));
        var firstHash = Assert.Single((await Client.ListAsync<ControllerRevision>(_ns.Name)).Items!).Metadata!.Labels![DaemonSetNames.UniqueLabelKey];

        // maxUnavailable 1 of 3 nodes: at least 2 Ready pods that are not terminating, at every event.
        var sawTerminating = false;
        await using var watched = await WatchedObjects<Pod>.StartAsync(Client, _ns.Name, all =>
        {
            sawTerminating |= all.Any(p => p.Metadata?.DeletionTimestamp is not null);
            var up = all.Count(IsReadyAndNotTerminating);
            return up < 2 ? $"only {up} Ready pods that are not terminating: {string.Join(", ", all.Select(p => $"{p.Metadata!.Name}@{p.Spec?.NodeName}"))}" : null;
        });

        await Kubectl.OkAsync("-n", _ns.Name, "set", "image", "ds/logs", "c=fluent:2");
        Assert.Contains("successfully rolled out", await Kubectl.OkAsync("-n", _ns.Name, "rollout", "status", "ds/logs", "--timeout=60s"));
        Assert.All(await _ns.PodsAsync(), p => Assert.Equal("fluent:2", ImageOf(p.Spec)));

        var history = await Kubectl.OkAsync("-n", _ns.Name, "rollout", "history", "ds/logs");
        Assert.Matches(@"(?m)^1\s", history);
        Assert.Matches(@"(?m)^2\s", history);

        Assert.Contains("rolled back", await Kubectl.OkAsync("-n", _ns.Name, "rollout", "undo", "ds/logs"));
        Assert.Contains("successfully rolled out", await Kubectl.OkAsync("-n", _ns.Name, "rollout", "status", "ds/logs", "--timeout=60s"));
        await watched.WaitUntilAsync("three Ready pods of the first revision only", all =>
            all.Count == 3 && all.All(p => IsReadyAndNotTerminating(p) && ImageOf(p.Spec) == "fluent:1" && p.Metadata!.Labels![DaemonSetNames.UniqueLabelKey] == firstHash), Wait);

        // The first revision is reused with the next number, as upstream renumbers it.
        var revisions = (await Client.ListAsync<ControllerRevision>(_ns.Name)).Items!;
        Assert.Equal(2, revisions.Count);
        Assert.Equal(3, revisions.Single(r => r.Metadata!.Labels![DaemonSetNames.UniqueLabelKey] == firstHash).Revision);
        Assert.Empty(watched.Violations);
        Assert.True(sawTerminating, "no pod was seen terminating: the watch did not cover the update");
    }

    [Fact(Timeout = 120_000)]
    public async Task RollingUpdate_MaxSurgeOne_NewPodBesideOldBeforeItGoes()
    {
        var ds = NewDaemonSet("proxy", "proxy:1");
        ds.Spec!.UpdateStrategy!.RollingUpdate = new RollingUpdateDaemonSet { MaxUnavailable = Kcm.Api.IntOrString.FromInt(0), MaxSurge = Kcm.Api.IntOrString.FromInt(1) };
        await Client.CreateAsync(ds, _ns.Name);
        await WaitForStatusAsync("proxy", s => s is { DesiredNumberScheduled: 3, NumberAvailable: 3, UpdatedNumberScheduled: 3 });

        // Surge 1, unavailable 0: never fewer than 3 Ready pods, never more than one extra pod that is not terminating.
        var surged = false;
        await using var watched = await WatchedObjects<Pod>.StartAsync(Client, _ns.Name, all =>
        {
            var live = all.Where(p => p.Metadata?.DeletionTimestamp is null).ToList();
            surged |= live.Count == 4;
            var up = all.Count(IsReadyAndNotTerminating);
            return up < 3 ? $"only {up} Ready pods" : live.Count > 4 ? $"{live.Count} pods that are not terminating, more than 3 + maxSurge 1" : null;
        });

        await UpdateAsync("proxy", d => d.Spec!.Template!.Spec!.Containers![0].Image = "proxy:2");

        await WaitForStatusAsync("proxy", s => s is { DesiredNumberScheduled: 3, NumberAvailable: 3, UpdatedNumberScheduled: 3 });
        await watched.WaitUntilAsync("three Ready pods of the new template only", all =>
            all.Count == 3 && all.All(p => IsReadyAndNotTerminating(p) && ImageOf(p.Spec) == "proxy:2"), Wait);
        Assert.Empty(watched.Violations);
        Assert.True(surged, "never saw a new pod beside an old one");
    }

    private DaemonSet NewDaemonSet(string name, string image) => new()
    {
        Metadata = new ObjectMeta { Name = name },
        Spec = new DaemonSetSpec
        {
            Selector = new LabelSelector { MatchLabels = new() { ["app"] = name } },
            Template = new PodTemplateSpec
            {
                Metadata = new ObjectMeta { Labels = new() { ["app"] = name } },
                Spec = new PodSpec
                {
                    NodeSelector = new() { [DaemonSetFixture.PoolLabel] = fixture.Pool },
                    Containers = [new Container { Name = "c", Image = image }],
                },
            },
            UpdateStrategy = new DaemonSetUpdateStrategy { Type = "RollingUpdate", RollingUpdate = new RollingUpdateDaemonSet { MaxUnavailable = Kcm.Api.IntOrString.FromInt(1) } },
        },
    };

    private Task<DaemonSet> WaitForStatusAsync(string name, Func<DaemonSetStatus, bool> condition)
        => Eventually.GetAsync($"daemon set {name} status", async () =>
        {
            var ds = await Client.GetAsync<DaemonSet>(_ns.Name, name);
            return ds.Status is { } s && s.ObservedGeneration == ds.Metadata!.Generation && condition(s) ? ds : null;
        }, TimeSpan.FromSeconds(60));

    private async Task UpdateAsync(string name, Action<DaemonSet> change)
    {
        for (var attempt = 0; ; attempt++)
        {
            var ds = await Client.GetAsync<DaemonSet>(_ns.Name, name);
            change(ds);
            try
            {
                await Client.UpdateAsync(ds);
                return;
            }
            catch (ConflictException) when (attempt < 20)
            {
            }
        }
    }
}

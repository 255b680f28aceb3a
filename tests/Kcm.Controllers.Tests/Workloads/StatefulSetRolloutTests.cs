using Kcm.Api.Apps.V1;
using Kcm.Api.Core.V1;
using Kcm.Api.Meta.V1;
using Kcm.Client;
using Kcm.Client.Errors;
using Kcm.Controllers.StatefulSets;
using Kcm.Controllers.Tests.Support;
using Kcm.Testing;
using static Kcm.Controllers.Tests.Workloads.WorkloadNamespace;

namespace Kcm.Controllers.Tests.Workloads;

/// <summary>
/// The statefulset controller against two simulated nodes of this fixture's own; they serve only namespaces starting
/// with <see cref="SimulatedNodesFixture.NamespacePrefix"/>, so pods in <see cref="UnservedPrefix"/> namespaces stay Pending.
/// </summary>
public sealed class StatefulSetFixture() : SimulatedNodesFixture("sts")
{
    public string UnservedPrefix => $"stsp{Id}-";

    protected override IEnumerable<RunController> Controllers(ControllerTestHost host)
    {
        var statefulSets = new StatefulSetController(host.Context, new StatefulSetControllerOptions { Workers = 2 });
        return [statefulSets.RunAsync];
    }
}

/// <summary>StatefulSets scaled, updated and rolled back for real; ordering guarantees are checked at every watch event.</summary>
public sealed class StatefulSetRolloutTests(StatefulSetFixture fixture) : IClassFixture<StatefulSetFixture>, IAsyncLifetime, IDisposable
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

    [Fact(Timeout = 120_000)]
    public async Task Scale_ZeroToThreeAndBack_CreatedInOrderAfterReadyAndRemovedInReverse()
    {
        var created = new List<string>();
        var deleted = new List<string>();
        await using var watched = await WatchedObjects<Pod>.StartAsync(Client, _ns.Name, all =>
        {
            var byOrdinal = all.ToDictionary(p => StatefulSetUtil.Ordinal(p));
            foreach (var pod in all.Where(p => !created.Contains(p.Metadata!.Name!)))
            {
                created.Add(pod.Metadata!.Name!);
                var ordinal = StatefulSetUtil.Ordinal(pod);
                for (var predecessor = 0; predecessor < ordinal; predecessor++)
                {
                    if (!byOrdinal.TryGetValue(predecessor, out var p) || !IsReadyAndNotTerminating(p))
                    {
                        return $"{pod.Metadata.Name} created while web-{predecessor} was not Ready";
                    }
                }
            }
            foreach (var pod in all.Where(p => p.Metadata!.DeletionTimestamp is not null && !deleted.Contains(p.Metadata.Name!)))
            {
                deleted.Add(pod.Metadata!.Name!);
                var ordinal = StatefulSetUtil.Ordinal(pod);
                if (all.FirstOrDefault(p => StatefulSetUtil.Ordinal(p) > ordinal) is { } higher)
                {
                    return $"{pod.Metadata.Name} deleted while {higher.Metadata!.Name} still existed";
                }
            }
            return null;
        });

        var sts = NewStatefulSet("web", 0, "nginx:1");
        sts.Spec!.VolumeClaimTemplates =
        [
            new PersistentVolumeClaim
            {
                Metadata = new ObjectMeta { Name = "www", Labels = new() { ["tier"] = "data" } },
                Spec = new PersistentVolumeClaimSpec
                {
                    AccessModes = ["ReadWriteOnce"],
                    Resources = new ResourceRequirements { Requests = new() { ["storage"] = new Kcm.Api.Quantity("1Gi") } },
                },
            },
        ];
        await Client.CreateAsync(sts, _ns.Name);
        await ScaleAsync("web", 3);
        var set = await WaitForStatusAsync("web", s => s is { Replicas: 3, ReadyReplicas: 3, AvailableReplicas: 3, CurrentReplicas: 3, UpdatedReplicas: 3 });
        Assert.Equal(set.Status!.CurrentRevision, set.Status.UpdateRevision);
        Assert.Equal(["web-0", "web-1", "web-2"], created);

        var pods = (await _ns.PodsAsync()).OrderBy(StatefulSetUtil.Ordinal).ToList();
        foreach (var (pod, i) in pods.Select((p, i) => (p, i)))
        {
            Assert.Equal($"web-{i}", pod.Spec!.Hostname);
            Assert.Equal("web", pod.Spec.Subdomain);
            Assert.Equal("web-", pod.Metadata!.GenerateName);
            Assert.Equal($"web-{i}", pod.Metadata.Labels![StatefulSetNames.PodNameLabel]);
            Assert.Equal(set.Status.UpdateRevision, pod.Metadata.Labels[StatefulSetNames.RevisionLabel]);
            var volume = Assert.Single(pod.Spec.Volumes!, v => v.Name == "www");
            Assert.Equal($"www-web-{i}", volume.PersistentVolumeClaim!.ClaimName);
        }
        var claims = (await Client.ListAsync<PersistentVolumeClaim>(_ns.Name)).Items!;
        Assert.Equal(["www-web-0", "www-web-1", "www-web-2"], claims.Select(c => c.Metadata!.Name!).Order());
        Assert.All(claims, c => Assert.Equal(new Dictionary<string, string> { ["tier"] = "data", ["app"] = "web" }, c.Metadata!.Labels));
        Assert.All(claims, c => Assert.Null(c.Metadata!.OwnerReferences)); // StatefulSetAutoDeletePVC is off by default in v1.26.

        await ScaleAsync("web", 0);
        await WaitForStatusAsync("web", s => (s.Replicas ?? 0) == 0 && (s.ReadyReplicas ?? 0) == 0);
        await watched.WaitUntilAsync("no pods", all => all.Count == 0, Wait);
        Assert.Equal(["web-2", "web-1", "web-0"], deleted);
        Assert.Empty(watched.Violations);
        // Claims outlive their pods.
        Assert.Equal(3, (await Client.ListAsync<PersistentVolumeClaim>(_ns.Name)).Items!.Count);

        // Events are written in the background: wait for the last one.
        var events = await Eventually.GetAsync("the scale-down events", async () =>
        {
            var all = (await Client.ListAsync<Event>(_ns.Name)).Items!.Where(e => e.InvolvedObject?.Name == "web").ToList();
            return all.Any(e => e.Message == "delete Pod web-0 in StatefulSet web successful") ? all : null;
        }, Wait);
        Assert.Contains(events, e => e.Reason == "SuccessfulCreate" && e.Message == "create Pod web-0 in StatefulSet web successful");
        Assert.Contains(events, e => e.Reason == "SuccessfulCreate" && e.Message == "create Claim www-web-1 Pod web-1 in StatefulSet web success");
        Assert.Contains(events, e => e.Reason == "SuccessfulDelete" && e.Message == "delete Pod web-2 in StatefulSet web successful");
    }

    [Fact(Timeout = 90_000)]
    public async Task Create_Parallel_AllMembersCreatedWithoutWaitingForReadiness()
    {
        // Nothing runs pods in this namespace: they stay Pending, so only Parallel management can create all three.
        var ns = await WorkloadNamespace.CreateAsync(Client, fixture.UnservedPrefix);
        await TestNamespaces.EnsureDefaultServiceAccountAsync(Client, ns.Name);
        var parallel = NewStatefulSet("par", 3, "nginx:1");
        parallel.Spec!.PodManagementPolicy = StatefulSetNames.Parallel;
        await Client.CreateAsync(parallel, ns.Name);
        await Client.CreateAsync(NewStatefulSet("ord", 3, "nginx:1"), ns.Name);

        await Eventually.TrueAsync("three Pending pods of the Parallel set", async () =>
            (await ns.PodsAsync()).Count(p => p.Metadata!.Name!.StartsWith("par-", StringComparison.Ordinal)) == 3, Wait);
        var status = await Eventually.GetAsync("status of the Parallel set", async () =>
        {
            var s = (await Client.GetAsync<StatefulSet>(ns.Name, "par")).Status;
            return s is { Replicas: 3 } ? s : null;
        }, Wait);
        Assert.Equal(0, status.ReadyReplicas ?? 0);
        // The OrderedReady set, synced by now as well, waits for ord-0.
        await Eventually.TrueAsync("the OrderedReady set reported one replica", async () =>
            (await Client.GetAsync<StatefulSet>(ns.Name, "ord")).Status is { Replicas: 1 }, Wait);
        Assert.Equal(["ord-0"], (await ns.PodsAsync()).Select(p => p.Metadata!.Name!).Where(n => n.StartsWith("ord-", StringComparison.Ordinal)));
    }

    [Fact(Timeout = 150_000)]
    public async Task RollingUpdate_Partition_OnlyOrdinalsAtOrAbovePartitionUpdated()
    {
        var sts = NewStatefulSet("db", 3, "db:1");
        sts.Spec!.UpdateStrategy = new StatefulSetUpdateStrategy { Type = StatefulSetNames.RollingUpdate, RollingUpdate = new RollingUpdateStatefulSetStrategy { Partition = 1 } };
        await Client.CreateAsync(sts, _ns.Name);
        var before = await WaitForStatusAsync("db", s => s is { ReadyReplicas: 3, UpdatedReplicas: 3 });
        var firstRevision = before.Status!.CurrentRevision;

        await UpdateAsync("db", s => s.Spec!.Template!.Spec!.Containers![0].Image = "db:2");
        var during = await WaitForStatusAsync("db", s => s is { ReadyReplicas: 3, UpdatedReplicas: 2, CurrentReplicas: 1 });
        Assert.Equal(firstRevision, during.Status!.CurrentRevision);
        Assert.NotEqual(firstRevision, during.Status.UpdateRevision);
        var pods = (await _ns.PodsAsync()).ToDictionary(p => p.Metadata!.Name!);
        Assert.Equal("db:1", ImageOf(pods["db-0"].Spec));
        Assert.Equal(firstRevision, pods["db-0"].Metadata!.Labels![StatefulSetNames.RevisionLabel]);
        Assert.All(new[] { "db-1", "db-2" }, n => Assert.Equal(("db:2", during.Status.UpdateRevision), (ImageOf(pods[n].Spec), pods[n].Metadata!.Labels![StatefulSetNames.RevisionLabel])));

        await UpdateAsync("db", s => s.Spec!.UpdateStrategy!.RollingUpdate!.Partition = 0);
        var after = await WaitForStatusAsync("db", s => s is { ReadyReplicas: 3, UpdatedReplicas: 3, CurrentReplicas: 3 } && s.CurrentRevision == s.UpdateRevision);
        Assert.Equal(during.Status.UpdateRevision, after.Status!.CurrentRevision);
        Assert.All(await _ns.PodsAsync(), p => Assert.Equal("db:2", ImageOf(p.Spec)));
    }

    [Fact(Timeout = 150_000)]
    public async Task KubectlRollout_SetImageStatusHistoryUndo_OneMemberDownAtATime()
    {
        await Client.CreateAsync(NewStatefulSet("cache", 3, "redis:1"), _ns.Name);
        Assert.Matches(RolloutComplete, await Kubectl.OkAsync("-n", _ns.Name, "rollout", "status", "sts/cache", "--timeout=90s"));

        // The default RollingUpdate replaces one member at a time: never more than one not Ready or terminating.
        await using var watched = await WatchedObjects<Pod>.StartAsync(Client, _ns.Name, all =>
        {
            var down = 3 - all.Count(IsReadyAndNotTerminating);
            return down > 1 ? $"{down} members down: {string.Join(", ", all.Select(p => p.Metadata!.Name))}" : null;
        });
        await Kubectl.OkAsync("-n", _ns.Name, "set", "image", "sts/cache", "c=redis:2");
        Assert.Matches(RolloutComplete, await Kubectl.OkAsync("-n", _ns.Name, "rollout", "status", "sts/cache", "--timeout=90s"));
        Assert.All(await _ns.PodsAsync(), p => Assert.Equal("redis:2", ImageOf(p.Spec)));

        var history = await Kubectl.OkAsync("-n", _ns.Name, "rollout", "history", "sts/cache");
        Assert.Matches(@"(?m)^1\s", history);
        Assert.Matches(@"(?m)^2\s", history);

        Assert.Contains("rolled back", await Kubectl.OkAsync("-n", _ns.Name, "rollout", "undo", "sts/cache"));
        Assert.Matches(RolloutComplete, await Kubectl.OkAsync("-n", _ns.Name, "rollout", "status", "sts/cache", "--timeout=90s"));
        await watched.WaitUntilAsync("three Ready members of the first template", all =>
            all.Count == 3 && all.All(p => IsReadyAndNotTerminating(p) && ImageOf(p.Spec) == "redis:1"), Wait);
        // The first revision is renumbered 3 rather than copied.
        var revisions = (await Client.ListAsync<ControllerRevision>(_ns.Name)).Items!;
        Assert.Equal([2L, 3L], revisions.Select(r => r.Revision ?? 0).Order());
        Assert.Empty(watched.Violations);
    }

    // kubectl's StatefulSet status viewer: "partitioned roll out complete" when a partition is set (the apiserver defaults it to 0).
    private const string RolloutComplete = "(partitioned roll out|rolling update) complete";

    private static StatefulSet NewStatefulSet(string name, int replicas, string image) => new()
    {
        Metadata = new ObjectMeta { Name = name },
        Spec = new StatefulSetSpec
        {
            Replicas = replicas,
            ServiceName = name,
            Selector = new LabelSelector { MatchLabels = new() { ["app"] = name } },
            Template = new PodTemplateSpec
            {
                Metadata = new ObjectMeta { Labels = new() { ["app"] = name } },
                Spec = new PodSpec { Containers = [new Container { Name = "c", Image = image }] },
            },
        },
    };

    private Task<StatefulSet> WaitForStatusAsync(string name, Func<StatefulSetStatus, bool> condition)
        => Eventually.GetAsync($"stateful set {name} status", async () =>
        {
            var set = await Client.GetAsync<StatefulSet>(_ns.Name, name);
            return set.Status is { } s && s.ObservedGeneration == set.Metadata!.Generation && condition(s) ? set : null;
        }, TimeSpan.FromSeconds(60));

    private Task ScaleAsync(string name, int replicas) => UpdateAsync(name, s => s.Spec!.Replicas = replicas);

    private async Task UpdateAsync(string name, Action<StatefulSet> change)
    {
        for (var attempt = 0; ; attempt++)
        {
            var set = await Client.GetAsync<StatefulSet>(_ns.Name, name);
            change(set);
            try
            {
                await Client.UpdateAsync(set);
                return;
            }
            catch (ConflictException) when (attempt < 20)
            {
            }
        }
    }
}

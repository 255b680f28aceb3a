using Kcm.Api.Apps.V1;
using Kcm.Api.Core.V1;
using Kcm.Api.Meta.V1;
using Kcm.Client;
using Kcm.Controllers.ReplicaSets;
using Kcm.Controllers.Tests.Support;
using Kcm.Controllers.Tests.Workloads;
using Kcm.Runtime.Informers;
using Kcm.Testing;
using Microsoft.Extensions.Logging;
using Xunit.Abstractions;

namespace Kcm.Controllers.Tests.ReplicaSets;

/// <summary>An embedded API server with both controllers running, shared by a test class; each test works in its own namespace.</summary>
public sealed class RunningReplicaControllers : IAsyncLifetime
{
    private ControllerTestHost? _host;

    public EmbeddedServerFixture Server { get; } = new();

    /// <summary>Warnings and errors the controllers logged.</summary>
    public RecordingLoggerProvider Logs { get; } = new();

    public ControllerTestHost Host => _host ?? throw new InvalidOperationException("not initialized");

    public async Task InitializeAsync()
    {
        await Server.InitializeAsync();
        _host = new ControllerTestHost(Server, LoggerFactory.Create(b => b.AddProvider(Logs)));
        var replicaSets = ReplicaSetControllers.NewReplicaSetController(_host.Context);
        var replicationControllers = ReplicaSetControllers.NewReplicationManager(_host.Context);
        _host.Start(ct => replicaSets.RunAsync(2, ct), ct => replicationControllers.RunAsync(2, ct));
    }

    public async Task DisposeAsync()
    {
        if (_host is not null)
        {
            await _host.DisposeAsync();
        }
        await Server.DisposeAsync();
    }
}

/// <summary>The ReplicaSet and ReplicationController controllers against the embedded API server (no kubelet: tests play its part by writing pod status).</summary>
[Collection(WorkloadControllersCollection.Name)]
public sealed class ReplicaSetControllerTests(RunningReplicaControllers controllers, ITestOutputHelper output) : IClassFixture<RunningReplicaControllers>, IAsyncLifetime
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(20);

    private readonly string _namespace = "rs-" + Guid.NewGuid().ToString("N")[..8];

    private KubeApiClient Client => controllers.Host.Client;

    public async Task InitializeAsync()
    {
        await Client.CreateAsync(new Namespace { Metadata = new ObjectMeta { Name = _namespace } });
        await TestNamespaces.EnsureDefaultServiceAccountAsync(Client, _namespace);
    }

    public Task DisposeAsync()
    {
        foreach (var entry in controllers.Logs.Entries)
        {
            output.WriteLine(entry);
        }
        return Task.CompletedTask;
    }

    [Fact]
    public async Task ScaleUp_NewReplicaSet_CreatesOwnedPodsAndReportsStatus()
    {
        var rs = await Client.CreateAsync(NewReplicaSet("web", replicas: 3), _namespace);

        var pods = await PodsAsync("app=web", count: 3);

        Assert.All(pods, pod =>
        {
            Assert.Equal("web-", pod.Metadata!.GenerateName);
            Assert.StartsWith("web-", pod.Metadata.Name);
            Assert.Equal("web", pod.Metadata.Labels!["app"]);
            Assert.Equal("nginx", pod.Spec!.Containers![0].Image);
            var owner = Assert.Single(pod.Metadata.OwnerReferences!);
            Assert.Equal(("apps/v1", "ReplicaSet", "web", rs.Metadata!.Uid, true, true),
                (owner.ApiVersion, owner.Kind, owner.Name, owner.Uid, owner.Controller, owner.BlockOwnerDeletion));
        });
        await StatusAsync("web", s => s is { Replicas: 3, FullyLabeledReplicas: 3, ReadyReplicas: null or 0, AvailableReplicas: null or 0 }, rs.Metadata!.Generation);
        var events = await Eventually.GetAsync("three SuccessfulCreate events", async () =>
        {
            var list = (await Client.ListAsync<Event>(_namespace)).Items!.Where(e => e.Reason == "SuccessfulCreate").ToList();
            return list.Count == 3 ? list : null;
        }, Timeout);
        Assert.Equal(pods.Select(p => $"Created pod: {p.Metadata!.Name}").Order(), events.Select(e => e.Message).Order());
        Assert.All(events, e => Assert.Equal(("ReplicaSet", "web", "replicaset-controller"), (e.InvolvedObject!.Kind, e.InvolvedObject.Name, e.Source?.Component)));
    }

    [Fact]
    public async Task ScaleDown_MixedPods_DeletesPendingBeforeRunningReady()
    {
        await Client.CreateAsync(NewReplicaSet("web", replicas: 3), _namespace);
        var pods = await PodsAsync("app=web", count: 3);
        var keep = pods.Take(2).Select(p => p.Metadata!.Name!).ToList();
        foreach (var name in keep)
        {
            await MarkReadyAsync(name, DateTimeOffset.UtcNow.AddMinutes(-1));
        }
        await StatusAsync("web", s => s.ReadyReplicas == 2);

        await ScaleAsync("web", 2);

        var remaining = await PodsAsync("app=web", count: 2);
        Assert.Equal(keep.Order(), remaining.Select(p => p.Metadata!.Name!).Order());
        var pending = pods[2].Metadata!.Name;
        await Eventually.TrueAsync("a SuccessfulDelete event", async () =>
            (await Client.ListAsync<Event>(_namespace)).Items!.Any(e => e.Reason == "SuccessfulDelete" && e.Message == $"Deleted pod: {pending}"), Timeout);
        await StatusAsync("web", s => s is { Replicas: 2, ReadyReplicas: 2, AvailableReplicas: 2 });
    }

    [Fact]
    public async Task Adopt_OrphanMatchingSelector_BecomesOwnedInsteadOfCreatingAnother()
    {
        await Client.CreateAsync(new Pod
        {
            Metadata = new ObjectMeta { Name = "orphan", Labels = new() { ["app"] = "web" } },
            Spec = new PodSpec { Containers = [new Container { Name = "nginx", Image = "nginx" }] },
        }, _namespace);
        // The pod and ReplicaSet watches are separate streams: a ReplicaSet seen before the orphan is a sync that creates
        // two pods (upstream's controller races the same way), so the ReplicaSet is created once the cache has the pod.
        var pods = controllers.Host.Context.Informers.InformerFor<Pod>().Cache;
        await Eventually.TrueAsync("the orphan in the controller's pod cache", () => Task.FromResult(pods.Get(new ObjectKey(_namespace, "orphan")) is not null), Timeout);

        var rs = await Client.CreateAsync(NewReplicaSet("web", replicas: 2), _namespace);

        await Eventually.TrueAsync("the orphan to be adopted", async () =>
        {
            var orphan = await Client.GetAsync<Pod>(_namespace, "orphan");
            return orphan.Metadata!.OwnerReferences?.SingleOrDefault() is { Controller: true, BlockOwnerDeletion: true, Kind: "ReplicaSet" } owner && owner.Uid == rs.Metadata!.Uid;
        }, Timeout);
        await StatusAsync("web", s => s.Replicas == 2);
        var owned = await PodsAsync("app=web", count: 2);
        Assert.Contains(owned, p => p.Metadata!.Name == "orphan");
    }

    [Fact]
    public async Task Release_OwnedPodLabelsChange_ReleasedAndReplaced()
    {
        await Client.CreateAsync(NewReplicaSet("web", replicas: 1), _namespace);
        var original = (await PodsAsync("app=web", count: 1))[0].Metadata!.Name!;

        await Client.PatchAsync<Pod>(_namespace, original, PatchType.Merge, """{"metadata":{"labels":{"app":"elsewhere"}}}""");

        await Eventually.TrueAsync("the relabelled pod to lose its controller reference", async () =>
            (await Client.GetAsync<Pod>(_namespace, original)).Metadata!.OwnerReferences is null or { Count: 0 }, Timeout);
        var replacement = await PodsAsync("app=web", count: 1);
        Assert.NotEqual(original, replacement[0].Metadata!.Name);
    }

    [Fact]
    public async Task Status_MinReadySeconds_AvailableOnlyAfterReadyLongEnough()
    {
        var rs = NewReplicaSet("web", replicas: 1);
        rs.Spec!.MinReadySeconds = 3;
        await Client.CreateAsync(rs, _namespace);
        var pod = (await PodsAsync("app=web", count: 1))[0];

        // Condition times are stored in whole seconds, so the controller counts minReadySeconds from the truncated second.
        var now = DateTimeOffset.UtcNow;
        var readySince = now.AddTicks(-(now.Ticks % TimeSpan.TicksPerSecond));
        await MarkReadyAsync(pod.Metadata!.Name!, readySince);

        var whenReady = await StatusAsync("web", s => s.ReadyReplicas == 1);
        if (DateTimeOffset.UtcNow - readySince < TimeSpan.FromSeconds(2))
        {
            Assert.Equal(0, whenReady.AvailableReplicas ?? 0);
        }
        // No further pod event arrives: the controller must look again by itself after minReadySeconds.
        await StatusAsync("web", s => s is { ReadyReplicas: 1, AvailableReplicas: 1 });
        Assert.True(DateTimeOffset.UtcNow - readySince >= TimeSpan.FromSeconds(3));
    }

    [Fact]
    public async Task ReplicationController_ScaleUpAndDown_ManagesOwnedPods()
    {
        var rc = await Client.CreateAsync(new ReplicationController
        {
            Metadata = new ObjectMeta { Name = "legacy" },
            Spec = new ReplicationControllerSpec
            {
                Replicas = 2,
                Selector = new() { ["app"] = "legacy" },
                Template = new PodTemplateSpec
                {
                    Metadata = new ObjectMeta { Labels = new() { ["app"] = "legacy" } },
                    Spec = new PodSpec { Containers = [new Container { Name = "nginx", Image = "nginx" }] },
                },
            },
        }, _namespace);

        var pods = await PodsAsync("app=legacy", count: 2);
        Assert.All(pods, pod =>
        {
            Assert.Equal("legacy-", pod.Metadata!.GenerateName);
            var owner = Assert.Single(pod.Metadata.OwnerReferences!);
            Assert.Equal(("v1", "ReplicationController", rc.Metadata!.Uid, true), (owner.ApiVersion, owner.Kind, owner.Uid, owner.Controller));
        });
        await Eventually.TrueAsync("the RC status", async () =>
            (await Client.GetAsync<ReplicationController>(_namespace, "legacy")).Status is { Replicas: 2, FullyLabeledReplicas: 2 } s && s.ObservedGeneration == rc.Metadata!.Generation, Timeout);
        await Eventually.TrueAsync("SuccessfulCreate events from replication-controller", async () =>
            (await Client.ListAsync<Event>(_namespace)).Items!.Count(e => e.Reason == "SuccessfulCreate" && e.Source?.Component == "replication-controller" && e.InvolvedObject!.Kind == "ReplicationController") == 2, Timeout);
        var current = await Client.GetAsync<ReplicationController>(_namespace, "legacy");
        current.Spec!.Replicas = 0;
        await Client.UpdateAsync(current);

        await PodsAsync("app=legacy", count: 0);
    }

    private static Kcm.Api.Apps.V1.ReplicaSet NewReplicaSet(string name, int replicas) => new()
    {
        Metadata = new ObjectMeta { Name = name },
        Spec = new ReplicaSetSpec
        {
            Replicas = replicas,
            Selector = new LabelSelector { MatchLabels = new() { ["app"] = name } },
            Template = new PodTemplateSpec
            {
                Metadata = new ObjectMeta { Labels = new() { ["app"] = name } },
                Spec = new PodSpec { Containers = [new Container { Name = "nginx", Image = "nginx" }] },
            },
        },
    };

    /// <summary>Waits until exactly <paramref name="count"/> pods that are not being deleted match, and stay so for a moment.</summary>
    private async Task<List<Pod>> PodsAsync(string selector, int count)
    {
        async Task<List<Pod>> ListAsync() => (await Client.ListAsync<Pod>(_namespace, new ListOptions { LabelSelector = selector })).Items!
            .Where(p => p.Metadata!.DeletionTimestamp is null).OrderBy(p => p.Metadata!.CreationTimestamp).ThenBy(p => p.Metadata!.Name).ToList();
        await Eventually.TrueAsync($"{count} pods matching {selector}", async () => (await ListAsync()).Count == count, Timeout);
        // A controller that overshoots would show it now.
        await Task.Delay(300);
        var pods = await ListAsync();
        Assert.Equal(count, pods.Count);
        return pods;
    }

    private async Task<ReplicaSetStatus> StatusAsync(string name, Func<ReplicaSetStatus, bool> condition, long? observedGeneration = null)
        => await Eventually.GetAsync($"status of ReplicaSet {name}", async () =>
        {
            var rs = await Client.GetAsync<Kcm.Api.Apps.V1.ReplicaSet>(_namespace, name);
            var status = rs.Status ?? new ReplicaSetStatus();
            var generationOk = observedGeneration is null || status.ObservedGeneration == observedGeneration;
            return generationOk && condition(status) ? status : null;
        }, Timeout);

    private async Task ScaleAsync(string name, int replicas)
    {
        var rs = await Client.GetAsync<Kcm.Api.Apps.V1.ReplicaSet>(_namespace, name);
        rs.Spec!.Replicas = replicas;
        await Client.UpdateAsync(rs);
    }

    /// <summary>Plays the kubelet: the pod runs and has been ready since <paramref name="since"/>.</summary>
    private async Task MarkReadyAsync(string podName, DateTimeOffset since)
        => await Eventually.TrueAsync($"pod {podName} marked ready", async () =>
        {
            var pod = await Client.GetAsync<Pod>(_namespace, podName);
            pod.Status ??= new PodStatus();
            pod.Status.Phase = "Running";
            pod.Status.Conditions = [new PodCondition { Type = "Ready", Status = "True", LastTransitionTime = since }];
            await Client.UpdateStatusAsync(pod);
            return true;
        }, Timeout);
}

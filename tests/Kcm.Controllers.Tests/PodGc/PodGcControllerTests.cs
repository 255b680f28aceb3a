using Kcm.Api.Core.V1;
using Kcm.Api.Meta.V1;
using Kcm.Client;
using Kcm.Client.Errors;
using Kcm.Controllers.PodGc;
using Kcm.Controllers.Tests.Support;
using Kcm.Testing;
using CoreNamespace = Kcm.Api.Core.V1.Namespace;

namespace Kcm.Controllers.Tests.PodGc;

/// <summary>
/// Each test builds a pod GC with its own options over fresh informers and drives single passes (GcAsync), so
/// the assertions do not depend on the 20 s period. The pod informer watches only the test's namespace: the
/// threshold counts every terminated pod the collector sees and orphans are judged for every pod, so over all
/// namespaces of a shared real cluster another class's finished or node-less pods would both move the count and be
/// deleted by these tests' aggressive settings (threshold 2, no quarantine). Each test still cleans up its pods.
/// </summary>
public sealed class PodGcControllerTests(EmbeddedServerFixture server) : IClassFixture<EmbeddedServerFixture>, IAsyncLifetime
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(15);

    private readonly string _ns = "podgc-" + Guid.NewGuid().ToString("N")[..8];
    private ControllerTestHost _host = null!;

    private KubeApiClient Client => _host.Client;

    public async Task InitializeAsync()
    {
        _host = new ControllerTestHost(server, DebugFileLoggerProvider.FromEnvironment(), unthrottled: true, onlyNamespace: _ns);
        await Client.CreateAsync(new CoreNamespace { Metadata = new ObjectMeta { Name = _ns } });
        await TestNamespaces.EnsureDefaultServiceAccountAsync(Client, _ns);
    }

    public async Task DisposeAsync()
    {
        foreach (var pod in (await Client.ListAsync<Pod>(_ns)).Items ?? [])
        {
            if (pod.Metadata?.Finalizers is { Count: > 0 })
            {
                await Client.PatchAsync<Pod>(_ns, pod.Metadata.Name!, PatchType.Merge, """{"metadata":{"finalizers":null}}""");
            }
            await IgnoreNotFound(() => Client.DeleteAsync<Pod>(_ns, pod.Metadata!.Name!, new DeleteOptions { GracePeriodSeconds = 0 }));
        }
        await _host.DisposeAsync();
    }

    [Fact]
    public async Task Gc_TerminatedPodsAboveThreshold_DeletesTheOldestFirst()
    {
        var controller = await StartAsync(new PodGcControllerOptions { TerminatedPodThreshold = 2 });
        // Creation timestamps have whole seconds: names break ties, so a..d is oldest..newest either way.
        foreach (var name in new[] { "a-done", "b-done", "c-done", "d-done" })
        {
            await CreatePodAsync(name, phase: name[0] % 2 == 0 ? "Succeeded" : "Failed");
        }
        await CreatePodAsync("e-running", phase: "Running");
        await WaitCachedAsync(5);

        await controller.GcAsync(CancellationToken.None);

        await WaitGoneAsync("a-done");
        await WaitGoneAsync("b-done");
        Assert.Equal(["c-done", "d-done", "e-running"], (await Client.ListAsync<Pod>(_ns)).Items!.Select(p => p.Metadata!.Name).Order());
    }

    [Fact]
    public async Task Gc_EvictedPod_DeletedBeforeOlderTerminatedPods()
    {
        var controller = await StartAsync(new PodGcControllerOptions { TerminatedPodThreshold = 2 });
        await CreatePodAsync("a-done", phase: "Succeeded");
        await CreatePodAsync("b-done", phase: "Succeeded");
        await CreatePodAsync("c-evicted", phase: "Failed", reason: "Evicted");
        await WaitCachedAsync(3);

        await controller.GcAsync(CancellationToken.None);

        await WaitGoneAsync("c-evicted");
        Assert.Equal(["a-done", "b-done"], (await Client.ListAsync<Pod>(_ns)).Items!.Select(p => p.Metadata!.Name).Order());
    }

    [Fact]
    public async Task Gc_ThresholdZero_KeepsTerminatedPods()
    {
        var controller = await StartAsync(new PodGcControllerOptions { TerminatedPodThreshold = 0 });
        await CreatePodAsync("a-done", phase: "Succeeded");
        await CreatePodAsync("b-failed", phase: "Failed");
        await WaitCachedAsync(2);

        await controller.GcAsync(CancellationToken.None);

        Assert.Equal(2, (await Client.ListAsync<Pod>(_ns)).Items!.Count);
    }

    [Fact]
    public async Task Gc_PodOnMissingNodeAfterQuarantine_MarkedFailedAndForceDeleted()
    {
        var node = _ns + "-present";
        await Client.CreateAsync(new Node { Metadata = new ObjectMeta { Name = node } });
        try
        {
            var controller = await StartAsync(new PodGcControllerOptions { TerminatedPodThreshold = 0, QuarantineTime = TimeSpan.Zero });
            await CreatePodAsync("on-present-node", nodeName: node, phase: "Running");
            await CreatePodAsync("on-missing-node", nodeName: _ns + "-gone", phase: "Running");
            await WaitCachedAsync(2);
            await Eventually.TrueAsync("the node in the cache", () => Task.FromResult(_host.Context.Informers.InformerFor<Node>().Cache.Get(new(null, node)) is not null), Timeout);

            await controller.GcAsync(CancellationToken.None);

            await WaitGoneAsync("on-missing-node");
            var kept = await Client.GetAsync<Pod>(_ns, "on-present-node");
            Assert.Null(kept.Metadata?.DeletionTimestamp);
            Assert.Equal("Running", kept.Status?.Phase);
        }
        finally
        {
            await Client.DeleteAsync<Node>(null, node);
        }
    }

    [Fact]
    public async Task Gc_TerminatingPodOnOutOfServiceNode_ForceDeleted()
    {
        var outOfService = _ns + "-out-of-service";
        var notReadyOnly = _ns + "-not-ready";
        foreach (var (name, tainted) in new[] { (outOfService, true), (notReadyOnly, false) })
        {
            var node = await Client.CreateAsync(new Node
            {
                Metadata = new ObjectMeta { Name = name },
                Spec = new NodeSpec { Taints = tainted ? [new Taint { Key = PodGcController.OutOfServiceTaint, Effect = "NoExecute" }] : null },
            });
            node.Status = new NodeStatus { Conditions = [new NodeCondition { Type = "Ready", Status = "False" }] };
            await Client.UpdateStatusAsync(node);
        }
        try
        {
            var controller = await StartAsync(new PodGcControllerOptions { TerminatedPodThreshold = 0 });
            await CreatePodAsync("on-out-of-service", nodeName: outOfService, phase: "Running");
            await CreatePodAsync("on-not-ready", nodeName: notReadyOnly, phase: "Running");
            await Client.DeleteAsync<Pod>(_ns, "on-out-of-service");
            await Client.DeleteAsync<Pod>(_ns, "on-not-ready");
            var pods = _host.Context.Informers.InformerFor<Pod>().Cache;
            var nodes = _host.Context.Informers.InformerFor<Node>().Cache;
            await Eventually.TrueAsync("both deletions and the nodes' status in the caches", () => Task.FromResult(
                pods.Get(new(_ns, "on-out-of-service"))?.Metadata?.DeletionTimestamp is not null
                && pods.Get(new(_ns, "on-not-ready"))?.Metadata?.DeletionTimestamp is not null
                && nodes.Get(new(null, outOfService))?.Status?.Conditions is { Count: > 0 }
                && nodes.Get(new(null, notReadyOnly))?.Status?.Conditions is { Count: > 0 }), Timeout);

            await controller.GcAsync(CancellationToken.None);

            await WaitGoneAsync("on-out-of-service");
            var gracefullyTerminating = await Client.GetAsync<Pod>(_ns, "on-not-ready");
            Assert.Equal("Running", gracefullyTerminating.Status?.Phase);
        }
        finally
        {
            await Client.DeleteAsync<Node>(null, outOfService);
            await Client.DeleteAsync<Node>(null, notReadyOnly);
        }
    }

    [Fact]
    public async Task Gc_PodOnMissingNodeStillQuarantined_Kept()
    {
        var controller = await StartAsync(new PodGcControllerOptions { TerminatedPodThreshold = 0, QuarantineTime = TimeSpan.FromHours(1) });
        await CreatePodAsync("on-missing-node", nodeName: _ns + "-gone", phase: "Running");
        await WaitCachedAsync(1);

        await controller.GcAsync(CancellationToken.None);

        var pod = await Client.GetAsync<Pod>(_ns, "on-missing-node");
        Assert.Null(pod.Metadata?.DeletionTimestamp);
    }

    [Fact]
    public async Task Gc_UnscheduledTerminatingPod_MarkedFailedAndForceDeleted()
    {
        var controller = await StartAsync(new PodGcControllerOptions { TerminatedPodThreshold = 0 });
        // A finalizer keeps the unscheduled pod visible while it terminates (the server removes it at once otherwise).
        await CreatePodAsync("unscheduled-terminating", finalizers: ["example.com/hold"]);
        await CreatePodAsync("unscheduled-pending");
        await Client.DeleteAsync<Pod>(_ns, "unscheduled-terminating");
        await Eventually.TrueAsync("the deletion in the cache", () => Task.FromResult(
            _host.Context.Informers.InformerFor<Pod>().Cache.Get(new(_ns, "unscheduled-terminating"))?.Metadata?.DeletionTimestamp is not null), Timeout);

        await controller.GcAsync(CancellationToken.None);

        var terminating = await Client.GetAsync<Pod>(_ns, "unscheduled-terminating");
        Assert.Equal("Failed", terminating.Status?.Phase);
        Assert.Equal(0, terminating.Metadata?.DeletionGracePeriodSeconds);
        var pending = await Client.GetAsync<Pod>(_ns, "unscheduled-pending");
        Assert.Null(pending.Metadata?.DeletionTimestamp);
        Assert.NotEqual("Failed", pending.Status?.Phase);
    }

    [Fact]
    public async Task Run_Periodically_CollectsWithoutBeingDriven()
    {
        var controller = new PodGcController(_host.Context, new PodGcControllerOptions { TerminatedPodThreshold = 0, CheckPeriod = TimeSpan.FromMilliseconds(200), QuarantineTime = TimeSpan.Zero });
        _host.Start(controller.RunAsync);
        // No status update after the create: the collector may already be failing the pod by then (a 409 for us).
        await CreatePodAsync("orphan", nodeName: _ns + "-gone");

        await WaitGoneAsync("orphan");
    }

    private async Task<PodGcController> StartAsync(PodGcControllerOptions options)
    {
        var controller = new PodGcController(_host.Context, options);
        _host.Start();
        Assert.True(await _host.Context.Informers.WaitForCacheSyncAsync(CancellationToken.None));
        return controller;
    }

    private async Task CreatePodAsync(string name, string? nodeName = null, string? phase = null, string? reason = null, List<string>? finalizers = null)
    {
        var pod = await Client.CreateAsync(new Pod
        {
            Metadata = new ObjectMeta { Name = name, Namespace = _ns, Finalizers = finalizers },
            Spec = new PodSpec { NodeName = nodeName, Containers = [new Container { Name = "c", Image = "registry.k8s.io/pause:3.9" }] },
        });
        if (phase is not null)
        {
            pod.Status = new PodStatus { Phase = phase, Reason = reason };
            await Client.UpdateStatusAsync(pod);
        }
    }

    private Task WaitCachedAsync(int count)
        => Eventually.TrueAsync($"{count} pods of {_ns} in the cache with their status", () =>
        {
            var cached = _host.Context.Informers.InformerFor<Pod>().Cache.List().Where(p => p.Metadata?.Namespace == _ns).ToList();
            return Task.FromResult(cached.Count == count && cached.All(p => p.Status?.Phase is not null && p.Status.Phase != "Pending" || p.Metadata?.Name?.Contains("pending", StringComparison.Ordinal) == true));
        }, Timeout);

    private Task WaitGoneAsync(string name)
        => Eventually.TrueAsync($"pod {_ns}/{name} to be deleted", async () =>
        {
            try
            {
                await Client.GetAsync<Pod>(_ns, name);
                return false;
            }
            catch (NotFoundException)
            {
                return true;
            }
        }, Timeout);

    private static async Task IgnoreNotFound(Func<Task> action)
    {
        try
        {
            await action();
        }
        catch (NotFoundException)
        {
        }
    }
}

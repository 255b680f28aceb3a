using Kcm.Api;
using Kcm.Api.Core.V1;
using Kcm.Testing;

namespace Kcm.Simulator.Tests;

public sealed class PodLifecycleTests(EmbeddedServerFixture fixture) : IClassFixture<EmbeddedServerFixture>
{
    [Fact(Timeout = 60_000)]
    public async Task Pods_Created_AreSpreadAndBecomeRunningReadyWithIps()
    {
        await using var bed = await SimulatorTestBed.StartAsync(fixture, o => o with { NodeCount = 3 });
        var names = Enumerable.Range(0, 6).Select(i => $"web-{i}").ToList();
        foreach (var name in names) await bed.CreatePodAsync(name);

        var pods = new List<Pod>();
        foreach (var name in names) pods.Add(await bed.RunningAsync(name));

        // Least-loaded placement: two pods on each node.
        Assert.All(pods.GroupBy(p => p.Spec!.NodeName), g => Assert.Equal(2, g.Count()));
        var nodes = (await Task.WhenAll(Enumerable.Range(0, 3).Select(i => bed.Client.GetAsync<Node>(null, bed.Node(i))))).ToDictionary(n => n.Metadata!.Name!);
        Assert.Equal(6, pods.Select(p => p.Status!.PodIP).Distinct().Count());
        foreach (var pod in pods)
        {
            var status = pod.Status!;
            Assert.Equal(["Initialized", "Ready", "ContainersReady", "PodScheduled"], status.Conditions!.Select(c => c.Type!));
            Assert.All(status.Conditions!, c => Assert.Equal("True", c.Status));
            Assert.Equal(nodes[pod.Spec!.NodeName!].Status!.Addresses!.Single(a => a.Type == "InternalIP").Address, status.HostIP);
            Assert.Equal(status.PodIP, Assert.Single(status.PodIPs!).Ip);
            Assert.NotNull(status.StartTime);
            Assert.Equal("BestEffort", status.QosClass);
            var container = Assert.Single(status.ContainerStatuses!);
            Assert.True(container is { Name: "web", Image: "nginx:1.25", Ready: true, Started: true, RestartCount: 0 });
            Assert.StartsWith("containerd://", container.ContainerID);
            Assert.StartsWith("nginx@sha256:", container.ImageID);
            Assert.NotNull(container.State!.Running!.StartedAt);
        }
        // Each node hands out IPs from its own range.
        Assert.All(pods.GroupBy(p => p.Spec!.NodeName), g => Assert.Single(g.Select(p => p.Status!.PodIP![..p.Status.PodIP!.LastIndexOf('.')]).Distinct()));
    }

    [Fact(Timeout = 60_000)]
    public async Task Pod_OnNodeWithPodCidr_GetsAnIpFromIt()
    {
        await using var bed = await SimulatorTestBed.StartAsync(fixture, o => o with { ConfigureNode = (_, node) => node.Spec!.PodCIDR = "10.123.45.0/24" });

        await bed.CreatePodAsync("web");

        Assert.StartsWith("10.123.45.", (await bed.RunningAsync("web")).Status!.PodIP);
    }

    [Fact(Timeout = 60_000)]
    public async Task Pod_WithNodeSelectorOrRequiredAffinity_LandsOnTheMatchingNode()
    {
        await using var bed = await SimulatorTestBed.StartAsync(fixture, o => o with
        {
            NodeCount = 3,
            ConfigureNode = (i, node) => node.Metadata!.Labels!["disk"] = i == 1 ? "ssd" : "hdd",
        });

        await bed.CreatePodAsync("by-hostname", s => s.NodeSelector = new() { ["kubernetes.io/hostname"] = bed.Node(2) });
        await bed.CreatePodAsync("by-affinity", s => s.Affinity = new Affinity
        {
            NodeAffinity = new NodeAffinity
            {
                RequiredDuringSchedulingIgnoredDuringExecution = new NodeSelector
                {
                    NodeSelectorTerms = [new NodeSelectorTerm { MatchExpressions = [new NodeSelectorRequirement { Key = "disk", Operator = "In", Values = ["ssd"] }] }],
                },
            },
        });
        await bed.CreatePodAsync("nowhere", s => s.NodeSelector = new() { ["disk"] = "tape" });

        Assert.Equal(bed.Node(2), (await bed.RunningAsync("by-hostname")).Spec!.NodeName);
        Assert.Equal(bed.Node(1), (await bed.RunningAsync("by-affinity")).Spec!.NodeName);
        var condition = await UnschedulableAsync(bed, "nowhere");
        Assert.Equal("0/3 nodes are available: 3 node(s) didn't match Pod's node affinity/selector.", condition.Message);
    }

    [Fact(Timeout = 60_000)]
    public async Task Pods_OnTaintedNode_OnlyThoseTolerating()
    {
        await using var bed = await SimulatorTestBed.StartAsync(fixture, o => o with
        {
            NodeCount = 2,
            ConfigureNode = (i, node) => node.Spec!.Taints = i == 0 ? [new Taint { Key = "dedicated", Value = "infra", Effect = "NoSchedule" }] : null,
        });

        foreach (var name in new[] { "a", "b", "c" }) await bed.CreatePodAsync(name);
        await bed.CreatePodAsync("tolerating", s =>
        {
            s.NodeSelector = new() { ["kubernetes.io/hostname"] = bed.Node(0) };
            s.Tolerations = [new Toleration { Key = "dedicated", Operator = "Equal", Value = "infra", Effect = "NoSchedule" }];
        });
        await bed.CreatePodAsync("intolerant", s => s.NodeSelector = new() { ["kubernetes.io/hostname"] = bed.Node(0) });

        foreach (var name in new[] { "a", "b", "c" }) Assert.Equal(bed.Node(1), (await bed.RunningAsync(name)).Spec!.NodeName);
        Assert.Equal(bed.Node(0), (await bed.RunningAsync("tolerating")).Spec!.NodeName);
        var condition = await UnschedulableAsync(bed, "intolerant");
        Assert.Contains("1 node(s) had untolerated taint {dedicated: infra}", condition.Message);
    }

    [Fact(Timeout = 60_000)]
    public async Task Pods_BeyondCapacity_WaitUntilCapacityFrees()
    {
        await using var bed = await SimulatorTestBed.StartAsync(fixture, o => o with { Cpu = new Quantity("1"), Pods = new Quantity("3") });
        static void Requests(PodSpec s) => s.Containers![0].Resources = new ResourceRequirements { Requests = new() { ["cpu"] = new Quantity("600m") } };

        await bed.CreatePodAsync("big-1", Requests);
        await bed.RunningAsync("big-1");
        await bed.CreatePodAsync("big-2", Requests);
        Assert.Equal("0/1 nodes are available: 1 Insufficient cpu.", (await UnschedulableAsync(bed, "big-2")).Message);
        foreach (var name in new[] { "small-1", "small-2" }) await bed.RunningAsync((await bed.CreatePodAsync(name)).Metadata!.Name!);
        await bed.CreatePodAsync("small-3");
        Assert.Equal("0/1 nodes are available: 1 Too many pods.", (await UnschedulableAsync(bed, "small-3")).Message);

        await bed.Client.DeleteAsync<Pod>(bed.Namespace, "big-1");
        await bed.GoneAsync("big-1");
        // The freed pod slot goes to one of the waiting pods; cpu allows big-2 as well, the pod count only one of them.
        await Eventually.TrueAsync("one waiting pod bound", async () =>
            (await Task.WhenAll(new[] { "big-2", "small-3" }.Select(bed.GetPodAsync))).Count(p => !string.IsNullOrEmpty(p.Spec?.NodeName)) == 1, SimulatorTestBed.Wait);
    }

    [Fact(Timeout = 60_000)]
    public async Task RunningPod_DeletedGracefully_IsRemoved()
    {
        await using var bed = await SimulatorTestBed.StartAsync(fixture);
        await bed.CreatePodAsync("doomed");
        await bed.RunningAsync("doomed");

        await bed.Client.DeleteAsync<Pod>(bed.Namespace, "doomed");

        await bed.GoneAsync("doomed");
    }

    // Regression: a deletion that arrived while the pod was still starting (its ready delay) was dropped, and the pod
    // stayed terminating for good.
    [Fact(Timeout = 60_000)]
    public async Task StartingPods_DeletedGracefully_AreRemoved()
    {
        await using var bed = await SimulatorTestBed.StartAsync(fixture, o => o with { PodReadyDelay = TimeSpan.FromSeconds(2) });
        var names = Enumerable.Range(0, 5).Select(i => $"short-lived-{i}").ToList();
        foreach (var name in names) await bed.CreatePodAsync(name);
        foreach (var name in names)
        {
            await bed.BoundAsync(name);
            await bed.Client.DeleteAsync<Pod>(bed.Namespace, name);
        }

        foreach (var name in names) await bed.GoneAsync(name);
    }

    [Fact(Timeout = 60_000)]
    public async Task ManyPods_CreatedAtOnce_AllBecomeRunning()
    {
        await using var bed = await SimulatorTestBed.StartAsync(fixture, o => o with { NodeCount = 3 });
        var names = Enumerable.Range(0, 30).Select(i => $"burst-{i}").ToList();

        await Task.WhenAll(names.Select(name => bed.CreatePodAsync(name)));

        await Eventually.TrueAsync("all pods Running", async () =>
            (await bed.Client.ListAsync<Pod>(bed.Namespace)).Items!.Count(p => p.Status?.Phase == "Running") == names.Count, SimulatorTestBed.Wait);
        var pods = (await bed.Client.ListAsync<Pod>(bed.Namespace)).Items!;
        Assert.All(pods.GroupBy(p => p.Spec!.NodeName), g => Assert.Equal(10, g.Count()));
    }

    [Fact(Timeout = 60_000)]
    public async Task PodsOfOtherSchedulersOrNamespaces_AreLeftAlone()
    {
        await using var bed = await SimulatorTestBed.StartAsync(fixture);
        await using var other = await SimulatorTestBed.StartAsync(fixture, o => o with { SchedulerName = "someone-else" });

        await bed.CreatePodAsync("custom", s => s.SchedulerName = "my-scheduler");
        await other.Client.CreateAsync(SimulatorTestBed.NewPod("elsewhere"), other.Namespace);
        await bed.CreatePodAsync("mine");

        // Created after the others, so by the time it runs both simulators have seen those.
        Assert.Equal(bed.Node(0), (await bed.RunningAsync("mine")).Spec!.NodeName);
        await other.Client.CreateAsync(SimulatorTestBed.NewPod("theirs", s => s.SchedulerName = "someone-else"), other.Namespace);
        Assert.Equal(other.Node(0), (await other.BoundAsync("theirs")).Spec!.NodeName);
        Assert.Null((await bed.GetPodAsync("custom")).Spec!.NodeName);
        Assert.Null((await other.GetPodAsync("elsewhere")).Spec!.NodeName);
    }

    [Fact(Timeout = 60_000)]
    public async Task PodsOfStoppedNode_AreNotStarted_UntilHeartbeatsResume()
    {
        await using var bed = await SimulatorTestBed.StartAsync(fixture, o => o with { NodeCount = 2, PodReadyDelay = TimeSpan.Zero });
        bed.Simulator.StopHeartbeats(bed.Node(0));
        await bed.CreatePodAsync("waiting", s => s.NodeSelector = new() { ["kubernetes.io/hostname"] = bed.Node(0) });
        await bed.BoundAsync("waiting");
        // Handled after "waiting" was: once it runs, "waiting" would be running too, were its node up.
        await bed.CreatePodAsync("probe", s => s.NodeSelector = new() { ["kubernetes.io/hostname"] = bed.Node(1) });
        await bed.RunningAsync("probe");
        Assert.Equal("Pending", (await bed.GetPodAsync("waiting")).Status!.Phase);

        bed.Simulator.ResumeHeartbeats(bed.Node(0));

        await bed.RunningAsync("waiting");
    }

    [Fact(Timeout = 60_000)]
    public async Task HeartbeatsAnnotation_StoppedThenRemoved_NodeStopsThenRunsPodsAgain()
    {
        await using var bed = await SimulatorTestBed.StartAsync(fixture, o => o with { NodeCount = 2, PodReadyDelay = TimeSpan.Zero });
        var node = bed.Node(0);

        await bed.Client.PatchAsync<Node>(null, node, Kcm.Client.PatchType.Merge, HeartbeatsPatch("\"stopped\""));
        await Eventually.TrueAsync($"{node} stopped", () => Task.FromResult(!bed.Simulator.IsUp(node)), SimulatorTestBed.Wait);
        await bed.CreatePodAsync("waiting", s => s.NodeSelector = new() { ["kubernetes.io/hostname"] = node });
        await bed.BoundAsync("waiting");

        await bed.Client.PatchAsync<Node>(null, node, Kcm.Client.PatchType.Merge, HeartbeatsPatch("null"));

        await bed.RunningAsync("waiting");
        Assert.True(bed.Simulator.IsUp(node));
    }

    [Fact(Timeout = 60_000)]
    public async Task RunningPod_ReadySetFalseFromOutside_ReportedReadyAgain()
    {
        await using var bed = await SimulatorTestBed.StartAsync(fixture, o => o with { PodReadyDelay = TimeSpan.Zero });
        await bed.CreatePodAsync("web");
        await bed.RunningAsync("web");
        await Eventually.TrueAsync("web Ready", async () => (await bed.GetPodAsync("web")).Status!.Conditions!.Any(c => c is { Type: "Ready", Status: "True" }), SimulatorTestBed.Wait);

        // As the node lifecycle controller's MarkPodsNotReady does while the node is unreachable.
        var pod = await bed.GetPodAsync("web");
        pod.Status!.Conditions!.Single(c => c.Type == "Ready").Status = "False";
        await bed.Client.UpdateStatusAsync(pod);

        await Eventually.TrueAsync("web Ready again", async () => (await bed.GetPodAsync("web")).Status!.Conditions!.Any(c => c is { Type: "Ready", Status: "True" }), SimulatorTestBed.Wait);
    }

    private static string HeartbeatsPatch(string value)
        => "{\"metadata\":{\"annotations\":{\"" + SimulatorOptions.HeartbeatsAnnotation + "\":" + value + "}}}";

    private static Task<PodCondition> UnschedulableAsync(SimulatorTestBed bed, string name) => Eventually.GetAsync($"{name} Unschedulable", async () =>
    {
        var pod = await bed.GetPodAsync(name);
        Assert.True(string.IsNullOrEmpty(pod.Spec?.NodeName), $"{name} was bound to {pod.Spec?.NodeName}");
        return pod.Status?.Conditions?.FirstOrDefault(c => c is { Type: "PodScheduled", Status: "False", Reason: "Unschedulable" });
    }, SimulatorTestBed.Wait);
}

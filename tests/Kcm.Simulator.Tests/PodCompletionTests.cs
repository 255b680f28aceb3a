using Kcm.Api.Core.V1;
using Kcm.Client;
using Kcm.Testing;

namespace Kcm.Simulator.Tests;

public sealed class PodCompletionTests(EmbeddedServerFixture fixture) : IClassFixture<EmbeddedServerFixture>
{
    [Fact(Timeout = 60_000)]
    public async Task Pod_NeverRestartWithTrue_Succeeds()
    {
        await using var bed = await SimulatorTestBed.StartAsync(fixture);
        await bed.CreatePodAsync("ok", s => Program(s, "Never", ["true"]));

        var pod = await PhaseAsync(bed, "ok", "Succeeded");

        var terminated = Assert.Single(pod.Status!.ContainerStatuses!).State!.Terminated!;
        Assert.Equal((0, "Completed"), (terminated.ExitCode, terminated.Reason));
        Assert.NotNull(terminated.StartedAt);
        Assert.NotNull(terminated.FinishedAt);
        var conditions = pod.Status.Conditions!.ToDictionary(c => c.Type!);
        Assert.Equal(("True", "PodCompleted"), (conditions["Initialized"].Status, conditions["Initialized"].Reason));
        Assert.Equal(("False", "PodCompleted"), (conditions["Ready"].Status, conditions["Ready"].Reason));
        Assert.Equal(("False", "PodCompleted"), (conditions["ContainersReady"].Status, conditions["ContainersReady"].Reason));
    }

    [Fact(Timeout = 60_000)]
    public async Task Pod_NeverRestartWithShellExit_FailsOnceAllContainersEnded()
    {
        await using var bed = await SimulatorTestBed.StartAsync(fixture);
        await bed.CreatePodAsync("bad", s =>
        {
            Program(s, "Never", ["/bin/sh", "-c", "sleep 1; exit 3"]);
            s.Containers!.Add(new Container { Name = "side", Image = "busybox", Command = ["sleep", "2"] });
        });

        var pod = await PhaseAsync(bed, "bad", "Failed");

        var byName = pod.Status!.ContainerStatuses!.ToDictionary(c => c.Name!);
        Assert.Equal((3, "Error"), (byName["web"].State!.Terminated!.ExitCode, byName["web"].State!.Terminated!.Reason));
        Assert.Equal((0, "Completed"), (byName["side"].State!.Terminated!.ExitCode, byName["side"].State!.Terminated!.Reason));
        var ready = pod.Status.Conditions!.Single(c => c.Type == "Ready");
        Assert.Equal(("False", "ContainersNotReady", "containers with unready status: [web side]"), (ready.Status, ready.Reason, ready.Message));
    }

    [Fact(Timeout = 60_000)]
    public async Task Pod_OnFailureWithFalse_RestartsTheContainer()
    {
        await using var bed = await SimulatorTestBed.StartAsync(fixture);
        await bed.CreatePodAsync("crashing", s => Program(s, "OnFailure", ["false"]));

        var pod = await Eventually.GetAsync("a restart", async () =>
        {
            var p = await bed.GetPodAsync("crashing");
            return p.Status?.ContainerStatuses?.SingleOrDefault()?.RestartCount >= 1 ? p : null;
        }, SimulatorTestBed.Wait);

        Assert.Equal("Running", pod.Status!.Phase);
        var container = pod.Status.ContainerStatuses!.Single();
        Assert.Equal((1, "Error"), (container.LastState!.Terminated!.ExitCode, container.LastState.Terminated.Reason));
    }

    [Fact(Timeout = 60_000)]
    public async Task Pod_WithExitAfterAnnotation_EndsWithThatCode()
    {
        await using var bed = await SimulatorTestBed.StartAsync(fixture);
        var pod = SimulatorTestBed.NewPod("annotated", s => s.RestartPolicy = "Never");
        pod.Metadata!.Annotations = new() { [SimulatorOptions.ExitAfterAnnotation] = "300ms:42" };
        await bed.Client.CreateAsync(pod, bed.Namespace);

        var failed = await PhaseAsync(bed, "annotated", "Failed");

        Assert.Equal(42, failed.Status!.ContainerStatuses!.Single().State!.Terminated!.ExitCode);
    }

    [Fact(Timeout = 60_000)]
    public async Task Pod_RunningForGood_StaysRunning()
    {
        await using var bed = await SimulatorTestBed.StartAsync(fixture);
        await bed.CreatePodAsync("server", s => Program(s, "Never", ["nginx", "-g", "daemon off;"]));
        await bed.CreatePodAsync("probe", s => Program(s, "Never", ["true"]));

        await PhaseAsync(bed, "probe", "Succeeded");

        Assert.Equal("Running", (await bed.GetPodAsync("server")).Status!.Phase);
    }

    [Fact(Timeout = 60_000)]
    public async Task FinishedPod_WithFinalizer_StaysTerminatingUntilTheFinalizerIsRemoved()
    {
        await using var bed = await SimulatorTestBed.StartAsync(fixture);
        var pod = SimulatorTestBed.NewPod("tracked", s => Program(s, "Never", ["true"]));
        pod.Metadata!.Finalizers = ["batch.kubernetes.io/job-tracking"];
        await bed.Client.CreateAsync(pod, bed.Namespace);
        await PhaseAsync(bed, "tracked", "Succeeded");

        await bed.Client.DeleteAsync<Pod>(bed.Namespace, "tracked");
        await Eventually.TrueAsync("deletion seen by the kubelet", async () => (await bed.GetPodAsync("tracked")).Metadata!.DeletionGracePeriodSeconds == 0, SimulatorTestBed.Wait);
        await bed.Client.PatchAsync<Pod>(bed.Namespace, "tracked", PatchType.Merge, """{"metadata":{"finalizers":null}}""");

        await bed.GoneAsync("tracked");
    }

    [Fact(Timeout = 60_000)]
    public async Task RunningPod_WithFinalizerDeleted_ReportsKilledContainersAndFails()
    {
        await using var bed = await SimulatorTestBed.StartAsync(fixture);
        var pod = SimulatorTestBed.NewPod("killed", s => Program(s, "Never", ["sleep", "3600"]));
        pod.Metadata!.Finalizers = ["batch.kubernetes.io/job-tracking"];
        await bed.Client.CreateAsync(pod, bed.Namespace);
        await bed.RunningAsync("killed");

        await bed.Client.DeleteAsync<Pod>(bed.Namespace, "killed");

        var failed = await PhaseAsync(bed, "killed", "Failed");
        var terminated = failed.Status!.ContainerStatuses!.Single().State!.Terminated!;
        Assert.Equal((137, "Error"), (terminated.ExitCode, terminated.Reason));
        await bed.Client.PatchAsync<Pod>(bed.Namespace, "killed", PatchType.Merge, """{"metadata":{"finalizers":null}}""");
        await bed.GoneAsync("killed");
    }

    private static void Program(PodSpec spec, string restartPolicy, List<string> command)
    {
        spec.RestartPolicy = restartPolicy;
        spec.Containers![0].Command = command;
    }

    private static Task<Pod> PhaseAsync(SimulatorTestBed bed, string name, string phase) => Eventually.GetAsync($"pod {name} {phase}", async () =>
    {
        var pod = await bed.GetPodAsync(name);
        return pod.Status?.Phase == phase ? pod : null;
    }, SimulatorTestBed.Wait);
}

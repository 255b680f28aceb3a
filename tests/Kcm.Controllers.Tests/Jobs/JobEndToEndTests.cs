using Kcm.Api.Batch.V1;
using Kcm.Api.Core.V1;
using Kcm.Api.Meta.V1;
using Kcm.Client;
using Kcm.Client.Errors;
using Kcm.Controllers.Jobs;
using Kcm.Controllers.Tests.Support;
using Kcm.Controllers.Tests.Workloads;
using Kcm.Controllers.TtlAfterFinished;
using Kcm.Simulator;
using Kcm.Testing;

namespace Kcm.Controllers.Tests.Jobs;

/// <summary>The workload fixture plus the job, ttl-after-finished and garbage collector controllers; the simulated kubelet runs the pods' commands.</summary>
public sealed class JobControllersFixture : WorkloadControllersFixture
{
    protected override IEnumerable<RunController> MoreControllers(ControllerTestHost host)
    {
        var jobs = new JobController(host.Context, new JobControllerOptions());
        var ttl = new TtlAfterFinishedController(host.Context);
        var collector = new Controllers.GarbageCollector.GarbageCollector(host.Context);
        return [ct => jobs.RunAsync(2, ct), ct => ttl.RunAsync(2, ct), ct => collector.RunAsync(2, ct)];
    }
}

/// <summary>Jobs end to end on the test server (embedded or real), their pods run by the node simulator.</summary>
[Collection(WorkloadControllersCollection.Name)]
public sealed class JobEndToEndTests(JobControllersFixture fixture) : IClassFixture<JobControllersFixture>
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(40);

    private KubeApiClient Client => fixture.Host.Client;

    private static Job NewJob(string name, List<string> command, Action<JobSpec>? configure = null)
    {
        var job = new Job
        {
            Metadata = new ObjectMeta { Name = name },
            Spec = new JobSpec
            {
                Template = new PodTemplateSpec
                {
                    Spec = new PodSpec { RestartPolicy = "Never", Containers = [new Container { Name = "main", Image = "busybox:1.36", Command = command }] },
                },
            },
        };
        configure?.Invoke(job.Spec);
        return job;
    }

    private async Task<(string Ns, Job Job)> CreateAsync(Job job)
    {
        var ns = await WorkloadNamespace.CreateAsync(Client, fixture.NamespacePrefix);
        return (ns.Name, await Client.CreateAsync(job, ns.Name));
    }

    private Task<Job> FinishedAsync(string ns, string name) => Eventually.GetAsync($"job {name} finished", async () =>
    {
        var job = await Client.GetAsync<Job>(ns, name);
        return JobConditions.IsFinished(job) ? job : null;
    }, Wait);

    private async Task<List<Pod>> PodsAsync(string ns) => [.. (await Client.ListAsync<Pod>(ns)).Items ?? []];

    [Fact(Timeout = 90_000)]
    public async Task Job_PodsSucceed_CompletesWithServerGeneratedSelector()
    {
        var (ns, created) = await CreateAsync(NewJob("ok", ["sh", "-c", "sleep 0.2; exit 0"], s => (s.Completions, s.Parallelism) = (3, 2)));
        var uid = created.Metadata!.Uid!;
        Assert.Equal(uid, created.Spec!.Selector!.MatchLabels!["controller-uid"]);
        Assert.True(created.Metadata.Annotations!.ContainsKey(JobConditions.TrackingFinalizer));

        var job = await FinishedAsync(ns, "ok");

        var status = job.Status!;
        Assert.Equal(("Complete", 3, 0), (status.Conditions!.Single().Type!, status.Succeeded ?? 0, status.Active ?? 0));
        Assert.NotNull(status.CompletionTime);
        Assert.Empty(status.UncountedTerminatedPods?.Succeeded ?? []);
        var pods = await Eventually.GetAsync("finalizers removed", async () =>
        {
            var list = await PodsAsync(ns);
            return list.Count == 3 && list.All(p => p.Metadata!.Finalizers is not { Count: > 0 }) ? list : null;
        }, Wait);
        Assert.All(pods, p =>
        {
            Assert.Equal("Succeeded", p.Status!.Phase);
            Assert.Equal(("ok", uid), (p.Metadata!.Labels!["job-name"], p.Metadata.Labels["controller-uid"]));
        });
    }

    [Fact(Timeout = 90_000)]
    public async Task Job_PodsFail_FailsAfterBackoffLimit()
    {
        var (ns, _) = await CreateAsync(NewJob("bad", ["false"], s => s.BackoffLimit = 1));

        var job = await FinishedAsync(ns, "bad");

        var condition = job.Status!.Conditions!.Single();
        Assert.Equal(("Failed", "BackoffLimitExceeded", "Job has reached the specified backoff limit"), (condition.Type, condition.Reason, condition.Message));
        Assert.Equal(2, job.Status.Failed);
        Assert.Equal(2, (await PodsAsync(ns)).Count(p => p.Status!.Phase == "Failed"));
    }

    [Fact(Timeout = 90_000)]
    public async Task IndexedJob_EveryIndexCompletes()
    {
        var (ns, _) = await CreateAsync(NewJob("idx", ["true"], s => (s.Completions, s.Parallelism, s.CompletionMode) = (3, 3, "Indexed")));

        var job = await FinishedAsync(ns, "idx");

        Assert.Equal(("Complete", "0-2", 3), (job.Status!.Conditions!.Single().Type!, job.Status.CompletedIndexes!, job.Status.Succeeded ?? 0));
        var pods = await PodsAsync(ns);
        Assert.Equal(["idx-0", "idx-1", "idx-2"], pods.Select(p => p.Spec!.Hostname!).Order());
        Assert.All(pods, p => Assert.StartsWith($"{p.Spec!.Hostname}-", p.Metadata!.Name));
        Assert.All(pods, p => Assert.Equal(p.Spec!.Hostname![^1..], p.Metadata!.Annotations![JobConditions.CompletionIndexAnnotation]));
    }

    [Fact(Timeout = 90_000)]
    public async Task PodFailurePolicy_FailJobOnExitCode_FailsAtOnce()
    {
        var (ns, _) = await CreateAsync(NewJob("pfp", ["sh", "-c", "exit 42"], s => s.PodFailurePolicy = new PodFailurePolicy
        {
            Rules = [new PodFailurePolicyRule { Action = "FailJob", OnExitCodes = new PodFailurePolicyOnExitCodesRequirement { ContainerName = "main", Operator = "In", Values = [42] } }],
        }));

        var job = await FinishedAsync(ns, "pfp");

        var failed = job.Status!.Conditions!.Single(c => c.Type == "Failed");
        Assert.Equal("PodFailurePolicy", failed.Reason);
        Assert.Matches("^Container main for pod .+/pfp-.+ failed with exit code 42 matching FailJob rule at index 0$", failed.Message);
        Assert.Contains(job.Status.Conditions!, c => c.Type == "FailureTarget");
        Assert.Single(await PodsAsync(ns));
    }

    [Fact(Timeout = 90_000)]
    public async Task PodFailurePolicy_IgnoredExitCode_NotCountedAndPodReplaced()
    {
        var (ns, _) = await CreateAsync(NewJob("ignored", ["sh", "-c", "exit 7"], s =>
        {
            s.BackoffLimit = 0;
            s.PodFailurePolicy = new PodFailurePolicy
            {
                Rules = [new PodFailurePolicyRule { Action = "Ignore", OnExitCodes = new PodFailurePolicyOnExitCodesRequirement { Operator = "In", Values = [7] } }],
            };
        }));

        await Eventually.TrueAsync("a failed pod replaced", async () => (await PodsAsync(ns)).Count(p => p.Status?.Phase == "Failed") >= 2, Wait);

        var job = await Client.GetAsync<Job>(ns, "ignored");
        Assert.False(JobConditions.IsFinished(job));
        Assert.Equal(0, job.Status!.Failed ?? 0);
        // Stop the loop of replacements.
        await Client.DeleteAsync<Job>(ns, "ignored", new DeleteOptions { PropagationPolicy = "Background" });
    }

    [Fact(Timeout = 90_000)]
    public async Task SuspendedJob_RunsOnlyOnceResumed()
    {
        var (ns, _) = await CreateAsync(NewJob("later", ["true"], s => s.Suspend = true));
        var suspended = await Eventually.GetAsync("Suspended condition", async () =>
        {
            var j = await Client.GetAsync<Job>(ns, "later");
            return j.Status?.Conditions?.Any(c => c is { Type: "Suspended", Status: "True" }) == true ? j : null;
        }, Wait);
        Assert.Null(suspended.Status!.StartTime);
        Assert.Empty(await PodsAsync(ns));

        await Client.PatchAsync<Job>(ns, "later", PatchType.Merge, """{"spec":{"suspend":false}}""");

        var job = await FinishedAsync(ns, "later");
        Assert.Contains(job.Status!.Conditions!, c => c is { Type: "Suspended", Status: "False", Reason: "JobResumed" });
        Assert.Contains(job.Status.Conditions!, c => c is { Type: "Complete", Status: "True" });
        Assert.NotNull(job.Status.StartTime);
    }

    [Fact(Timeout = 90_000)]
    public async Task FinishedJob_WithTtl_IsDeletedWithItsPods()
    {
        var (ns, _) = await CreateAsync(NewJob("short-lived", ["true"], s => s.TtlSecondsAfterFinished = 1));

        await Eventually.TrueAsync("job deleted", async () =>
        {
            try
            {
                await Client.GetAsync<Job>(ns, "short-lived");
                return false;
            }
            catch (NotFoundException)
            {
                return true;
            }
        }, Wait);
        await Eventually.TrueAsync("pods collected", async () => (await PodsAsync(ns)).Count == 0, Wait);
    }
}

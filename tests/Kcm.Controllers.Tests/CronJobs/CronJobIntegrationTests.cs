using Kcm.Api.Batch.V1;
using Kcm.Api.Core.V1;
using Kcm.Api.Meta.V1;
using Kcm.Client;
using Kcm.Controllers.CronJobs;
using Kcm.Controllers.Tests.Support;
using Kcm.Controllers.Tests.Workloads;
using Kcm.Testing;

namespace Kcm.Controllers.Tests.CronJobs;

/// <summary>
/// The CronJob controller against the test server (embedded, or the real one KCM_TEST_KUBECONFIG names). Its
/// clock is a fake one set ahead of real time, as upstream's integration tests do, so `* * * * *` fires without
/// waiting a real minute; the server still stamps creation times in real time. No Job controller runs: the tests
/// finish Jobs themselves through jobs/status.
/// </summary>
public sealed class CronJobIntegrationTests : IAsyncLifetime
{
    private readonly WorkloadServer _server = new();
    // Half a minute past the next minute: the CronJob created now is due at once when the controller first syncs it.
    private readonly FakeTimeProvider _clock = new(FloorMinute(DateTimeOffset.UtcNow).AddSeconds(90));
    private ControllerTestHost? _host;
    private string _ns = "";

    private KubeApiClient Client => _host!.Client;

    public async Task InitializeAsync()
    {
        await _server.InitializeAsync();
        _host = new ControllerTestHost(_server, DebugFileLoggerProvider.FromEnvironment());
        _ns = await TestNamespaces.CreateAsync(_host.Client, "cronjob");
        var controller = new CronJobController(_host.Context, new CronJobControllerOptions { LocalTimeZone = TimeZoneInfo.Utc }, _clock);
        _host.Start(controller.RunAsync);
    }

    public async Task DisposeAsync()
    {
        if (_host is not null)
        {
            try
            {
                await _host.Client.DeleteAsync<Namespace>(null, _ns);
            }
            catch (Kcm.Client.Errors.NotFoundException)
            {
            }
            await _host.DisposeAsync();
        }
        await _server.DisposeAsync();
    }

    [Fact(Timeout = 90_000)]
    public async Task CronJob_ScheduleTimesPass_JobsCreatedCompletedAndPruned()
    {
        var cronJob = await Client.CreateAsync(new CronJob
        {
            Metadata = new ObjectMeta { Name = "tick" },
            Spec = new CronJobSpec
            {
                Schedule = "* * * * *",
                SuccessfulJobsHistoryLimit = 1,
                JobTemplate = new JobTemplateSpec
                {
                    Metadata = new ObjectMeta { Labels = new() { ["app"] = "tick" }, Annotations = new() { ["team"] = "infra" } },
                    Spec = new JobSpec
                    {
                        Template = new PodTemplateSpec { Spec = new PodSpec { RestartPolicy = "Never", Containers = [new() { Name = "c", Image = "busybox", Command = ["true"] }] } },
                    },
                },
            },
        }, _ns);
        // The first schedule time after creation has passed for the controller: its first sync starts it.
        var first = await FirstScheduleTimeAsync(cronJob);
        var job1 = await Eventually.GetAsync("the first job", () => GetJobAsync(ScheduleTimes.JobName("tick", first)));

        Assert.Equal("tick", job1.Metadata!.Labels!["app"]);
        Assert.Equal("infra", job1.Metadata.Annotations!["team"]);
        var owner = Assert.Single(job1.Metadata.OwnerReferences!);
        Assert.Equal(("batch/v1", "CronJob", "tick", cronJob.Metadata!.Uid, true, true), (owner.ApiVersion, owner.Kind, owner.Name, owner.Uid, owner.Controller, owner.BlockOwnerDeletion));
        var status = await Eventually.GetAsync("the job in status.active", async () =>
        {
            var s = (await Client.GetAsync<CronJob>(_ns, "tick")).Status;
            return s?.Active?.Count == 1 ? s : null;
        });
        Assert.Equal(first, status.LastScheduleTime);
        Assert.Equal((job1.Metadata.Name, job1.Metadata.Uid, "Job", "batch/v1"), (status.Active![0].Name, status.Active[0].Uid, status.Active[0].Kind, status.Active[0].ApiVersion));

        // Finishing it takes it out of status.active; the next sync records the success.
        await CompleteAsync(job1.Metadata.Name!, first.AddSeconds(1), first.AddSeconds(9));
        await Eventually.TrueAsync("lastSuccessfulTime from the first job", async () =>
        {
            var s = (await Client.GetAsync<CronJob>(_ns, "tick")).Status;
            return (s?.Active ?? []).Count == 0 && s?.LastSuccessfulTime == first.AddSeconds(9);
        });

        // A minute later (for the controller) the second one starts; once it succeeds too, the first is pruned.
        var second = first.AddMinutes(1);
        _clock.Advance(TimeSpan.FromMinutes(1));
        await TouchAsync();
        var job2 = await Eventually.GetAsync("the second job", () => GetJobAsync(ScheduleTimes.JobName("tick", second)));
        await CompleteAsync(job2.Metadata!.Name!, second.AddSeconds(1), second.AddSeconds(9));

        await Eventually.TrueAsync("the first job deleted by the history limit", async () => await GetJobAsync(job1.Metadata.Name!) is null);
        Assert.NotNull(await GetJobAsync(job2.Metadata.Name!));
        await Eventually.TrueAsync("lastSuccessfulTime from the second job", async () =>
            (await Client.GetAsync<CronJob>(_ns, "tick")).Status?.LastSuccessfulTime == second.AddSeconds(9));
        var events = (await Client.ListAsync<Event>(_ns)).Items ?? [];
        Assert.Contains(events, e => e.Reason == "SuccessfulDelete" && e.Message == $"Deleted job {job1.Metadata.Name}");
    }

    [Fact(Timeout = 90_000)]
    public async Task CronJob_ForbidWithRunningJob_SkipsUntilItFinishes()
    {
        var cronJob = await Client.CreateAsync(new CronJob
        {
            Metadata = new ObjectMeta { Name = "solo" },
            Spec = new CronJobSpec
            {
                Schedule = "* * * * *",
                ConcurrencyPolicy = "Forbid",
                JobTemplate = new JobTemplateSpec
                {
                    Spec = new JobSpec { Template = new PodTemplateSpec { Spec = new PodSpec { RestartPolicy = "Never", Containers = [new() { Name = "c", Image = "busybox" }] } } },
                },
            },
        }, _ns);
        var first = await FirstScheduleTimeAsync(cronJob);
        await Eventually.GetAsync("the first job", () => GetJobAsync(ScheduleTimes.JobName("solo", first)));
        await Eventually.TrueAsync("the job in status.active", async () => (await Client.GetAsync<CronJob>(_ns, "solo")).Status?.Active?.Count == 1);

        _clock.Advance(TimeSpan.FromMinutes(1));
        await TouchAsync("solo");
        await Eventually.TrueAsync("a JobAlreadyActive event", async () =>
            ((await Client.ListAsync<Event>(_ns)).Items ?? []).Any(e => e.Reason == "JobAlreadyActive" && e.InvolvedObject?.Name == "solo"));
        Assert.Null(await GetJobAsync(ScheduleTimes.JobName("solo", first.AddMinutes(1))));
    }

    /// <summary>
    /// The schedule time after creation. Should the creation have crossed into the minute the clock is in, the clock
    /// moves on and the CronJob is touched (its first sync then found nothing due, so the touch races with nothing).
    /// </summary>
    private async Task<DateTimeOffset> FirstScheduleTimeAsync(CronJob cronJob)
    {
        var first = FloorMinute(cronJob.Metadata!.CreationTimestamp!.Value).AddMinutes(1);
        if (_clock.GetUtcNow() < first)
        {
            _clock.Advance(first.AddSeconds(5) - _clock.GetUtcNow());
            await TouchAsync(cronJob.Metadata.Name!);
        }
        return first;
    }

    private static DateTimeOffset FloorMinute(DateTimeOffset t) => DateTimeOffset.FromUnixTimeSeconds(t.ToUnixTimeSeconds() / 60 * 60);

    /// <summary>Any CronJob change makes the controller sync it now (its own requeue runs on real time).</summary>
    private Task TouchAsync(string name = "tick")
        => Client.PatchAsync<CronJob>(_ns, name, PatchType.Merge, "{\"metadata\":{\"annotations\":{\"test/touched\":\"" + Guid.NewGuid().ToString("N") + "\"}}}");

    private async Task<Job?> GetJobAsync(string name)
    {
        try
        {
            return await Client.GetAsync<Job>(_ns, name);
        }
        catch (Kcm.Client.Errors.NotFoundException)
        {
            return null;
        }
    }

    private Task CompleteAsync(string job, DateTimeOffset started, DateTimeOffset completed)
    {
        static string Format(DateTimeOffset t) => t.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", System.Globalization.CultureInfo.InvariantCulture);
        var patch = new System.Text.Json.Nodes.JsonObject
        {
            ["status"] = new System.Text.Json.Nodes.JsonObject
            {
                ["startTime"] = Format(started),
                ["completionTime"] = Format(completed),
                ["succeeded"] = 1,
                ["conditions"] = new System.Text.Json.Nodes.JsonArray(new System.Text.Json.Nodes.JsonObject
                {
                    ["type"] = "Complete",
                    ["status"] = "True",
                    ["lastProbeTime"] = Format(completed),
                    ["lastTransitionTime"] = Format(completed),
                }),
            },
        };
        return Client.PatchAsync<Job>(_ns, job, PatchType.Merge, patch.ToJsonString(), subresource: "status");
    }
}

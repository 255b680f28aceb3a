using Kcm.Api.Batch.V1;
using Kcm.Controllers.CronJobs;
using Kcm.Runtime.Controllers;
using Kcm.Runtime.Events;

namespace Kcm.Controllers.Tests.CronJobs;

public sealed class CronJobControllerTests
{
    // 10:00:30 UTC on 2026-03-02, a Monday.
    private static readonly DateTimeOffset Created = new(2026, 3, 2, 10, 0, 30, TimeSpan.Zero);
    private static readonly DateTimeOffset TenOhOne = new(2026, 3, 2, 10, 1, 0, TimeSpan.Zero);

    private static string NameAt(DateTimeOffset t, string cronJob = "cj") => $"{cronJob}-{t.ToUnixTimeSeconds() / 60}";

    [Fact]
    public async Task Sync_ScheduleTimePassed_CreatesJobFromTemplateAndRecordsIt()
    {
        using var h = new CronJobHarness(TenOhOne.AddSeconds(5));
        var cronJob = h.AddCronJob("* * * * *", Created);

        var result = await h.SyncAsync();

        var job = Assert.Single(h.Jobs.List());
        Assert.Equal(NameAt(TenOhOne), job.Metadata!.Name);
        Assert.Equal("cj-29540761", job.Metadata.Name);
        Assert.Equal("backup", job.Metadata.Labels!["app"]);
        Assert.Equal("nightly", job.Metadata.Annotations!["note"]);
        var owner = Assert.Single(job.Metadata.OwnerReferences!);
        Assert.Equal(("batch/v1", "CronJob", "cj", "uid-cj", true, true), (owner.ApiVersion, owner.Kind, owner.Name, owner.Uid, owner.Controller, owner.BlockOwnerDeletion));
        Assert.Equal(2, job.Spec!.BackoffLimit);
        Assert.Equal("busybox", job.Spec.Template!.Spec!.Containers![0].Image);

        var status = h.Current().Status!;
        Assert.Equal(TenOhOne, status.LastScheduleTime);
        var reference = Assert.Single(status.Active!);
        Assert.Equal(("Job", "batch/v1", "ns", job.Metadata.Name, job.Metadata.Uid), (reference.Kind, reference.ApiVersion, reference.Namespace, reference.Name, reference.Uid));
        Assert.Contains(h.Events.Events, e => e == (EventTypes.Normal, "SuccessfulCreate", $"Created job {job.Metadata.Name}", "cj"));
        // Next at 10:02:00 plus the 100 ms padding.
        Assert.Equal(ReconcileResult.After(TimeSpan.FromSeconds(55.1)), result);
        Assert.Equal(1, h.Controller.CreationSkew.Count());
        _ = cronJob;
    }

    [Fact]
    public async Task Sync_SameScheduleTimeAgain_DoesNotCreateASecondJob()
    {
        using var h = new CronJobHarness(TenOhOne.AddSeconds(5));
        h.AddCronJob("* * * * *", Created);
        await h.SyncAsync();

        h.Clock.Advance(TimeSpan.FromSeconds(10));
        var result = await h.SyncAsync();

        Assert.Single(h.Jobs.List());
        Assert.Single(h.StatusUpdates);
        Assert.Equal(ReconcileResult.After(TimeSpan.FromSeconds(45.1)), result);
    }

    [Fact]
    public async Task Sync_NothingDueYet_RequeuesJustAfterTheFirstScheduleTime()
    {
        using var h = new CronJobHarness(Created.AddSeconds(10));
        h.AddCronJob("* * * * *", Created);

        var result = await h.SyncAsync();

        Assert.Empty(h.Jobs.List());
        Assert.Empty(h.StatusUpdates);
        Assert.Equal(ReconcileResult.After(TimeSpan.FromSeconds(20.1)), result);
    }

    [Fact]
    public async Task Sync_ForbidWithActiveJob_SkipsTheRunAndSaysSo()
    {
        using var h = new CronJobHarness(TenOhOne.AddMinutes(1).AddSeconds(2));
        var cronJob = h.AddCronJob("* * * * *", Created, c =>
        {
            c.Spec!.ConcurrencyPolicy = "Forbid";
            c.Status!.LastScheduleTime = TenOhOne;
        });
        h.AddJob(cronJob, NameAt(TenOhOne), started: TenOhOne, active: true);

        var result = await h.SyncAsync();

        Assert.Single(h.Jobs.List());
        Assert.Contains(h.Events.Events, e => e == (EventTypes.Normal, "JobAlreadyActive", "Not starting job because prior execution is running and concurrency policy is Forbid", "cj"));
        Assert.Equal(TenOhOne, h.Current().Status!.LastScheduleTime);
        Assert.Equal(ReconcileResult.After(TimeSpan.FromSeconds(58.1)), result);
    }

    [Fact]
    public async Task Sync_ReplaceWithActiveJob_DeletesItAndStartsTheNewOne()
    {
        using var h = new CronJobHarness(TenOhOne.AddMinutes(1).AddSeconds(2));
        var cronJob = h.AddCronJob("* * * * *", Created, c =>
        {
            c.Spec!.ConcurrencyPolicy = "Replace";
            c.Status!.LastScheduleTime = TenOhOne;
        });
        h.AddJob(cronJob, NameAt(TenOhOne), started: TenOhOne, active: true);

        await h.SyncAsync();

        var job = Assert.Single(h.Jobs.List());
        Assert.Equal(NameAt(TenOhOne.AddMinutes(1)), job.Metadata!.Name);
        Assert.Equal([$"get job {NameAt(TenOhOne)}", $"delete job {NameAt(TenOhOne)}", $"create job {job.Metadata.Name}", "update status cj"], h.Calls);
        Assert.Equal([job.Metadata.Name], h.Current().Status!.Active!.Select(r => r.Name));
        Assert.Equal(["SuccessfulDelete", "SuccessfulCreate"], h.Reasons);
    }

    [Fact]
    public async Task Sync_ReplaceButDeleteRefused_FailsWithoutCreating()
    {
        using var h = new CronJobHarness(TenOhOne.AddMinutes(1).AddSeconds(2));
        var cronJob = h.AddCronJob("* * * * *", Created, c =>
        {
            c.Spec!.ConcurrencyPolicy = "Replace";
            c.Status!.LastScheduleTime = TenOhOne;
        });
        h.AddJob(cronJob, NameAt(TenOhOne), started: TenOhOne, active: true);
        h.Fail = call => call.StartsWith("delete", StringComparison.Ordinal) ? new InvalidOperationException("boom") : null;

        var e = await Assert.ThrowsAsync<CronJobSyncException>(() => h.SyncAsync());

        Assert.Equal($"could not replace job ns/{NameAt(TenOhOne)}", e.Message);
        Assert.DoesNotContain(h.Calls, c => c.StartsWith("create", StringComparison.Ordinal));
        Assert.Contains(h.Events.Events, ev => ev == (EventTypes.Warning, "FailedDelete", "Deleted job: boom", "cj"));
    }

    [Fact]
    public async Task Sync_AllowWithActiveJob_RunsConcurrently()
    {
        using var h = new CronJobHarness(TenOhOne.AddMinutes(1).AddSeconds(2));
        var cronJob = h.AddCronJob("* * * * *", Created, c => c.Status!.LastScheduleTime = TenOhOne);
        h.AddJob(cronJob, NameAt(TenOhOne), started: TenOhOne, active: true);

        await h.SyncAsync();

        Assert.Equal(2, h.Jobs.List().Count);
        Assert.Equal([NameAt(TenOhOne), NameAt(TenOhOne.AddMinutes(1))], h.Current().Status!.Active!.Select(r => r.Name));
        Assert.Equal(TenOhOne.AddMinutes(1), h.Current().Status!.LastScheduleTime);
    }

    [Fact]
    public async Task Sync_Suspended_StartsNothingAndDoesNotRequeue()
    {
        using var h = new CronJobHarness(TenOhOne.AddSeconds(5));
        h.AddCronJob("* * * * *", Created, c => c.Spec!.Suspend = true);

        var result = await h.SyncAsync();

        Assert.Empty(h.Jobs.List());
        Assert.Equal(ReconcileResult.Done, result);
    }

    [Fact]
    public async Task Sync_HistoryLimits_DeletesOldestFinishedJobsBeyondThem()
    {
        using var h = new CronJobHarness(Created.AddSeconds(10));
        var cronJob = h.AddCronJob("* * * * *", Created, c =>
        {
            c.Spec!.SuccessfulJobsHistoryLimit = 1;
            c.Spec.FailedJobsHistoryLimit = 1;
        });
        var t0 = Created.AddHours(-3);
        h.AddJob(cronJob, "ok-b", started: t0.AddMinutes(1), finished: "Complete", completed: t0.AddMinutes(2));
        h.AddJob(cronJob, "ok-a", started: t0.AddMinutes(1), finished: "Complete", completed: t0.AddMinutes(2));
        h.AddJob(cronJob, "ok-new", started: t0.AddMinutes(30), finished: "Complete", completed: t0.AddMinutes(31));
        h.AddJob(cronJob, "ok-nostart", finished: "Complete", completed: t0);
        h.AddJob(cronJob, "bad-old", started: t0, finished: "Failed");
        h.AddJob(cronJob, "bad-new", started: t0.AddMinutes(5), finished: "Failed");
        h.AddJob(cronJob, "running", started: t0);

        await h.SyncAsync();

        Assert.Equal(["delete job ok-a", "delete job ok-b", "delete job ok-new", "delete job bad-old"], h.Calls.Where(c => c.StartsWith("delete", StringComparison.Ordinal)));
        Assert.Equal(["bad-new", "ok-nostart", "running"], h.Jobs.List().Select(j => j.Metadata!.Name).Order(StringComparer.Ordinal));
        Assert.Equal(4, h.Reasons.Count(r => r == "SuccessfulDelete"));
        Assert.Equal(t0.AddMinutes(31), h.Current().Status!.LastSuccessfulTime);
    }

    [Fact]
    public async Task Sync_NoHistoryLimits_KeepsEveryFinishedJob()
    {
        using var h = new CronJobHarness(Created.AddSeconds(10));
        var cronJob = h.AddCronJob("* * * * *", Created);
        h.AddJob(cronJob, "a", started: Created, finished: "Complete", completed: Created);
        h.AddJob(cronJob, "b", started: Created, finished: "Failed");

        await h.SyncAsync();

        Assert.DoesNotContain(h.Calls, c => c.StartsWith("delete", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Sync_TimeZone_SchedulesOnThatZonesWallClock()
    {
        // 09:00 in Tokyo is 00:00 UTC; the controller's own zone is UTC.
        var midnightUtc = new DateTimeOffset(2026, 3, 3, 0, 0, 0, TimeSpan.Zero);
        using var h = new CronJobHarness(midnightUtc.AddSeconds(30));
        h.AddCronJob("0 9 * * *", Created, c => c.Spec!.TimeZone = "Asia/Tokyo");
        h.AddCronJob("0 9 * * *", Created, name: "utc");

        var tokyo = await h.SyncAsync();
        var utc = await h.SyncAsync("utc");

        Assert.Equal([NameAt(midnightUtc)], h.Jobs.List().Select(j => j.Metadata!.Name));
        Assert.Equal(ReconcileResult.After(TimeSpan.FromDays(1) - TimeSpan.FromSeconds(30) + TimeSpan.FromMilliseconds(100)), tokyo);
        Assert.Equal(ReconcileResult.After(TimeSpan.FromHours(9) - TimeSpan.FromSeconds(30) + TimeSpan.FromMilliseconds(100)), utc);
    }

    [Fact]
    public async Task Sync_TimeZoneGateOff_IgnoresSpecTimeZone()
    {
        var midnightUtc = new DateTimeOffset(2026, 3, 3, 0, 0, 0, TimeSpan.Zero);
        using var h = new CronJobHarness(midnightUtc.AddSeconds(30), timeZoneEnabled: false);
        h.AddCronJob("0 9 * * *", Created, c => c.Spec!.TimeZone = "Asia/Tokyo");

        await h.SyncAsync();

        Assert.Empty(h.Jobs.List());
    }

    [Fact]
    public async Task Sync_LocalZone_FollowedBySchedulesWithoutTimeZone()
    {
        var tokyo = TimeZoneInfo.FindSystemTimeZoneById("Asia/Tokyo");
        var midnightUtc = new DateTimeOffset(2026, 3, 3, 0, 0, 0, TimeSpan.Zero);
        using var h = new CronJobHarness(midnightUtc.AddSeconds(30), localZone: tokyo);
        h.AddCronJob("0 9 * * *", Created);

        await h.SyncAsync();

        Assert.Equal([NameAt(midnightUtc)], h.Jobs.List().Select(j => j.Metadata!.Name));
    }

    [Fact]
    public async Task Sync_UnknownTimeZone_WarnsAndStartsNothing()
    {
        using var h = new CronJobHarness(TenOhOne.AddSeconds(5));
        h.AddCronJob("* * * * *", Created, c => c.Spec!.TimeZone = "Mars/Olympus_Mons");

        var result = await h.SyncAsync();

        Assert.Empty(h.Jobs.List());
        Assert.Equal(ReconcileResult.Done, result);
        Assert.Equal([(EventTypes.Warning, "UnknownTimeZone", "invalid timeZone: \"Mars/Olympus_Mons\": unknown time zone Mars/Olympus_Mons", "cj")], h.Events.Events);
    }

    [Fact]
    public async Task Sync_TzInSchedule_WarnsButRuns()
    {
        using var h = new CronJobHarness(TenOhOne.AddSeconds(5));
        h.AddCronJob("CRON_TZ=Asia/Tokyo * * * * *", Created);

        await h.SyncAsync();

        Assert.Single(h.Jobs.List());
        Assert.Equal("UnsupportedSchedule", h.Reasons.First());
    }

    [Theory]
    [InlineData(10, false)]
    [InlineData(30, true)]
    public async Task Sync_StartingDeadline_OnlyStartsTimesWithinIt(long deadlineSeconds, bool starts)
    {
        var tenOClock = new DateTimeOffset(2026, 3, 2, 10, 0, 0, TimeSpan.Zero);
        using var h = new CronJobHarness(tenOClock.AddSeconds(20));
        h.AddCronJob("0 * * * *", tenOClock.AddHours(-2), c => c.Spec!.StartingDeadlineSeconds = deadlineSeconds);

        var result = await h.SyncAsync();

        Assert.Equal(starts ? [NameAt(tenOClock)] : [], h.Jobs.List().Select(j => j.Metadata!.Name));
        Assert.Equal(ReconcileResult.After(TimeSpan.FromMinutes(60) - TimeSpan.FromSeconds(20) + TimeSpan.FromMilliseconds(100)), result);
    }

    [Fact]
    public async Task Sync_TooManyMissedStartTimes_WarnsAndStartsTheLatest()
    {
        using var h = new CronJobHarness(TenOhOne.AddMinutes(200).AddSeconds(1));
        h.AddCronJob("* * * * *", Created);

        await h.SyncAsync();

        Assert.Equal([NameAt(TenOhOne.AddMinutes(200))], h.Jobs.List().Select(j => j.Metadata!.Name));
        Assert.Contains(h.Events.Events, e => e == (EventTypes.Warning, "TooManyMissedTimes", "too many missed start times: 201. Set or decrease .spec.startingDeadlineSeconds or check clock skew", "cj"));
    }

    [Fact]
    public async Task Sync_HundredMissedStartTimes_NoWarning()
    {
        using var h = new CronJobHarness(TenOhOne.AddMinutes(99).AddSeconds(1));
        h.AddCronJob("* * * * *", Created);

        await h.SyncAsync();

        Assert.DoesNotContain("TooManyMissedTimes", h.Reasons);
        Assert.Single(h.Jobs.List());
    }

    [Fact]
    public async Task Sync_ActiveJobCompleted_RemovedFromActiveThenCountsAsLastSuccess()
    {
        using var h = new CronJobHarness(TenOhOne.AddSeconds(50));
        var cronJob = h.AddCronJob("* * * * *", Created, c => c.Status!.LastScheduleTime = TenOhOne);
        h.AddJob(cronJob, NameAt(TenOhOne), started: TenOhOne, finished: "Complete", completed: TenOhOne.AddSeconds(40), active: true);

        await h.SyncAsync();
        Assert.Empty(h.Current().Status!.Active ?? []);
        Assert.Null(h.Current().Status!.LastSuccessfulTime);
        Assert.Contains(h.Events.Events, e => e == (EventTypes.Normal, "SawCompletedJob", $"Saw completed job: {NameAt(TenOhOne)}, status: Complete", "cj"));

        await h.SyncAsync();
        Assert.Equal(TenOhOne.AddSeconds(40), h.Current().Status!.LastSuccessfulTime);
    }

    [Fact]
    public async Task Sync_ActiveJobGoneFromApi_RemovedWithMissingJobEvent()
    {
        using var h = new CronJobHarness(TenOhOne.AddSeconds(50));
        h.AddCronJob("* * * * *", Created, c =>
        {
            c.Status!.LastScheduleTime = TenOhOne;
            c.Status.Active = [new() { Kind = "Job", ApiVersion = "batch/v1", Namespace = "ns", Name = "gone", Uid = "uid-gone" }];
        });

        await h.SyncAsync();

        Assert.Empty(h.Current().Status!.Active ?? []);
        Assert.Equal([(EventTypes.Normal, "MissingJob", "Active job went missing: gone", "cj")], h.Events.Events);
    }

    [Fact]
    public async Task Sync_ActiveJobOnlyInApi_KeptActive()
    {
        using var h = new CronJobHarness(TenOhOne.AddSeconds(50));
        h.AddCronJob("* * * * *", Created, c =>
        {
            c.Status!.LastScheduleTime = TenOhOne;
            c.Status.Active = [new() { Kind = "Job", Namespace = "ns", Name = "slow", Uid = "uid-slow" }];
        });
        h.ApiOnlyJobs["slow"] = new Job { Metadata = new() { Name = "slow", Namespace = "ns", Uid = "uid-slow" } };

        await h.SyncAsync();

        Assert.Empty(h.StatusUpdates);
        Assert.Empty(h.Events.Events);
    }

    [Fact]
    public async Task Sync_UnfinishedJobNotInActiveList_WarnsUnexpectedJob()
    {
        using var h = new CronJobHarness(TenOhOne.AddSeconds(50));
        var cronJob = h.AddCronJob("* * * * *", Created, c => c.Status!.LastScheduleTime = TenOhOne);
        h.AddJob(cronJob, "stray", started: TenOhOne);

        await h.SyncAsync();

        Assert.Contains(h.Events.Events, e => e == (EventTypes.Warning, "UnexpectedJob", "Saw a job that the controller did not create or forgot: stray", "cj"));
        Assert.Contains("get cronjob cj", h.Calls);
    }

    [Theory]
    [InlineData("* * * *", "UnparseableSchedule", "unparseable schedule: \"* * * *\" : expected exactly 5 fields, found 4: [* * * *]")]
    [InlineData("0 0 30 2 *", "InvalidSchedule", "invalid schedule: 0 0 30 2 * : time difference between two schedules less than 1 second")]
    public async Task Sync_BadSchedule_WarnsAndWaitsForASpecChange(string schedule, string reason, string message)
    {
        using var h = new CronJobHarness(TenOhOne.AddSeconds(5));
        h.AddCronJob(schedule, Created);

        var result = await h.SyncAsync();

        Assert.Equal(ReconcileResult.Done, result);
        Assert.Equal([(EventTypes.Warning, reason, message, "cj")], h.Events.Events);
    }

    [Fact]
    public async Task Sync_JobAlreadyExists_FailsForRetryWithoutEvent()
    {
        using var h = new CronJobHarness(TenOhOne.AddSeconds(5));
        var cronJob = h.AddCronJob("* * * * *", Created);
        h.AddJob(cronJob, NameAt(TenOhOne), started: TenOhOne, finished: "Complete", completed: TenOhOne);

        await Assert.ThrowsAsync<Kcm.Client.Errors.AlreadyExistsException>(() => h.SyncAsync());

        Assert.DoesNotContain("SuccessfulCreate", h.Reasons);
    }

    [Fact]
    public async Task Sync_CreateRefused_WarnsFailedCreate()
    {
        using var h = new CronJobHarness(TenOhOne.AddSeconds(5));
        h.AddCronJob("* * * * *", Created);
        h.Fail = call => call.StartsWith("create", StringComparison.Ordinal) ? new InvalidOperationException("quota exceeded") : null;

        await Assert.ThrowsAsync<InvalidOperationException>(() => h.SyncAsync());

        Assert.Equal([(EventTypes.Warning, "FailedCreate", "Error creating job: quota exceeded", "cj")], h.Events.Events);
    }

    [Fact]
    public async Task Sync_BeingDeleted_OnlyCleansStatus()
    {
        using var h = new CronJobHarness(TenOhOne.AddSeconds(5));
        h.AddCronJob("* * * * *", Created, c => c.Metadata!.DeletionTimestamp = TenOhOne);

        var result = await h.SyncAsync();

        Assert.Empty(h.Jobs.List());
        Assert.Equal(ReconcileResult.Done, result);
    }

    [Fact]
    public async Task Sync_CronJobGone_Done()
    {
        using var h = new CronJobHarness(TenOhOne);

        Assert.Equal(ReconcileResult.Done, await h.SyncAsync("nope"));
    }

    [Fact]
    public void OnJobAdded_OwnedJob_EnqueuesItsCronJob_OtherOwnersIgnored()
    {
        using var h = new CronJobHarness(TenOhOne);
        var cronJob = h.AddCronJob("* * * * *", Created);
        var job = h.AddJob(cronJob, "j");
        var stranger = new Job { Metadata = new() { Name = "x", Namespace = "ns", OwnerReferences = [new() { Kind = "CronJob", Name = "cj", Uid = "other-uid", Controller = true }] } };

        h.Controller.OnJobAdded(stranger);
        Assert.Equal(0, h.Queue.Count);
        h.Controller.OnJobAdded(job);
        Assert.Equal(1, h.Queue.Count);
    }

    [Fact]
    public void OnCronJobUpdated_ScheduleChanged_RequeuesAtTheNewNextTime()
    {
        using var h = new CronJobHarness(TenOhOne.AddSeconds(5));
        var old = h.AddCronJob("0 * * * *", Created);
        var changed = Kcm.Controllers.Common.KubeObjects.Clone(old);
        changed.Spec!.Schedule = "* * * * *";

        h.Controller.OnCronJobUpdated(old, changed);
        Assert.Equal(0, h.Queue.Count);
        h.Clock.Advance(TimeSpan.FromSeconds(56));
        Assert.Equal(1, h.Queue.Count);
    }

    [Fact]
    public void OnCronJobUpdated_UnparseableNewSchedule_WarnsAndDoesNotQueue()
    {
        using var h = new CronJobHarness(TenOhOne.AddSeconds(5));
        var old = h.AddCronJob("0 * * * *", Created);
        var changed = Kcm.Controllers.Common.KubeObjects.Clone(old);
        changed.Spec!.Schedule = "bogus";

        h.Controller.OnCronJobUpdated(old, changed);

        Assert.Equal(0, h.Queue.Count);
        Assert.Equal([(EventTypes.Warning, "UnParseableCronJobSchedule", "unparseable schedule for cronjob: bogus", "cj")], h.Events.Events);
    }
}

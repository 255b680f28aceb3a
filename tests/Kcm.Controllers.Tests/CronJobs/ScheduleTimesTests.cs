using System.Globalization;
using Kcm.Api.Batch.V1;
using Kcm.Controllers.CronJobs;

namespace Kcm.Controllers.Tests.CronJobs;

public sealed class ScheduleTimesTests
{
    private static DateTimeOffset T(string s) => DateTimeOffset.Parse(s, CultureInfo.InvariantCulture);

    [Theory]
    [InlineData("2026-03-02T10:00:30Z", "2026-03-02T10:00:59Z", null, 0L)]
    [InlineData("2026-03-02T10:00:30Z", "2026-03-02T10:01:00Z", "2026-03-02T10:01:00Z", 1L)]
    [InlineData("2026-03-02T10:00:30Z", "2026-03-02T10:01:59Z", "2026-03-02T10:01:00Z", 1L)]
    [InlineData("2026-03-02T10:00:30Z", "2026-03-02T10:02:00Z", "2026-03-02T10:02:00Z", 2L)]
    [InlineData("2026-03-02T10:00:30Z", "2026-03-02T13:21:10Z", "2026-03-02T13:21:00Z", 201L)]
    public void MostRecent_EveryMinute_LatestTimeAndCount(string earliest, string now, string? expected, long missed)
    {
        var recent = ScheduleTimes.MostRecent(T(earliest), T(now), CronParser.ParseStandard("* * * * *"), TimeZoneInfo.Utc);

        Assert.Equal(expected is null ? null : T(expected), recent.Time);
        Assert.Equal(missed, recent.Missed);
    }

    [Fact]
    public void MostRecent_IrregularSchedule_ExtrapolatesFromTheFirstGapAsUpstream()
    {
        // Weekdays at 09:00 from Thursday: Thu 09:00 and Fri 09:00 are a day apart, so on Sunday the most recent
        // time is extrapolated to Sunday 09:00, which is no activation at all (upstream's arithmetic, kept).
        var recent = ScheduleTimes.MostRecent(T("2026-03-05T08:00:00Z"), T("2026-03-08T10:00:00Z"), CronParser.ParseStandard("0 9 * * 1-5"), TimeZoneInfo.Utc);

        Assert.Equal(T("2026-03-08T09:00:00Z"), recent.Time);
        Assert.Equal(4, recent.Missed);
        Assert.True(recent.InUtc);
    }

    [Fact]
    public void MostRecent_NeverFiring_IsInvalid()
    {
        var e = Assert.Throws<InvalidScheduleException>(() => ScheduleTimes.MostRecent(T("2026-03-05T08:00:00Z"), T("2026-03-09T10:00:00Z"), CronParser.ParseStandard("0 0 31 2 *"), TimeZoneInfo.Utc));

        Assert.Equal("time difference between two schedules less than 1 second", e.Message);
    }

    [Fact]
    public void UntilNext_UsesLastScheduleTimeElseCreation_PlusPadding()
    {
        var cronJob = new CronJob { Metadata = new() { CreationTimestamp = T("2026-03-02T10:00:30Z") }, Status = new() };
        var schedule = CronParser.ParseStandard("*/5 * * * *");

        Assert.Equal(TimeSpan.FromSeconds(270.1), ScheduleTimes.UntilNext(cronJob, schedule, T("2026-03-02T10:00:30Z"), TimeZoneInfo.Utc));
        cronJob.Status.LastScheduleTime = T("2026-03-02T10:05:00Z");
        Assert.Equal(TimeSpan.FromSeconds(240.1), ScheduleTimes.UntilNext(cronJob, schedule, T("2026-03-02T10:06:00Z"), TimeZoneInfo.Utc));
        // Missed ones since: aim after the most recent missed time.
        Assert.Equal(TimeSpan.FromSeconds(240.1), ScheduleTimes.UntilNext(cronJob, schedule, T("2026-03-02T10:16:00Z"), TimeZoneInfo.Utc));
    }

    [Theory]
    [InlineData("* * * * *", null, "* * * * *")]
    [InlineData("* * * * *", "Europe/Paris", "TZ=Europe/Paris * * * * *")]
    [InlineData("* * * * *", "No/Such_Zone", "* * * * *")]
    [InlineData("TZ=UTC * * * * *", "Europe/Paris", "TZ=UTC * * * * *")]
    public void Format_AddsTheTimeZonePrefixOnlyWhenLoadable(string schedule, string? timeZone, string expected)
    {
        Assert.Equal(expected, ScheduleTimes.Format(new CronJob { Spec = new() { Schedule = schedule, TimeZone = timeZone } }));
    }

    [Fact]
    public void JobName_IsMinutesSinceTheEpoch()
    {
        Assert.Equal("hello-29540761", ScheduleTimes.JobName("hello", T("2026-03-02T10:01:00Z")));
    }
}

using System.Globalization;
using Kcm.Controllers.CronJobs;

namespace Kcm.Controllers.Tests.CronJobs;

/// <summary>robfig/cron v3 behaviour (its spec_test.go tables, in five-field form), DST walks included.</summary>
public sealed class CronScheduleTests
{
    private static readonly TimeZoneInfo NewYork = TimeZoneInfo.FindSystemTimeZoneById("America/New_York");

    [Theory]
    // Every fifteen minutes, and starting at 5 past.
    [InlineData("2012-07-09T15:00:00Z", "0/15 * * * *", true)]
    [InlineData("2012-07-09T15:45:00Z", "0/15 * * * *", true)]
    [InlineData("2012-07-09T15:40:00Z", "0/15 * * * *", false)]
    [InlineData("2012-07-09T15:05:00Z", "5/15 * * * *", true)]
    [InlineData("2012-07-09T15:20:00Z", "5/15 * * * *", true)]
    [InlineData("2012-07-09T15:50:00Z", "5/15 * * * *", true)]
    // Named months and days, any case.
    [InlineData("2012-07-15T15:00:00Z", "0/15 * * Jul *", true)]
    [InlineData("2012-07-15T15:00:00Z", "0/15 * * JUN *", false)]
    [InlineData("2012-07-15T08:30:00Z", "30 08 ? Jul Sun", true)]
    [InlineData("2012-07-15T08:30:00Z", "30 08 15 Jul ?", true)]
    [InlineData("2012-07-16T08:30:00Z", "30 08 ? Jul Sun", false)]
    [InlineData("2012-07-16T08:30:00Z", "30 08 15 Jul ?", false)]
    [InlineData("2012-07-16T08:30:00Z", "30 08 * jan-dec mon-FRI", true)]
    // Descriptors.
    [InlineData("2012-07-09T15:00:00Z", "@hourly", true)]
    [InlineData("2012-07-09T15:04:00Z", "@hourly", false)]
    [InlineData("2012-07-09T15:00:00Z", "@daily", false)]
    [InlineData("2012-07-09T00:00:00Z", "@daily", true)]
    [InlineData("2012-07-09T00:00:00Z", "@midnight", true)]
    [InlineData("2012-07-09T00:00:00Z", "@weekly", false)]
    [InlineData("2012-07-08T00:00:00Z", "@weekly", true)]
    [InlineData("2012-07-08T01:00:00Z", "@weekly", false)]
    [InlineData("2012-07-08T00:00:00Z", "@monthly", false)]
    [InlineData("2012-07-01T00:00:00Z", "@monthly", true)]
    [InlineData("2013-01-01T00:00:00Z", "@yearly", true)]
    [InlineData("2013-01-01T00:00:00Z", "@annually", true)]
    [InlineData("2012-07-01T00:00:00Z", "@yearly", false)]
    // Both day fields restricted: either matches.
    [InlineData("2012-07-15T00:00:00Z", "* * 1,15 * Sun", true)]
    [InlineData("2012-06-15T00:00:00Z", "* * 1,15 * Sun", true)]
    [InlineData("2012-08-01T00:00:00Z", "* * 1,15 * Sun", true)]
    [InlineData("2012-07-09T00:00:00Z", "* * 1-31 * Sun", true)]
    [InlineData("2012-07-15T00:00:00Z", "* * */10 * Sun", true)] // a stepped star restricts (robfig #70)
    // One of them a star: both must match.
    [InlineData("2012-07-15T00:00:00Z", "* * * * Mon", false)]
    [InlineData("2012-07-09T00:00:00Z", "* * 1,15 * *", false)]
    [InlineData("2012-07-15T00:00:00Z", "* * 1,15 * *", true)]
    [InlineData("2012-07-15T00:00:00Z", "* * */2 * Sun", true)]
    [InlineData("2012-07-15T00:00:00Z", "* * */1 * Mon", false)]
    // Lists, ranges with steps, duplicated and empty list items.
    [InlineData("2012-07-09T10:20:00Z", "5,20-40/10 9-17 * * *", true)]
    [InlineData("2012-07-09T10:25:00Z", "5,20-40/10 9-17 * * *", false)]
    [InlineData("2012-07-09T18:20:00Z", "5,20-40/10 9-17 * * *", false)]
    [InlineData("2012-07-09T10:05:00Z", "5,,5 * * * *", true)]
    public void Next_OneSecondBefore_ActivatesExactlyWhenTheSpecMatches(string time, string spec, bool expected)
    {
        var schedule = CronParser.ParseStandard(spec);
        var at = DateTimeOffset.Parse(time, CultureInfo.InvariantCulture);

        var next = schedule.Next(at.AddSeconds(-1), TimeZoneInfo.Utc);

        Assert.Equal(expected, next == at);
    }

    [Theory]
    [InlineData("2012-07-09T14:45:00Z", "0/15 * * * *", "2012-07-09T15:00:00Z")]
    [InlineData("2012-07-09T14:59:00Z", "0/15 * * * *", "2012-07-09T15:00:00Z")]
    [InlineData("2012-07-09T14:59:59Z", "0/15 * * * *", "2012-07-09T15:00:00Z")]
    [InlineData("2012-07-09T14:59:59.999Z", "0/15 * * * *", "2012-07-09T15:00:00Z")]
    [InlineData("2012-07-09T15:45:00Z", "20-35/15 * * * *", "2012-07-09T16:20:00Z")]
    [InlineData("2012-07-09T23:46:00Z", "*/15 * * * *", "2012-07-10T00:00:00Z")]
    [InlineData("2012-07-09T23:45:00Z", "20-35/15 * * * *", "2012-07-10T00:20:00Z")]
    [InlineData("2012-07-09T23:35:51Z", "20-35/15 1/2 * * *", "2012-07-10T01:20:00Z")]
    [InlineData("2012-07-09T23:35:51Z", "20-35/15 10-12 * * *", "2012-07-10T10:20:00Z")]
    [InlineData("2012-07-09T23:35:51Z", "20-35/15 1/2 */2 * *", "2012-07-11T01:20:00Z")]
    [InlineData("2012-07-09T23:35:51Z", "20-35/15 * 9-20 * *", "2012-07-10T00:20:00Z")]
    [InlineData("2012-07-09T23:35:51Z", "20-35/15 * 9-20 Jul *", "2012-07-10T00:20:00Z")]
    // Wrapping months and years; DOM and DOW together.
    [InlineData("2012-07-09T23:35:00Z", "0 0 9 Apr-Oct ?", "2012-08-09T00:00:00Z")]
    [InlineData("2012-07-09T23:35:00Z", "0 0 */5 Apr,Aug,Oct Mon", "2012-08-01T00:00:00Z")]
    [InlineData("2012-07-09T23:35:00Z", "0 0 */5 Oct Mon", "2012-10-01T00:00:00Z")]
    [InlineData("2012-07-09T23:35:00Z", "0 0 * Feb Mon", "2013-02-04T00:00:00Z")]
    [InlineData("2012-07-09T23:35:00Z", "0 0 * Feb Mon/2", "2013-02-01T00:00:00Z")]
    [InlineData("2012-12-31T23:59:45Z", "* * * * *", "2013-01-01T00:00:00Z")]
    // Leap day.
    [InlineData("2012-07-09T23:35:00Z", "0 0 29 Feb ?", "2016-02-29T00:00:00Z")]
    [InlineData("2026-12-06T04:05:00Z", "0 0 29 2 *", "2028-02-29T00:00:00Z")]
    public void Next_InUtc_IsTheFollowingActivation(string from, string spec, string expected)
    {
        var schedule = CronParser.ParseStandard(spec);

        var next = schedule.Next(DateTimeOffset.Parse(from, CultureInfo.InvariantCulture), TimeZoneInfo.Utc);

        Assert.Equal(DateTimeOffset.Parse(expected, CultureInfo.InvariantCulture), next);
    }

    [Theory]
    [InlineData("0 0 30 Feb ?")]
    [InlineData("0 0 31 Apr ?")]
    [InlineData("0 , * * *")]
    public void Next_Unsatisfiable_IsGoZeroTime(string spec)
    {
        var next = CronParser.ParseStandard(spec).Next(DateTimeOffset.Parse("2012-07-09T23:35:00Z", CultureInfo.InvariantCulture), TimeZoneInfo.Utc);

        Assert.Equal(GoTime.Zero, next);
    }

    [Theory]
    // Spring forward in New York (02:00 EST -> 03:00 EDT): the skipped 02:30 waits a year; hourly jobs skip 02:00.
    [InlineData("2012-03-11T00:00:00-0500", "TZ=America/New_York 30 2 11 Mar ?", "2013-03-11T02:30:00-0400")]
    [InlineData("2012-03-11T00:00:00-0500", "TZ=America/New_York 0 * * * ?", "2012-03-11T01:00:00-0500")]
    [InlineData("2012-03-11T01:00:00-0500", "TZ=America/New_York 0 * * * ?", "2012-03-11T03:00:00-0400")]
    [InlineData("2012-03-11T03:00:00-0400", "TZ=America/New_York 0 * * * ?", "2012-03-11T04:00:00-0400")]
    [InlineData("2012-03-11T01:00:00-0500", "CRON_TZ=America/New_York 0 * * * ?", "2012-03-11T03:00:00-0400")]
    [InlineData("2012-03-11T00:00:00-0500", "TZ=America/New_York 0 1 * * ?", "2012-03-11T01:00:00-0500")]
    [InlineData("2012-03-11T01:00:00-0500", "TZ=America/New_York 0 1 * * ?", "2012-03-12T01:00:00-0400")]
    [InlineData("2012-03-11T00:00:00-0500", "TZ=America/New_York 0 2 * * ?", "2012-03-12T02:00:00-0400")]
    // Fall back (02:00 EDT -> 01:00 EST): 01:xx happens twice, and so does a job at 1am.
    [InlineData("2012-11-04T00:00:00-0400", "TZ=America/New_York 30 2 04 Nov ?", "2012-11-04T02:30:00-0500")]
    [InlineData("2012-11-04T01:45:00-0400", "TZ=America/New_York 30 1 04 Nov ?", "2012-11-04T01:30:00-0500")]
    [InlineData("2012-11-04T00:00:00-0400", "TZ=America/New_York 0 * * * ?", "2012-11-04T01:00:00-0400")]
    [InlineData("2012-11-04T01:00:00-0400", "TZ=America/New_York 0 * * * ?", "2012-11-04T01:00:00-0500")]
    [InlineData("2012-11-04T01:00:00-0500", "TZ=America/New_York 0 * * * ?", "2012-11-04T02:00:00-0500")]
    [InlineData("2012-11-04T00:00:00-0400", "TZ=America/New_York 0 1 * * ?", "2012-11-04T01:00:00-0400")]
    [InlineData("2012-11-04T01:00:00-0400", "TZ=America/New_York 0 1 * * ?", "2012-11-04T01:00:00-0500")]
    [InlineData("2012-11-04T01:00:00-0500", "TZ=America/New_York 0 1 * * ?", "2012-11-05T01:00:00-0500")]
    [InlineData("2012-11-04T00:00:00-0400", "TZ=America/New_York 0 2 * * ?", "2012-11-04T02:00:00-0500")]
    [InlineData("2012-11-04T02:00:00-0500", "TZ=America/New_York 0 2 * * ?", "2012-11-05T02:00:00-0500")]
    [InlineData("2012-11-04T00:00:00-0400", "TZ=America/New_York 0 3 * * ?", "2012-11-04T03:00:00-0500")]
    [InlineData("2012-11-04T03:00:00-0500", "TZ=America/New_York 0 3 * * ?", "2012-11-05T03:00:00-0500")]
    [InlineData("2012-11-04T00:00:00-0400", "TZ=America/New_York 0 3 3 * ?", "2012-12-03T03:00:00-0500")]
    // Sao Paulo's DST started at midnight, so that midnight did not exist (robfig issue 157).
    [InlineData("2018-10-17T05:00:00-0400", "TZ=America/Sao_Paulo 0 9 10 * ?", "2018-11-10T06:00:00-0500")]
    [InlineData("2018-02-14T05:00:00-0500", "TZ=America/Sao_Paulo 0 9 22 * ?", "2018-02-22T07:00:00-0500")]
    public void Next_WithTimeZonePrefix_WalksOverDstAsRobfig(string from, string spec, string expected)
    {
        var next = CronParser.ParseStandard(spec).Next(GoTimeString(from), TimeZoneInfo.Utc);

        Assert.Equal(GoTimeString(expected), next);
    }

    [Theory]
    [InlineData("2012-11-04T00:00:00-0400", "0 * * * ?", "2012-11-04T01:00:00-0400")]
    [InlineData("2012-11-04T01:00:00-0400", "0 * * * ?", "2012-11-04T01:00:00-0500")]
    [InlineData("2012-11-04T01:00:00-0400", "0 1 * * ?", "2012-11-04T01:00:00-0500")]
    [InlineData("2012-11-04T00:00:00-0400", "0 2 * * ?", "2012-11-04T02:00:00-0500")]
    [InlineData("2012-03-11T00:00:00-0500", "0 2 * * ?", "2012-03-12T02:00:00-0400")]
    public void Next_WithoutTimeZone_ReadsWallClocksInTheGivenZone(string from, string spec, string expected)
    {
        var next = CronParser.ParseStandard(spec).Next(GoTimeString(from), NewYork);

        Assert.Equal(GoTimeString(expected), next);
    }

    [Fact]
    public void Next_WithoutTimeZone_FixedOffsetZone_MatchesItsWallClock()
    {
        var india = TimeZoneInfo.CreateCustomTimeZone("fixed+0530", TimeSpan.FromMinutes(330), "fixed", "fixed");
        var schedule = CronParser.ParseStandard("14 14 * * *");

        Assert.Equal(GoTimeString("2016-01-03T14:14:00+0530"), schedule.Next(GoTimeString("2016-01-03T13:09:03+0530"), india));
        Assert.Equal(GoTimeString("2016-01-03T14:14:00+0530"), schedule.Next(GoTimeString("2016-01-03T04:09:03+0530"), india));
    }

    [Theory]
    [InlineData("@every 1h", 3600)]
    [InlineData("@every 90s", 90)]
    [InlineData("@every 1.5m", 90)]
    [InlineData("@every 1h30m", 5400)]
    [InlineData("@every 1500ms", 1)]
    [InlineData("@every 10ns", 1)]
    [InlineData("TZ=UTC @every 2m", 120)]
    public void Next_Every_AddsTheDelayOnWholeSeconds(string spec, int seconds)
    {
        var from = DateTimeOffset.Parse("2012-07-09T14:45:00.5Z", CultureInfo.InvariantCulture);

        var next = CronParser.ParseStandard(spec).Next(from, TimeZoneInfo.Utc);

        Assert.Equal(DateTimeOffset.Parse("2012-07-09T14:45:00Z", CultureInfo.InvariantCulture).AddSeconds(seconds), next);
    }

    [Theory]
    [InlineData("", "empty spec string")]
    [InlineData("xyz", "expected exactly 5 fields, found 1: [xyz]")]
    [InlineData("* * * * * *", "expected exactly 5 fields, found 6: [* * * * * *]")]
    [InlineData("60 0 * * *", "end of range (60) above maximum (59): 60")]
    [InlineData("0 24 * * *", "end of range (24) above maximum (23): 24")]
    [InlineData("0 0 0 * *", "beginning of range (0) below minimum (1): 0")]
    [InlineData("0 0 * 13 *", "end of range (13) above maximum (12): 13")]
    [InlineData("0 0 * * 7", "end of range (7) above maximum (6): 7")]
    [InlineData("0 0 * * XYZ", "failed to parse int from XYZ: strconv.Atoi: parsing \"XYZ\": invalid syntax")]
    [InlineData("5-1 * * * *", "beginning of range (5) beyond end of range (1): 5-1")]
    [InlineData("1-2-3 * * * *", "too many hyphens: 1-2-3")]
    [InlineData("*/2/3 * * * *", "too many slashes: */2/3")]
    [InlineData("-1 * * * *", "failed to parse int from : strconv.Atoi: parsing \"\": invalid syntax")]
    [InlineData("TZ=America/New_York 15/0 * * * *", "step of range should be a positive number: 15/0")]
    [InlineData("@fortnightly", "unrecognized descriptor: @fortnightly")]
    [InlineData("@daily ", "unrecognized descriptor: @daily ")]
    [InlineData("@every 1d", "failed to parse duration @every 1d: time: unknown unit \"d\" in duration \"1d\"")]
    [InlineData("@every 5", "failed to parse duration @every 5: time: missing unit in duration \"5\"")]
    [InlineData("TZ=Mars/Olympus * * * * *", "provided bad location Mars/Olympus: unknown time zone Mars/Olympus")]
    [InlineData("TZ=UTC", "provided bad location UTC: no schedule after the time zone")]
    public void ParseStandard_Invalid_FailsWithRobfigsMessage(string spec, string message)
    {
        var e = Assert.Throws<CronParseException>(() => CronParser.ParseStandard(spec));

        Assert.Equal(message, e.Message);
    }

    [Fact]
    public void ParseStandard_TimeZonePrefix_SetsTheScheduleZone()
    {
        var schedule = Assert.IsType<SpecSchedule>(CronParser.ParseStandard("CRON_TZ=Asia/Tokyo 0 9 * * *"));

        Assert.Equal("Asia/Tokyo", schedule.Location!.Id);
        Assert.Null(Assert.IsType<SpecSchedule>(CronParser.ParseStandard("0 9 * * *")).Location);
        Assert.Equal(TimeZoneInfo.Utc, Assert.IsType<SpecSchedule>(CronParser.ParseStandard("TZ= 0 9 * * *")).Location);
    }

    [Theory]
    [InlineData("Europe/Berlin", true)]
    [InlineData("UTC", true)]
    [InlineData("", true)]
    [InlineData("Local", true)]
    [InlineData("europe/berlin", false)]
    [InlineData("Pacific Standard Time", false)]
    [InlineData("../etc/passwd", false)]
    [InlineData("/usr/share/zoneinfo/UTC", false)]
    public void LoadLocation_FollowsGoNamingRules(string name, bool valid)
    {
        if (valid)
        {
            GoTime.LoadLocation(name);
        }
        else
        {
            Assert.Throws<GoTimeException>(() => GoTime.LoadLocation(name));
        }
    }

    private static DateTimeOffset GoTimeString(string value)
        => DateTimeOffset.ParseExact(value[..^2] + ":" + value[^2..], "yyyy-MM-dd'T'HH:mm:sszzz", CultureInfo.InvariantCulture);
}

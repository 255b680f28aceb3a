using Kcm.Api.Batch.V1;

namespace Kcm.Controllers.CronJobs;

/// <summary>The schedule time a sync acts on and how many were missed since the last one (upstream's getMostRecentScheduleTime).</summary>
/// <param name="InUtc">
/// Upstream computes a time past the first missed one arithmetically and returns it in UTC, while the first missed
/// one keeps the zone of its input; a zone-less schedule then reads wall clocks in that zone.
/// </param>
public readonly record struct MostRecentSchedule(DateTimeOffset? Time, long Missed, bool InUtc);

/// <summary>
/// Schedule arithmetic of upstream's CronJob controller (utils.go): the most recent unmet schedule time between the
/// last scheduled (or creation) time and now, and when to look again. Upstream's times are in the controller
/// manager's local zone (metav1.Time decodes to time.Local), which is what a zone-less schedule follows;
/// <paramref name="localZone"/> parameters stand for it.
/// </summary>
public static class ScheduleTimes
{
    /// <summary>Requeue padding after a schedule time, against small clock skews (upstream nextScheduleDelta).</summary>
    public static readonly TimeSpan NextScheduleDelta = TimeSpan.FromMilliseconds(100);

    /// <summary>Past this many missed start times the controller warns (TooManyMissedTimes), but still starts the latest.</summary>
    public const long TooManyMissed = 100;

    /// <summary>
    /// The latest schedule time in (earliest, now], with how many there were. Beyond the first two, times are
    /// extrapolated from the gap between them, exactly as upstream does (for irregular schedules the result need not
    /// be an actual activation). A schedule whose next two activations are less than a second apart (or absent) is
    /// invalid.
    /// </summary>
    public static MostRecentSchedule MostRecent(DateTimeOffset earliest, DateTimeOffset now, ICronSchedule schedule, TimeZoneInfo localZone)
    {
        var t1 = schedule.Next(earliest, localZone);
        var t2 = t1 == GoTime.Zero ? GoTime.Zero : schedule.Next(t1, localZone);
        if (now < t1)
        {
            return new(null, 0, false);
        }
        if (now < t2)
        {
            return new(t1, 1, false);
        }
        var between = (long)Math.Round((t2 - t1).TotalSeconds, MidpointRounding.AwayFromZero);
        if (between < 1)
        {
            throw new InvalidScheduleException("time difference between two schedules less than 1 second");
        }
        var elapsed = (long)(now - t1).TotalSeconds;
        var missed = elapsed / between + 1;
        var t = DateTimeOffset.FromUnixTimeSeconds(t1.ToUnixTimeSeconds() + (missed - 1) * between);
        return new(t, missed, true);
    }

    /// <summary>
    /// The schedule time to start a job for now (upstream getNextScheduleTime): the most recent one after
    /// lastScheduleTime (else creationTimestamp), not earlier than startingDeadlineSeconds before now.
    /// </summary>
    public static MostRecentSchedule Unmet(CronJob cronJob, DateTimeOffset now, ICronSchedule schedule, TimeZoneInfo localZone)
    {
        var earliest = Earliest(cronJob);
        if (cronJob.Spec?.StartingDeadlineSeconds is { } deadline)
        {
            var schedulingDeadline = now - TimeSpan.FromSeconds(deadline);
            if (schedulingDeadline > earliest)
            {
                earliest = schedulingDeadline;
            }
        }
        if (earliest > now)
        {
            return new(null, 0, false);
        }
        return MostRecent(earliest, now, schedule, localZone);
    }

    /// <summary>
    /// How long until the sync after the next schedule time (upstream nextScheduledTimeDuration): the activation
    /// following the most recent one (or the last scheduled / creation time when none passed since), plus 100 ms.
    /// </summary>
    public static TimeSpan UntilNext(CronJob cronJob, ICronSchedule schedule, DateTimeOffset now, TimeZoneInfo localZone)
    {
        var earliest = Earliest(cronJob);
        DateTimeOffset mostRecent;
        var zone = localZone;
        try
        {
            var recent = MostRecent(earliest, now, schedule, localZone);
            mostRecent = recent.Time ?? earliest;
            if (recent.InUtc)
            {
                zone = TimeZoneInfo.Utc;
            }
        }
        catch (InvalidScheduleException)
        {
            mostRecent = now; // Still look again at some point: at the slot after now.
        }
        return schedule.Next(mostRecent, zone) + NextScheduleDelta - now;
    }

    /// <summary>Where the search for unmet times starts: the last schedule time, else the creation time (Go's zero time without one).</summary>
    public static DateTimeOffset Earliest(CronJob cronJob)
        => cronJob.Status?.LastScheduleTime ?? cronJob.Metadata?.CreationTimestamp ?? GoTime.Zero;

    /// <summary>Job names carry the scheduled time in minutes since the epoch, so one schedule time never yields two Jobs.</summary>
    public static string JobName(string cronJobName, DateTimeOffset scheduledTime)
        => $"{cronJobName}-{scheduledTime.ToUnixTimeSeconds() / 60}";

    /// <summary>
    /// Upstream formatSchedule: a schedule that mentions TZ is used as written (warned about by the caller); with a
    /// loadable spec.timeZone it gets a TZ= prefix.
    /// </summary>
    public static string Format(CronJob cronJob)
    {
        var schedule = cronJob.Spec?.Schedule ?? "";
        if (schedule.Contains("TZ", StringComparison.Ordinal))
        {
            return schedule;
        }
        if (cronJob.Spec?.TimeZone is { } timeZone)
        {
            try
            {
                GoTime.LoadLocation(timeZone);
            }
            catch (GoTimeException)
            {
                return schedule;
            }
            return $"TZ={timeZone} {schedule}";
        }
        return schedule;
    }
}

/// <summary>A schedule that parses but cannot be run (e.g. "0 0 30 2 *", which never fires).</summary>
public sealed class InvalidScheduleException(string message) : Exception(message);

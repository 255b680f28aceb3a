using System.Globalization;

namespace Kcm.Controllers.CronJobs;

/// <summary>The error Go's time.LoadLocation or time.ParseDuration reports, with Go's message (it ends up in events).</summary>
public sealed class GoTimeException(string message) : Exception(message);

/// <summary>
/// The pieces of Go's time package the cron schedule arithmetic depends on, over .NET's TimeZoneInfo: wall-clock
/// fields of an instant in a zone, time.Date's normalisation (including where it puts wall times that a DST change
/// skips or repeats), AddDate, LoadLocation's naming rules and ParseDuration. Instants are whole Unix seconds.
/// </summary>
public static class GoTime
{
    private const string ZoneInfoDirectory = "/usr/share/zoneinfo";

    /// <summary>Go's zero time (0001-01-01 UTC), which robfig's Next returns when nothing matches within five years.</summary>
    public static readonly DateTimeOffset Zero = new(1, 1, 1, 0, 0, 0, TimeSpan.Zero);

    public static int OffsetSeconds(TimeZoneInfo zone, long unix)
        => (int)zone.GetUtcOffset(DateTimeOffset.FromUnixTimeSeconds(unix)).TotalSeconds;

    /// <summary>The wall clock at <paramref name="unix"/> in <paramref name="zone"/>.</summary>
    public static DateTime Wall(long unix, TimeZoneInfo zone)
        => DateTime.UnixEpoch.AddSeconds(unix + OffsetSeconds(zone, unix));

    /// <summary>
    /// time.Date: fields may overflow (month 13, day 32, hour 25) and are normalised; a wall time is mapped to an
    /// instant by guessing the offset at the wall time read as UTC and correcting it once, exactly as Go does, so a
    /// time in a DST gap or overlap lands where Go puts it.
    /// </summary>
    public static long Date(long year, long month, long day, long hour, long minute, long second, TimeZoneInfo zone)
    {
        var m = month - 1;
        year += FloorDiv(m, 12);
        m = FloorMod(m, 12);
        var days = DaysFromCivil(year, (int)m + 1, 1) + (day - 1);
        var unix = days * 86400 + hour * 3600 + minute * 60 + second;
        var offset = OffsetSeconds(zone, unix);
        if (offset != 0)
        {
            // When the guessed zone period does not contain unix-offset, Go looks the offset up at that instant.
            var utc = unix - offset;
            offset = OffsetSeconds(zone, utc);
        }
        return unix - offset;
    }

    /// <summary>Go's t.AddDate: the same wall clock, days/months/years later, normalised by <see cref="Date"/>.</summary>
    public static long AddDate(long unix, TimeZoneInfo zone, int years, int months, int days)
    {
        var w = Wall(unix, zone);
        return Date(w.Year + years, w.Month + months, w.Day + days, w.Hour, w.Minute, w.Second, zone);
    }

    /// <summary>time.LoadLocation: "" and "UTC" are UTC, "Local" is null (the caller's local zone), anything else an IANA name.</summary>
    public static TimeZoneInfo? LoadLocation(string name)
    {
        if (name is "" or "UTC")
        {
            return TimeZoneInfo.Utc;
        }
        if (name == "Local")
        {
            return null;
        }
        if (name.Contains("..", StringComparison.Ordinal) || name.StartsWith('/') || name.StartsWith('\\'))
        {
            throw new GoTimeException("time: invalid location name");
        }
        // Go reads tzdata files by name (case-sensitively); .NET would also accept Windows zone names, Go does not.
        if (OperatingSystem.IsLinux() && Directory.Exists(ZoneInfoDirectory) && !File.Exists(Path.Combine(ZoneInfoDirectory, name)))
        {
            throw new GoTimeException("unknown time zone " + name);
        }
        try
        {
            return TimeZoneInfo.FindSystemTimeZoneById(name);
        }
        catch (TimeZoneNotFoundException)
        {
            throw new GoTimeException("unknown time zone " + name);
        }
        catch (InvalidTimeZoneException)
        {
            throw new GoTimeException("malformed time zone information");
        }
    }

    /// <summary>time.ParseDuration: a signed sequence of decimal numbers with units ns, us (µs), ms, s, m, h.</summary>
    public static TimeSpan ParseDuration(string s)
    {
        var original = s;
        var invalid = new GoTimeException($"time: invalid duration \"{original}\"");
        var negative = false;
        if (s.Length > 0 && (s[0] == '-' || s[0] == '+'))
        {
            negative = s[0] == '-';
            s = s[1..];
        }
        if (s == "0")
        {
            return TimeSpan.Zero;
        }
        if (s.Length == 0)
        {
            throw invalid;
        }
        decimal totalNanos = 0;
        while (s.Length > 0)
        {
            var i = 0;
            while (i < s.Length && char.IsAsciiDigit(s[i]))
            {
                i++;
            }
            var intPart = s[..i];
            s = s[i..];
            var fracPart = "";
            if (s.Length > 0 && s[0] == '.')
            {
                s = s[1..];
                i = 0;
                while (i < s.Length && char.IsAsciiDigit(s[i]))
                {
                    i++;
                }
                fracPart = s[..i];
                s = s[i..];
            }
            if (intPart.Length == 0 && fracPart.Length == 0)
            {
                throw invalid; // No digits (e.g. ".s").
            }
            i = 0;
            while (i < s.Length && s[i] != '.' && !char.IsAsciiDigit(s[i]))
            {
                i++;
            }
            if (i == 0)
            {
                throw new GoTimeException($"time: missing unit in duration \"{original}\"");
            }
            var unit = s[..i];
            s = s[i..];
            decimal unitNanos = unit switch
            {
                "ns" => 1m,
                "us" or "µs" or "μs" => 1_000m,
                "ms" => 1_000_000m,
                "s" => 1_000_000_000m,
                "m" => 60_000_000_000m,
                "h" => 3_600_000_000_000m,
                _ => throw new GoTimeException($"time: unknown unit \"{unit}\" in duration \"{original}\""),
            };
            var value = decimal.Parse((intPart.Length == 0 ? "0" : intPart) + (fracPart.Length == 0 ? "" : "." + fracPart), CultureInfo.InvariantCulture);
            totalNanos += decimal.Truncate(value * unitNanos);
            if (totalNanos > long.MaxValue)
            {
                throw invalid;
            }
        }
        var ticks = (long)(totalNanos / 100m);
        return TimeSpan.FromTicks(negative ? -ticks : ticks);
    }

    internal static long FloorDiv(long a, long b) => a >= 0 ? a / b : -((-a + b - 1) / b);

    internal static long FloorMod(long a, long b) => a - FloorDiv(a, b) * b;

    // Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm), valid for any year.
    private static long DaysFromCivil(long y, int m, int d)
    {
        y -= m <= 2 ? 1 : 0;
        var era = FloorDiv(y, 400);
        var yoe = y - era * 400;
        var doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
        var doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
        return era * 146097 + doe - 719468;
    }
}

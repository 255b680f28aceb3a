using Kcm.Api.Codecs;

namespace Kcm.Controllers.CronJobs;

/// <summary>A schedule could not be parsed; the message is robfig/cron's (it ends up in events and validation errors).</summary>
public sealed class CronParseException(string message) : Exception(message);

/// <summary>A parsed cron schedule (robfig/cron v3's Schedule).</summary>
public interface ICronSchedule
{
    /// <summary>
    /// The first activation strictly after <paramref name="time"/>, or <see cref="GoTime.Zero"/> when none exists
    /// within five years. A schedule without its own zone (no TZ= prefix) reads wall clocks in
    /// <paramref name="timeZone"/>, the zone the time is expressed in, as Go's time.Local schedules do.
    /// </summary>
    DateTimeOffset Next(DateTimeOffset time, TimeZoneInfo timeZone);
}

/// <summary>
/// robfig/cron v3's ParseStandard, as vendored by Kubernetes v1.26: five fields (minute hour day-of-month month
/// day-of-week) with lists, ranges, steps, `*`/`?`, month and weekday names; the descriptors @yearly, @annually,
/// @monthly, @weekly, @daily, @midnight, @hourly and `@every &lt;duration&gt;`; an optional `TZ=zone ` or
/// `CRON_TZ=zone ` prefix.
/// </summary>
public static class CronParser
{
    private static readonly Bounds Seconds = new(0, 59, null);
    private static readonly Bounds Minutes = new(0, 59, null);
    private static readonly Bounds Hours = new(0, 23, null);
    private static readonly Bounds DaysOfMonth = new(1, 31, null);

    private static readonly Bounds Months = new(1, 12, new Dictionary<string, int>
    {
        ["jan"] = 1, ["feb"] = 2, ["mar"] = 3, ["apr"] = 4, ["may"] = 5, ["jun"] = 6,
        ["jul"] = 7, ["aug"] = 8, ["sep"] = 9, ["oct"] = 10, ["nov"] = 11, ["dec"] = 12,
    });

    private static readonly Bounds DaysOfWeek = new(0, 6, new Dictionary<string, int>
    {
        ["sun"] = 0, ["mon"] = 1, ["tue"] = 2, ["wed"] = 3, ["thu"] = 4, ["fri"] = 5, ["sat"] = 6,
    });

    internal const ulong StarBit = 1UL << 63;

    public static ICronSchedule ParseStandard(string spec)
    {
        if (spec.Length == 0)
        {
            throw new CronParseException("empty spec string");
        }
        TimeZoneInfo? zone = null; // null: Go's time.Local, i.e. whatever zone the times are given in
        if (spec.StartsWith("TZ=", StringComparison.Ordinal) || spec.StartsWith("CRON_TZ=", StringComparison.Ordinal))
        {
            var space = spec.IndexOf(' ', StringComparison.Ordinal);
            var eq = spec.IndexOf('=', StringComparison.Ordinal);
            if (space < 0)
            {
                // robfig v3.0.1 slices with index -1 here and panics; a clear error is the only sane answer.
                throw new CronParseException($"provided bad location {spec[(eq + 1)..]}: no schedule after the time zone");
            }
            var name = space > eq ? spec[(eq + 1)..space] : "";
            try
            {
                zone = GoTime.LoadLocation(name);
            }
            catch (GoTimeException e)
            {
                throw new CronParseException($"provided bad location {name}: {e.Message}");
            }
            spec = spec[space..].Trim();
        }

        if (spec.StartsWith('@'))
        {
            return ParseDescriptor(spec, zone);
        }

        var fields = spec.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries);
        if (fields.Length != 5)
        {
            throw new CronParseException($"expected exactly 5 fields, found {fields.Length}: [{string.Join(' ', fields)}]");
        }
        return new SpecSchedule(
            Second: 1UL << 0,
            Minute: GetField(fields[0], Minutes),
            Hour: GetField(fields[1], Hours),
            Dom: GetField(fields[2], DaysOfMonth),
            Month: GetField(fields[3], Months),
            Dow: GetField(fields[4], DaysOfWeek),
            Location: zone);
    }

    private static ulong GetField(string field, Bounds bounds)
    {
        ulong bits = 0;
        foreach (var expr in field.Split(',', StringSplitOptions.RemoveEmptyEntries))
        {
            bits |= GetRange(expr, bounds);
        }
        return bits;
    }

    private static ulong GetRange(string expr, Bounds r)
    {
        var rangeAndStep = expr.Split('/');
        var lowAndHigh = rangeAndStep[0].Split('-');
        var singleDigit = lowAndHigh.Length == 1;
        long start, end, step;
        ulong extra = 0;
        if (lowAndHigh[0] is "*" or "?")
        {
            start = r.Min;
            end = r.Max;
            extra = StarBit;
        }
        else
        {
            start = ParseIntOrName(lowAndHigh[0], r.Names);
            switch (lowAndHigh.Length)
            {
                case 1:
                    end = start;
                    break;
                case 2:
                    end = ParseIntOrName(lowAndHigh[1], r.Names);
                    break;
                default:
                    throw new CronParseException($"too many hyphens: {expr}");
            }
        }

        switch (rangeAndStep.Length)
        {
            case 1:
                step = 1;
                break;
            case 2:
                step = MustParseInt(rangeAndStep[1]);
                // "N/step" means N through the maximum.
                if (singleDigit)
                {
                    end = r.Max;
                }
                if (step > 1)
                {
                    extra = 0;
                }
                break;
            default:
                throw new CronParseException($"too many slashes: {expr}");
        }

        if (start < r.Min)
        {
            throw new CronParseException($"beginning of range ({start}) below minimum ({r.Min}): {expr}");
        }
        if (end > r.Max)
        {
            throw new CronParseException($"end of range ({end}) above maximum ({r.Max}): {expr}");
        }
        if (start > end)
        {
            throw new CronParseException($"beginning of range ({start}) beyond end of range ({end}): {expr}");
        }
        if (step == 0)
        {
            throw new CronParseException($"step of range should be a positive number: {expr}");
        }
        return GetBits((int)start, (int)end, step) | extra;
    }

    private static long ParseIntOrName(string expr, IReadOnlyDictionary<string, int>? names)
    {
        if (names is not null && names.TryGetValue(expr.ToLowerInvariant(), out var value))
        {
            return value;
        }
        return MustParseInt(expr);
    }

    // strconv.Atoi's syntax (optional sign, decimal digits) and its error texts, then no negatives.
    private static long MustParseInt(string expr)
    {
        var digits = expr.Length > 0 && (expr[0] == '+' || expr[0] == '-') ? expr[1..] : expr;
        if (digits.Length == 0 || !digits.All(char.IsAsciiDigit))
        {
            throw new CronParseException($"failed to parse int from {expr}: strconv.Atoi: parsing {GoStrings.Quote(expr)}: invalid syntax");
        }
        if (!long.TryParse(expr, System.Globalization.NumberStyles.AllowLeadingSign, System.Globalization.CultureInfo.InvariantCulture, out var num))
        {
            throw new CronParseException($"failed to parse int from {expr}: strconv.Atoi: parsing {GoStrings.Quote(expr)}: value out of range");
        }
        if (num < 0)
        {
            throw new CronParseException($"negative number ({num}) not allowed: {expr}");
        }
        return num;
    }

    private static ulong GetBits(int min, int max, long step)
    {
        ulong bits = 0;
        for (long i = min; i <= max; i += step)
        {
            bits |= 1UL << (int)i;
        }
        return bits;
    }

    private static ulong All(Bounds r) => GetBits(r.Min, r.Max, 1) | StarBit;

    private static ICronSchedule ParseDescriptor(string descriptor, TimeZoneInfo? zone)
    {
        switch (descriptor)
        {
            case "@yearly" or "@annually":
                return new SpecSchedule(1UL << Seconds.Min, 1UL << Minutes.Min, 1UL << Hours.Min, 1UL << DaysOfMonth.Min, 1UL << Months.Min, All(DaysOfWeek), zone);
            case "@monthly":
                return new SpecSchedule(1UL << Seconds.Min, 1UL << Minutes.Min, 1UL << Hours.Min, 1UL << DaysOfMonth.Min, All(Months), All(DaysOfWeek), zone);
            case "@weekly":
                return new SpecSchedule(1UL << Seconds.Min, 1UL << Minutes.Min, 1UL << Hours.Min, All(DaysOfMonth), All(Months), 1UL << DaysOfWeek.Min, zone);
            case "@daily" or "@midnight":
                return new SpecSchedule(1UL << Seconds.Min, 1UL << Minutes.Min, 1UL << Hours.Min, All(DaysOfMonth), All(Months), All(DaysOfWeek), zone);
            case "@hourly":
                return new SpecSchedule(1UL << Seconds.Min, 1UL << Minutes.Min, All(Hours), All(DaysOfMonth), All(Months), All(DaysOfWeek), zone);
        }
        const string Every = "@every ";
        if (descriptor.StartsWith(Every, StringComparison.Ordinal))
        {
            TimeSpan duration;
            try
            {
                duration = GoTime.ParseDuration(descriptor[Every.Length..]);
            }
            catch (GoTimeException e)
            {
                throw new CronParseException($"failed to parse duration {descriptor}: {e.Message}");
            }
            return ConstantDelaySchedule.Every(duration);
        }
        throw new CronParseException($"unrecognized descriptor: {descriptor}");
    }

    private sealed record Bounds(int Min, int Max, IReadOnlyDictionary<string, int>? Names);
}

/// <summary>`@every d`: activations d apart (d rounded down to whole seconds, at least one), on whole seconds.</summary>
public sealed record ConstantDelaySchedule(TimeSpan Delay) : ICronSchedule
{
    public static ConstantDelaySchedule Every(TimeSpan duration)
    {
        if (duration < TimeSpan.FromSeconds(1))
        {
            duration = TimeSpan.FromSeconds(1);
        }
        return new(TimeSpan.FromSeconds(Math.Floor(duration.TotalSeconds)));
    }

    public DateTimeOffset Next(DateTimeOffset time, TimeZoneInfo timeZone)
        => time + Delay - TimeSpan.FromTicks(time.UtcTicks % TimeSpan.TicksPerSecond);
}

/// <summary>
/// A field schedule: one bit per allowed value of each field (bit 63 marks a field written as `*`). Next is
/// robfig/cron's search, step for step, including how it walks over DST changes: day steps keep the wall clock,
/// hour, minute and second steps add absolute time.
/// </summary>
public sealed record SpecSchedule(ulong Second, ulong Minute, ulong Hour, ulong Dom, ulong Month, ulong Dow, TimeZoneInfo? Location) : ICronSchedule
{
    public DateTimeOffset Next(DateTimeOffset time, TimeZoneInfo timeZone)
    {
        var loc = Location ?? timeZone;
        if (time.Year < 10)
        {
            // Only Go's zero time gets here; a zone's offset at year 1 could underflow the wall clock.
            loc = TimeZoneInfo.Utc;
        }
        // Start at the next whole second.
        var t = GoTime.FloorDiv(time.UtcTicks - DateTimeOffset.UnixEpoch.UtcTicks, TimeSpan.TicksPerSecond) + 1;
        var added = false;
        var yearLimit = GoTime.Wall(t, loc).Year + 5;

    wrap:
        var w = GoTime.Wall(t, loc);
        if (w.Year > yearLimit)
        {
            return GoTime.Zero;
        }

        while (((1UL << w.Month) & Month) == 0)
        {
            if (!added)
            {
                added = true;
                t = GoTime.Date(w.Year, w.Month, 1, 0, 0, 0, loc);
            }
            t = GoTime.AddDate(t, loc, 0, 1, 0);
            w = GoTime.Wall(t, loc);
            if (w.Month == 1)
            {
                goto wrap;
            }
        }

        while (!DayMatches(w))
        {
            if (!added)
            {
                added = true;
                t = GoTime.Date(w.Year, w.Month, w.Day, 0, 0, 0, loc);
            }
            t = GoTime.AddDate(t, loc, 0, 0, 1);
            // Midnight may not exist or repeat on a DST day: move back to the day's start.
            var hour = GoTime.Wall(t, loc).Hour;
            if (hour != 0)
            {
                t += hour > 12 ? (24 - hour) * 3600L : -hour * 3600L;
            }
            w = GoTime.Wall(t, loc);
            if (w.Day == 1)
            {
                goto wrap;
            }
        }

        while (((1UL << w.Hour) & Hour) == 0)
        {
            if (!added)
            {
                added = true;
                t = GoTime.Date(w.Year, w.Month, w.Day, w.Hour, 0, 0, loc);
            }
            t += 3600;
            w = GoTime.Wall(t, loc);
            if (w.Hour == 0)
            {
                goto wrap;
            }
        }

        while (((1UL << w.Minute) & Minute) == 0)
        {
            if (!added)
            {
                added = true;
                t = GoTime.FloorDiv(t, 60) * 60;
            }
            t += 60;
            w = GoTime.Wall(t, loc);
            if (w.Minute == 0)
            {
                goto wrap;
            }
        }

        while (((1UL << w.Second) & Second) == 0)
        {
            added = true;
            t += 1;
            w = GoTime.Wall(t, loc);
            if (w.Second == 0)
            {
                goto wrap;
            }
        }

        return DateTimeOffset.FromUnixTimeSeconds(t);
    }

    // Both fields restricted (neither written with `*`): either may match, as in Vixie cron. Otherwise both must.
    private bool DayMatches(DateTime wall)
    {
        var domMatch = ((1UL << wall.Day) & Dom) != 0;
        var dowMatch = ((1UL << (int)wall.DayOfWeek) & Dow) != 0;
        if ((Dom & CronParser.StarBit) != 0 || (Dow & CronParser.StarBit) != 0)
        {
            return domMatch && dowMatch;
        }
        return domMatch || dowMatch;
    }
}

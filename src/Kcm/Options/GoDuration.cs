using System.Globalization;
using System.Text;

namespace Kcm.Options;

/// <summary>Go's time.Duration text form ("8760h", "1m30s", "500ms"), which upstream flags use.</summary>
public static class GoDuration
{
    private static readonly (string Unit, double Ticks)[] Units =
    [
        ("ns", 0.01), ("us", 10), ("µs", 10), ("μs", 10), ("ms", TimeSpan.TicksPerMillisecond),
        ("s", TimeSpan.TicksPerSecond), ("m", TimeSpan.TicksPerMinute), ("h", TimeSpan.TicksPerHour),
    ];

    public static bool TryParse(string text, out TimeSpan value)
    {
        value = TimeSpan.Zero;
        var s = text.AsSpan();
        var negative = false;
        if (s.Length > 0 && (s[0] == '-' || s[0] == '+'))
        {
            negative = s[0] == '-';
            s = s[1..];
        }
        if (s.SequenceEqual("0")) return true;
        if (s.IsEmpty) return false;
        double ticks = 0;
        while (!s.IsEmpty)
        {
            var n = 0;
            while (n < s.Length && (char.IsAsciiDigit(s[n]) || s[n] == '.')) n++;
            if (n == 0 || !double.TryParse(s[..n], NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out var number)) return false;
            s = s[n..];
            var u = 0;
            while (u < s.Length && !char.IsAsciiDigit(s[u]) && s[u] != '.') u++;
            var unit = s[..u].ToString();
            var match = Array.FindIndex(Units, x => x.Unit == unit);
            if (match < 0) return false;
            ticks += number * Units[match].Ticks;
            s = s[u..];
        }
        value = TimeSpan.FromTicks((long)Math.Round(negative ? -ticks : ticks));
        return true;
    }

    /// <summary>Formats like Go's Duration.String(): "1h0m0s", "2m30s", "500ms", "0s".</summary>
    public static string Format(TimeSpan d)
    {
        if (d == TimeSpan.Zero) return "0s";
        var sb = new StringBuilder();
        if (d < TimeSpan.Zero)
        {
            sb.Append('-');
            d = d.Negate();
        }
        if (d < TimeSpan.FromSeconds(1))
        {
            var ms = d.TotalMilliseconds;
            return sb.Append(ms >= 1 ? ms.ToString(CultureInfo.InvariantCulture) + "ms" : (d.Ticks / 10.0).ToString(CultureInfo.InvariantCulture) + "µs").ToString();
        }
        var hours = (long)d.TotalHours;
        if (hours > 0) sb.Append(hours).Append('h');
        if (hours > 0 || d.Minutes > 0) sb.Append(d.Minutes).Append('m');
        var seconds = d.Seconds + d.Milliseconds / 1000.0 + (d.Ticks % TimeSpan.TicksPerMillisecond) / (double)TimeSpan.TicksPerSecond;
        sb.Append(seconds.ToString(CultureInfo.InvariantCulture)).Append('s');
        return sb.ToString();
    }
}

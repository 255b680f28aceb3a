using System.Globalization;
using System.Text;

namespace Kcm.Api.Codecs;

/// <summary>
/// Go's time.Duration text form ("8760h", "1m30s", "500ms"): parsed as upstream flags accept it, and printed as
/// Duration.String() does ("1h0m0s", "1.5s", "300ms"), which metav1.Duration marshals to.
/// </summary>
public static class GoDuration
{
    private static readonly (string Unit, ulong Nanoseconds)[] Units =
    [
        ("ns", 1), ("us", 1_000), ("µs", 1_000), ("μs", 1_000), ("ms", 1_000_000),
        ("s", 1_000_000_000), ("m", 60_000_000_000), ("h", 3_600_000_000_000),
    ];

    private const ulong GoDurationLimit = 1UL << 63;

    public static bool TryParse(string text, out TimeSpan value) => TryParse(text, out value, out _);

    /// <summary>
    /// Go's time.ParseDuration: the same grammar, the same limit (±2^63-1 ns, about 292 years) and the same error
    /// texts ("time: invalid duration \"x\"", "time: missing unit in duration ...", "time: unknown unit ...").
    /// Nanoseconds below TimeSpan's 100 ns tick are truncated toward zero.
    /// </summary>
    public static bool TryParse(string text, out TimeSpan value, out string? error)
    {
        value = TimeSpan.Zero;
        var nanoseconds = ParseNanoseconds(text, out error);
        if (error != null) return false;
        value = TimeSpan.FromTicks(nanoseconds / 100);
        return true;
    }

    private static long ParseNanoseconds(string text, out string? error)
    {
        error = null;
        var invalid = $"time: invalid duration {Quote(text)}";
        var s = text.AsSpan();
        var negative = false;
        if (s.Length > 0 && (s[0] == '-' || s[0] == '+'))
        {
            negative = s[0] == '-';
            s = s[1..];
        }
        if (s.SequenceEqual("0")) return 0;
        if (s.IsEmpty)
        {
            error = invalid;
            return 0;
        }
        ulong total = 0;
        while (!s.IsEmpty)
        {
            if (!(s[0] == '.' || char.IsAsciiDigit(s[0])))
            {
                error = invalid;
                return 0;
            }
            var before = s.Length;
            if (!LeadingInt(ref s, out var v))
            {
                error = invalid;
                return 0;
            }
            var pre = before != s.Length;
            ulong f = 0;
            double scale = 1;
            var post = false;
            if (!s.IsEmpty && s[0] == '.')
            {
                s = s[1..];
                var afterDot = s.Length;
                LeadingFraction(ref s, out f, out scale);
                post = afterDot != s.Length;
            }
            if (!pre && !post)
            {
                error = invalid;
                return 0;
            }
            var u = 0;
            while (u < s.Length && s[u] != '.' && !char.IsAsciiDigit(s[u])) u++;
            if (u == 0)
            {
                error = $"time: missing unit in duration {Quote(text)}";
                return 0;
            }
            var unitText = s[..u].ToString();
            s = s[u..];
            var match = Array.FindIndex(Units, x => x.Unit == unitText);
            if (match < 0)
            {
                error = $"time: unknown unit {Quote(unitText)} in duration {Quote(text)}";
                return 0;
            }
            var unit = Units[match].Nanoseconds;
            if (v > GoDurationLimit / unit)
            {
                error = invalid;
                return 0;
            }
            v *= unit;
            if (f > 0)
            {
                // As Go: float64 keeps fractions of an hour accurate to the nanosecond.
                v += (ulong)(f * (unit / scale));
                if (v > GoDurationLimit)
                {
                    error = invalid;
                    return 0;
                }
            }
            total += v;
            if (total > GoDurationLimit)
            {
                error = invalid;
                return 0;
            }
        }
        if (negative) return total == GoDurationLimit ? long.MinValue : -(long)total;
        if (total > GoDurationLimit - 1)
        {
            error = invalid;
            return 0;
        }
        return (long)total;
    }

    private static bool LeadingInt(ref ReadOnlySpan<char> s, out ulong x)
    {
        x = 0;
        var i = 0;
        for (; i < s.Length && char.IsAsciiDigit(s[i]); i++)
        {
            if (x > GoDurationLimit / 10) return false;
            x = x * 10 + (ulong)(s[i] - '0');
            if (x > GoDurationLimit) return false;
        }
        s = s[i..];
        return true;
    }

    // Digits past what fits are consumed but ignored, as Go's leadingFraction does.
    private static void LeadingFraction(ref ReadOnlySpan<char> s, out ulong x, out double scale)
    {
        x = 0;
        scale = 1;
        var overflow = false;
        var i = 0;
        for (; i < s.Length && char.IsAsciiDigit(s[i]); i++)
        {
            if (overflow) continue;
            if (x > (GoDurationLimit - 1) / 10)
            {
                overflow = true;
                continue;
            }
            var y = x * 10 + (ulong)(s[i] - '0');
            if (y > GoDurationLimit)
            {
                overflow = true;
                continue;
            }
            x = y;
            scale *= 10;
        }
        s = s[i..];
    }

    // Go's time.quote: double quotes, with quotes, backslashes and non-printable characters escaped.
    private static string Quote(string s)
    {
        var sb = new StringBuilder("\"");
        foreach (var c in s)
        {
            if (c is '"' or '\\') sb.Append('\\').Append(c);
            else if (c < ' ' || c == 0x7f) sb.Append("\\x").Append(((int)c).ToString("x2", CultureInfo.InvariantCulture));
            else sb.Append(c);
        }
        return sb.Append('"').ToString();
    }

    /// <summary>Go's Duration.String() of a TimeSpan; spans beyond Go's ±292 years saturate as a Go Duration does.</summary>
    public static string Format(TimeSpan d)
        => Format((long)Int128.Clamp((Int128)d.Ticks * 100, long.MinValue, long.MaxValue));

    /// <summary>Go's Duration.String() of a count of nanoseconds.</summary>
    public static string Format(long nanoseconds)
    {
        if (nanoseconds == 0) return "0s";
        var negative = nanoseconds < 0;
        var u = negative ? (ulong)(-(nanoseconds + 1)) + 1 : (ulong)nanoseconds;
        var sb = new StringBuilder();
        if (u < 1_000_000_000UL)
        {
            // Sub-second: the largest unit that keeps a non-zero integer part.
            var (unit, scale) = u < 1_000UL ? ("ns", 1UL) : u < 1_000_000UL ? ("µs", 1_000UL) : ("ms", 1_000_000UL);
            sb.Append(Fraction(u, scale)).Append(unit);
        }
        else
        {
            var seconds = Fraction(u % 60_000_000_000UL, 1_000_000_000UL) + "s";
            var minutes = u / 60_000_000_000UL;
            if (minutes > 0)
            {
                var hours = minutes / 60;
                if (hours > 0) sb.Append(hours.ToString(CultureInfo.InvariantCulture)).Append('h');
                sb.Append((minutes % 60).ToString(CultureInfo.InvariantCulture)).Append('m');
            }
            sb.Append(seconds);
        }
        return negative ? "-" + sb : sb.ToString();
    }

    private static string Fraction(ulong value, ulong scale)
    {
        var whole = (value / scale).ToString(CultureInfo.InvariantCulture);
        var rest = value % scale;
        if (rest == 0) return whole;
        var digits = scale.ToString(CultureInfo.InvariantCulture).Length - 1;
        return whole + "." + rest.ToString(CultureInfo.InvariantCulture).PadLeft(digits, '0').TrimEnd('0');
    }
}

using System.Globalization;
using System.Text;

namespace Kcm.ApiServer.Protobuf;

/// <summary>Go's time.Duration.String() format ("1h0m0s", "1.5s", "300ms"), which metav1.Duration marshals to.</summary>
public static class GoDuration
{
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

using System.Globalization;
using System.Text;

namespace Kcm.Api.Codecs;

/// <summary>
/// Go's strconv.FormatFloat(v, 'g', -1, 64), which is also fmt's %v: the shortest digits that read back
/// to the same double, in exponent form ("1e-08", "1.5e+06") when the exponent is below -4 or at least 6.
/// Prometheus' text format and klog print floats this way, so series labels such as le="1e-08" match Go's.
/// </summary>
public static class GoFloat
{
    public static string Format(double v)
    {
        if (double.IsNaN(v)) return "NaN";
        if (double.IsPositiveInfinity(v)) return "+Inf";
        if (double.IsNegativeInfinity(v)) return "-Inf";
        if (v == 0) return double.IsNegative(v) ? "-0" : "0";

        var (digits, pointPosition) = ShortestDigits(Math.Abs(v));
        var sb = new StringBuilder();
        if (v < 0) sb.Append('-');
        var exponent = pointPosition - 1;
        if (exponent < -4 || exponent >= 6)
        {
            sb.Append(digits[0]);
            if (digits.Length > 1) sb.Append('.').Append(digits, 1, digits.Length - 1);
            sb.Append('e').Append(exponent < 0 ? '-' : '+');
            var magnitude = Math.Abs(exponent);
            if (magnitude < 10) sb.Append('0');
            sb.Append(magnitude.ToString(CultureInfo.InvariantCulture));
            return sb.ToString();
        }
        if (pointPosition <= 0) sb.Append("0.").Append('0', -pointPosition).Append(digits);
        else if (pointPosition >= digits.Length) sb.Append(digits).Append('0', pointPosition - digits.Length);
        else sb.Append(digits, 0, pointPosition).Append('.').Append(digits, pointPosition, digits.Length - pointPosition);
        return sb.ToString();
    }

    /// <summary>Go's float32 formatting (FormatFloat(v, 'g', -1, 32)): the shortest digits for the single.</summary>
    public static string Format(float v) => double.TryParse(v.ToString("R", CultureInfo.InvariantCulture), NumberStyles.Float, CultureInfo.InvariantCulture, out var d) ? Format(d) : "NaN";

    // .NET's "R" already yields the shortest round-trip digits; only the layout differs from Go's.
    private static (string Digits, int PointPosition) ShortestDigits(double positive)
    {
        var r = positive.ToString("R", CultureInfo.InvariantCulture);
        var e = r.IndexOfAny(['E', 'e']);
        var exponent = 0;
        if (e >= 0)
        {
            exponent = int.Parse(r[(e + 1)..], NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture);
            r = r[..e];
        }
        var dot = r.IndexOf('.');
        var integerPart = dot < 0 ? r : r[..dot];
        var fraction = dot < 0 ? "" : r[(dot + 1)..];
        var all = integerPart + fraction;
        var leadingZeros = all.Length - all.TrimStart('0').Length;
        var digits = all.TrimStart('0').TrimEnd('0');
        if (digits.Length == 0) digits = "0";
        return (digits, integerPart.Length - leadingZeros + exponent);
    }
}

using System.Globalization;

namespace Kcm.Controllers.Common.GoSpew;

/// <summary>
/// The private state of a resource.Quantity as ParseQuantity leaves it (what spew prints, methods disabled): the
/// int64 amount and scale, the cached string (kept only when the input was already canonical) and the format.
/// Only the int64 fast path is modelled; values that need inf.Dec are reported as unsupported.
/// </summary>
internal readonly record struct GoQuantity(long Value, int Scale, string Cached, string Format)
{
    public const string DecimalSI = "DecimalSI";
    public const string BinarySI = "BinarySI";
    public const string DecimalExponent = "DecimalExponent";

    private const int MaxInt64Factors = 18;

    public static GoQuantity Parse(string str)
    {
        if (str.Length == 0) throw new FormatException("empty quantity");
        if (str == "0") return new GoQuantity(0, 0, "0", DecimalSI);
        var (positive, num, denom, suffix) = Scan(str);
        var (exponent, format) = Interpret(suffix);

        var precision = 0;
        var scale = 0;
        long mantissa = 1;
        switch (format)
        {
            case DecimalExponent or DecimalSI:
                scale = exponent;
                precision = MaxInt64Factors - (num.Length + denom.Length);
                break;
            default:
                if (exponent >= 0 && denom.Length == 0)
                {
                    mantissa <<= exponent;
                    precision = 15 - num.Length - (int)((float)exponent * 3 / 10) - 1;
                }
                else
                {
                    precision = -1;
                }
                break;
        }
        if (precision >= 0)
        {
            scale -= denom.Length;
            if (scale >= -9)
            {
                var shifted = num + denom;
                if (!long.TryParse(shifted, NumberStyles.None, CultureInfo.InvariantCulture, out var value)) throw new FormatException($"quantity {str}: numeric part out of range");
                long result;
                try
                {
                    result = checked(value * mantissa);
                }
                catch (OverflowException)
                {
                    throw new NotSupportedException($"quantity {str} needs inf.Dec");
                }
                if (!positive) result = -result;
                // ParseQuantity keeps the input as the cached string when it is already canonical.
                var canonical = format == BinarySI
                    ? exponent % 10 == 0 && (value & 0x07) != 0
                    : scale % 3 == 0 && !shifted.EndsWith("000", StringComparison.Ordinal) && shifted[0] != '0';
                return new GoQuantity(result, scale, canonical ? str : "", format);
            }
        }
        throw new NotSupportedException($"quantity {str} needs inf.Dec");
    }

    // parseQuantityString: sign, numerator without leading zeros ("0" when none), denominator, suffix.
    private static (bool Positive, string Num, string Denom, string Suffix) Scan(string str)
    {
        var positive = true;
        var pos = 0;
        if (str[0] == '-') { positive = false; pos++; }
        else if (str[0] == '+') { pos++; }
        while (pos < str.Length && str[pos] == '0') pos++;
        if (pos >= str.Length) return (positive, "0", "", "");
        var start = pos;
        while (pos < str.Length && char.IsAsciiDigit(str[pos])) pos++;
        var num = pos == start ? "0" : str[start..pos];
        var denom = "";
        if (pos < str.Length && str[pos] == '.')
        {
            var d = ++pos;
            while (pos < str.Length && char.IsAsciiDigit(str[pos])) pos++;
            denom = str[d..pos];
        }
        return (positive, num, denom, str[pos..]);
    }

    private static (int Exponent, string Format) Interpret(string suffix)
    {
        switch (suffix)
        {
            case "n": return (-9, DecimalSI);
            case "u": return (-6, DecimalSI);
            case "m": return (-3, DecimalSI);
            case "": return (0, DecimalSI);
            case "k": return (3, DecimalSI);
            case "M": return (6, DecimalSI);
            case "G": return (9, DecimalSI);
            case "T": return (12, DecimalSI);
            case "P": return (15, DecimalSI);
            case "E": return (18, DecimalSI);
            case "Ki": return (10, BinarySI);
            case "Mi": return (20, BinarySI);
            case "Gi": return (30, BinarySI);
            case "Ti": return (40, BinarySI);
            case "Pi": return (50, BinarySI);
            case "Ei": return (60, BinarySI);
        }
        if (suffix.Length > 1 && suffix[0] is 'e' or 'E'
            && long.TryParse(suffix[1..], NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var exponent))
        {
            return ((int)exponent, DecimalExponent);
        }
        throw new FormatException($"unable to parse quantity's suffix {suffix}");
    }
}

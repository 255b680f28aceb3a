using System.Buffers;
using System.Diagnostics.CodeAnalysis;
using System.Globalization;
using System.Numerics;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace Kcm.Api;

/// <summary>How a quantity is written back out; remembered from the suffix it was parsed with.</summary>
public enum QuantityFormat
{
    /// <summary>e.g. 12e6</summary>
    DecimalExponent,
    /// <summary>e.g. 12Mi (12 * 2^20)</summary>
    BinarySI,
    /// <summary>e.g. 12M (12 * 10^6)</summary>
    DecimalSI,
}

/// <summary>A quantity string that k8s.io/apimachinery resource.ParseQuantity would reject.</summary>
public sealed class QuantityFormatException : FormatException
{
    public QuantityFormatException(string text, string reason)
        : base($"cannot parse quantity \"{text}\": {reason}")
    {
        Text = text;
        Reason = reason;
    }

    /// <summary>The rejected input.</summary>
    public string Text { get; }

    /// <summary>Upstream's error text (ErrFormatWrong / ErrNumeric / ErrSuffix), as an API server reports it.</summary>
    public string Reason { get; }
}

/// <summary>
/// Fixed-point resource quantity with the exact parse, rounding and canonical-string rules of
/// k8s.io/apimachinery/pkg/api/resource.Quantity. Immutable: arithmetic returns new instances.
/// </summary>
/// <remarks>
/// The value is held as <c>Unscaled * 10^Exponent</c> with trailing decimal zeros removed, so equal
/// values have equal representations. Like upstream, a parsed string that is already canonical
/// (by upstream's fast-path test) is kept verbatim and re-emitted unchanged.
/// </remarks>
[JsonConverter(typeof(QuantityJsonConverter))]
public sealed class Quantity : IComparable<Quantity>, IComparable, IEquatable<Quantity>
{
    public const string FormatWrongReason = "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'";
    public const string NumericReason = "unable to parse numeric part of quantity";
    public const string SuffixReason = "unable to parse quantity's suffix";

    public const int Nano = -9;
    public const int Micro = -6;
    public const int Milli = -3;

    // v1.26 math.go maxInt64Factors: digit budget for the int64 fast path of ParseQuantity.
    private const int MaxInt64Factors = 18;
    private static readonly BigInteger MaxAllowed = long.MaxValue;

    private readonly BigInteger _unscaled;
    private readonly long _exponent;
    private string? _canonical;

    public static Quantity Zero { get; } = new(BigInteger.Zero, 0, QuantityFormat.DecimalSI, "0");

    /// <summary>Parses <paramref name="text"/>; kept for callers that construct from a literal.</summary>
    public Quantity(string text)
    {
        var parsed = Parse(text);
        _unscaled = parsed._unscaled;
        _exponent = parsed._exponent;
        Format = parsed.Format;
        _canonical = parsed._canonical;
    }

    private Quantity(BigInteger unscaled, long exponent, QuantityFormat format, string? canonical = null)
    {
        if (unscaled.IsZero)
        {
            exponent = 0;
        }
        else
        {
            while (true)
            {
                var quotient = BigInteger.DivRem(unscaled, 10, out var remainder);
                if (!remainder.IsZero) break;
                unscaled = quotient;
                exponent++;
            }
        }
        _unscaled = unscaled;
        _exponent = exponent;
        Format = format;
        _canonical = canonical;
    }

    public QuantityFormat Format { get; }

    public int Sign => _unscaled.Sign;

    public bool IsZero => _unscaled.IsZero;

    // ---- construction ----

    /// <summary>NewQuantity: <paramref name="value"/> in the given format.</summary>
    public static Quantity FromInt64(long value, QuantityFormat format = QuantityFormat.DecimalSI) => new(value, 0, format);

    /// <summary>NewMilliQuantity: <paramref name="milliValue"/>/1000 in the given format.</summary>
    public static Quantity FromMilli(long milliValue, QuantityFormat format = QuantityFormat.DecimalSI) => new(milliValue, Milli, format);

    /// <summary>NewScaledQuantity: <paramref name="value"/> * 10^<paramref name="scale"/>, DecimalSI.</summary>
    public static Quantity FromScaled(long value, int scale) => new(value, scale, QuantityFormat.DecimalSI);

    /// <summary>An exact decimal value; parse-time rounding is not applied.</summary>
    public static Quantity FromDecimal(decimal value, QuantityFormat format = QuantityFormat.DecimalSI)
    {
        var bits = decimal.GetBits(value);
        var scale = (bits[3] >> 16) & 0xFF;
        var magnitude = new BigInteger((uint)bits[0]) | (new BigInteger((uint)bits[1]) << 32) | (new BigInteger((uint)bits[2]) << 64);
        return new(value < 0 ? -magnitude : magnitude, -scale, format);
    }

    public static Quantity Parse(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        return TryParseCore(text, out var quantity, out var reason) ? quantity : throw new QuantityFormatException(text, reason);
    }

    public static bool TryParse([NotNullWhen(true)] string? text, [NotNullWhen(true)] out Quantity? quantity)
    {
        if (text is not null && TryParseCore(text, out var parsed, out _))
        {
            quantity = parsed;
            return true;
        }
        quantity = null;
        return false;
    }

    private static bool TryParseCore(string str, [NotNullWhen(true)] out Quantity? quantity, [NotNullWhen(false)] out string? reason)
    {
        quantity = null;
        reason = null;
        if (str.Length == 0)
        {
            reason = FormatWrongReason;
            return false;
        }
        if (str == "0")
        {
            quantity = new Quantity(BigInteger.Zero, 0, QuantityFormat.DecimalSI, str);
            return true;
        }
        if (!TryScan(str, out var positive, out var num, out var denom, out var suffix))
        {
            reason = FormatWrongReason;
            return false;
        }
        if (!TryInterpretSuffix(suffix, out var binary, out var exponent, out var format))
        {
            reason = SuffixReason;
            return false;
        }

        var digits = BigInteger.Parse(num + denom, NumberStyles.None, CultureInfo.InvariantCulture);
        if (!positive) digits = -digits;

        // Upstream's int64 fast path decides whether the input string is reused verbatim as the
        // canonical form; the value it produces is the same one the decimal path computes.
        if (TryFastPathCanonical(str, num, denom, binary, exponent, out var verbatim) && verbatim is not null)
        {
            quantity = binary
                ? new Quantity(digits << exponent, 0, format, verbatim)
                : new Quantity(digits, (long)exponent - denom.Length, format, verbatim);
            return true;
        }

        BigInteger unscaled;
        long scale;
        if (binary)
        {
            unscaled = digits << exponent;
            scale = -denom.Length;
        }
        else
        {
            unscaled = digits;
            scale = (long)exponent - denom.Length;
        }

        // Non-zero values round away from zero to the nano unit: asking for a tiny amount still gets some.
        if (!unscaled.IsZero && scale < Nano)
        {
            (unscaled, _) = RoundAwayFromZero(unscaled, scale, Nano);
            scale = Nano;
        }

        if (binary)
        {
            var magnitude = BigInteger.Abs(unscaled);
            if (CompareMagnitude(magnitude, scale, MaxAllowed, 0) > 0)
            {
                unscaled = unscaled.Sign < 0 ? -MaxAllowed : MaxAllowed;
                scale = 0;
            }
            else if (!magnitude.IsZero && CompareMagnitude(magnitude, scale, BigInteger.One, 0) < 0)
            {
                format = QuantityFormat.DecimalSI;
            }
        }

        quantity = new Quantity(unscaled, scale, format);
        return true;
    }

    /// <summary>
    /// Mirrors upstream's fast path: returns true when it would be taken, with <paramref name="verbatim"/>
    /// set to the input when upstream would cache it as the canonical string.
    /// </summary>
    private static bool TryFastPathCanonical(string str, string num, string denom, bool binary, int exponent, out string? verbatim)
    {
        verbatim = null;
        long mantissa = 1;
        int precision;
        long scale;
        if (binary)
        {
            scale = 0;
            if (denom.Length != 0) return false;
            mantissa <<= exponent;
            precision = 15 - num.Length - exponent * 3 / 10 - 1;
        }
        else
        {
            scale = exponent;
            precision = MaxInt64Factors - (num.Length + denom.Length);
        }
        if (precision < 0) return false;
        scale -= denom.Length;
        if (scale < Nano) return false;

        var shifted = num + denom;
        if (!long.TryParse(shifted, NumberStyles.None, CultureInfo.InvariantCulture, out var value)) return false;
        try
        {
            _ = checked(value * mantissa);
        }
        catch (OverflowException)
        {
            return false;
        }

        if (binary)
        {
            if (exponent % 10 == 0 && (value & 0x07) != 0) verbatim = str;
        }
        else if (scale % 3 == 0 && !shifted.EndsWith("000", StringComparison.Ordinal) && shifted[0] != '0')
        {
            verbatim = str;
        }
        return true;
    }

    /// <summary>Upstream parseQuantityString: split into sign, integer digits, fraction digits and suffix.</summary>
    private static bool TryScan(string str, out bool positive, out string num, out string denom, out string suffix)
    {
        positive = true;
        num = "0";
        denom = "";
        suffix = "";
        var pos = 0;
        var end = str.Length;

        if (str[0] == '-')
        {
            positive = false;
            pos++;
        }
        else if (str[0] == '+')
        {
            pos++;
        }

        while (pos < end && str[pos] == '0') pos++;
        if (pos >= end) return true;

        var numStart = pos;
        while (pos < end && IsDigit(str[pos])) pos++;
        num = pos > numStart ? str[numStart..pos] : "0";
        if (pos >= end) return true;

        if (str[pos] == '.')
        {
            pos++;
            var denomStart = pos;
            while (pos < end && IsDigit(str[pos])) pos++;
            denom = str[denomStart..pos];
            if (pos >= end) return true;
        }

        var suffixStart = pos;
        while (pos < end && "eEinumkKMGTP".Contains(str[pos])) pos++;
        if (pos < end && (str[pos] == '-' || str[pos] == '+')) pos++;
        while (pos < end && IsDigit(str[pos])) pos++;
        if (pos < end) return false;
        suffix = str[suffixStart..end];
        return true;
    }

    private static bool IsDigit(char c) => c is >= '0' and <= '9';

    private static bool TryInterpretSuffix(string suffix, out bool binary, out int exponent, out QuantityFormat format)
    {
        binary = false;
        format = QuantityFormat.DecimalSI;
        exponent = suffix switch
        {
            "" => 0,
            "n" => -9,
            "u" => -6,
            "m" => -3,
            "k" => 3,
            "M" => 6,
            "G" => 9,
            "T" => 12,
            "P" => 15,
            "E" => 18,
            _ => int.MinValue,
        };
        if (exponent != int.MinValue) return true;

        exponent = suffix switch
        {
            "Ki" => 10,
            "Mi" => 20,
            "Gi" => 30,
            "Ti" => 40,
            "Pi" => 50,
            "Ei" => 60,
            _ => int.MinValue,
        };
        if (exponent != int.MinValue)
        {
            binary = true;
            format = QuantityFormat.BinarySI;
            return true;
        }

        format = QuantityFormat.DecimalExponent;
        if (suffix.Length > 1 && (suffix[0] == 'e' || suffix[0] == 'E')
            && long.TryParse(suffix.AsSpan(1), NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var parsed)
            && parsed is >= -int.MaxValue and <= int.MaxValue)
        {
            exponent = (int)parsed;
            return true;
        }
        exponent = 0;
        return false;
    }

    // ---- value accessors ----

    /// <summary>The value rounded away from zero to an integer (saturating at the int64 limits).</summary>
    public long Value() => ScaledValue(0);

    /// <summary>ceil(q * 1000), rounding away from zero (saturating at the int64 limits).</summary>
    public long MilliValue() => ScaledValue(Milli);

    /// <summary>The value in units of 10^<paramref name="scale"/>, rounded away from zero (saturating).</summary>
    public long ScaledValue(int scale)
    {
        if (_unscaled.IsZero) return 0;
        BigInteger result;
        if (_exponent >= scale)
        {
            var shift = _exponent - scale;
            if (DigitCount(_unscaled) + shift > 20) return _unscaled.Sign < 0 ? long.MinValue : long.MaxValue;
            result = _unscaled * BigInteger.Pow(10, (int)shift);
        }
        else
        {
            (result, _) = RoundAwayFromZero(_unscaled, _exponent, scale);
        }
        if (result > long.MaxValue) return long.MaxValue;
        if (result < long.MinValue) return long.MinValue;
        return (long)result;
    }

    /// <summary>AsInt64: the exact integer value when it has no fraction and fits an int64.</summary>
    public bool TryGetInt64(out long value)
    {
        value = 0;
        if (_exponent < 0) return false;
        if (DigitCount(_unscaled) + _exponent > 20) return false;
        var full = _unscaled * BigInteger.Pow(10, (int)_exponent);
        if (full < long.MinValue || full > long.MaxValue) return false;
        value = (long)full;
        return true;
    }

    /// <summary>AsApproximateFloat64.</summary>
    public double ToDouble()
    {
        if (_unscaled.IsZero) return 0;
        return double.Parse($"{_unscaled.ToString(CultureInfo.InvariantCulture)}E{_exponent.ToString(CultureInfo.InvariantCulture)}", NumberStyles.Float, CultureInfo.InvariantCulture);
    }

    /// <summary>The value rounded away from zero to a multiple of 10^<paramref name="scale"/>; <paramref name="exact"/> is false if precision was lost.</summary>
    public Quantity RoundUp(int scale, out bool exact)
    {
        exact = true;
        if (_exponent >= scale) return this;
        var (rounded, wasExact) = RoundAwayFromZero(_unscaled, _exponent, scale);
        exact = wasExact;
        return new Quantity(rounded, scale, Format);
    }

    // ---- arithmetic ----

    /// <summary>Sum; a zero left operand takes the right operand's format, as upstream.</summary>
    public Quantity Add(Quantity other)
    {
        ArgumentNullException.ThrowIfNull(other);
        var format = IsZero ? other.Format : Format;
        var (a, b, scale) = Align(this, other);
        return new Quantity(a + b, scale, format);
    }

    /// <summary>Difference; a zero left operand takes the right operand's format, as upstream.</summary>
    public Quantity Subtract(Quantity other)
    {
        ArgumentNullException.ThrowIfNull(other);
        var format = IsZero ? other.Format : Format;
        var (a, b, scale) = Align(this, other);
        return new Quantity(a - b, scale, format);
    }

    public Quantity Negate() => new(-_unscaled, _exponent, Format);

    /// <summary>Product with an integer; always exact here (upstream reports int64 overflow instead).</summary>
    public Quantity Multiply(long factor) => new(_unscaled * factor, _exponent, Format);

    public static Quantity operator +(Quantity left, Quantity right) => left.Add(right);

    public static Quantity operator -(Quantity left, Quantity right) => left.Subtract(right);

    public static Quantity operator -(Quantity value) => value.Negate();

    private static (BigInteger A, BigInteger B, long Scale) Align(Quantity x, Quantity y)
    {
        if (x.IsZero) return (BigInteger.Zero, y._unscaled, y._exponent);
        if (y.IsZero) return (x._unscaled, BigInteger.Zero, x._exponent);
        if (x._exponent == y._exponent) return (x._unscaled, y._unscaled, x._exponent);
        return x._exponent > y._exponent
            ? (x._unscaled * Pow10(x._exponent - y._exponent), y._unscaled, y._exponent)
            : (x._unscaled, y._unscaled * Pow10(y._exponent - x._exponent), x._exponent);
    }

    // ---- comparison ----

    public int CompareTo(Quantity? other)
    {
        if (other is null) return 1;
        return CompareValues(_unscaled, _exponent, other._unscaled, other._exponent);
    }

    public int CompareTo(object? obj) => obj switch
    {
        null => 1,
        Quantity q => CompareTo(q),
        _ => throw new ArgumentException($"Object must be of type {nameof(Quantity)}.", nameof(obj)),
    };

    /// <summary>Compare with an integer (CmpInt64).</summary>
    public int CompareTo(long value) => CompareValues(_unscaled, _exponent, value, 0);

    public bool Equals(Quantity? other) => other is not null && _unscaled == other._unscaled && _exponent == other._exponent;

    public override bool Equals(object? obj) => obj is Quantity q && Equals(q);

    public override int GetHashCode() => HashCode.Combine(_unscaled, _exponent);

    public static bool operator ==(Quantity? left, Quantity? right) => left is null ? right is null : left.Equals(right);

    public static bool operator !=(Quantity? left, Quantity? right) => !(left == right);

    public static bool operator <(Quantity left, Quantity right) => left.CompareTo(right) < 0;

    public static bool operator <=(Quantity left, Quantity right) => left.CompareTo(right) <= 0;

    public static bool operator >(Quantity left, Quantity right) => left.CompareTo(right) > 0;

    public static bool operator >=(Quantity left, Quantity right) => left.CompareTo(right) >= 0;

    private static int CompareValues(BigInteger a, long aScale, BigInteger b, long bScale)
    {
        if (a.Sign != b.Sign) return a.Sign.CompareTo(b.Sign);
        if (a.IsZero) return 0;
        var magnitude = CompareMagnitude(BigInteger.Abs(a), aScale, BigInteger.Abs(b), bScale);
        return a.Sign > 0 ? magnitude : -magnitude;
    }

    // Compares non-negative values; decides by decimal order of magnitude first so that wildly
    // different exponents (1e2147483647) never get expanded into digits.
    private static int CompareMagnitude(BigInteger a, long aScale, BigInteger b, long bScale)
    {
        if (a.IsZero || b.IsZero) return a.IsZero ? (b.IsZero ? 0 : -1) : 1;
        var aOrder = DigitCount(a) + aScale;
        var bOrder = DigitCount(b) + bScale;
        if (aOrder != bOrder) return aOrder.CompareTo(bOrder);
        return aScale >= bScale
            ? (a * Pow10(aScale - bScale)).CompareTo(b)
            : a.CompareTo(b * Pow10(bScale - aScale));
    }

    // ---- canonical form ----

    /// <summary>The canonical string exactly as upstream Quantity.String() / MarshalJSON emit it.</summary>
    public override string ToString() => _canonical ??= Canonicalize();

    private string Canonicalize()
    {
        if (_unscaled.IsZero) return "0";

        var format = Format;
        if (format == QuantityFormat.BinarySI)
        {
            if (CompareValues(_unscaled, _exponent, -1024, 0) > 0 && CompareValues(_unscaled, _exponent, 1024, 0) < 0)
            {
                format = QuantityFormat.DecimalSI;
            }
            else if (_exponent < 0)
            {
                // Rounding to an integer would lose precision; show it as DecimalSI instead.
                format = QuantityFormat.DecimalSI;
            }
            else if (_exponent >= 70)
            {
                // 10^70 already holds 1024^7, past Ei: the decimal fallback below applies, so skip
                // expanding what may be an enormous integer.
                format = QuantityFormat.DecimalExponent;
            }
            else
            {
                var integer = _unscaled * Pow10(_exponent);
                var power = 0;
                while (true)
                {
                    var quotient = BigInteger.DivRem(integer, 1024, out var remainder);
                    if (!remainder.IsZero || BigInteger.Abs(integer) < 1024) break;
                    integer = quotient;
                    power++;
                }
                var binarySuffix = power switch
                {
                    0 => "",
                    1 => "Ki",
                    2 => "Mi",
                    3 => "Gi",
                    4 => "Ti",
                    5 => "Pi",
                    6 => "Ei",
                    _ => null,
                };
                if (binarySuffix is not null) return integer.ToString(CultureInfo.InvariantCulture) + binarySuffix;
                // Past Ei there is no binary suffix; upstream falls back to exact decimal exponent notation.
                format = QuantityFormat.DecimalExponent;
            }
        }

        var mantissa = _unscaled;
        var exponent = _exponent;
        var adjust = (int)(((exponent % 3) + 3) % 3);
        if (adjust != 0)
        {
            mantissa *= adjust == 1 ? 10 : 100;
            exponent -= adjust;
        }

        var builder = new StringBuilder(mantissa.ToString(CultureInfo.InvariantCulture));
        var decimalSuffix = format == QuantityFormat.DecimalSI ? DecimalSuffix(exponent) : null;
        if (decimalSuffix is not null)
        {
            builder.Append(decimalSuffix);
        }
        else if (exponent != 0)
        {
            // DecimalExponent, or a DecimalSI value outside n..E (upstream falls back to exponent notation).
            builder.Append('e').Append(exponent.ToString(CultureInfo.InvariantCulture));
        }
        return builder.ToString();
    }

    private static string? DecimalSuffix(long exponent) => exponent switch
    {
        -9 => "n",
        -6 => "u",
        -3 => "m",
        0 => "",
        3 => "k",
        6 => "M",
        9 => "G",
        12 => "T",
        15 => "P",
        18 => "E",
        _ => null,
    };

    // ---- helpers ----

    private static BigInteger Pow10(long exponent)
    {
        if (exponent > 1_000_000)
        {
            throw new OverflowException($"quantity arithmetic would need 10^{exponent}; exponents this far apart are not supported");
        }
        return BigInteger.Pow(10, (int)exponent);
    }

    private static long DigitCount(BigInteger value)
    {
        value = BigInteger.Abs(value);
        if (value.IsZero) return 1;
        // Estimate from the bit length, then correct by at most one.
        var estimate = (long)((value.GetBitLength() - 1) * 0.30102999566398120) + 1;
        if (value >= BigInteger.Pow(10, (int)estimate)) estimate++;
        else if (estimate > 1 && value < BigInteger.Pow(10, (int)estimate - 1)) estimate--;
        return estimate;
    }

    /// <summary>Rescales to the coarser <paramref name="toScale"/>, rounding away from zero.</summary>
    private static (BigInteger Value, bool Exact) RoundAwayFromZero(BigInteger unscaled, long fromScale, long toScale)
    {
        var drop = toScale - fromScale;
        if (unscaled.IsZero) return (BigInteger.Zero, true);
        if (drop > DigitCount(unscaled))
        {
            // |value| < one unit of the target scale: the smallest non-zero amount.
            return (unscaled.Sign, false);
        }
        var quotient = BigInteger.DivRem(unscaled, BigInteger.Pow(10, (int)drop), out var remainder);
        if (remainder.IsZero) return (quotient, true);
        return (quotient + unscaled.Sign, false);
    }
}

/// <summary>Quantity wire form: a JSON string (or number) in, the canonical string out.</summary>
public sealed class QuantityJsonConverter : JsonConverter<Quantity>
{
    public override Quantity Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options)
    {
        string text;
        switch (reader.TokenType)
        {
            case JsonTokenType.String:
                // Upstream UnmarshalJSON trims surrounding whitespace inside the quotes.
                text = reader.GetString()!.Trim();
                break;
            case JsonTokenType.Number:
                text = Encoding.UTF8.GetString(reader.HasValueSequence ? reader.ValueSequence.ToArray() : reader.ValueSpan);
                break;
            default:
                throw new JsonException($"a quantity must be a JSON string or number, not {reader.TokenType}");
        }
        try
        {
            return Quantity.Parse(text);
        }
        catch (QuantityFormatException e)
        {
            throw new JsonException(e.Message, e);
        }
    }

    public override void Write(Utf8JsonWriter writer, Quantity value, JsonSerializerOptions options)
        => writer.WriteStringValue(value.ToString());
}

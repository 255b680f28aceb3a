using System.Buffers;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace Kcm.Api;

/// <summary>An IntOrString that cannot be used as an integer or a percentage.</summary>
public sealed class IntOrStringFormatException : FormatException
{
    public IntOrStringFormatException(string message) : base(message)
    {
    }
}

/// <summary>
/// k8s.io/apimachinery/pkg/util/intstr.IntOrString: a JSON number or a JSON string.
/// <c>default</c> is the integer 0, as upstream's zero value.
/// </summary>
[JsonConverter(typeof(IntOrStringJsonConverter))]
public readonly struct IntOrString : IEquatable<IntOrString>
{
    private readonly int _int;
    private readonly string? _string;

    /// <summary>Exactly one of the two may be set; both null means the integer 0.</summary>
    public IntOrString(int? intValue, string? stringValue)
    {
        if (intValue is not null && stringValue is not null)
        {
            throw new ArgumentException("an IntOrString holds either an int or a string, not both", nameof(stringValue));
        }
        _int = intValue ?? 0;
        _string = stringValue;
    }

    public bool IsInt => _string is null;

    public bool IsString => _string is not null;

    /// <summary>The integer, or null when this holds a string.</summary>
    public int? IntValue => IsInt ? _int : null;

    /// <summary>The string, or null when this holds an integer.</summary>
    public string? StringValue => _string;

    public static IntOrString FromInt(int value) => new(value, null);

    public static IntOrString FromString(string value) => new(null, value ?? throw new ArgumentNullException(nameof(value)));

    /// <summary>intstr.Parse: an integer if the text is one, otherwise the text as a string.</summary>
    public static IntOrString Parse(string value)
        => TryAtoi(value, out var i) && i is >= int.MinValue and <= int.MaxValue ? FromInt((int)i) : FromString(value);

    public static implicit operator IntOrString(int value) => FromInt(value);

    public static implicit operator IntOrString(string value) => FromString(value);

    /// <summary>upstream IntValue(): the integer, or the string parsed as an integer (0 if it is not one).</summary>
    public int ToInt32() => IsInt ? _int : TryAtoi(_string!, out var i) ? unchecked((int)i) : 0;

    public override string ToString() => _string ?? _int.ToString(CultureInfo.InvariantCulture);

    public bool Equals(IntOrString other) => _int == other._int && string.Equals(_string, other._string, StringComparison.Ordinal);

    public override bool Equals(object? obj) => obj is IntOrString other && Equals(other);

    public override int GetHashCode() => IsInt ? _int.GetHashCode() : StringComparer.Ordinal.GetHashCode(_string!);

    public static bool operator ==(IntOrString left, IntOrString right) => left.Equals(right);

    public static bool operator !=(IntOrString left, IntOrString right) => !left.Equals(right);

    /// <summary>
    /// intstr.GetScaledValueFromIntOrPercent: an int is returned as is; "N%" is N percent of
    /// <paramref name="total"/>, rounded up or down. Anything else is an error with upstream's wording.
    /// </summary>
    public static int GetScaledValueFromIntOrPercent(IntOrString? intOrPercent, int total, bool roundUp)
    {
        if (intOrPercent is not { } value)
        {
            throw new IntOrStringFormatException("nil value for IntOrString");
        }
        if (value.IsInt) return value._int;

        var text = value._string!;
        if (!text.EndsWith('%'))
        {
            throw new IntOrStringFormatException("invalid value for IntOrString: invalid type: string is not a percentage");
        }
        var number = text[..^1];
        if (!TryAtoi(number, out var percent))
        {
            throw new IntOrStringFormatException(
                $"invalid value for IntOrString: invalid value \"{text}\": strconv.Atoi: parsing \"{number}\": invalid syntax");
        }
        // Upstream computes in float64; keep the same arithmetic so rounding matches at the edges.
        var scaled = (double)percent * total / 100;
        return (int)(roundUp ? Math.Ceiling(scaled) : Math.Floor(scaled));
    }

    // strconv.Atoi: optional sign, ASCII digits only, no whitespace.
    private static bool TryAtoi(string text, out long value)
        => long.TryParse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out value);
}

public sealed class IntOrStringJsonConverter : JsonConverter<IntOrString>
{
    public override IntOrString Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options)
    {
        switch (reader.TokenType)
        {
            case JsonTokenType.String:
                return IntOrString.FromString(reader.GetString()!);
            case JsonTokenType.Number:
                if (reader.TryGetInt32(out var i)) return IntOrString.FromInt(i);
                throw new JsonException(
                    $"cannot unmarshal number {System.Text.Encoding.UTF8.GetString(reader.HasValueSequence ? reader.ValueSequence.ToArray() : reader.ValueSpan)} into an int32 IntOrString");
            case JsonTokenType.Null:
                return default;
            default:
                throw new JsonException($"an IntOrString must be a JSON number or string, not {reader.TokenType}");
        }
    }

    public override void Write(Utf8JsonWriter writer, IntOrString value, JsonSerializerOptions options)
    {
        if (value.StringValue is { } s) writer.WriteStringValue(s);
        else writer.WriteNumberValue(value.IntValue!.Value);
    }
}

using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace Kcm.Api;

/// <summary>Reads RFC 3339 timestamps the way Go's time.Parse(time.RFC3339, ...) accepts them.</summary>
public static class KubeTime
{
    /// <summary>metav1.Time wire form: second precision, UTC, e.g. 2006-01-02T15:04:05Z.</summary>
    public static string Format(DateTimeOffset value)
        => value.UtcDateTime.ToString("yyyy'-'MM'-'dd'T'HH':'mm':'ss'Z'", CultureInfo.InvariantCulture);

    /// <summary>metav1.MicroTime wire form: six fractional digits, UTC, e.g. 2006-01-02T15:04:05.000000Z.</summary>
    public static string FormatMicro(DateTimeOffset value)
        => value.UtcDateTime.ToString("yyyy'-'MM'-'dd'T'HH':'mm':'ss'.'ffffff'Z'", CultureInfo.InvariantCulture);

    /// <summary>
    /// Parses yyyy-MM-ddTHH:mm:ss[.fraction](Z|±hh:mm). Fractions of any length are accepted (beyond
    /// 100ns they are truncated). The result is in UTC.
    /// </summary>
    public static bool TryParse(string? text, out DateTimeOffset value)
    {
        value = default;
        if (text is null || text.Length < 20) return false;
        var s = text.AsSpan();
        if (s[4] != '-' || s[7] != '-' || s[10] != 'T' || s[13] != ':' || s[16] != ':') return false;
        if (!TryDigits(s[..4], out var year) || !TryDigits(s[5..7], out var month) || !TryDigits(s[8..10], out var day)
            || !TryDigits(s[11..13], out var hour) || !TryDigits(s[14..16], out var minute) || !TryDigits(s[17..19], out var second))
        {
            return false;
        }

        var pos = 19;
        long ticks = 0;
        if (s[pos] == '.' || s[pos] == ',')
        {
            pos++;
            var start = pos;
            while (pos < s.Length && s[pos] is >= '0' and <= '9') pos++;
            if (pos == start) return false;
            var fraction = s[start..pos];
            for (var i = 0; i < 7; i++)
            {
                ticks = ticks * 10 + (i < fraction.Length ? fraction[i] - '0' : 0);
            }
        }
        if (pos >= s.Length) return false;

        TimeSpan offset;
        if (s[pos] == 'Z' && pos == s.Length - 1)
        {
            offset = TimeSpan.Zero;
        }
        else if ((s[pos] == '+' || s[pos] == '-') && s.Length - pos == 6 && s[pos + 3] == ':'
            && TryDigits(s.Slice(pos + 1, 2), out var offsetHours) && TryDigits(s.Slice(pos + 4, 2), out var offsetMinutes)
            && offsetHours < 24 && offsetMinutes < 60)
        {
            offset = new TimeSpan(offsetHours, offsetMinutes, 0);
            if (s[pos] == '-') offset = -offset;
        }
        else
        {
            return false;
        }

        if (month is < 1 or > 12 || day < 1 || year < 1 || day > DateTime.DaysInMonth(year, month)
            || hour > 23 || minute > 59 || second > 59)
        {
            return false;
        }
        try
        {
            var local = new DateTime(year, month, day, hour, minute, second, DateTimeKind.Unspecified).AddTicks(ticks);
            value = new DateTimeOffset(local, offset).ToUniversalTime();
            return true;
        }
        catch (ArgumentOutOfRangeException)
        {
            return false;
        }
    }

    private static bool TryDigits(ReadOnlySpan<char> span, out int value)
    {
        value = 0;
        foreach (var c in span)
        {
            if (c is < '0' or > '9') return false;
            value = value * 10 + (c - '0');
        }
        return true;
    }

    internal static DateTimeOffset Read(ref Utf8JsonReader reader, string kind)
    {
        if (reader.TokenType == JsonTokenType.Null) return default;
        if (reader.TokenType != JsonTokenType.String)
        {
            throw new JsonException($"a {kind} must be a JSON string in RFC 3339 form, not {reader.TokenType}");
        }
        var text = reader.GetString();
        return TryParse(text, out var value)
            ? value
            : throw new JsonException($"cannot parse {kind} \"{text}\": expected RFC 3339 form like 2006-01-02T15:04:05Z");
    }
}

/// <summary>
/// metav1.Time: written as RFC 3339 in UTC with sub-seconds truncated; any RFC 3339 offset or fraction
/// is read. The zero time is written as null, as upstream does (e.g. "creationTimestamp": null).
/// </summary>
public sealed class KubeTimeConverter : JsonConverter<DateTimeOffset>
{
    public override DateTimeOffset Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options)
        => KubeTime.Read(ref reader, "time");

    public override void Write(Utf8JsonWriter writer, DateTimeOffset value, JsonSerializerOptions options)
    {
        if (value == default) writer.WriteNullValue();
        else writer.WriteStringValue(KubeTime.Format(value));
    }
}

/// <summary>
/// metav1.MicroTime: written as RFC 3339 in UTC with exactly six fractional digits. Reading is more
/// lenient than upstream (which requires the six digits): any RFC 3339 form is accepted.
/// </summary>
public sealed class MicroTimeConverter : JsonConverter<DateTimeOffset>
{
    public override DateTimeOffset Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options)
        => KubeTime.Read(ref reader, "micro time");

    public override void Write(Utf8JsonWriter writer, DateTimeOffset value, JsonSerializerOptions options)
    {
        if (value == default) writer.WriteNullValue();
        else writer.WriteStringValue(KubeTime.FormatMicro(value));
    }
}

using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace Kcm.Api.Tests.Codecs;

public class TimeConverterTests
{
    private static readonly JsonSerializerOptions TimeOptions = new() { Converters = { new KubeTimeConverter() } };
    private static readonly JsonSerializerOptions MicroOptions = new() { Converters = { new MicroTimeConverter() } };

    private static string WriteTime(DateTimeOffset value)
    {
        using var stream = new MemoryStream();
        using (var writer = new Utf8JsonWriter(stream)) new KubeTimeConverter().Write(writer, value, TimeOptions);
        return Encoding.UTF8.GetString(stream.ToArray());
    }

    private static string WriteMicro(DateTimeOffset value)
    {
        using var stream = new MemoryStream();
        using (var writer = new Utf8JsonWriter(stream)) new MicroTimeConverter().Write(writer, value, MicroOptions);
        return Encoding.UTF8.GetString(stream.ToArray());
    }

    private static DateTimeOffset Read(JsonConverter<DateTimeOffset> converter, string json)
    {
        var reader = new Utf8JsonReader(Encoding.UTF8.GetBytes(json));
        reader.Read();
        return converter.Read(ref reader, typeof(DateTimeOffset), TimeOptions);
    }

    [Fact]
    public void KubeTimeWrite_SubSecondsAndOffset_TruncatesToUtcSeconds()
    {
        var value = new DateTimeOffset(2024, 3, 5, 10, 20, 30, 999, TimeSpan.FromHours(2));

        Assert.Equal("\"2024-03-05T08:20:30Z\"", WriteTime(value));
    }

    [Fact]
    public void KubeTimeWrite_ZeroTime_WritesNull()
    {
        Assert.Equal("null", WriteTime(default));
    }

    [Theory]
    [InlineData("\"2024-03-05T08:20:30Z\"", "2024-03-05T08:20:30.0000000+00:00")]
    [InlineData("\"2024-03-05T10:20:30+02:00\"", "2024-03-05T08:20:30.0000000+00:00")]
    [InlineData("\"2024-03-05T03:20:30-05:00\"", "2024-03-05T08:20:30.0000000+00:00")]
    [InlineData("\"2024-03-05T08:20:30.123Z\"", "2024-03-05T08:20:30.1230000+00:00")]
    [InlineData("\"2024-03-05T08:20:30.123456789Z\"", "2024-03-05T08:20:30.1234567+00:00")]
    [InlineData("\"2024-02-29T23:59:59Z\"", "2024-02-29T23:59:59.0000000+00:00")]
    [InlineData("null", "0001-01-01T00:00:00.0000000+00:00")]
    public void KubeTimeRead_AnyRfc3339_ReturnsUtcInstant(string json, string expected)
    {
        var value = Read(new KubeTimeConverter(), json);

        Assert.Equal(expected, value.ToString("o"));
        Assert.Equal(TimeSpan.Zero, value.Offset);
    }

    [Theory]
    [InlineData("yesterday")]
    [InlineData("2024-03-05")]
    [InlineData("2024-03-05 08:20:30Z")]
    [InlineData("2024-03-05T08:20:30")]
    [InlineData("2024-13-05T08:20:30Z")]
    [InlineData("2023-02-29T08:20:30Z")]
    [InlineData("2024-03-05T25:20:30Z")]
    [InlineData("2024-03-05T08:20:30.Z")]
    [InlineData("2024-03-05T08:20:30+0200")]
    [InlineData("2024-03-05T08:20:30z")]
    public void KubeTimeRead_BadText_ThrowsJsonExceptionNamingValue(string text)
    {
        var error = Assert.Throws<JsonException>(() => Read(new KubeTimeConverter(), $"\"{text}\""));

        Assert.Contains(text, error.Message);
    }

    [Fact]
    public void KubeTimeRead_Number_ThrowsJsonException()
    {
        Assert.Throws<JsonException>(() => Read(new KubeTimeConverter(), "12"));
    }

    [Theory]
    [InlineData(0, "\"2024-03-05T08:20:30.000000Z\"")]
    [InlineData(1_234_567, "\"2024-03-05T08:20:30.123456Z\"")]
    [InlineData(10, "\"2024-03-05T08:20:30.000001Z\"")]
    public void MicroTimeWrite_Value_HasExactlySixFractionDigitsInUtc(long extraTicks, string expected)
    {
        var value = new DateTimeOffset(2024, 3, 5, 9, 20, 30, TimeSpan.FromHours(1)).AddTicks(extraTicks);

        Assert.Equal(expected, WriteMicro(value));
    }

    [Fact]
    public void MicroTimeWrite_ZeroTime_WritesNull()
    {
        Assert.Equal("null", WriteMicro(default));
    }

    [Theory]
    [InlineData("\"2024-03-05T08:20:30.123456Z\"", 1_234_560)]
    [InlineData("\"2024-03-05T09:20:30.000001+01:00\"", 10)]
    [InlineData("\"2024-03-05T08:20:30Z\"", 0)]
    public void MicroTimeRead_Rfc3339_KeepsMicroseconds(string json, long ticksPastSecond)
    {
        var value = Read(new MicroTimeConverter(), json);

        Assert.Equal(new DateTimeOffset(2024, 3, 5, 8, 20, 30, TimeSpan.Zero).AddTicks(ticksPastSecond), value);
    }

    [Fact]
    public void MicroTimeRead_BadText_ThrowsJsonExceptionNamingValue()
    {
        var error = Assert.Throws<JsonException>(() => Read(new MicroTimeConverter(), "\"2024-03-05T08:20:30.1234567\""));

        Assert.Contains("2024-03-05T08:20:30.1234567", error.Message);
    }
}

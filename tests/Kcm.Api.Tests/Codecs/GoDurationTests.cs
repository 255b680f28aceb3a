using Kcm.Api.Codecs;

namespace Kcm.Api.Tests.Codecs;

public class GoDurationTests
{
    [Theory]
    [InlineData("0", 0)]
    [InlineData("8760h", 8760 * 3600_000.0)]
    [InlineData("1m30s", 90_000)]
    [InlineData("1.5s", 1500)]
    [InlineData("500ms", 500)]
    [InlineData("-2s", -2000)]
    [InlineData("1h2m3s4ms", 3723_004)]
    public void TryParse_GoForms_Parse(string text, double milliseconds)
    {
        Assert.True(GoDuration.TryParse(text, out var d));
        Assert.Equal(milliseconds, d.TotalMilliseconds, 3);
    }

    [Theory]
    [InlineData("")]
    [InlineData("10")]
    [InlineData("1y")]
    [InlineData("h")]
    [InlineData("1.2.3s")]
    public void TryParse_Invalid_Fails(string text) => Assert.False(GoDuration.TryParse(text, out _));

    [Theory]
    [InlineData("9999999999h", "time: invalid duration \"9999999999h\"")]
    [InlineData("2562048h", "time: invalid duration \"2562048h\"")]
    [InlineData("9223372036854775808ns", "time: invalid duration \"9223372036854775808ns\"")]
    [InlineData("99999999999999999999s", "time: invalid duration \"99999999999999999999s\"")]
    [InlineData("10", "time: missing unit in duration \"10\"")]
    [InlineData("1y", "time: unknown unit \"y\" in duration \"1y\"")]
    [InlineData(".s", "time: invalid duration \".s\"")]
    [InlineData("", "time: invalid duration \"\"")]
    public void TryParse_BeyondGoRangeOrMalformed_FailsWithGoText(string text, string expected)
    {
        Assert.False(GoDuration.TryParse(text, out _, out var error));
        Assert.Equal(expected, error);
    }

    [Theory]
    [InlineData("2562047h", 2562047L * 3600 * TimeSpan.TicksPerSecond)]
    [InlineData("9223372036854775807ns", 92233720368547758L)]
    [InlineData("-9223372036854775808ns", -92233720368547758L)]
    [InlineData("1.5h", 5400L * TimeSpan.TicksPerSecond)]
    [InlineData("+5s", 5L * TimeSpan.TicksPerSecond)]
    [InlineData("1.000000000000000000001s", TimeSpan.TicksPerSecond)]
    public void TryParse_AtGoLimits_Parses(string text, long ticks)
    {
        Assert.True(GoDuration.TryParse(text, out var d, out var error));
        Assert.Null(error);
        Assert.Equal(ticks, d.Ticks);
    }

    [Theory]
    [InlineData(0, "0s")]
    [InlineData(15_000, "15s")]
    [InlineData(90_000, "1m30s")]
    [InlineData(3600_000, "1h0m0s")]
    [InlineData(500, "500ms")]
    [InlineData(31_536_000_000, "8760h0m0s")]
    public void Format_TimeSpan_MatchesGo(long milliseconds, string expected)
        => Assert.Equal(expected, GoDuration.Format(TimeSpan.FromMilliseconds(milliseconds)));

    [Theory]
    [InlineData(0L, "0s")]
    [InlineData(1_500_000_000L, "1.5s")]
    [InlineData(300_000_000L, "300ms")]
    [InlineData(1_500L, "1.5µs")]
    [InlineData(100L, "100ns")]
    [InlineData(3_600_000_000_000L, "1h0m0s")]
    [InlineData(-90_000_000_000L, "-1m30s")]
    [InlineData(long.MinValue, "-2562047h47m16.854775808s")]
    public void Format_Nanoseconds_MatchesGo(long nanoseconds, string expected) => Assert.Equal(expected, GoDuration.Format(nanoseconds));

    [Fact]
    public void Format_TimeSpanBeyondGoRange_Saturates() => Assert.Equal("2562047h47m16.854775807s", GoDuration.Format(TimeSpan.MaxValue));
}

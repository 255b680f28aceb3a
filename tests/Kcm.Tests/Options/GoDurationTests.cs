using Kcm.Options;

namespace Kcm.Tests.Options;

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
    [InlineData(0, "0s")]
    [InlineData(15_000, "15s")]
    [InlineData(90_000, "1m30s")]
    [InlineData(3600_000, "1h0m0s")]
    [InlineData(500, "500ms")]
    [InlineData(31_536_000_000, "8760h0m0s")]
    public void Format_MatchesGo(long milliseconds, string expected)
        => Assert.Equal(expected, GoDuration.Format(TimeSpan.FromMilliseconds(milliseconds)));
}

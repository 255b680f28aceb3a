using System.Text.Json;

namespace Kcm.Api.Tests.Codecs;

public class QuantityTests
{
    // Input → the exact string upstream Quantity.String()/MarshalJSON emits after ParseQuantity.
    [Theory]
    [InlineData("0", "0")]
    [InlineData("0n", "0")]
    [InlineData("0m", "0")]
    [InlineData("0Ki", "0")]
    [InlineData("0Ti", "0")]
    [InlineData("-0", "0")]
    [InlineData(".", "0")]
    [InlineData("1", "1")]
    [InlineData("9", "9")]
    // binary suffixes
    [InlineData("1Ki", "1Ki")]
    [InlineData("8Ki", "8Ki")]
    [InlineData("7Mi", "7Mi")]
    [InlineData("6Gi", "6Gi")]
    [InlineData("5Ti", "5Ti")]
    [InlineData("4Pi", "4Pi")]
    [InlineData("3Ei", "3Ei")]
    [InlineData("100Ti", "100Ti")]
    [InlineData("1024Ki", "1Mi")]
    [InlineData("1024Mi", "1Gi")]
    [InlineData("1.5Gi", "1536Mi")]
    [InlineData("0.5Mi", "512Ki")]
    [InlineData("1025Ki", "1025Ki")]
    // decimal suffixes
    [InlineData("5n", "5n")]
    [InlineData("4u", "4u")]
    [InlineData("3m", "3m")]
    [InlineData("8k", "8k")]
    [InlineData("50k", "50k")]
    [InlineData("7M", "7M")]
    [InlineData("100M", "100M")]
    [InlineData("1000M", "1G")]
    [InlineData("6G", "6G")]
    [InlineData("5T", "5T")]
    [InlineData("40T", "40T")]
    [InlineData("300T", "300T")]
    [InlineData("2P", "2P")]
    [InlineData("1E", "1E")]
    [InlineData("12E", "12E")]
    [InlineData("1000E", "1e21")]
    // decimal exponents (a canonical-looking input is re-emitted verbatim, as upstream caches it)
    [InlineData("1e3", "1e3")]
    [InlineData("1E6", "1E6")]
    [InlineData("1E-3", "1E-3")]
    [InlineData("1e9", "1e9")]
    [InlineData("1e13", "10e12")]
    [InlineData("1e14", "100e12")]
    [InlineData("1e100", "10e99")]
    [InlineData("0.5e0", "500e-3")]
    [InlineData("1.2e3", "1200")]
    [InlineData("1.3E+6", "1300e3")]
    [InlineData("1.1E-9", "2e-9")]
    // fractions
    [InlineData("1.5", "1500m")]
    [InlineData("0.1", "100m")]
    [InlineData("0.5", "500m")]
    [InlineData("0.001", "1m")]
    [InlineData(".001", "1m")]
    [InlineData(".0001k", "100m")]
    [InlineData("0.0005k", "500m")]
    [InlineData("9.01", "9010m")]
    [InlineData("8.1k", "8100")]
    [InlineData("40.1T", "40100G")]
    [InlineData("2.5P", "2500T")]
    [InlineData("1.01E", "1010P")]
    [InlineData("1000m", "1")]
    [InlineData("1500m", "1500m")]
    [InlineData("100.035Ki", "102435840m")]
    [InlineData("0.05Gi", "53687091200m")]
    [InlineData(".001Ki", "1024m")]
    [InlineData(".000001Ki", "1024u")]
    [InlineData(".000000001Ki", "1024n")]
    // rounding up to nano precision
    [InlineData("3.001n", "4n")]
    [InlineData("0.0000000001", "1n")]
    [InlineData("0.0000000005", "1n")]
    [InlineData("0.9n", "1n")]
    [InlineData("0.00000012345", "124n")]
    [InlineData(".000000000001Ki", "2n")]
    [InlineData("0.000000000001Ki", "2n")]
    [InlineData("-.484785E-7466", "-1e-9")]
    // signs
    [InlineData("-1", "-1")]
    [InlineData("-1.5", "-1500m")]
    [InlineData("-100m", "-100m")]
    [InlineData("-1.5Gi", "-1536Mi")]
    [InlineData("-1024Ki", "-1Mi")]
    // very large: BinarySI is capped at 2^63-1, decimal forms are not
    [InlineData("9Ei", "9223372036854775807")]
    [InlineData("9223372036854775807Ki", "9223372036854775807")]
    [InlineData("9223372036854775807", "9223372036854775807")]
    [InlineData("9223372036854775808", "9223372036854775808")]
    [InlineData("-9Ei", "-9223372036854775807")]
    // upstream re-emits these fast-path inputs verbatim instead of canonicalizing them
    [InlineData("+1", "+1")]
    [InlineData("01", "01")]
    [InlineData("1.", "1.")]
    [InlineData("1.G", "1.G")]
    [InlineData("100.035k", "100.035k")]
    [InlineData("7.123456M", "7.123456M")]
    public void Parse_ValidInput_EmitsUpstreamCanonicalString(string input, string expected)
    {
        var quantity = Quantity.Parse(input);

        Assert.Equal(expected, quantity.ToString());
    }

    [Theory]
    [InlineData("1Ki")]
    [InlineData("1.5Gi")]
    [InlineData("1500m")]
    [InlineData("1e3")]
    [InlineData("1000E")]
    [InlineData("0.00000012345")]
    [InlineData("-9Ei")]
    [InlineData("1e100")]
    [InlineData("100.035k")]
    public void Parse_CanonicalOutput_ReparsesToSameValueAndString(string input)
    {
        var first = Quantity.Parse(input);
        var second = Quantity.Parse(first.ToString());

        Assert.Equal(first, second);
        Assert.Equal(first.ToString(), second.ToString());
    }

    [Theory]
    [InlineData("0", QuantityFormat.DecimalSI)]
    [InlineData("0Ki", QuantityFormat.BinarySI)]
    [InlineData("1Mi", QuantityFormat.BinarySI)]
    [InlineData("1.5Gi", QuantityFormat.BinarySI)]
    [InlineData("0.5Ki", QuantityFormat.BinarySI)]
    [InlineData(".000000000001Ki", QuantityFormat.DecimalSI)]
    [InlineData("1k", QuantityFormat.DecimalSI)]
    [InlineData("1", QuantityFormat.DecimalSI)]
    [InlineData("1e3", QuantityFormat.DecimalExponent)]
    [InlineData("1E", QuantityFormat.DecimalSI)]
    [InlineData("1.1E-9", QuantityFormat.DecimalExponent)]
    public void Parse_Suffix_RemembersFormat(string input, QuantityFormat expected)
    {
        Assert.Equal(expected, Quantity.Parse(input).Format);
    }

    [Theory]
    [InlineData("", Quantity.FormatWrongReason)]
    [InlineData("1.1.M", Quantity.FormatWrongReason)]
    [InlineData("1+1.0M", Quantity.FormatWrongReason)]
    [InlineData("aoeu", Quantity.FormatWrongReason)]
    [InlineData("Non-Numeric", Quantity.FormatWrongReason)]
    [InlineData(" 1", Quantity.FormatWrongReason)]
    [InlineData("1 ", Quantity.FormatWrongReason)]
    [InlineData("1.5x", Quantity.FormatWrongReason)]
    [InlineData("0.1mi", Quantity.SuffixReason)]
    [InlineData("0.1am", Quantity.FormatWrongReason)]
    [InlineData(".5i", Quantity.SuffixReason)]
    [InlineData("1i", Quantity.SuffixReason)]
    [InlineData("-3.01i", Quantity.SuffixReason)]
    [InlineData("-3.01e-", Quantity.SuffixReason)]
    [InlineData("1e", Quantity.SuffixReason)]
    [InlineData("1Kii", Quantity.SuffixReason)]
    [InlineData("1ki", Quantity.SuffixReason)]
    [InlineData("1e4294967297", Quantity.SuffixReason)]
    [InlineData("1e2147483648", Quantity.SuffixReason)]
    public void Parse_InvalidInput_ThrowsNamingTheText(string input, string reason)
    {
        var error = Assert.Throws<QuantityFormatException>(() => Quantity.Parse(input));

        Assert.Equal(input, error.Text);
        Assert.Equal(reason, error.Reason);
        Assert.Contains($"\"{input}\"", error.Message);
        Assert.IsAssignableFrom<FormatException>(error);
    }

    [Theory]
    [InlineData("abc")]
    [InlineData("")]
    [InlineData(null)]
    public void TryParse_InvalidInput_ReturnsFalse(string? input)
    {
        Assert.False(Quantity.TryParse(input, out var quantity));
        Assert.Null(quantity);
    }

    [Fact]
    public void TryParse_ValidInput_ReturnsQuantity()
    {
        Assert.True(Quantity.TryParse("250m", out var quantity));
        Assert.Equal(250, quantity.MilliValue());
    }

    [Theory]
    [InlineData("1500m", 2, 1500)]
    [InlineData("-1500m", -2, -1500)]
    [InlineData("0.0005", 1, 1)]
    [InlineData("-0.0005", -1, -1)]
    [InlineData("-.484785E-1", -1, -49)]
    [InlineData(".484785E-1", 1, 49)]
    [InlineData("-.484785E-7466", -1, -1)]
    [InlineData("9.5000000001Gi", 10200547329, 10200547328108)]
    [InlineData("-9.5000000001Gi", -10200547329, -10200547328108)]
    [InlineData("1Ki", 1024, 1024000)]
    [InlineData("1", 1, 1000)]
    [InlineData("-1", -1, -1000)]
    [InlineData("0", 0, 0)]
    [InlineData("100m", 1, 100)]
    public void Value_RoundsAwayFromZero(string input, long value, long milliValue)
    {
        var quantity = Quantity.Parse(input);

        Assert.Equal(value, quantity.Value());
        Assert.Equal(milliValue, quantity.MilliValue());
    }

    [Theory]
    [InlineData("1e30", long.MaxValue)]
    [InlineData("-1e30", long.MinValue)]
    [InlineData("1e2147483647", long.MaxValue)]
    public void Value_OutOfInt64Range_Saturates(string input, long expected)
    {
        Assert.Equal(expected, Quantity.Parse(input).Value());
    }

    [Theory]
    [InlineData(-9, -9, 1)]
    [InlineData(-9, -6, 1)]
    [InlineData(-9, 0, 1)]
    [InlineData(-6, -9, 1000)]
    [InlineData(-3, -6, 1000)]
    [InlineData(0, -9, 1000000000)]
    [InlineData(0, -3, 1000)]
    [InlineData(2, -2, 10000)]
    public void ScaledValue_FromScaledOne_MatchesUpstream(int fromScale, int toScale, long expected)
    {
        Assert.Equal(expected, Quantity.FromScaled(1, fromScale).ScaledValue(toScale));
    }

    [Theory]
    [InlineData("0", "0", 0)]
    [InlineData("100m", "50m", 1)]
    [InlineData("50m", "100m", -1)]
    [InlineData("10000T", "100Gi", 1)]
    [InlineData("1", "1000m", 0)]
    [InlineData("1Ki", "1024", 0)]
    [InlineData("1e3", "1k", 0)]
    [InlineData("-1", "1n", -1)]
    [InlineData("-2", "-1", -1)]
    [InlineData("1e2147483647", "9Ei", 1)]
    [InlineData("1n", "1e-2147483647", 0)]
    [InlineData("2n", "1e-2147483647", 1)]
    public void CompareTo_TwoQuantities_OrdersByNumericValue(string left, string right, int expected)
    {
        var a = Quantity.Parse(left);
        var b = Quantity.Parse(right);

        Assert.Equal(expected, Math.Sign(a.CompareTo(b)));
        Assert.Equal(-expected, Math.Sign(b.CompareTo(a)));
        Assert.Equal(expected == 0, a.Equals(b));
        Assert.Equal(expected == 0, a == b);
        if (expected == 0) Assert.Equal(a.GetHashCode(), b.GetHashCode());
    }

    [Theory]
    [InlineData("100m", "0", "100m")]
    [InlineData("0", "100m", "100m")]
    [InlineData("0", "1Gi", "1Gi")]
    [InlineData("1Gi", "0", "1Gi")]
    [InlineData("1", "500m", "1500m")]
    [InlineData("1Gi", "512Mi", "1536Mi")]
    [InlineData("+1", "0", "1")]
    public void Add_TwoQuantities_KeepsLeftFormatUnlessZero(string left, string right, string expected)
    {
        Assert.Equal(expected, (Quantity.Parse(left) + Quantity.Parse(right)).ToString());
    }

    [Theory]
    [InlineData("1Gi", "512Mi", "512Mi")]
    [InlineData("100m", "0", "100m")]
    [InlineData("0", "100m", "-100m")]
    [InlineData("0", "1Gi", "-1Gi")]
    [InlineData("10", "1", "9")]
    public void Subtract_TwoQuantities_MatchesUpstream(string left, string right, string expected)
    {
        Assert.Equal(expected, (Quantity.Parse(left) - Quantity.Parse(right)).ToString());
    }

    [Fact]
    public void Negate_Value_FlipsSignAndKeepsFormat()
    {
        Assert.Equal("-9010m", Quantity.Parse("9.01").Negate().ToString());
        Assert.Equal("1Gi", (-Quantity.Parse("-1Gi")).ToString());
    }

    [Theory]
    [InlineData(1, QuantityFormat.DecimalSI, "1m")]
    [InlineData(1000, QuantityFormat.DecimalSI, "1")]
    [InlineData(1234000, QuantityFormat.DecimalSI, "1234")]
    [InlineData(1024, QuantityFormat.BinarySI, "1024m")]
    [InlineData(1000000, QuantityFormat.DecimalExponent, "1e3")]
    [InlineData(1024 * 1024, QuantityFormat.BinarySI, "1048576m")]
    public void FromMilli_Value_EmitsUpstreamString(long milli, QuantityFormat format, string expected)
    {
        Assert.Equal(expected, Quantity.FromMilli(milli, format).ToString());
    }

    [Theory]
    [InlineData(1, QuantityFormat.DecimalSI, "1")]
    [InlineData(1000, QuantityFormat.DecimalSI, "1k")]
    [InlineData(1234000, QuantityFormat.DecimalSI, "1234k")]
    [InlineData(1024, QuantityFormat.BinarySI, "1Ki")]
    [InlineData(1000000, QuantityFormat.DecimalExponent, "1e6")]
    [InlineData(1024 * 1024, QuantityFormat.BinarySI, "1Mi")]
    [InlineData(5, QuantityFormat.BinarySI, "5")]
    [InlineData(2000, QuantityFormat.BinarySI, "2000")]
    [InlineData(-2000, QuantityFormat.BinarySI, "-2000")]
    [InlineData(1025, QuantityFormat.BinarySI, "1025")]
    [InlineData(0, QuantityFormat.BinarySI, "0")]
    public void FromInt64_Value_EmitsUpstreamString(long value, QuantityFormat format, string expected)
    {
        var quantity = Quantity.FromInt64(value, format);

        Assert.Equal(expected, quantity.ToString());
        Assert.Equal(value, Quantity.Parse(quantity.ToString()).Value());
    }

    [Theory]
    [InlineData(1, -9, "1n")]
    [InlineData(1000, -9, "1u")]
    [InlineData(1000, -6, "1m")]
    [InlineData(1000, -3, "1")]
    [InlineData(1, -12, "1e-12")]
    [InlineData(1, -10, "100e-12")]
    [InlineData(1, 21, "1e21")]
    [InlineData(5, 21, "5e21")]
    [InlineData(0, -9, "0")]
    public void FromScaled_Value_EmitsUpstreamString(long value, int scale, string expected)
    {
        Assert.Equal(expected, Quantity.FromScaled(value, scale).ToString());
    }

    [Fact]
    public void ToString_BinaryPastExbi_FallsBackToExactDecimal()
    {
        var quantity = Quantity.Parse("1Ei").Multiply(1024);

        Assert.Equal("1180591620717411303424", quantity.ToString());
        Assert.Equal(quantity, Quantity.Parse(quantity.ToString()));
    }

    [Theory]
    [InlineData("1e900", "1e900")]
    [InlineData("1e70", "10e69")]
    [InlineData("2e70", "20e69")]
    [InlineData("1e72", "1e72")]
    public void ToString_BinaryFormatHugeValue_UsesDecimalExponent(string added, string expected)
    {
        // Arithmetic keeps the left operand's BinarySI format for a value far past Ei.
        var quantity = Quantity.Parse("1Ki") + Quantity.Parse(added) - Quantity.Parse("1Ki");

        Assert.Equal(QuantityFormat.BinarySI, quantity.Format);
        Assert.Equal(expected, quantity.ToString());
    }

    [Fact]
    public void TryGetInt64_IntegerAndFraction_ReportsExactness()
    {
        Assert.True(Quantity.Parse("1Gi").TryGetInt64(out var value));
        Assert.Equal(1L << 30, value);
        Assert.False(Quantity.Parse("1500m").TryGetInt64(out _));
        Assert.False(Quantity.Parse("1e30").TryGetInt64(out _));
    }

    [Fact]
    public void RoundUp_ToCoarserScale_RoundsAwayFromZero()
    {
        var positive = Quantity.Parse("9.01").RoundUp(-1, out var exact);
        Assert.False(exact);
        Assert.Equal(Quantity.Parse("9.1"), positive);

        var negative = Quantity.Parse("-9.01").RoundUp(0, out exact);
        Assert.False(exact);
        Assert.Equal(Quantity.Parse("-10"), negative);

        var unchanged = Quantity.Parse("9.01").RoundUp(-2, out exact);
        Assert.True(exact);
        Assert.Equal("9010m", unchanged.ToString());
    }

    [Fact]
    public void ToDouble_Value_ApproximatesQuantity()
    {
        Assert.Equal(1.5, Quantity.Parse("1500m").ToDouble());
        Assert.Equal(1073741824d, Quantity.Parse("1Gi").ToDouble());
    }

    [Fact]
    public void Constructor_String_ParsesLikeParse()
    {
        Assert.Equal("1536Mi", new Quantity("1.5Gi").ToString());
        Assert.Throws<QuantityFormatException>(() => new Quantity("bogus"));
    }

    [Theory]
    [InlineData("\"1.5\"", "1500m")]
    [InlineData("\" 1\"", "1")]
    [InlineData("\"1 \"", "1")]
    [InlineData("1", "1")]
    [InlineData(" 1", "1")]
    [InlineData("-1", "-1")]
    [InlineData("1.5", "1500m")]
    [InlineData("1e3", "1e3")]
    [InlineData("\"1.5Gi\"", "1536Mi")]
    public void JsonRead_StringOrNumber_Canonicalizes(string json, string expected)
    {
        var quantity = JsonSerializer.Deserialize<Quantity>(json, KubeJson.TypeInfo<Quantity>());

        Assert.NotNull(quantity);
        Assert.Equal(expected, quantity.ToString());
        Assert.Equal($"\"{expected}\"", JsonSerializer.Serialize(quantity, KubeJson.TypeInfo<Quantity>()));
    }

    [Fact]
    public void JsonRead_InvalidText_ThrowsJsonExceptionNamingValue()
    {
        var error = Assert.Throws<JsonException>(() => JsonSerializer.Deserialize<Quantity>("\"12 cores\"", KubeJson.TypeInfo<Quantity>()));

        Assert.Contains("12 cores", error.Message);
    }

    [Fact]
    public void JsonRead_Boolean_ThrowsJsonException()
    {
        Assert.Throws<JsonException>(() => JsonSerializer.Deserialize<Quantity>("true", KubeJson.TypeInfo<Quantity>()));
    }
}

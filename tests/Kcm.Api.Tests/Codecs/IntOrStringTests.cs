using System.Text.Json;

namespace Kcm.Api.Tests.Codecs;

public class IntOrStringTests
{
    private sealed class Holder
    {
        public IntOrString? Value { get; set; }
    }

    [Theory]
    [InlineData("8080", true, 8080, null)]
    [InlineData("-1", true, -1, null)]
    [InlineData("\"http\"", false, null, "http")]
    [InlineData("\"25%\"", false, null, "25%")]
    [InlineData("\"80\"", false, null, "80")]
    public void JsonRead_NumberOrString_KeepsKind(string json, bool isInt, int? intValue, string? stringValue)
    {
        var value = JsonSerializer.Deserialize(json, KubeJson.TypeInfo<IntOrString>());

        Assert.Equal(isInt, value.IsInt);
        Assert.Equal(intValue, value.IntValue);
        Assert.Equal(stringValue, value.StringValue);
        Assert.Equal(json, JsonSerializer.Serialize(value, KubeJson.TypeInfo<IntOrString>()));
    }

    [Theory]
    [InlineData("1.5")]
    [InlineData("4294967296")]
    [InlineData("true")]
    [InlineData("{}")]
    public void JsonRead_NotInt32OrString_ThrowsJsonException(string json)
    {
        Assert.Throws<JsonException>(() => JsonSerializer.Deserialize(json, KubeJson.TypeInfo<IntOrString>()));
    }

    [Fact]
    public void JsonRoundTrip_NullableOnGeneratedType_NullStaysAbsent()
    {
        var action = KubeJson.Deserialize<Kcm.Api.Core.V1.HTTPGetAction>("""{"path":"/healthz"}"""u8);

        Assert.NotNull(action);
        Assert.Null(action.Port);
        Assert.Equal("""{"path":"/healthz"}""", System.Text.Encoding.UTF8.GetString(KubeJson.Serialize(action)));
    }

    [Fact]
    public void JsonRoundTrip_GeneratedTypeWithNamedPort_KeepsString()
    {
        var action = KubeJson.Deserialize<Kcm.Api.Core.V1.HTTPGetAction>("""{"port":"http"}"""u8)!;

        Assert.Equal("http", action.Port!.Value.StringValue);
        action.Port = 8080;
        Assert.Equal("""{"port":8080}""", System.Text.Encoding.UTF8.GetString(KubeJson.Serialize(action)));
    }

    [Fact]
    public void Default_IsIntegerZero()
    {
        IntOrString value = default;

        Assert.True(value.IsInt);
        Assert.Equal(0, value.IntValue);
        Assert.Equal(IntOrString.FromInt(0), value);
        Assert.Equal("0", value.ToString());
    }

    [Fact]
    public void Conversions_IntAndString_BuildMatchingKinds()
    {
        IntOrString fromInt = 5;
        IntOrString fromString = "5";

        Assert.True(fromInt.IsInt);
        Assert.True(fromString.IsString);
        Assert.NotEqual(fromInt, fromString);
        Assert.Equal(5, fromString.ToInt32());
        Assert.Equal(0, IntOrString.FromString("abc").ToInt32());
    }

    [Fact]
    public void Constructor_BothSet_Throws()
    {
        Assert.Throws<ArgumentException>(() => new IntOrString(1, "a"));
    }

    [Theory]
    [InlineData("42", true)]
    [InlineData("-7", true)]
    [InlineData("25%", false)]
    [InlineData("http", false)]
    [InlineData("99999999999", false)]
    public void Parse_Text_IsIntOnlyWhenNumeric(string text, bool isInt)
    {
        var value = IntOrString.Parse(text);

        Assert.Equal(isInt, value.IsInt);
        Assert.Equal(text, value.ToString());
    }

    // Mirrors intstr's TestGetScaledValueFromIntOrPercent table.
    [Theory]
    [InlineData(null, 1, 0, false, 1)]
    [InlineData("90%", null, 100, true, 90)]
    [InlineData("90%", null, 95, true, 86)]
    [InlineData("90%", null, 95, false, 85)]
    [InlineData("%", null, 0, false, -1)]
    [InlineData("90#", null, 0, false, -1)]
    [InlineData("#%", null, 0, false, -1)]
    [InlineData("90", null, 0, false, -1)]
    [InlineData("25%", null, 10, true, 3)]
    [InlineData("25%", null, 10, false, 2)]
    [InlineData("0%", null, 10, true, 0)]
    [InlineData("100%", null, 3, false, 3)]
    [InlineData(null, 5, 100, true, 5)]
    public void GetScaledValueFromIntOrPercent_Table_MatchesUpstream(string? text, int? number, int total, bool roundUp, int expected)
    {
        var value = text is null ? IntOrString.FromInt(number!.Value) : IntOrString.FromString(text);

        if (expected < 0)
        {
            var error = Assert.Throws<IntOrStringFormatException>(() => IntOrString.GetScaledValueFromIntOrPercent(value, total, roundUp));
            Assert.StartsWith("invalid value for IntOrString", error.Message);
            return;
        }
        Assert.Equal(expected, IntOrString.GetScaledValueFromIntOrPercent(value, total, roundUp));
    }

    [Fact]
    public void GetScaledValueFromIntOrPercent_BadPercent_NamesValue()
    {
        var error = Assert.Throws<IntOrStringFormatException>(() => IntOrString.GetScaledValueFromIntOrPercent("abc%", 10, true));

        Assert.Contains("\"abc%\"", error.Message);
    }

    [Fact]
    public void GetScaledValueFromIntOrPercent_Null_Throws()
    {
        var error = Assert.Throws<IntOrStringFormatException>(() => IntOrString.GetScaledValueFromIntOrPercent(null, 10, true));

        Assert.Equal("nil value for IntOrString", error.Message);
    }
}

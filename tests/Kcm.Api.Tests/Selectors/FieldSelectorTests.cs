using Kcm.Api.Selectors;

namespace Kcm.Api.Tests.Selectors;

public class FieldSelectorTests
{
    // Modelled on upstream's fields TestSelectorParse / TestEscapeValue.
    [Theory]
    [InlineData("", "")]
    [InlineData("a=b", "a=b")]
    [InlineData("a==b", "a=b")]
    [InlineData("a!=b", "a!=b")]
    [InlineData("b=2,a=1", "a=1,b=2")]
    [InlineData("metadata.name=x,", "metadata.name=x")]
    [InlineData("x=a\\,b", "x=a\\,b")]
    [InlineData("x=a\\=b", "x=a\\=b")]
    [InlineData("x=a\\\\b", "x=a\\\\b")]
    [InlineData("x=", "x=")]
    [InlineData("spec.nodeName!=", "spec.nodeName!=")]
    public void Parse_ValidSelector_RendersCanonicalString(string selector, string canonical)
    {
        Assert.Equal(canonical, FieldSelector.Parse(selector).ToString());
    }

    [Theory]
    [InlineData("x=a\\,b", "x", true, "a,b")]
    [InlineData("x=a\\=b", "x", true, "a=b")]
    [InlineData("x=a\\\\b", "x", true, "a\\b")]
    [InlineData("status.phase!=Running", "status.phase", false, "Running")]
    [InlineData("a==b", "a", true, "b")]
    [InlineData(" a = b ", " a ", true, " b ")]
    public void Parse_Term_SplitsFieldOperatorAndUnescapedValue(string selector, string field, bool equal, string value)
    {
        var requirement = Assert.Single(FieldSelector.Parse(selector).Requirements);
        Assert.Equal(new FieldRequirement(field, equal, value), requirement);
    }

    [Theory]
    [InlineData("abc", "invalid selector: 'abc'; can't understand 'abc'")]
    [InlineData("a=b,abc", "invalid selector: 'a=b,abc'; can't understand 'abc'")]
    [InlineData("x=a=b", "invalid field selector: unescaped character in value: 61")]
    [InlineData("metadata.name!==hldr", "invalid field selector: unescaped character in value: 61")]
    [InlineData("x=a\\b", "invalid field selector: invalid escape sequence: \\b")]
    [InlineData("x=a\\", "invalid field selector: invalid escape sequence: \\")]
    public void Parse_InvalidSelector_ThrowsWithUpstreamMessage(string selector, string message)
    {
        var error = Assert.Throws<SelectorParseException>(() => FieldSelector.Parse(selector));
        Assert.Equal(message, error.Message);
    }

    [Theory]
    [InlineData("", true)]
    [InlineData("metadata.name=web", true)]
    [InlineData("metadata.name=db", false)]
    [InlineData("metadata.name!=db", true)]
    [InlineData("metadata.name=web,status.phase=Running", true)]
    [InlineData("metadata.name=web,status.phase!=Running", false)]
    [InlineData("spec.nodeName=", true)]
    [InlineData("spec.nodeName!=", false)]
    [InlineData("metadata.namespace=a\\,b", true)]
    public void Matches_Fields_FollowsUpstreamSemantics(string selector, bool expected)
    {
        var fields = new Dictionary<string, string>
        {
            ["metadata.name"] = "web",
            ["status.phase"] = "Running",
            ["metadata.namespace"] = "a,b",
        };
        // A field the object does not have reads as "", as upstream's fields.Set does.
        Assert.Equal(expected, FieldSelector.Parse(selector).Matches(name => fields.GetValueOrDefault(name)));
    }

    [Fact]
    public void Everything_IsEmptyAndMatchesAll()
    {
        Assert.True(FieldSelector.Everything.IsEverything);
        Assert.True(FieldSelector.Parse("").IsEverything);
        Assert.True(FieldSelector.Everything.Matches(_ => null));
    }

    [Theory]
    [InlineData("metadata.name=x,metadata.namespace=y", "metadata.name", true, "x")]
    [InlineData("metadata.name!=x", "metadata.name", false, "")]
    [InlineData("metadata.namespace=y", "metadata.name", false, "")]
    public void RequiresExactMatch_Selector_ReportsPinnedValue(string selector, string field, bool found, string value)
    {
        Assert.Equal(found, FieldSelector.Parse(selector).RequiresExactMatch(field, out var actual));
        Assert.Equal(value, actual);
    }

    [Theory]
    [InlineData("a,b=c\\d", "a\\,b\\=c\\\\d")]
    [InlineData("plain", "plain")]
    public void EscapeValue_SpecialCharacters_AreBackslashed(string raw, string escaped)
    {
        Assert.Equal(escaped, FieldSelector.EscapeValue(raw));
        Assert.Equal(raw, Assert.Single(FieldSelector.Parse("f=" + escaped).Requirements).Value);
    }
}

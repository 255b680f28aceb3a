using Kcm.Api.Meta.V1;
using Kcm.Api.Selectors;
using ApiLabelSelector = Kcm.Api.Meta.V1.LabelSelector;
using LabelSelector = Kcm.Api.Selectors.LabelSelector;

namespace Kcm.Api.Tests.Selectors;

public class LabelSelectorTests
{
    private const string LabelValueRule =
        "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')";

    private const string NamePartRule =
        "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')";

    // Good strings from upstream's TestSelectorParse, with the canonical form String() gives back.
    [Theory]
    [InlineData("", "")]
    [InlineData("x=a,y=b,z=c", "x=a,y=b,z=c")]
    [InlineData("x!=a,y=b", "x!=a,y=b")]
    [InlineData("x=", "x=")]
    [InlineData("x= ", "x=")]
    [InlineData("x=,z= ", "x=,z=")]
    [InlineData("x= ,z= ", "x=,z=")]
    [InlineData("!x", "!x")]
    [InlineData("x>1", "x>1")]
    [InlineData("x>1,z<5", "x>1,z<5")]
    [InlineData("x==a", "x==a")]
    [InlineData("z=c,a=b", "a=b,z=c")]
    [InlineData("x in (b,a)", "x in (a,b)")]
    [InlineData("x notin ( a , b )", "x notin (a,b)")]
    [InlineData("x in ()", "x in ()")]
    [InlineData("x in (,a)", "x in (,a)")]
    [InlineData("x in (a,,b)", "x in (,a,b)")]
    [InlineData("x in (in,notin)", "x in (in,notin)")]
    [InlineData("x", "x")]
    [InlineData("x,!y,z in (1)", "x,!y,z in (1)")]
    [InlineData("example.com/app=web", "example.com/app=web")]
    [InlineData("x=a,x!=b", "x=a,x!=b")]
    [InlineData("  x = a  ", "x=a")]
    public void Parse_ValidSelector_RendersCanonicalString(string selector, string canonical)
    {
        Assert.Equal(canonical, LabelSelector.Parse(selector).ToString());
    }

    [Theory]
    [InlineData("a in (", "unable to parse requirement: found '', expected: ',', ')' or identifier")]
    [InlineData("x==a==b", "found '==', expected: ',' or 'end of string'")]
    [InlineData("!x=a", "found '=', expected: ',' or 'end of string'")]
    [InlineData("x,", "found '', expected: identifier after ','")]
    [InlineData(",x", "found ',', expected: !, identifier, or 'end of string'")]
    [InlineData("x y", "unable to parse requirement: found 'y', expected: in, notin, =, ==, !=, gt, lt")]
    [InlineData("x in a", "unable to parse requirement: found 'a' expected: '('")]
    [InlineData("x in (a b)", "unable to parse requirement: found 'b', expected: ',' or ')'")]
    [InlineData("x in (a,=)", "unable to parse requirement: found '=', expected: ',', or identifier")]
    [InlineData("x=(", "unable to parse requirement: found '(', expected: identifier")]
    [InlineData("!=x", "found '!=', expected: !, identifier, or 'end of string'")]
    [InlineData("x<a", "unable to parse requirement: values[0]: Invalid value: \"a\": for 'Gt', 'Lt' operators, the value must be an integer")]
    [InlineData("x>1.5", "unable to parse requirement: values[0]: Invalid value: \"1.5\": for 'Gt', 'Lt' operators, the value must be an integer")]
    [InlineData("x=a||y=b", "unable to parse requirement: values[0][x]: Invalid value: \"a||y\": " + LabelValueRule)]
    [InlineData("a@b=c", "unable to parse requirement: <nil>: Invalid value: \"a@b\": " + NamePartRule)]
    [InlineData("x=aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
        "unable to parse requirement: values[0][x]: Invalid value: \"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\": must be no more than 63 characters")]
    [InlineData("/a=b", "unable to parse requirement: <nil>: Invalid value: \"/a\": prefix part must be non-empty")]
    [InlineData("Example.com/a=b", "unable to parse requirement: <nil>: Invalid value: \"Example.com/a\": prefix part a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')")]
    public void Parse_InvalidSelector_ThrowsWithUpstreamMessage(string selector, string message)
    {
        var error = Assert.Throws<SelectorParseException>(() => LabelSelector.Parse(selector));
        Assert.Equal(message, error.Message);
    }

    // Modelled on upstream's TestSelectorMatches / TestRequirementMatches.
    [Theory]
    [InlineData("", "x=y", true)]
    [InlineData("x=y", "x=y", true)]
    [InlineData("x=y,z=w", "x=y,z=w", true)]
    [InlineData("x!=y,z!=w", "x=z,z=a", true)]
    [InlineData("x=y", "", false)]
    [InlineData("x!=y", "", true)]
    [InlineData("x!=y", "x=y", false)]
    [InlineData("x notin (a,b)", "", true)]
    [InlineData("x notin (a,b)", "x=a", false)]
    [InlineData("x in (a,b)", "x=b", true)]
    [InlineData("x in (a,b)", "", false)]
    [InlineData("x in (a,b)", "x=c", false)]
    [InlineData("x", "x=", true)]
    [InlineData("x", "y=1", false)]
    [InlineData("!x", "y=1", true)]
    [InlineData("!x", "x=1", false)]
    [InlineData("x>1", "x=2", true)]
    [InlineData("x>1", "x=1", false)]
    [InlineData("x<1", "x=-3", true)]
    [InlineData("x>1", "x=abc", false)]
    [InlineData("x>1", "", false)]
    [InlineData("x=", "x=", true)]
    [InlineData("x in ()", "x=", true)]
    public void Matches_LabelSet_FollowsUpstreamSemantics(string selector, string labels, bool expected)
    {
        Assert.Equal(expected, LabelSelector.Parse(selector).Matches(ParseLabels(labels)));
    }

    [Fact]
    public void Matches_NullLabels_TreatedAsEmpty()
    {
        Assert.True(LabelSelector.Parse("x notin (a)").Matches(null));
        Assert.False(LabelSelector.Parse("x").Matches(null));
    }

    [Fact]
    public void Everything_MatchesAnythingAndIsEmpty()
    {
        Assert.True(LabelSelector.Everything.IsEverything);
        Assert.True(LabelSelector.Everything.Matches(ParseLabels("a=b")));
        Assert.Equal("", LabelSelector.Everything.ToString());
        Assert.True(LabelSelector.Parse("").IsEverything);
    }

    [Fact]
    public void FromApi_Null_ReturnsNullForNothing()
    {
        Assert.Null(LabelSelector.FromApi(null));
    }

    [Fact]
    public void FromApi_Empty_SelectsEverything()
    {
        var selector = LabelSelector.FromApi(new ApiLabelSelector { MatchLabels = [], MatchExpressions = [] });
        Assert.NotNull(selector);
        Assert.True(selector.IsEverything);
    }

    [Fact]
    public void FromApi_LabelsAndExpressions_CombineSortedByKey()
    {
        var selector = LabelSelector.FromApi(new ApiLabelSelector
        {
            MatchLabels = new() { ["b"] = "2", ["a"] = "1" },
            MatchExpressions =
            [
                new LabelSelectorRequirement { Key = "e", Operator = "DoesNotExist" },
                new LabelSelectorRequirement { Key = "c", Operator = "In", Values = ["y", "x"] },
                new LabelSelectorRequirement { Key = "d", Operator = "Exists" },
                new LabelSelectorRequirement { Key = "f", Operator = "NotIn", Values = ["z"] },
            ],
        })!;

        Assert.Equal("a=1,b=2,c in (x,y),d,!e,f notin (z)", selector.ToString());
        Assert.True(selector.Matches(ParseLabels("a=1,b=2,c=x,d=")));
        Assert.False(selector.Matches(ParseLabels("a=1,b=2,c=x,d=,e=1")));
        Assert.False(selector.Matches(ParseLabels("a=1,b=2,c=x,d=,f=z")));
    }

    [Theory]
    [InlineData("Foo", "c", new string[0], "\"Foo\" is not a valid label selector operator")]
    [InlineData("In", "c", new string[0], "values: Invalid value: []string(nil): for 'in', 'notin' operators, values set can't be empty")]
    [InlineData("Exists", "c", new[] { "a" }, "values: Invalid value: []string{\"a\"}: values set must be empty for exists and does not exist")]
    [InlineData("In", "a b", new[] { "x" }, "key: Invalid value: \"a b\": " + NamePartRule)]
    [InlineData("In", "c", new[] { "ok", "no way" }, "values[1][c]: Invalid value: \"no way\": " + LabelValueRule)]
    [InlineData("In", "a b", new[] { "-" }, "[key: Invalid value: \"a b\": " + NamePartRule + ", values[0][a b]: Invalid value: \"-\": " + LabelValueRule + "]")]
    public void FromApi_InvalidExpression_ThrowsWithUpstreamMessage(string op, string key, string[] values, string message)
    {
        var api = new ApiLabelSelector
        {
            MatchExpressions = [new LabelSelectorRequirement { Key = key, Operator = op, Values = values.ToList() }],
        };
        var error = Assert.Throws<SelectorParseException>(() => LabelSelector.FromApi(api));
        Assert.Equal(message, error.Message);
    }

    [Fact]
    public void FromApi_InvalidMatchLabelValue_Throws()
    {
        var api = new ApiLabelSelector { MatchLabels = new() { ["app"] = "bad value" } };
        var error = Assert.Throws<SelectorParseException>(() => LabelSelector.FromApi(api));
        Assert.StartsWith("values[0][app]: Invalid value: \"bad value\"", error.Message);
    }

    [Theory]
    [InlineData("a=b,c=d", "a", true, "b")]
    [InlineData("a==b", "a", true, "b")]
    [InlineData("a in (b)", "a", true, "b")]
    [InlineData("a in (b,c)", "a", false, "")]
    [InlineData("a!=b", "a", false, "")]
    [InlineData("c=d", "a", false, "")]
    public void RequiresExactMatch_Selector_ReportsPinnedValue(string selector, string key, bool found, string value)
    {
        Assert.Equal(found, LabelSelector.Parse(selector).RequiresExactMatch(key, out var actual));
        Assert.Equal(value, actual);
    }

    [Fact]
    public void Parse_CanonicalString_RoundTrips()
    {
        var selector = LabelSelector.Parse("z notin (b,a),y>4,!x,w,v==1,u!=2,t in (c)");
        var again = LabelSelector.Parse(selector.ToString());
        Assert.Equal(selector.ToString(), again.ToString());
        Assert.Equal("t in (c),u!=2,v==1,w,!x,y>4,z notin (a,b)", again.ToString());
    }

    private static Dictionary<string, string> ParseLabels(string text)
    {
        var labels = new Dictionary<string, string>();
        if (text.Length == 0) return labels;
        foreach (var pair in text.Split(','))
        {
            var parts = pair.Split('=', 2);
            labels[parts[0]] = parts[1];
        }
        return labels;
    }
}

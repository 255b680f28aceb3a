using System.Text.Json.Nodes;

namespace Kcm.Api.Tests.Patching;

/// <summary>Compact JSON for test tables: single quotes stand for double quotes.</summary>
internal static class Json
{
    public static JsonNode Parse(string text) => JsonNode.Parse(text.Replace('\'', '"'))!;

    public static void AssertEqual(string expected, JsonNode? actual)
    {
        var expectedNode = Parse(expected);
        Assert.True(JsonNode.DeepEquals(expectedNode, actual), $"expected {expectedNode.ToJsonString()}\n  actual {actual?.ToJsonString() ?? "null"}");
    }
}

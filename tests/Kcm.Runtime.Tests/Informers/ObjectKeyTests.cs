using Kcm.Api.Core.V1;
using Kcm.Api.Meta.V1;
using Kcm.Runtime.Informers;

namespace Kcm.Runtime.Tests.Informers;

public sealed class ObjectKeyTests
{
    [Theory]
    [InlineData("ns/name", "ns", "name")]
    [InlineData("name", null, "name")]
    public void Parse_ValidKey_RoundTrips(string text, string? ns, string name)
    {
        var key = ObjectKey.Parse(text);

        Assert.Equal(new ObjectKey(ns, name), key);
        Assert.Equal(text, key.ToString());
    }

    [Theory]
    [InlineData("")]
    [InlineData("a/b/c")]
    [InlineData("ns/")]
    public void TryParse_InvalidKey_False(string text)
    {
        Assert.False(ObjectKey.TryParse(text, out _));
        Assert.Throws<FormatException>(() => ObjectKey.Parse(text));
    }

    [Fact]
    public void Of_ClusterScopedObjectWithEmptyNamespace_NameOnly()
    {
        var key = ObjectKey.Of(new Node { Metadata = new ObjectMeta { Name = "node-1", Namespace = "" } });

        Assert.Null(key.Namespace);
        Assert.Equal("node-1", key.ToString());
        Assert.Equal(new ObjectKey("", "node-1"), key);
    }
}

using System.Text.Json.Nodes;

namespace Kcm.Differ.Tests;

public class ObjectDiffTests
{
    private static JsonObject Parse(string json) => JsonNode.Parse(json)!.AsObject();

    [Fact]
    public void Flatten_NestedObject_GivesOneLinePerLeaf()
    {
        var lines = ObjectDiff.Flatten(Parse("""{"a":{"b":1,"c":["x","y"]},"d":{}}"""));

        Assert.Equal(["a.b = 1", "a.c[0] = \"x\"", "a.c[1] = \"y\"", "d = {}"], lines);
    }

    [Fact]
    public void Compare_SameObjects_ReportsNothing()
    {
        var objects = new Dictionary<string, JsonObject> { ["ConfigMap/a"] = Parse("""{"data":{"k":"v"}}""") };

        Assert.Empty(ObjectDiff.Compare(objects, new Dictionary<string, JsonObject> { ["ConfigMap/a"] = Parse("""{"data":{"k":"v"}}""") }));
    }

    [Fact]
    public void Compare_DifferentValueAndMissingObjects_ReportsEach()
    {
        var upstream = new Dictionary<string, JsonObject>
        {
            ["Deployment/web"] = Parse("""{"status":{"reason":"NewReplicaSetCreated"}}"""),
            ["ConfigMap/kept"] = Parse("{}"),
        };
        var ours = new Dictionary<string, JsonObject>
        {
            ["Deployment/web"] = Parse("""{"status":{"reason":"ReplicaSetUpdated"}}"""),
            ["ConfigMap/extra"] = Parse("{}"),
        };

        var report = ObjectDiff.Compare(upstream, ours);

        Assert.Equal(
        [
            "ConfigMap/extra: only ours has it",
            "ConfigMap/kept: only upstream has it",
            "Deployment/web:",
            "  - status.reason = \"NewReplicaSetCreated\"",
            "  + status.reason = \"ReplicaSetUpdated\"",
        ], report);
    }

    [Fact]
    public void Index_SameKeyTwice_NumbersThemByContent()
    {
        var index = ObjectDiff.Index([("Pod/web-<generated>", Parse("""{"n":2}""")), ("Pod/web-<generated>", Parse("""{"n":1}"""))]);

        Assert.Equal(1, (int)index["Pod/web-<generated> #1"]["n"]!);
        Assert.Equal(2, (int)index["Pod/web-<generated> #2"]["n"]!);
    }
}

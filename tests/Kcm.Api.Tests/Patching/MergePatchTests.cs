using Kcm.Api.Patching;

namespace Kcm.Api.Tests.Patching;

public class MergePatchTests
{
    // RFC 7386 appendix A.
    [Theory]
    [InlineData("{'a':'b'}", "{'a':'c'}", "{'a':'c'}")]
    [InlineData("{'a':'b'}", "{'b':'c'}", "{'a':'b','b':'c'}")]
    [InlineData("{'a':'b'}", "{'a':null}", "{}")]
    [InlineData("{'a':'b','b':'c'}", "{'a':null}", "{'b':'c'}")]
    [InlineData("{'a':['b']}", "{'a':'c'}", "{'a':'c'}")]
    [InlineData("{'a':'c'}", "{'a':['b']}", "{'a':['b']}")]
    [InlineData("{'a':{'b':'c'}}", "{'a':{'b':'d','c':null}}", "{'a':{'b':'d'}}")]
    [InlineData("{'a':[{'b':'c'}]}", "{'a':[1]}", "{'a':[1]}")]
    [InlineData("['a','b']", "['c','d']", "['c','d']")]
    [InlineData("{'a':'b'}", "['c']", "['c']")]
    [InlineData("{'a':'foo'}", "'bar'", "'bar'")]
    [InlineData("{'e':null}", "{'a':1}", "{'e':null,'a':1}")]
    [InlineData("[1,2]", "{'a':'b','c':null}", "{'a':'b'}")]
    [InlineData("{}", "{'a':{'bb':{'ccc':null}}}", "{'a':{'bb':{}}}")]
    [InlineData("{'metadata':{'labels':{'app':'web','tier':'fe'}}}", "{'metadata':{'labels':{'tier':null,'env':'prod'}}}", "{'metadata':{'labels':{'app':'web','env':'prod'}}}")]
    public void Apply_Rfc7386Examples_ProduceExpectedDocument(string document, string patch, string expected)
    {
        Json.AssertEqual(expected, MergePatch.Apply(Json.Parse(document), Json.Parse(patch)));
    }

    [Fact]
    public void Apply_NestedPatch_DoesNotMutateInputs()
    {
        var document = Json.Parse("{'a':{'b':{'c':1}}}");
        var patch = Json.Parse("{'a':{'b':{'d':2}}}");
        var result = MergePatch.Apply(document, patch);

        Json.AssertEqual("{'a':{'b':{'c':1,'d':2}}}", result);
        Json.AssertEqual("{'a':{'b':{'c':1}}}", document);
        Json.AssertEqual("{'a':{'b':{'d':2}}}", patch);
    }

    [Theory]
    [InlineData("{'a':1}", "{'a':1}", "{}")]
    [InlineData("{'a':1}", "{'a':2}", "{'a':2}")]
    [InlineData("{'a':1,'b':2}", "{'a':1}", "{'b':null}")]
    [InlineData("{'a':{'x':1,'y':2}}", "{'a':{'x':1,'y':3}}", "{'a':{'y':3}}")]
    [InlineData("{'a':{'x':1}}", "{'a':{}}", "{'a':{'x':null}}")]
    [InlineData("{'a':[1,2]}", "{'a':[2]}", "{'a':[2]}")]
    [InlineData("{'a':'s'}", "{'a':{'b':1}}", "{'a':{'b':1}}")]
    [InlineData("{'a':1.0}", "{'a':1}", "{}")]
    public void Create_Documents_YieldsMinimalPatch(string original, string modified, string expected)
    {
        Json.AssertEqual(expected, MergePatch.Create(Json.Parse(original), Json.Parse(modified)));
    }

    [Theory]
    [InlineData("{'a':1,'b':{'c':[1,2],'d':'x'}}", "{'b':{'c':[3],'e':{'f':true}},'g':'h'}")]
    [InlineData("{'metadata':{'labels':{'a':'1'},'annotations':{'x':'y'}}}", "{'metadata':{'labels':{'b':'2'}}}")]
    [InlineData("{}", "{'a':{'b':{'c':'d'}}}")]
    public void Create_ThenApply_ReproducesModified(string original, string modified)
    {
        var patch = MergePatch.Create(Json.Parse(original), Json.Parse(modified));
        Json.AssertEqual(modified, MergePatch.Apply(Json.Parse(original), patch));
    }

    [Fact]
    public void Create_NonObjectDocument_ThrowsPatchException()
    {
        Assert.Throws<PatchException>(() => MergePatch.Create(Json.Parse("[1]"), Json.Parse("{}")));
    }
}

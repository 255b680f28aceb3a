using Kcm.Api.Patching;

namespace Kcm.Api.Tests.Patching;

public class JsonPatchTests
{
    // Cases follow RFC 6902 appendix A plus the edge cases upstream's json-patch library tests.
    [Theory]
    [InlineData("{'foo':'bar'}", "[{'op':'add','path':'/baz','value':'qux'}]", "{'baz':'qux','foo':'bar'}")]
    [InlineData("{'foo':['bar','baz']}", "[{'op':'add','path':'/foo/1','value':'qux'}]", "{'foo':['bar','qux','baz']}")]
    [InlineData("{'baz':'qux','foo':'bar'}", "[{'op':'remove','path':'/baz'}]", "{'foo':'bar'}")]
    [InlineData("{'foo':['bar','qux','baz']}", "[{'op':'remove','path':'/foo/1'}]", "{'foo':['bar','baz']}")]
    [InlineData("{'baz':'qux','foo':'bar'}", "[{'op':'replace','path':'/baz','value':'boo'}]", "{'baz':'boo','foo':'bar'}")]
    [InlineData("{'foo':{'bar':'baz','waldo':'fred'},'qux':{'corge':'grault'}}", "[{'op':'move','from':'/foo/waldo','path':'/qux/thud'}]", "{'foo':{'bar':'baz'},'qux':{'corge':'grault','thud':'fred'}}")]
    [InlineData("{'foo':['all','grass','cows','eat']}", "[{'op':'move','from':'/foo/1','path':'/foo/3'}]", "{'foo':['all','cows','eat','grass']}")]
    [InlineData("{'baz':'qux','foo':['a',2,'c']}", "[{'op':'test','path':'/baz','value':'qux'},{'op':'test','path':'/foo/1','value':2}]", "{'baz':'qux','foo':['a',2,'c']}")]
    [InlineData("{'foo':'bar'}", "[{'op':'add','path':'/child','value':{'grandchild':{}}}]", "{'foo':'bar','child':{'grandchild':{}}}")]
    [InlineData("{'foo':'bar'}", "[{'op':'add','path':'/baz','value':'qux','xyz':123}]", "{'foo':'bar','baz':'qux'}")]
    [InlineData("{'/':9,'~1':10}", "[{'op':'test','path':'/~01','value':10}]", "{'/':9,'~1':10}")]
    [InlineData("{'/':9,'~1':10}", "[{'op':'add','path':'/~1','value':1}]", "{'/':1,'~1':10}")]
    [InlineData("{'foo':['bar']}", "[{'op':'add','path':'/foo/-','value':['abc','def']}]", "{'foo':['bar',['abc','def']]}")]
    [InlineData("{'foo':['bar']}", "[{'op':'add','path':'/foo/1','value':'end'}]", "{'foo':['bar','end']}")]
    [InlineData("{'a':{'b':1}}", "[{'op':'copy','from':'/a','path':'/c'},{'op':'replace','path':'/c/b','value':2}]", "{'a':{'b':1},'c':{'b':2}}")]
    [InlineData("{'a':1}", "[{'op':'replace','path':'','value':{'b':2}}]", "{'b':2}")]
    [InlineData("{'a':1.0}", "[{'op':'test','path':'/a','value':1}]", "{'a':1.0}")]
    [InlineData("{'a':null}", "[{'op':'test','path':'/a','value':null}]", "{'a':null}")]
    [InlineData("{'a':1}", "[{'op':'test','path':'/b','value':null}]", "{'a':1}")]
    [InlineData("{'metadata':{'labels':{'app':'x'}}}", "[{'op':'add','path':'/metadata/labels/team~1name','value':'y'}]", "{'metadata':{'labels':{'app':'x','team/name':'y'}}}")]
    [InlineData("{'a':1}", "[]", "{'a':1}")]
    public void Apply_ValidOperations_ProduceExpectedDocument(string document, string patch, string expected)
    {
        Json.AssertEqual(expected, JsonPatch.Apply(Json.Parse(document), Json.Parse(patch)));
    }

    [Theory]
    [InlineData("{'foo':'bar'}", "[{'op':'add','path':'/baz/bat','value':'qux'}]", "add", "/baz/bat")]
    [InlineData("{'baz':'qux'}", "[{'op':'test','path':'/baz','value':'bar'}]", "test", "/baz")]
    [InlineData("{'/':9,'~1':10}", "[{'op':'test','path':'/~01','value':'10'}]", "test", "/~01")]
    [InlineData("{'a':1}", "[{'op':'remove','path':'/b'}]", "remove", "/b")]
    [InlineData("{'a':1}", "[{'op':'replace','path':'/b','value':2}]", "replace", "/b")]
    [InlineData("{'a':[1]}", "[{'op':'add','path':'/a/2','value':2}]", "add", "/a/2")]
    [InlineData("{'a':[1,2]}", "[{'op':'remove','path':'/a/01'}]", "remove", "/a/01")]
    [InlineData("{'a':[1,2]}", "[{'op':'remove','path':'/a/-'}]", "remove", "/a/-")]
    [InlineData("{'a':{'b':1}}", "[{'op':'move','from':'/a','path':'/a/b/c'}]", "move", "/a/b/c")]
    [InlineData("{'a':1}", "[{'op':'copy','from':'/x','path':'/b'}]", "copy", "/x")]
    [InlineData("{'a':1}", "[{'op':'add','path':'a','value':1}]", "add", "a")]
    [InlineData("{'a':1}", "[{'op':'add','path':'/~2','value':1}]", "add", "/~2")]
    [InlineData("{'a':1}", "[{'op':'add','path':'/b'}]", "add", "/b")]
    public void Apply_FailingOperation_ThrowsPatchExceptionNamingOpAndPath(string document, string patch, string op, string path)
    {
        var error = Assert.Throws<PatchException>(() => JsonPatch.Apply(Json.Parse(document), Json.Parse(patch)));
        Assert.Contains(op, error.Message);
        Assert.Contains(path, error.Message);
    }

    [Theory]
    [InlineData("{'op':'add','path':'/a','value':1}")]
    [InlineData("[{'op':'frobnicate','path':'/a'}]")]
    [InlineData("[{'path':'/a','value':1}]")]
    [InlineData("[1]")]
    public void Apply_MalformedPatch_ThrowsPatchException(string patch)
    {
        Assert.Throws<PatchException>(() => JsonPatch.Apply(Json.Parse("{'a':1}"), Json.Parse(patch)));
    }

    [Fact]
    public void Apply_AnyPatch_DoesNotMutateInputs()
    {
        var document = Json.Parse("{'a':{'b':[1,2]}}");
        var patch = Json.Parse("[{'op':'add','path':'/a/b/-','value':{'c':1}},{'op':'remove','path':'/a/b/0'}]");
        var documentBefore = document.ToJsonString();
        var patchBefore = patch.ToJsonString();

        var result = JsonPatch.Apply(document, patch);

        Json.AssertEqual("{'a':{'b':[2,{'c':1}]}}", result);
        Assert.Equal(documentBefore, document.ToJsonString());
        Assert.Equal(patchBefore, patch.ToJsonString());
    }

    [Fact]
    public void Apply_FailureMidway_LeavesInputUntouched()
    {
        var document = Json.Parse("{'a':1}");
        Assert.Throws<PatchException>(() => JsonPatch.Apply(document, Json.Parse("[{'op':'add','path':'/b','value':2},{'op':'test','path':'/a','value':5}]")));
        Json.AssertEqual("{'a':1}", document);
    }
}

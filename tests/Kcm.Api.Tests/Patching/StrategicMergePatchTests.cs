using Kcm.Api.Patching;
using Kcm.Api.Schema;

namespace Kcm.Api.Tests.Patching;

public class StrategicMergePatchTests
{
    private const string Pod = "io.k8s.api.core.v1.Pod";
    private const string Deployment = "io.k8s.api.apps.v1.Deployment";

    private const string BasePod =
        "{'apiVersion':'v1','kind':'Pod'," +
        "'metadata':{'name':'p','labels':{'app':'web','tier':'fe'},'finalizers':['a','b']}," +
        "'spec':{'containers':[" +
        "{'name':'app','image':'app:1','args':['x','y'],'env':[{'name':'A','value':'1'},{'name':'B','value':'2'}]}," +
        "{'name':'side','image':'side:1'}]}}";

    [Fact]
    public void Schema_ObjectMetaFinalizers_IsMergeListOfPrimitives()
    {
        var finalizers = TypeSchema.Fields("io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta")!["finalizers"];
        Assert.Equal("merge", finalizers.PatchStrategy);
        Assert.Null(finalizers.Ref);
    }

    [Theory]
    // Containers merge by name; untouched fields and items survive.
    [InlineData(
        "{'spec':{'containers':[{'name':'app','image':'app:2'}]}}",
        "{'spec':{'containers':[{'name':'app','image':'app:2','args':['x','y'],'env':[{'name':'A','value':'1'},{'name':'B','value':'2'}]},{'name':'side','image':'side:1'}]}}")]
    // A new container: upstream places patch-only items ahead of the live ones when no order is given.
    [InlineData(
        "{'spec':{'containers':[{'name':'new','image':'n:1'}]}}",
        "{'spec':{'containers':[{'name':'new','image':'n:1'},{'name':'app','image':'app:1','args':['x','y'],'env':[{'name':'A','value':'1'},{'name':'B','value':'2'}]},{'name':'side','image':'side:1'}]}}")]
    // $patch: delete removes the element with that merge key.
    [InlineData(
        "{'spec':{'containers':[{'name':'side','$patch':'delete'}]}}",
        "{'spec':{'containers':[{'name':'app','image':'app:1','args':['x','y'],'env':[{'name':'A','value':'1'},{'name':'B','value':'2'}]}]}}")]
    // $patch: replace inside a merge list replaces the whole list (env here).
    [InlineData(
        "{'spec':{'containers':[{'name':'app','env':[{'name':'C','value':'3'},{'$patch':'replace'}]}]}}",
        "{'spec':{'containers':[{'name':'app','image':'app:1','args':['x','y'],'env':[{'name':'C','value':'3'}]},{'name':'side','image':'side:1'}]}}")]
    // Env entries merge by name.
    [InlineData(
        "{'spec':{'containers':[{'name':'app','env':[{'name':'B','value':'20'}]}]}}",
        "{'spec':{'containers':[{'name':'app','image':'app:1','args':['x','y'],'env':[{'name':'A','value':'1'},{'name':'B','value':'20'}]},{'name':'side','image':'side:1'}]}}")]
    // args has no patch strategy: replaced wholesale.
    [InlineData(
        "{'spec':{'containers':[{'name':'app','args':['z']}]}}",
        "{'spec':{'containers':[{'name':'app','image':'app:1','args':['z'],'env':[{'name':'A','value':'1'},{'name':'B','value':'2'}]},{'name':'side','image':'side:1'}]}}")]
    // null deletes a key of a nested field.
    [InlineData(
        "{'spec':{'containers':[{'name':'app','env':null}]}}",
        "{'spec':{'containers':[{'name':'app','image':'app:1','args':['x','y']},{'name':'side','image':'side:1'}]}}")]
    public void Apply_PodContainerPatches_MergeByName(string patch, string expectedSpec)
    {
        var result = StrategicMergePatch.Apply(Json.Parse(BasePod), Json.Parse(patch), Pod);
        Json.AssertEqual(expectedSpec, new System.Text.Json.Nodes.JsonObject { ["spec"] = result["spec"]!.DeepClone() });
    }

    [Theory]
    [InlineData("{'metadata':{'labels':{'tier':null,'env':'prod'}}}", "{'app':'web','env':'prod'}")]
    [InlineData("{'metadata':{'labels':{'missing':null}}}", "{'app':'web','tier':'fe'}")]
    [InlineData("{'metadata':{'labels':{'$patch':'replace','only':'1'}}}", "{'only':'1'}")]
    [InlineData("{'metadata':{'labels':{'$patch':'delete'}}}", "{}")]
    public void Apply_LabelsMap_MergesAndDeletesKeys(string patch, string expectedLabels)
    {
        var result = StrategicMergePatch.Apply(Json.Parse(BasePod), Json.Parse(patch), Pod);
        Json.AssertEqual(expectedLabels, result["metadata"]!["labels"]);
    }

    [Theory]
    // Primitive merge lists are sets; patch-only values come first as upstream orders them.
    [InlineData("{'metadata':{'finalizers':['c']}}", "['c','a','b']")]
    [InlineData("{'metadata':{'finalizers':['b','c']}}", "['a','b','c']")]
    [InlineData("{'metadata':{'finalizers':['a']}}", "['a','b']")]
    [InlineData("{'metadata':{'$deleteFromPrimitiveList/finalizers':['a']}}", "['b']")]
    [InlineData("{'metadata':{'$deleteFromPrimitiveList/finalizers':['zz']}}", "['a','b']")]
    [InlineData("{'metadata':{'$setElementOrder/finalizers':['b','c'],'finalizers':['c'],'$deleteFromPrimitiveList/finalizers':['a']}}", "['b','c']")]
    [InlineData("{'metadata':{'$setElementOrder/finalizers':['b','a']}}", "['b','a']")]
    [InlineData("{'metadata':{'finalizers':null}}", "null")]
    public void Apply_Finalizers_MergeAsPrimitiveSet(string patch, string expectedFinalizers)
    {
        var result = StrategicMergePatch.Apply(Json.Parse(BasePod), Json.Parse(patch), Pod);
        if (expectedFinalizers == "null")
        {
            Assert.False(result["metadata"]!.AsObject().ContainsKey("finalizers"));
            return;
        }
        Json.AssertEqual(expectedFinalizers, result["metadata"]!["finalizers"]);
    }

    // Cases from upstream's patch_test.go ("mergingList" keyed by name, "mergingIntList" of primitives)
    // mapped onto containers (image as the value, workingDir as the server-side "other" field) and finalizers.
    [Theory]
    [InlineData(
        "{'spec':{'containers':[{'name':'1'},{'name':'2','image':'2'}]}}",
        "{'spec':{'$setElementOrder/containers':[{'name':'4'},{'name':'1'},{'name':'2'},{'name':'3'}],'containers':[{'name':'4','image':'4'},{'name':'3','image':'3'}]}}",
        "{'spec':{'containers':[{'name':'4','image':'4'},{'name':'1'},{'name':'2','image':'2'},{'name':'3','image':'3'}]}}")]
    [InlineData(
        "{'spec':{'containers':[{'name':'1','workingDir':'a'},{'name':'3','image':'2','workingDir':'b'}]}}",
        "{'spec':{'$setElementOrder/containers':[{'name':'1'},{'name':'2'}],'containers':[{'name':'1','image':'1'},{'name':'2','image':'2'}]}}",
        "{'spec':{'containers':[{'name':'1','image':'1','workingDir':'a'},{'name':'2','image':'2'},{'name':'3','image':'2','workingDir':'b'}]}}")]
    [InlineData(
        "{'spec':{'containers':[{'name':'1','workingDir':'a'},{'name':'2','image':'2','workingDir':'b'}]}}",
        "{'spec':{'$setElementOrder/containers':[{'name':'4'},{'name':'1'},{'name':'2'},{'name':'3'}],'containers':[{'name':'4','image':'4'},{'name':'3','image':'3'}]}}",
        "{'spec':{'containers':[{'name':'4','image':'4'},{'name':'1','workingDir':'a'},{'name':'2','image':'2','workingDir':'b'},{'name':'3','image':'3'}]}}")]
    [InlineData(
        "{'metadata':{'finalizers':['1','2','3','4']}}",
        "{'metadata':{'$setElementOrder/finalizers':['1','2'],'$deleteFromPrimitiveList/finalizers':['3']}}",
        "{'metadata':{'finalizers':['1','2','4']}}")]
    [InlineData(
        "{'metadata':{'finalizers':['1','2','3','3','4']}}",
        "{'metadata':{'$setElementOrder/finalizers':['1','2'],'$deleteFromPrimitiveList/finalizers':['3']}}",
        "{'metadata':{'finalizers':['1','2','4']}}")]
    [InlineData(
        "{'metadata':{'finalizers':['1','2','3']}}",
        "{'metadata':{'$setElementOrder/finalizers':['1','2','4'],'$deleteFromPrimitiveList/finalizers':['3'],'finalizers':['4']}}",
        "{'metadata':{'finalizers':['1','2','4']}}")]
    [InlineData(
        "{'spec':{'containers':[{'name':'1'},{'name':'2'}]}}",
        "{'spec':{'containers':[{'name':'1','$patch':'delete'},{'name':'2','$patch':'delete'}]}}",
        "{'spec':{'containers':[]}}")]
    public void Apply_UpstreamMergingListCases_ProduceUpstreamResult(string current, string patch, string expected)
    {
        Json.AssertEqual(expected, StrategicMergePatch.Apply(Json.Parse(current), Json.Parse(patch), Pod));
    }

    [Fact]
    public void Create_UpstreamMergeListsOfMaps_MatchesUpstreamTwoWayPatch()
    {
        var original = "{'spec':{'containers':[{'name':'1'},{'name':'2','image':'2'}]}}";
        var modified = "{'spec':{'containers':[{'name':'4','image':'4'},{'name':'1'},{'name':'2','image':'2'},{'name':'3','image':'3'}]}}";
        Json.AssertEqual(
            "{'spec':{'$setElementOrder/containers':[{'name':'4'},{'name':'1'},{'name':'2'},{'name':'3'}],'containers':[{'name':'4','image':'4'},{'name':'3','image':'3'}]}}",
            StrategicMergePatch.Create(Json.Parse(original), Json.Parse(modified), Pod));
    }

    [Fact]
    public void Apply_TypedPodDocument_MergesNumericKeysAndDeletesOwnerReferenceByUid()
    {
        var pod = new Kcm.Api.Core.V1.Pod
        {
            Metadata = new Kcm.Api.Meta.V1.ObjectMeta
            {
                Name = "p",
                OwnerReferences =
                [
                    new Kcm.Api.Meta.V1.OwnerReference { Uid = "u1", Name = "rs1", Kind = "ReplicaSet", ApiVersion = "apps/v1" },
                    new Kcm.Api.Meta.V1.OwnerReference { Uid = "u2", Name = "rs2", Kind = "ReplicaSet", ApiVersion = "apps/v1" },
                ],
            },
            Spec = new Kcm.Api.Core.V1.PodSpec
            {
                Containers =
                [
                    new Kcm.Api.Core.V1.Container
                    {
                        Name = "app",
                        Ports = [new Kcm.Api.Core.V1.ContainerPort { ContainerPortValue = 80, Name = "http" }],
                    },
                ],
            },
        };
        var document = KubeJson.ToNode(pod)!;
        var patch = Json.Parse(
            "{'metadata':{'ownerReferences':[{'uid':'u1','$patch':'delete'}]}," +
            "'spec':{'containers':[{'name':'app','ports':[{'containerPort':80,'name':'web'},{'containerPort':443}]}]}}");

        var patched = KubeJson.FromNode<Kcm.Api.Core.V1.Pod>(StrategicMergePatch.Apply(document, patch, Pod))!;

        Assert.Equal("u2", Assert.Single(patched.Metadata!.OwnerReferences!).Uid);
        var ports = patched.Spec!.Containers![0].Ports!;
        Assert.Equal([80, 443], ports.Select(p => p.ContainerPortValue ?? 0));
        Assert.Equal("web", ports.Single(p => p.ContainerPortValue == 80).Name);
    }

    [Fact]
    public void Apply_SetElementOrderForContainers_OrdersMergedList()
    {
        var patch = "{'spec':{'$setElementOrder/containers':[{'name':'side'},{'name':'new'},{'name':'app'}],'containers':[{'name':'new','image':'n:1'}]}}";
        var result = StrategicMergePatch.Apply(Json.Parse(BasePod), Json.Parse(patch), Pod);
        var names = result["spec"]!["containers"]!.AsArray().Select(c => (string)c!["name"]!).ToArray();
        Assert.Equal(["side", "new", "app"], names);
    }

    [Fact]
    public void Apply_RetainKeysOnDeploymentStrategy_ClearsOtherKeys()
    {
        var deployment = "{'spec':{'replicas':2,'strategy':{'type':'RollingUpdate','rollingUpdate':{'maxSurge':1,'maxUnavailable':0}}}}";
        var patch = "{'spec':{'strategy':{'$retainKeys':['type'],'type':'Recreate'}}}";
        var result = StrategicMergePatch.Apply(Json.Parse(deployment), Json.Parse(patch), Deployment);
        Json.AssertEqual("{'spec':{'replicas':2,'strategy':{'type':'Recreate'}}}", result);
    }

    [Fact]
    public void Apply_RetainKeysInVolumeListElement_SwitchesVolumeSource()
    {
        var pod = "{'spec':{'volumes':[{'name':'v','emptyDir':{}},{'name':'w','emptyDir':{}}]}}";
        var patch = "{'spec':{'volumes':[{'name':'v','$retainKeys':['configMap','name'],'configMap':{'name':'cm'}}]}}";
        var result = StrategicMergePatch.Apply(Json.Parse(pod), Json.Parse(patch), Pod);
        Json.AssertEqual("{'spec':{'volumes':[{'name':'v','configMap':{'name':'cm'}},{'name':'w','emptyDir':{}}]}}", result);
    }

    [Theory]
    // Outside the schema maps still merge and lists replace, as a merge patch would.
    [InlineData("{'spec':{'x-extra':{'a':1,'b':[1,2]}}}", "{'spec':{'x-extra':{'b':[3],'c':{'d':null}}}}", "{'spec':{'x-extra':{'a':1,'b':[3],'c':{}}}}")]
    [InlineData("{'a':{'b':1}}", "{'a':{'c':2},'d':null}", "{'a':{'b':1,'c':2}}")]
    public void Apply_FieldsUnknownToSchema_BehaveLikeMergePatch(string document, string patch, string expected)
    {
        Json.AssertEqual(expected, StrategicMergePatch.Apply(Json.Parse(document), Json.Parse(patch), Pod));
    }

    [Fact]
    public void Apply_DirectivesInNewValues_AreResolvedNotStored()
    {
        var pod = "{'spec':{}}";
        var patch = "{'spec':{'containers':[{'name':'a','env':[{'name':'X','value':'1'},{'name':'Y','$patch':'delete'}]}]}}";
        var result = StrategicMergePatch.Apply(Json.Parse(pod), Json.Parse(patch), Pod);
        Json.AssertEqual("{'spec':{'containers':[{'name':'a','env':[{'name':'X','value':'1'}]}]}}", result);
    }

    [Fact]
    public void Apply_AnyPatch_DoesNotMutateInputs()
    {
        var document = Json.Parse(BasePod);
        var patch = Json.Parse("{'metadata':{'labels':{'tier':null}},'spec':{'containers':[{'name':'app','image':'app:9'},{'name':'side','$patch':'delete'}]}}");
        var documentBefore = document.ToJsonString();
        var patchBefore = patch.ToJsonString();

        StrategicMergePatch.Apply(document, patch, Pod);

        Assert.Equal(documentBefore, document.ToJsonString());
        Assert.Equal(patchBefore, patch.ToJsonString());
    }

    [Theory]
    [InlineData("{'spec':{'containers':[{'image':'x'}]}}", "merge key")]
    [InlineData("{'spec':{'containers':[{'name':'app','$patch':'merge'}]}}", "merging lists cannot yet be specified")]
    [InlineData("{'spec':{'containers':[{'name':'app','$patch':'bogus'}]}}", "unknown patch type")]
    [InlineData("{'metadata':{'labels':{'$patch':'bogus'}}}", "unknown patch type")]
    [InlineData("{'spec':{'strategy':{'$retainKeys':['type'],'rollingUpdate':{'maxSurge':1}}}}", "retainKeys")]
    [InlineData("{'metadata':{'$deleteFromPrimitiveList/finalizers':'a'}}", "$deleteFromPrimitiveList")]
    [InlineData("{'spec':{'$setElementOrder/containers':[{'name':'app'}],'containers':[{'name':'zzz','image':'q'}]}}", "$setElementOrder")]
    [InlineData("{'spec':{'$bogus':1}}", "unknown directive")]
    public void Apply_InvalidPatch_ThrowsPatchException(string patch, string messagePart)
    {
        var definition = patch.Contains("strategy") ? Deployment : Pod;
        var document = definition == Deployment ? "{'spec':{'strategy':{'type':'RollingUpdate'}}}" : BasePod;
        var error = Assert.Throws<PatchException>(() => StrategicMergePatch.Apply(Json.Parse(document), Json.Parse(patch), definition));
        Assert.Contains(messagePart, error.Message);
    }

    [Fact]
    public void Apply_NonObjectPatch_ThrowsPatchException()
    {
        Assert.Throws<PatchException>(() => StrategicMergePatch.Apply(Json.Parse(BasePod), Json.Parse("[1]"), Pod));
    }

    [Theory]
    [InlineData("{'spec':{'containers':[{'name':'app','image':'app:2'},{'name':'side','image':'side:1'}]}}",
        "{'spec':{'$setElementOrder/containers':[{'name':'app'},{'name':'side'}],'containers':[{'image':'app:2','name':'app'}]}}")]
    [InlineData("{'spec':{'containers':[{'name':'app','image':'app:1'}]}}",
        "{'spec':{'$setElementOrder/containers':[{'name':'app'}],'containers':[{'name':'side','$patch':'delete'}]}}")]
    [InlineData("{'spec':{'containers':[{'name':'side','image':'side:1'},{'name':'app','image':'app:1'}]}}",
        "{'spec':{'$setElementOrder/containers':[{'name':'side'},{'name':'app'}]}}")]
    [InlineData("{'metadata':{'finalizers':['b']}}",
        "{'metadata':{'$setElementOrder/finalizers':['b'],'$deleteFromPrimitiveList/finalizers':['a']}}")]
    [InlineData("{'metadata':{'finalizers':['a','b','c']}}",
        "{'metadata':{'$setElementOrder/finalizers':['a','b','c'],'finalizers':['c']}}")]
    [InlineData("{'metadata':{'labels':{'tier':null}}}",
        "{'metadata':{'labels':{'tier':null}}}")]
    [InlineData("{'metadata':{'labels':{'app':'web','tier':'fe'},'finalizers':['a','b']}}",
        "{}")]
    public void Create_PodChanges_MatchUpstreamPatchShape(string modifiedPart, string expectedPatch)
    {
        var original = "{'metadata':{'labels':{'app':'web','tier':'fe'},'finalizers':['a','b']},'spec':{'containers':[{'name':'app','image':'app:1'},{'name':'side','image':'side:1'}]}}";
        var modified = MergePatch.Apply(Json.Parse(original), Json.Parse(modifiedPart));
        // Lists replace in merge patch, which is exactly what the modified document needs here.
        Json.AssertEqual(expectedPatch, StrategicMergePatch.Create(Json.Parse(original), modified, Pod));
    }

    [Fact]
    public void Create_DeploymentStrategyTypeChange_EmitsRetainKeys()
    {
        var original = "{'spec':{'strategy':{'type':'RollingUpdate','rollingUpdate':{'maxSurge':1}}}}";
        var modified = "{'spec':{'strategy':{'type':'Recreate'}}}";
        Json.AssertEqual(
            "{'spec':{'strategy':{'$retainKeys':['type'],'rollingUpdate':null,'type':'Recreate'}}}",
            StrategicMergePatch.Create(Json.Parse(original), Json.Parse(modified), Deployment));
    }

    [Theory]
    [InlineData(Pod, BasePod,
        "{'apiVersion':'v1','kind':'Pod','metadata':{'name':'p','labels':{'app':'web','new':'x'},'finalizers':['z','b']},'spec':{'containers':[{'name':'side','image':'side:2'},{'name':'extra','image':'e:1'},{'name':'app','image':'app:1','args':['y'],'env':[{'name':'B','value':'3'},{'name':'C','value':'4'}]}]}}")]
    [InlineData(Pod, BasePod,
        "{'apiVersion':'v1','kind':'Pod','metadata':{'name':'p'},'spec':{'containers':[]}}")]
    [InlineData(Pod, "{'spec':{'volumes':[{'name':'v','emptyDir':{}},{'name':'w','secret':{'secretName':'s'}}]}}",
        "{'spec':{'volumes':[{'name':'w','secret':{'secretName':'s2'}},{'name':'v','configMap':{'name':'cm'}}]}}")]
    [InlineData(Deployment, "{'spec':{'replicas':1,'strategy':{'type':'RollingUpdate','rollingUpdate':{'maxSurge':'25%'}}}}",
        "{'spec':{'replicas':3,'strategy':{'type':'Recreate'}}}")]
    [InlineData(Deployment, "{'spec':{'strategy':{'type':'Recreate'}}}",
        "{'spec':{'strategy':{'type':'RollingUpdate','rollingUpdate':{'maxSurge':2}}}}")]
    [InlineData(Pod, "{'metadata':{'finalizers':['a','b','c']}}", "{'metadata':{'finalizers':['c','b','a']}}")]
    [InlineData(Pod, "{'metadata':{}}", "{'metadata':{'finalizers':['a'],'labels':{'x':'y'}}}")]
    public void Create_ThenApply_ReproducesModified(string definition, string original, string modified)
    {
        var patch = StrategicMergePatch.Create(Json.Parse(original), Json.Parse(modified), definition);
        Json.AssertEqual(modified, StrategicMergePatch.Apply(Json.Parse(original), patch, definition));
    }
}

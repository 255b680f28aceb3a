using System.Text;
using System.Text.Json.Nodes;
using Kcm.Api;
using Kcm.Api.Apps.V1;
using Kcm.Api.Core.V1;
using Kcm.Api.Meta.V1;
using Kcm.Controllers.Common;

namespace Kcm.Controllers.Tests.Common;

/// <summary>Revision data and hashes against what upstream v1.26.3 wrote on a real apiserver (read back as protobuf, i.e. the stored bytes).</summary>
public sealed class ControllerHistoryTests
{
    // A DaemonSet template as the apiserver returned it (defaults applied), with characters Go escapes.
    private const string DaemonSetTemplate = """
        {"metadata":{"annotations":{"note":"h\u00e9llo <b> & 'q' +"},"creationTimestamp":null,"labels":{"app":"x"}},"spec":{"containers":[{"command":["sh","-c","echo a && sleep 1e9 > /dev/null"],"env":[{"name":"A","value":"\u2028x\ty"}],"image":"busybox","imagePullPolicy":"Always","name":"c","ports":[{"containerPort":80,"protocol":"TCP"}],"readinessProbe":{"failureThreshold":3,"httpGet":{"path":"/","port":80,"scheme":"HTTP"},"periodSeconds":10,"successThreshold":1,"timeoutSeconds":1},"resources":{"requests":{"cpu":"100m"}},"terminationMessagePath":"/dev/termination-log","terminationMessagePolicy":"File"}],"dnsPolicy":"ClusterFirst","restartPolicy":"Always","schedulerName":"default-scheduler","securityContext":{},"terminationGracePeriodSeconds":30,"tolerations":[{"effect":"NoExecute","key":"node.kubernetes.io/not-ready","operator":"Exists","tolerationSeconds":300}],"volumes":[{"emptyDir":{},"name":"v"}]}}
        """;

    // The data of the ControllerRevision upstream's daemonset controller created for it, as stored.
    private const string UpstreamDaemonSetRevisionData =
        "{\"spec\":{\"template\":{\"$patch\":\"replace\",\"metadata\":{\"annotations\":{\"note\":\"h\u00e9llo \\u003cb\\u003e \\u0026 'q' +\"},\"creationTimestamp\":null,\"labels\":{\"app\":\"x\"}},"
        + "\"spec\":{\"containers\":[{\"command\":[\"sh\",\"-c\",\"echo a \\u0026\\u0026 sleep 1e9 \\u003e /dev/null\"],\"env\":[{\"name\":\"A\",\"value\":\"\\u2028x\\ty\"}],\"image\":\"busybox\",\"imagePullPolicy\":\"Always\",\"name\":\"c\","
        + "\"ports\":[{\"containerPort\":80,\"protocol\":\"TCP\"}],\"readinessProbe\":{\"failureThreshold\":3,\"httpGet\":{\"path\":\"/\",\"port\":80,\"scheme\":\"HTTP\"},\"periodSeconds\":10,\"successThreshold\":1,\"timeoutSeconds\":1},"
        + "\"resources\":{\"requests\":{\"cpu\":\"100m\"}},\"terminationMessagePath\":\"/dev/termination-log\",\"terminationMessagePolicy\":\"File\"}],\"dnsPolicy\":\"ClusterFirst\",\"restartPolicy\":\"Always\",\"schedulerName\":\"default-scheduler\","
        + "\"securityContext\":{},\"terminationGracePeriodSeconds\":30,\"tolerations\":[{\"effect\":\"NoExecute\",\"key\":\"node.kubernetes.io/not-ready\",\"operator\":\"Exists\",\"tolerationSeconds\":300}],\"volumes\":[{\"emptyDir\":{},\"name\":\"v\"}]}}}}";

    // Upstream's statefulset controller: revision s-8fbd59bd6 (label controller.kubernetes.io/hash=8fbd59bd6), collision count 0.
    private const string UpstreamStatefulSetRevisionData =
        "{\"spec\":{\"template\":{\"$patch\":\"replace\",\"metadata\":{\"creationTimestamp\":null,\"labels\":{\"app\":\"s\"}},\"spec\":{\"containers\":[{\"command\":[\"sh\",\"-c\",\"a \\u0026\\u0026 b\"],\"image\":\"busybox\","
        + "\"imagePullPolicy\":\"Always\",\"name\":\"c\",\"resources\":{},\"terminationMessagePath\":\"/dev/termination-log\",\"terminationMessagePolicy\":\"File\"}],\"dnsPolicy\":\"ClusterFirst\",\"restartPolicy\":\"Always\","
        + "\"schedulerName\":\"default-scheduler\",\"securityContext\":{},\"terminationGracePeriodSeconds\":30}}}}";

    [Fact]
    public void TemplatePatch_TemplateFromRealServer_EqualsUpstreamRevisionBytes()
    {
        var template = KubeJson.Deserialize<PodTemplateSpec>(Encoding.UTF8.GetBytes(DaemonSetTemplate))!;

        var patch = ControllerHistory.TemplatePatch(template);

        Assert.Equal(UpstreamDaemonSetRevisionData, Encoding.UTF8.GetString(patch));
    }

    [Fact]
    public void TemplatePatch_EmptyResources_WritesGoStructFields()
    {
        var template = new PodTemplateSpec
        {
            Metadata = new ObjectMeta { Labels = new() { ["app"] = "s" } },
            Spec = new PodSpec { Containers = [new Container { Name = "c", Image = "busybox", Command = ["sh", "-c", "a && b"], ImagePullPolicy = "Always", TerminationMessagePath = "/dev/termination-log", TerminationMessagePolicy = "File" }], DnsPolicy = "ClusterFirst", RestartPolicy = "Always", SchedulerName = "default-scheduler", SecurityContext = new PodSecurityContext(), TerminationGracePeriodSeconds = 30 },
        };

        Assert.Equal(UpstreamStatefulSetRevisionData, Encoding.UTF8.GetString(ControllerHistory.TemplatePatch(template)));
    }

    [Fact]
    public void HashControllerRevision_UpstreamStatefulSetRevision_SameHash()
    {
        Assert.Equal("8fbd59bd6", ControllerHistory.HashControllerRevision(Encoding.UTF8.GetBytes(UpstreamStatefulSetRevisionData), 0));
        Assert.NotEqual("8fbd59bd6", ControllerHistory.HashControllerRevision(Encoding.UTF8.GetBytes(UpstreamStatefulSetRevisionData), 1));
    }

    [Fact]
    public void NewControllerRevision_Parent_NamedByHashAndOwned()
    {
        var parent = new ObjectMeta { Name = "s", Namespace = "ns", Uid = "u1" };
        var revision = ControllerHistory.NewControllerRevision(parent, StatefulSet.Resource, new Dictionary<string, string> { ["app"] = "s" }, Encoding.UTF8.GetBytes(UpstreamStatefulSetRevisionData), 1, 0);

        Assert.Equal("s-8fbd59bd6", revision.Metadata!.Name);
        Assert.Equal("8fbd59bd6", revision.Metadata.Labels![ControllerHistory.ControllerRevisionHashLabel]);
        Assert.Equal(("StatefulSet", "u1", true), (revision.Metadata.OwnerReferences![0].Kind, revision.Metadata.OwnerReferences[0].Uid, revision.Metadata.OwnerReferences[0].Controller == true));
        Assert.Equal(UpstreamStatefulSetRevisionData, Encoding.UTF8.GetString(ControllerHistory.RevisionData(revision)));
    }

    [Fact]
    public void ControllerRevisionName_LongPrefix_CutTo223()
        => Assert.Equal(new string('a', 223) + "-h", ControllerHistory.ControllerRevisionName(new string('a', 300), "h"));

    [Fact]
    public void Matches_RevisionReadBackThroughOurClient_RecognisesUpstreamData()
    {
        var template = KubeJson.Deserialize<PodTemplateSpec>(Encoding.UTF8.GetBytes(DaemonSetTemplate))!;
        // Our client decodes the data into a JSON tree; re-encoding must give Go's bytes again.
        var revision = new ControllerRevision { Data = JsonNode.Parse(UpstreamDaemonSetRevisionData) };

        Assert.True(ControllerHistory.Matches(template, revision));
        template.Spec!.Containers![0].Image = "busybox:2";
        Assert.False(ControllerHistory.Matches(template, revision));
    }

    [Fact]
    public void EncodeRevision_DataWithHtmlCharacters_SentAsGoBytes()
    {
        var revision = new ControllerRevision { Metadata = new ObjectMeta { Name = "r" }, Data = JsonNode.Parse(UpstreamStatefulSetRevisionData), Revision = 1 };

        var body = Encoding.UTF8.GetString(ApiControllerRevisionClient.Encode(revision));

        Assert.Contains("\"data\":" + UpstreamStatefulSetRevisionData + "}", body, StringComparison.Ordinal);
        Assert.NotNull(JsonNode.Parse(body));
    }

    [Theory]
    [InlineData("{\"b\":1,\"a\":[true,null,\"x\"]}", "{\"a\":[true,null,\"x\"],\"b\":1}")]
    [InlineData("{\"n\":1.5,\"m\":100000000000000000000,\"s\":1e-7}", "{\"m\":100000000000000000000,\"n\":1.5,\"s\":1e-07}")]
    [InlineData("{\"s\":\"\\u0001\\b\\f\\\\\\\"\"}", "{\"s\":\"\\u0001\\u0008\\u000c\\\\\\\"\"}")]
    public void GoJsonMarshal_Values_WrittenAsGoWritesThem(string input, string expected)
        => Assert.Equal(expected, Encoding.UTF8.GetString(GoJson.Marshal(JsonNode.Parse(input))));

    [Fact]
    public void SortByRevision_Ties_ByCreationThenName()
    {
        ControllerRevision R(string name, long revision, int minute) => new() { Metadata = new ObjectMeta { Name = name, CreationTimestamp = new DateTimeOffset(2026, 1, 1, 0, minute, 0, TimeSpan.Zero) }, Revision = revision };

        var sorted = ControllerHistory.SortByRevision([R("c", 2, 0), R("b", 1, 5), R("a", 1, 5), R("d", 1, 1)]);

        Assert.Equal(["d", "a", "b", "c"], sorted.Select(r => r.Metadata!.Name!));
    }
}

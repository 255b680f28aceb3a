using System.Text;
using System.Text.Json.Nodes;
using Kcm.Api.Coordination.V1;
using Kcm.Api.Core.V1;

namespace Kcm.Api.Tests.Serialization;

public class GeneratedTypeRoundTripTests
{
    private const string PodWithUnknownFields = """
        {
          "apiVersion": "v1",
          "kind": "Pod",
          "futureTopLevel": {"nested": [1, 2, {"deep": true}]},
          "metadata": {
            "name": "web-0",
            "namespace": "default",
            "creationTimestamp": "2024-03-05T08:20:30Z",
            "labels": {"app": "web"},
            "futureMetadataField": "keep-me"
          },
          "spec": {
            "futureSpecFlag": true,
            "containers": [
              {
                "name": "app",
                "image": "nginx:1.25",
                "futureContainerField": {"a": 1.50, "b": null},
                "ports": [{"containerPort": 80, "futurePortField": [ "x" ]}],
                "resources": {
                  "limits": {"cpu": "1.5", "memory": "1024Mi"},
                  "requests": {"cpu": "0.1", "memory": "1.5Gi", "ephemeral-storage": 1000}
                },
                "livenessProbe": {"httpGet": {"path": "/healthz", "port": "http"}}
              }
            ]
          },
          "status": {"phase": "Running", "futureStatusField": 42}
        }
        """;

    private static JsonNode Node(byte[] utf8) => JsonNode.Parse(utf8)!;

    [Fact]
    public void Pod_UnknownFieldsAtEveryLevel_SurviveModificationAndReserialization()
    {
        var pod = KubeJson.Deserialize<Pod>(Encoding.UTF8.GetBytes(PodWithUnknownFields))!;
        pod.Metadata!.Labels!["tier"] = "frontend";

        var written = Node(KubeJson.Serialize(pod));

        Assert.True(JsonNode.DeepEquals(JsonNode.Parse("""{"nested": [1, 2, {"deep": true}]}"""), written["futureTopLevel"]));
        Assert.Equal("keep-me", (string?)written["metadata"]!["futureMetadataField"]);
        Assert.True((bool)written["spec"]!["futureSpecFlag"]!);
        var container = written["spec"]!["containers"]![0]!;
        Assert.True(JsonNode.DeepEquals(JsonNode.Parse("""{"a": 1.50, "b": null}"""), container["futureContainerField"]));
        Assert.Equal("1.50", container["futureContainerField"]!["a"]!.ToJsonString());
        Assert.True(JsonNode.DeepEquals(JsonNode.Parse("""["x"]"""), container["ports"]![0]!["futurePortField"]));
        Assert.Equal(42, (int)written["status"]!["futureStatusField"]!);
        Assert.Equal("frontend", (string?)written["metadata"]!["labels"]!["tier"]);
        Assert.Equal("web", (string?)written["metadata"]!["labels"]!["app"]);
    }

    [Fact]
    public void Pod_KnownFields_ReserializeWithCanonicalWireForms()
    {
        var pod = KubeJson.Deserialize<Pod>(Encoding.UTF8.GetBytes(PodWithUnknownFields))!;

        var written = Node(KubeJson.Serialize(pod));

        Assert.Equal("2024-03-05T08:20:30Z", (string?)written["metadata"]!["creationTimestamp"]);
        var container = written["spec"]!["containers"]![0]!;
        Assert.Equal("http", (string?)container["livenessProbe"]!["httpGet"]!["port"]);
        Assert.Equal(80, (int)container["ports"]![0]!["containerPort"]!);
    }

    [Fact]
    public void Pod_ResourceQuantities_Canonicalize()
    {
        var pod = KubeJson.Deserialize<Pod>(Encoding.UTF8.GetBytes(PodWithUnknownFields))!;
        var resources = pod.Spec!.Containers![0].Resources!;

        Assert.Equal(1500, resources.Limits!["cpu"].MilliValue());
        Assert.Equal(1L << 30, resources.Limits["memory"].Value());

        var written = Node(KubeJson.Serialize(pod))["spec"]!["containers"]![0]!["resources"]!;

        Assert.Equal("1500m", (string?)written["limits"]!["cpu"]);
        Assert.Equal("1Gi", (string?)written["limits"]!["memory"]);
        Assert.Equal("100m", (string?)written["requests"]!["cpu"]);
        Assert.Equal("1536Mi", (string?)written["requests"]!["memory"]);
        Assert.Equal("1k", (string?)written["requests"]!["ephemeral-storage"]);
    }

    [Fact]
    public void Pod_NullAndAbsentFields_AreOmittedOnWrite()
    {
        var pod = new Pod
        {
            ApiVersion = "v1",
            Kind = "Pod",
            Metadata = new Kcm.Api.Meta.V1.ObjectMeta { Name = "p", Namespace = null },
            Spec = new PodSpec { Containers = [new Container { Name = "c", Image = null }] },
        };

        var json = Encoding.UTF8.GetString(KubeJson.Serialize(pod));

        Assert.Equal("""{"apiVersion":"v1","kind":"Pod","metadata":{"name":"p"},"spec":{"containers":[{"name":"c"}]}}""", json);
    }

    [Fact]
    public void Pod_ExplicitJsonNulls_AreDroppedOnRoundTrip()
    {
        var pod = KubeJson.Deserialize<Pod>("""{"kind":"Pod","metadata":{"name":"p","labels":null,"creationTimestamp":null},"spec":null}"""u8)!;

        Assert.Null(pod.Metadata!.Labels);
        Assert.Null(pod.Metadata.CreationTimestamp);
        Assert.Null(pod.Spec);
        Assert.Equal("""{"kind":"Pod","metadata":{"name":"p"}}""", Encoding.UTF8.GetString(KubeJson.Serialize(pod)));
    }

    [Fact]
    public void Lease_MicroTimes_RoundTripWithSixDigits()
    {
        const string json = """
            {"apiVersion":"coordination.k8s.io/v1","kind":"Lease","metadata":{"name":"kube-controller-manager","namespace":"kube-system","creationTimestamp":"2024-03-05T08:00:00Z"},
             "spec":{"holderIdentity":"node-a_1234","leaseDurationSeconds":15,"acquireTime":"2024-03-05T08:00:00.000000Z","renewTime":"2024-03-05T08:20:30.123456Z","leaseTransitions":3}}
            """;

        var lease = KubeJson.Deserialize<Lease>(Encoding.UTF8.GetBytes(json))!;

        Assert.Equal(new DateTimeOffset(2024, 3, 5, 8, 20, 30, TimeSpan.Zero).AddTicks(1_234_560), lease.Spec!.RenewTime);
        var written = Node(KubeJson.Serialize(lease));
        Assert.Equal("2024-03-05T08:20:30.123456Z", (string?)written["spec"]!["renewTime"]);
        Assert.Equal("2024-03-05T08:00:00.000000Z", (string?)written["spec"]!["acquireTime"]);
        Assert.Equal("2024-03-05T08:00:00Z", (string?)written["metadata"]!["creationTimestamp"]);
    }

    [Fact]
    public void Lease_RenewTimeSetFromCode_WritesMicrosecondsInUtc()
    {
        var lease = new Lease
        {
            Spec = new LeaseSpec { RenewTime = new DateTimeOffset(2024, 3, 5, 10, 20, 30, TimeSpan.FromHours(2)).AddTicks(98_765_43) },
            Metadata = new Kcm.Api.Meta.V1.ObjectMeta { CreationTimestamp = new DateTimeOffset(2024, 3, 5, 8, 0, 0, 500, TimeSpan.Zero) },
        };

        var written = Node(KubeJson.Serialize(lease));

        Assert.Equal("2024-03-05T08:20:30.987654Z", (string?)written["spec"]!["renewTime"]);
        Assert.Equal("2024-03-05T08:00:00Z", (string?)written["metadata"]!["creationTimestamp"]);
        Assert.Null(written["spec"]!["acquireTime"]);
    }

    [Fact]
    public void Secret_Base64Data_RoundTripsBytes()
    {
        var bytes = new byte[] { 0, 1, 2, 250, 251, 255, (byte)'k', (byte)'8', (byte)'s' };
        var json = $$$"""{"apiVersion":"v1","kind":"Secret","metadata":{"name":"s"},"type":"Opaque","data":{"blob":"{{{Convert.ToBase64String(bytes)}}}","password":"czNjcjN0"}}""";

        var secret = KubeJson.Deserialize<Secret>(Encoding.UTF8.GetBytes(json))!;

        Assert.Equal(bytes, secret.Data!["blob"]);
        Assert.Equal("s3cr3t", Encoding.UTF8.GetString(secret.Data["password"]));
        Assert.True(JsonNode.DeepEquals(JsonNode.Parse(json), Node(KubeJson.Serialize(secret))));
    }

    [Fact]
    public void Pod_ToNodeAndFromNode_PreservesUnknownFieldsAndQuantities()
    {
        var pod = KubeJson.Deserialize<Pod>(Encoding.UTF8.GetBytes(PodWithUnknownFields))!;

        var again = KubeJson.FromNode<Pod>(KubeJson.ToNode(pod))!;

        Assert.Equal(Encoding.UTF8.GetString(KubeJson.Serialize(pod)), Encoding.UTF8.GetString(KubeJson.Serialize(again)));
        Assert.Equal(Quantity.Parse("1.5Gi"), again.Spec!.Containers![0].Resources!.Requests!["memory"]);
    }
}

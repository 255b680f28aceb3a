using System.Text;
using System.Text.Json.Nodes;
using Kcm.ApiServer.Printing;
using Kcm.Api.Protobuf;

namespace Kcm.ApiServer.Tests.Kubectl;

/// <summary>Protobuf bodies as client-go writes them, transcoded to the JSON upstream's types marshal to.</summary>
public sealed class ProtobufTranscoderTests
{
    /// <summary>Builds protobuf wire format: fields are (number, value) with value string, long, bool, byte[] or a nested builder.</summary>
    private sealed class Msg
    {
        private readonly MemoryStream _bytes = new();

        public Msg Add(int number, object value)
        {
            switch (value)
            {
                case string s: Bytes(number, Encoding.UTF8.GetBytes(s)); break;
                case byte[] b: Bytes(number, b); break;
                case Msg m: Bytes(number, m.ToArray()); break;
                case bool b:
                    Varint((ulong)(number << 3));
                    Varint(b ? 1UL : 0UL);
                    break;
                case long or int:
                    Varint((ulong)(number << 3));
                    Varint((ulong)Convert.ToInt64(value, System.Globalization.CultureInfo.InvariantCulture));
                    break;
                default: throw new ArgumentException($"unsupported value {value}");
            }
            return this;
        }

        public Msg Entry(int number, string key, object value) => Add(number, new Msg().Add(1, key).Add(2, value));

        public byte[] ToArray() => _bytes.ToArray();

        private void Bytes(int number, byte[] b)
        {
            Varint((ulong)(number << 3 | 2));
            Varint((ulong)b.Length);
            _bytes.Write(b);
        }

        private void Varint(ulong v)
        {
            while (v >= 0x80)
            {
                _bytes.WriteByte((byte)(v | 0x80));
                v >>= 7;
            }
            _bytes.WriteByte((byte)v);
        }
    }

    private static byte[] Envelope(string apiVersion, string kind, Msg obj)
    {
        var unknown = new Msg().Add(1, new Msg().Add(1, apiVersion).Add(2, kind)).Add(2, obj).Add(3, "").Add(4, "");
        return [.. "k8s\0"u8.ToArray(), .. unknown.ToArray()];
    }

    [Fact]
    public void Decode_Pod_JsonNamesMapsQuantitiesAndDroppedZeroOrUnservedValues()
    {
        var metadata = new Msg().Add(1, "web").Add(2, "").Add(3, "prod").Add(7, 0L).Add(8, new Msg()).Entry(11, "app", "web");
        var container = new Msg().Add(1, "nginx").Add(2, "nginx:1.25")
            .Add(6, new Msg().Add(3, 80).Add(4, "TCP"))
            .Add(8, new Msg().Entry(1, "cpu", new Msg().Add(1, "100m")))
            .Add(16, false) // stdin: omitempty in Go, so false is left out of JSON
            .Add(24, "Always"); // restartPolicy: a field v1.26 does not serve, dropped as a v1.26 decoder skips it
        var pod = new Msg().Add(1, metadata).Add(2, new Msg().Add(2, container).Add(4, 30L));

        var json = ProtobufTranscoder.Decode(Envelope("v1", "Pod", pod));

        var expected = """
            {"apiVersion":"v1","kind":"Pod","metadata":{"name":"web","namespace":"prod","labels":{"app":"web"}},
             "spec":{"containers":[{"name":"nginx","image":"nginx:1.25","ports":[{"containerPort":80,"protocol":"TCP"}],
             "resources":{"limits":{"cpu":"100m"}}}],"terminationGracePeriodSeconds":30}}
            """;
        Assert.Equal(JsonNode.Parse(expected)!.ToJsonString(), json.ToJsonString());
    }

    [Fact]
    public void Decode_DeploymentStrategyAndSecret_IntOrStringTimeAndBytes()
    {
        var strategy = new Msg().Add(1, "RollingUpdate")
            .Add(2, new Msg().Add(1, new Msg().Add(1, 0L).Add(2, 1)).Add(2, new Msg().Add(1, 1L).Add(3, "25%")));
        var deployment = new Msg().Add(1, new Msg().Add(1, "d").Add(8, new Msg().Add(1, 1700000000L)))
            .Add(2, new Msg().Add(1, 0).Add(4, strategy));
        var d = ProtobufTranscoder.Decode(Envelope("apps/v1", "Deployment", deployment));
        Assert.Equal("2023-11-14T22:13:20Z", (string?)d["metadata"]!["creationTimestamp"]);
        Assert.Equal(0, (int?)d["spec"]!["replicas"]);
        Assert.Equal(1, (int?)d["spec"]!["strategy"]!["rollingUpdate"]!["maxUnavailable"]);
        Assert.Equal("25%", (string?)d["spec"]!["strategy"]!["rollingUpdate"]!["maxSurge"]);

        var secret = new Msg().Add(1, new Msg().Add(1, "s")).Entry(2, "key", new byte[] { 0, 1, 2, 255 }).Add(3, "Opaque");
        var s = ProtobufTranscoder.Decode(Envelope("v1", "Secret", secret));
        Assert.Equal("AAEC/w==", (string?)s["data"]!["key"]);
        Assert.Equal("Opaque", (string?)s["type"]);
    }

    [Fact]
    public void Decode_SelfSubjectReview_ExtraValueBecomesBareList()
    {
        // authentication/v1 UserInfo.extra is map<string, ExtraValue>; ExtraValue is a bare list in JSON.
        var review = new Msg().Add(1, new Msg().Add(1, "r"))
            .Add(2, new Msg().Add(1, new Msg().Add(1, "alice").Entry(4, "scopes", new Msg().Add(1, "a").Add(1, "b"))));
        var json = ProtobufTranscoder.Decode(Envelope("authentication.k8s.io/v1", "SelfSubjectReview", review));
        Assert.Equal("""{"apiVersion":"authentication.k8s.io/v1","kind":"SelfSubjectReview","metadata":{"name":"r"},"status":{"userInfo":{"username":"alice","extra":{"scopes":["a","b"]}}}}""",
            json.ToJsonString());
    }

    [Theory]
    [InlineData(new byte[] { 1, 2, 3 }, "does not appear to be a protobuf message")]
    [InlineData(new byte[] { 0x6b, 0x38, 0x73, 0x00, 0x0a, 0x0f }, "unexpected EOF")]
    [InlineData(new byte[] { 0x6b, 0x38, 0x73, 0x00, 0x0a, 0x06, 0x0a, 0x02, 0x76, 0x31, 0x12, 0x00 }, "Object 'Kind' is missing")]
    public void Decode_MalformedBody_ThrowsDecodeError(byte[] body, string message)
        => Assert.Contains(message, Assert.Throws<ProtobufDecodeException>(() => ProtobufTranscoder.Decode(body)).Message);

    [Fact]
    public void Decode_UnknownKind_ThrowsNamingTheKind()
        => Assert.Contains("no kind \"Gadget\" is registered for version \"v1\"",
            Assert.Throws<ProtobufDecodeException>(() => ProtobufTranscoder.Decode(Envelope("v1", "Gadget", new Msg()))).Message);

    [Theory]
    [InlineData(45, "45s")]
    [InlineData(119, "119s")]
    [InlineData(303, "5m3s")]
    [InlineData(600, "10m")]
    [InlineData(12_000, "3h20m")]
    [InlineData(7_200, "120m")]
    [InlineData(36 * 3600, "36h")]
    [InlineData(98 * 3600, "4d2h")]
    [InlineData(400 * 86400, "400d")]
    [InlineData(3 * 365 * 86400, "3y")]
    public void HumanDuration_Format_MatchesApimachinery(long seconds, string expected)
        => Assert.Equal(expected, HumanDuration.Format(TimeSpan.FromSeconds(seconds)));
}

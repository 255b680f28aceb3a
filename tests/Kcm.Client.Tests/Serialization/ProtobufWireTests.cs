using System.Net;
using System.Text;
using System.Text.Json.Nodes;
using Kcm.Api.Core.V1;
using Kcm.Api.Protobuf;
using Kcm.Client.Config;
using Kcm.Client.Errors;
using Kcm.Client.Serialization;
using Kcm.Client.Tests.Support;
using Kcm.Client.Watch;

namespace Kcm.Client.Tests.Serialization;

/// <summary>Content negotiation and the protobuf wire form, against a stub server.</summary>
public sealed class ProtobufWireTests
{
    private static readonly ClientConfig ProtobufConfig = new()
    {
        Server = new Uri("https://api.test:6443"),
        BearerToken = "t0k",
        ContentType = ProtobufTranscoder.MediaType,
    };

    private static byte[] Utf8(string s) => Encoding.UTF8.GetBytes(s);

    // The enveloped object with extra raw bytes appended to its message (fields a newer server might send).
    private static byte[] Envelope(string apiVersion, string kind, byte[] message)
    {
        var typeMeta = new List<byte> { 0x0a, (byte)apiVersion.Length };
        typeMeta.AddRange(Utf8(apiVersion));
        typeMeta.Add(0x12);
        typeMeta.Add((byte)kind.Length);
        typeMeta.AddRange(Utf8(kind));
        var result = new List<byte>(Utf8("k8s\0")) { 0x0a, (byte)typeMeta.Count };
        result.AddRange(typeMeta);
        result.Add(0x12);
        ProtobufTestBytes.AddLength(result, message.Length);
        result.AddRange(message);
        return [.. result];
    }

    private static byte[] PodMessage(string json, params byte[] extra)
    {
        using var document = System.Text.Json.JsonDocument.Parse(json);
        var message = ProtobufEncoder.TryEncodeMessage(document.RootElement, out _, out _)!;
        return [.. message, .. extra];
    }

    private const string PodJson = """
        {"apiVersion":"v1","kind":"Pod","metadata":{"name":"p","namespace":"ns","resourceVersion":"5"},
         "spec":{"containers":[{"name":"c","image":"nginx"}],"resources":{"requests":{"cpu":"1"}}}}
        """;

    [Fact(Timeout = 30_000)]
    public async Task Get_ProtobufConfig_AcceptsProtobufLikeClientGo()
    {
        var handler = new StubHandler().Respond(_ => ProtobufTestBytes.Response(Envelope("v1", "Pod", PodMessage(PodJson))));
        using var client = TestClients.Create(handler, config: ProtobufConfig);

        var pod = await client.GetAsync<Pod>("ns", "p");

        var accept = handler.Requests[0].Headers["Accept"].Replace(" ", "");
        Assert.Equal("application/vnd.kubernetes.protobuf,*/*", accept);
        Assert.Equal("nginx", pod.Spec!.Containers![0].Image);
    }

    [Fact(Timeout = 30_000)]
    public async Task Get_JsonConfig_AcceptsJsonOnly()
    {
        var handler = new StubHandler().Respond(HttpStatusCode.OK, PodJson);
        using var client = TestClients.Create(handler, config: ProtobufConfig with { ContentType = "application/json" });

        await client.GetAsync<Pod>("ns", "p");

        Assert.Equal("application/json", handler.Requests[0].Headers["Accept"]);
    }

    [Fact(Timeout = 30_000)]
    public async Task ReadModifyWrite_NewerFieldKnownToTables_SurvivesInProtobuf_UnknownNumberDropped()
    {
        // spec.resources (field 40) is newer than v1.26; field 99 of Pod is in no table at all.
        var handler = new StubHandler()
            .Respond(_ => ProtobufTestBytes.Response(Envelope("v1", "Pod", PodMessage(PodJson, 0x98, 0x06, 0x01))))
            .Respond(r => ProtobufTestBytes.Response(r.BodyBytes!));
        using var client = TestClients.Create(handler, config: ProtobufConfig);

        var pod = await client.GetAsync<Pod>("ns", "p");
        pod.Metadata!.Labels = new() { ["touched"] = "yes" };
        await client.UpdateAsync(pod);

        var put = handler.Requests[1];
        Assert.Equal(ProtobufTranscoder.MediaType, put.ContentType);
        var sent = JsonNode.Parse(ProtobufTranscoder.ToJson(put.BodyBytes!))!;
        Assert.Equal("yes", sent["metadata"]!["labels"]!["touched"]!.GetValue<string>());
        Assert.Equal("1", sent["spec"]!["resources"]!["requests"]!["cpu"]!.GetValue<string>());
        // A v1.26 server reading the same body drops the newer field, as upstream's decoder skips unknown numbers.
        Assert.Null(ProtobufTranscoder.Decode(put.BodyBytes!)["spec"]!["resources"]);
    }

    [Fact(Timeout = 30_000)]
    public async Task Update_FieldWithoutProtobufNumber_SentAsJsonSoItSurvives()
    {
        const string stored = """
            {"apiVersion":"v1","kind":"Pod","metadata":{"name":"p","namespace":"ns","resourceVersion":"5"},
             "spec":{"containers":[{"name":"c","image":"nginx","futureContainerField":"x"}]}}
            """;
        var handler = new StubHandler()
            .Respond(HttpStatusCode.OK, stored)
            .Respond(r => StubHandler.Response(HttpStatusCode.OK, r.Body!));
        using var client = TestClients.Create(handler, config: ProtobufConfig);

        var pod = await client.GetAsync<Pod>("ns", "p");
        await client.UpdateAsync(pod);

        var put = handler.Requests[1];
        Assert.Equal("application/json", put.ContentType);
        Assert.Equal("x", JsonNode.Parse(put.Body!)!["spec"]!["containers"]![0]!["futureContainerField"]!.GetValue<string>());
    }

    [Fact(Timeout = 30_000)]
    public async Task Get_ProtobufStatusError_TypedException()
    {
        var status = ProtobufEncoder.TryEncode(Utf8("""
            {"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"pods \"p\" not found","reason":"NotFound","details":{"name":"p","kind":"pods"},"code":404}
            """))!;
        var handler = new StubHandler().Respond(_ => ProtobufTestBytes.Response(status, code: HttpStatusCode.NotFound));
        using var client = TestClients.Create(handler, config: ProtobufConfig);

        var e = await Assert.ThrowsAsync<NotFoundException>(() => client.GetAsync<Pod>("ns", "p"));

        Assert.Equal("pods \"p\" not found", e.Status?.Message);
    }

    [Fact(Timeout = 30_000)]
    public async Task Get_TruncatedProtobuf_ProtocolError()
    {
        var body = Envelope("v1", "Pod", PodMessage(PodJson));
        var handler = new StubHandler().Respond(_ => ProtobufTestBytes.Response(body[..^3]));
        using var client = TestClients.Create(handler, config: ProtobufConfig);

        var e = await Assert.ThrowsAsync<KubeProtocolException>(() => client.GetAsync<Pod>("ns", "p"));

        Assert.Contains("protobuf", e.Message);
    }

    [Fact(Timeout = 30_000)]
    public async Task Watch_LengthDelimitedFrames_TypedEventsThenErrorStatus()
    {
        var gone = ProtobufEncoder.TryEncode(Utf8("""{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"too old resource version: 1 (5)","reason":"Expired","code":410}"""))!;
        var stream = ProtobufTestBytes.WatchFrame("ADDED", Envelope("v1", "Pod", PodMessage(PodJson))).Concat(ProtobufTestBytes.WatchFrame("ERROR", gone)).ToArray();
        var handler = new StubHandler().Respond(_ => ProtobufTestBytes.Response(stream, ProtobufTranscoder.MediaType + ";stream=watch"));
        using var client = TestClients.Create(handler, config: ProtobufConfig);

        var events = new List<WatchEvent<Pod>>();
        var e = await Assert.ThrowsAsync<GoneException>(async () =>
        {
            await foreach (var ev in client.WatchAsync<Pod>("ns")) events.Add(ev);
        });

        var added = Assert.Single(events);
        Assert.Equal(WatchEventType.Added, added.Type);
        Assert.Equal("p", added.Object.Metadata!.Name);
        Assert.Contains("too old", e.Message);
    }

    [Fact]
    public void Transcode_OmitemptyZeroValuesDroppedInlineFlattened_AsGoJson()
    {
        // Protobuf carries zero values Go's JSON leaves out; Volume's VolumeSource is inline in JSON.
        var json = """
            {"apiVersion":"v1","kind":"Pod","metadata":{"name":"p","generation":0},
             "spec":{"containers":[{"name":"c","stdin":false,"env":[{"name":"E","value":""}]}],"volumes":[{"name":"v","emptyDir":{}}]}}
            """;
        var back = JsonNode.Parse(ProtobufTranscoder.ToJson(ProtobufEncoder.TryEncode(Utf8(json))!))!;

        Assert.Null(back["metadata"]!["generation"]);
        Assert.Null(back["spec"]!["containers"]![0]!["stdin"]);
        Assert.Null(back["spec"]!["containers"]![0]!["env"]![0]!["value"]);
        Assert.NotNull(back["spec"]!["volumes"]![0]!["emptyDir"]);
        Assert.Null(back["spec"]!["volumes"]![0]!["volumeSource"]);
    }

    [Fact]
    public void EncodeBody_CustomResourceGroupReusingABuiltInKind_StaysJson()
    {
        var (_, contentType) = WireFormat.EncodeBody(ProtobufConfig, "apps.example.com/v1", "Deployment", Utf8("""{"apiVersion":"apps.example.com/v1","kind":"Deployment"}"""));

        Assert.Equal("application/json", contentType);
    }
}

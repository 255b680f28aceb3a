using System.Net;
using System.Text;
using System.Text.Json.Nodes;
using Kcm.Api.Core.V1;
using Kcm.Api.Protobuf;
using Kcm.Client.Config;
using Kcm.Client.Errors;
using Kcm.Client.Tests.Support;
using Kcm.Client.Watch;

namespace Kcm.Client.Tests.Serialization;

/// <summary>The cheaper decoding paths (single-pass watch frames, managedFields left out, type meta prepended) give what the plain paths give.</summary>
public sealed class DecodingShortcutsTests
{
    private static readonly ClientConfig ProtobufConfig = new()
    {
        Server = new Uri("https://api.test:6443"),
        BearerToken = "t0k",
        ContentType = ProtobufTranscoder.MediaType,
    };

    private const string PodJson = """
        {"apiVersion":"v1","kind":"Pod","metadata":{"name":"p","namespace":"ns","resourceVersion":"5","labels":{"app":"x"},
         "managedFields":[{"manager":"kcm","operation":"Update","apiVersion":"v1","time":"2026-01-02T03:04:05Z","fieldsType":"FieldsV1",
           "fieldsV1":{"f:metadata":{"f:labels":{".":{},"f:app":{}}}}}]},
         "spec":{"containers":[{"name":"c","image":"nginx"}]},"futureField":{"kept":true}}
        """;

    private static byte[] Utf8(string s) => Encoding.UTF8.GetBytes(s);

    private static byte[] ProtobufPod() => ProtobufEncoder.TryEncode(Utf8(PodJson.Replace(""","futureField":{"kept":true}""", "")))!;

    private static async Task<List<Pod>> WatchAsync(HttpResponseMessage response, ClientConfig? config, bool omit)
    {
        var handler = new StubHandler().Respond(_ => response);
        using var client = TestClients.Create(handler, config: config);
        var pods = new List<Pod>();
        await foreach (var e in client.WatchAsync<Pod>("ns", new ListOptions { OmitManagedFields = omit }))
        {
            Assert.Equal(WatchEventType.Added, e.Type);
            pods.Add(e.Object);
        }
        return pods;
    }

    [Theory(Timeout = 30_000)]
    [InlineData(false)]
    [InlineData(true)]
    public async Task WatchAsync_OmitManagedFields_ObjectsWithoutThemOtherwiseWhole(bool protobuf)
    {
        var response = protobuf
            ? ProtobufTestBytes.Response([.. ProtobufTestBytes.WatchFrame("ADDED", ProtobufPod()), .. ProtobufTestBytes.WatchFrame("ADDED", ProtobufPod())], ProtobufTranscoder.MediaType + ";stream=watch")
            : ProtobufTestBytes.Response(Utf8($$"""{"type":"ADDED","object":{{PodJson}}}{"type":"ADDED","object":{{PodJson}}}"""), "application/json");

        var pods = await WatchAsync(response, protobuf ? ProtobufConfig : null, omit: true);

        Assert.Equal(2, pods.Count);
        Assert.All(pods, pod =>
        {
            Assert.Null(pod.Metadata!.ManagedFields);
            Assert.Equal("p", pod.Metadata.Name);
            Assert.Equal("5", pod.Metadata.ResourceVersion);
            Assert.Equal("x", pod.Metadata.Labels!["app"]);
            Assert.Equal("nginx", pod.Spec!.Containers![0].Image);
        });
        if (!protobuf)
        {
            Assert.Contains("futureField", pods[0].ExtensionData!.Keys);
        }
    }

    [Theory(Timeout = 30_000)]
    [InlineData(false)]
    [InlineData(true)]
    public async Task WatchAsync_ManagedFieldsNotOmitted_Decoded(bool protobuf)
    {
        var response = protobuf
            ? ProtobufTestBytes.Response(ProtobufTestBytes.WatchFrame("ADDED", ProtobufPod()), ProtobufTranscoder.MediaType + ";stream=watch")
            : ProtobufTestBytes.Response(Utf8($$"""{"type":"ADDED","object":{{PodJson}}}"""), "application/json");

        var pod = Assert.Single(await WatchAsync(response, protobuf ? ProtobufConfig : null, omit: false));

        var entry = Assert.Single(pod.Metadata!.ManagedFields!);
        Assert.Equal("kcm", entry.Manager);
        Assert.NotNull(entry.FieldsV1!["f:metadata"]);
    }

    [Theory(Timeout = 30_000)]
    [InlineData(false)]
    [InlineData(true)]
    public async Task ListAsync_OmitManagedFields_ItemsWithoutThem(bool protobuf)
    {
        var listJson = $$"""{"apiVersion":"v1","kind":"PodList","metadata":{"resourceVersion":"9"},"items":[{{PodJson}}]}""";
        byte[] body;
        if (protobuf)
        {
            var list = JsonNode.Parse(listJson)!;
            var item = list["items"]![0]!.AsObject();
            // List items carry no type meta in protobuf, and the encoder has no number for an unknown field.
            item.Remove("futureField");
            item.Remove("apiVersion");
            item.Remove("kind");
            body = ProtobufEncoder.TryEncode(Utf8(list.ToJsonString()))!;
        }
        else
        {
            body = Utf8(listJson);
        }
        var handler = new StubHandler().Respond(_ => ProtobufTestBytes.Response(body, protobuf ? ProtobufTranscoder.MediaType : "application/json"));
        using var client = TestClients.Create(handler, config: protobuf ? ProtobufConfig : null);

        var result = await client.ListAsync<Pod>("ns", new ListOptions { OmitManagedFields = true });

        var pod = Assert.Single(result.Items!);
        Assert.Null(pod.Metadata!.ManagedFields);
        Assert.Equal("x", pod.Metadata.Labels!["app"]);
        Assert.Equal("9", result.Metadata!.ResourceVersion);
        Assert.Equal("", handler.Requests[0].Uri.Query.Replace("?", "", StringComparison.Ordinal));
    }

    [Fact]
    public void DecodeFrame_ObjectBeforeType_Decoded()
    {
        var frame = Utf8("""{"object":{"metadata":{"name":"p"}},"extra":[1,{"a":"b"}],"type":"MODIFIED"}""");

        var e = WatchStreamDecoder.DecodeFrame(frame, Kcm.Api.KubeJson.TypeInfo<Pod>());

        Assert.Equal(WatchEventType.Modified, e.Type);
        Assert.Equal("p", e.Object.Metadata!.Name);
    }

    [Theory]
    [InlineData("""{"type":"ERROR","object":{"kind":"Status","apiVersion":"v1","status":"Failure","reason":"Expired","code":410,"message":"too old"}}""")]
    [InlineData("""{"object":{"kind":"Status","apiVersion":"v1","status":"Failure","reason":"Expired","code":410,"message":"too old"},"type":"ERROR"}""")]
    public void DecodeFrame_ErrorEvent_ThrowsTypedError(string json)
    {
        var e = Assert.Throws<GoneException>(() => WatchStreamDecoder.DecodeFrame(Utf8(json), Kcm.Api.KubeJson.TypeInfo<Pod>()));

        Assert.Contains("too old", e.Message);
    }

    [Theory]
    [InlineData("""{"type":"ADDED"}""")]
    [InlineData("""{"type":"ADDED","object":"text"}""")]
    [InlineData("""{"type":{"x":1},"object":{}}""")]
    [InlineData("""[1]""")]
    [InlineData("""{"type":"ADDED","object":{"metadata":{"name":1}}}""")]
    public void DecodeFrame_Malformed_ProtocolError(string json)
    {
        Assert.Throws<KubeProtocolException>(() => WatchStreamDecoder.DecodeFrame(Utf8(json), Kcm.Api.KubeJson.TypeInfo<Pod>()));
    }

    private static async Task<JsonObject> SentBodyAsync(Pod pod)
    {
        var handler = new StubHandler().Respond(HttpStatusCode.Created, """{"apiVersion":"v1","kind":"Pod","metadata":{"name":"p"}}""");
        using var client = TestClients.Create(handler);
        await client.CreateAsync(pod, "ns");
        return JsonNode.Parse(handler.Requests[0].Body!)!.AsObject();
    }

    [Fact(Timeout = 30_000)]
    public async Task CreateAsync_TypeMetaMissing_PrependedCallerUntouched()
    {
        var pod = new Pod { Metadata = new() { Name = "p" } };

        var sent = await SentBodyAsync(pod);
        var empty = await SentBodyAsync(new Pod());

        Assert.Equal(["apiVersion", "kind", "metadata"], sent.Select(p => p.Key));
        Assert.Equal("v1", (string?)sent["apiVersion"]);
        Assert.Equal("Pod", (string?)sent["kind"]);
        Assert.Equal("p", (string?)sent["metadata"]!["name"]);
        Assert.Equal("""{"apiVersion":"v1","kind":"Pod"}""", empty.ToJsonString());
        Assert.Null(pod.ApiVersion);
        Assert.Null(pod.Kind);
    }

    [Theory(Timeout = 30_000)]
    [InlineData("v1", null)]
    [InlineData(null, "Pod")]
    [InlineData("", "")]
    public async Task CreateAsync_SomeTypeMetaGiven_OneOfEachKey(string? apiVersion, string? kind)
    {
        var sent = await SentBodyAsync(new Pod { ApiVersion = apiVersion, Kind = kind, Metadata = new() { Name = "p" } });

        Assert.Equal(3, sent.Count);
        Assert.Equal("v1", (string?)sent["apiVersion"]);
        Assert.Equal("Pod", (string?)sent["kind"]);
    }
}

using System.Text.Json.Nodes;
using Kcm.Api;
using Kcm.Api.Apps.V1;
using Kcm.Api.Core.V1;
using Kcm.Api.Meta.V1;
using Kcm.Api.Protobuf;
using Kcm.Client;
using Kcm.Client.Errors;
using Kcm.Client.Watch;
using Kcm.Testing;

namespace Kcm.Client.Tests.Integration;

/// <summary>
/// The client with ContentType protobuf (kube-controller-manager's default) against the embedded server and, with
/// KCM_TEST_KUBECONFIG, a real kube-apiserver: every read must give the same typed object as a JSON read.
/// </summary>
public sealed class ProtobufClientServerTests(EmbeddedServerFixture server) : IClassFixture<EmbeddedServerFixture>, IAsyncLifetime
{
    private readonly KubeApiClient _json = KubeApiClient.FromKubeconfig(server.AdminKubeconfigPath);
    private KubeApiClient _proto = null!;
    private string _ns = "";

    public async Task InitializeAsync()
    {
        _proto = new KubeApiClient(_json.Config with { ContentType = ProtobufTranscoder.MediaType });
        _ns = await TestNamespaces.CreateAsync(_json, "proto");
    }

    public async Task DisposeAsync()
    {
        try
        {
            await _json.DeleteAsync<Namespace>(null, _ns);
        }
        finally
        {
            _proto.Dispose();
            _json.Dispose();
        }
    }

    private static Pod RichPod(string name) => KubeJson.Deserialize<Pod>(System.Text.Encoding.UTF8.GetBytes("""
        {"metadata":{"name":"NAME","labels":{"app":"web"},"annotations":{"a":"<b>&c"}},
         "spec":{"containers":[{"name":"c","image":"nginx","args":["a","b"],
            "ports":[{"containerPort":80,"protocol":"TCP"}],
            "env":[{"name":"E","value":"x"},{"name":"F","valueFrom":{"configMapKeyRef":{"name":"cm","key":"k","optional":true}}}],
            "resources":{"requests":{"cpu":"100m","memory":"64Mi"},"limits":{"cpu":"1"}},
            "readinessProbe":{"httpGet":{"path":"/","port":"http"},"periodSeconds":5},
            "livenessProbe":{"tcpSocket":{"port":80}}}],
          "volumes":[{"name":"v","emptyDir":{"sizeLimit":"1Gi"}},{"name":"s","secret":{"secretName":"x","defaultMode":420}}],
          "terminationGracePeriodSeconds":0,"activeDeadlineSeconds":100,
          "tolerations":[{"key":"k","operator":"Exists","effect":"NoExecute","tolerationSeconds":30}]}}
        """.Replace("NAME", name)))!;

    private static string Canonical<T>(T value) => KubeJson.ToNode(value)!.ToJsonString();

    [Fact(Timeout = 60_000)]
    public async Task Get_RichPod_SameTypedObjectAsJson()
    {
        await _json.CreateAsync(RichPod("rich"), _ns);

        var viaJson = await _json.GetAsync<Pod>(_ns, "rich");
        var viaProto = await _proto.GetAsync<Pod>(_ns, "rich");

        Assert.Equal(Canonical(viaJson), Canonical(viaProto));
        Assert.Equal("http", viaProto.Spec!.Containers![0].ReadinessProbe!.HttpGet!.Port!.ToString());
    }

    [Fact(Timeout = 60_000)]
    public async Task ListAndWatch_Deployments_SameAsJsonAndEventsArrive()
    {
        var deployment = KubeJson.Deserialize<Deployment>(System.Text.Encoding.UTF8.GetBytes("""
            {"metadata":{"name":"d"},"spec":{"replicas":2,"selector":{"matchLabels":{"app":"d"}},
             "strategy":{"type":"RollingUpdate","rollingUpdate":{"maxSurge":"25%","maxUnavailable":0}},
             "template":{"metadata":{"labels":{"app":"d"}},"spec":{"containers":[{"name":"c","image":"nginx"}]}}}}
            """))!;
        var created = await _json.CreateAsync(deployment, _ns);

        var viaJson = await _json.ListAsync<Deployment>(_ns);
        var viaProto = await _proto.ListAsync<Deployment>(_ns);
        Assert.Equal(viaJson.Items!.Select(Canonical), viaProto.Items!.Select(Canonical));
        Assert.Equal(viaJson.Metadata!.ResourceVersion is null, viaProto.Metadata!.ResourceVersion is null);

        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(45));
        var events = new List<WatchEvent<Deployment>>();
        var watching = Task.Run(async () =>
        {
            await foreach (var e in _proto.WatchAsync<Deployment>(_ns, new ListOptions { ResourceVersion = created.Metadata!.ResourceVersion, TimeoutSeconds = 40 }, cts.Token))
            {
                events.Add(e);
                if (e.Type == WatchEventType.Deleted) return;
            }
        }, cts.Token);
        await _json.PatchAsync<Deployment>(_ns, "d", PatchType.Merge, """{"metadata":{"labels":{"x":"y"}}}""");
        await _json.DeleteAsync<Deployment>(_ns, "d");
        await watching;

        Assert.Contains(events, e => e.Type == WatchEventType.Modified && e.Object.Metadata?.Labels?.GetValueOrDefault("x") == "y");
        var deleted = Assert.Single(events, e => e.Type == WatchEventType.Deleted);
        Assert.Equal("25%", deleted.Object.Spec!.Strategy!.RollingUpdate!.MaxSurge!.ToString());
    }

    [Fact(Timeout = 60_000)]
    public async Task CreateUpdate_ThroughProtobuf_ServerStoresWhatWasSent()
    {
        var created = await _proto.CreateAsync(RichPod("written"), _ns);
        Assert.Equal("100m", created.Spec!.Containers![0].Resources!.Requests!["cpu"].ToString());

        created.Metadata!.Labels!["touched"] = "yes";
        var updated = await _proto.UpdateAsync(created);

        var stored = await _json.GetAsync<Pod>(_ns, "written");
        Assert.Equal("yes", stored.Metadata!.Labels!["touched"]);
        Assert.Equal(Canonical(stored), Canonical(updated));
        // Both servers' ServiceAccount admission appends a kube-api-access volume after ours.
        Assert.Equal(RichPod("x").Spec!.Volumes!.Select(Canonical), stored.Spec!.Volumes!.Take(2).Select(Canonical));
    }

    [Fact(Timeout = 60_000)]
    public async Task Errors_InProtobuf_MapToTypedExceptions()
    {
        var missing = await Assert.ThrowsAsync<NotFoundException>(() => _proto.GetAsync<ConfigMap>(_ns, "nope"));
        Assert.Equal("configmaps \"nope\" not found", missing.Status?.Message);

        await _proto.CreateAsync(new ConfigMap { Metadata = new ObjectMeta { Name = "dup" } }, _ns);
        var exists = await Assert.ThrowsAsync<AlreadyExistsException>(() => _proto.CreateAsync(new ConfigMap { Metadata = new ObjectMeta { Name = "dup" } }, _ns));
        Assert.Equal(409, exists.StatusCode);
    }

    [Fact(Timeout = 60_000)]
    public async Task RawGet_AcceptProtobuf_ProtobufBodyDecodingToTheJsonObject()
    {
        await _json.CreateAsync(new ConfigMap { Metadata = new ObjectMeta { Name = "raw" }, Data = new() { ["k"] = "v" } }, _ns);
        var http = server.HttpClient;

        using var request = new HttpRequestMessage(HttpMethod.Get, $"/api/v1/namespaces/{_ns}/configmaps/raw");
        request.Headers.TryAddWithoutValidation("Accept", "application/vnd.kubernetes.protobuf, */*");
        using var response = await http.SendAsync(request);
        var body = await response.Content.ReadAsByteArrayAsync();
        var json = await http.GetStringAsync($"/api/v1/namespaces/{_ns}/configmaps/raw");

        Assert.Equal("application/vnd.kubernetes.protobuf", response.Content.Headers.ContentType?.MediaType);
        Assert.True(ProtobufTranscoder.IsProtobuf(body));
        Assert.True(JsonNode.DeepEquals(JsonNode.Parse(json), JsonNode.Parse(ProtobufTranscoder.ToJson(body))),
            $"{json}\n{System.Text.Encoding.UTF8.GetString(ProtobufTranscoder.ToJson(body))}");
    }

    [Fact(Timeout = 60_000)]
    public async Task RawList_AcceptProtobuf_ProtobufListDecodingToTheJsonList()
    {
        await _json.CreateAsync(new ConfigMap { Metadata = new ObjectMeta { Name = "l1" }, Data = new() { ["k"] = "v" } }, _ns);
        await _json.CreateAsync(new ConfigMap { Metadata = new ObjectMeta { Name = "l2" } }, _ns);
        var http = server.HttpClient;

        using var request = new HttpRequestMessage(HttpMethod.Get, $"/api/v1/namespaces/{_ns}/configmaps");
        request.Headers.TryAddWithoutValidation("Accept", "application/vnd.kubernetes.protobuf, */*");
        using var response = await http.SendAsync(request);
        var body = await response.Content.ReadAsByteArrayAsync();
        var json = JsonNode.Parse(await http.GetStringAsync($"/api/v1/namespaces/{_ns}/configmaps"))!;

        Assert.Equal("application/vnd.kubernetes.protobuf", response.Content.Headers.ContentType?.MediaType);
        var decoded = JsonNode.Parse(ProtobufTranscoder.ToJson(body))!;
        Assert.Equal("ConfigMapList", decoded["kind"]!.GetValue<string>());
        Assert.True(JsonNode.DeepEquals(json["items"], decoded["items"]), $"{json["items"]}\n{decoded["items"]}");
    }

    [Fact(Timeout = 60_000)]
    public async Task MetadataList_ProtobufConfig_PartialObjectMetadataOnly()
    {
        await _json.CreateAsync(new ConfigMap { Metadata = new ObjectMeta { Name = "m", Labels = new() { ["a"] = "b" } }, Data = new() { ["k"] = "v" } }, _ns);

        var list = await _proto.Dynamic.Resource("", "v1", "configmaps", namespaced: true).ListMetadataAsync(_ns);

        Assert.Equal("PartialObjectMetadataList", list["kind"]!.GetValue<string>());
        var item = Assert.Single(list["items"]!.AsArray(), i => i!["metadata"]!["name"]!.GetValue<string>() == "m")!;
        Assert.Null(item["data"]);
        Assert.Equal("b", item["metadata"]!["labels"]!["a"]!.GetValue<string>());
    }
}

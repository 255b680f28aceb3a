using System.Net;
using System.Text.Json.Nodes;
using Kcm.Api;
using Kcm.Simulator.Metrics;
using Kcm.Testing;

namespace Kcm.Simulator.Tests;

/// <summary>
/// The simulator's metrics.k8s.io server read directly (unregistered: the APIService is cluster-wide, and the HPA
/// tests own it on a shared cluster), over TLS checked against the CA bundle it would register.
/// </summary>
public sealed class MetricsServerTests(EmbeddedServerFixture fixture) : IClassFixture<EmbeddedServerFixture>
{
    private static SimulatorOptions WithMetrics(SimulatorOptions options) => options with
    {
        PodReadyDelay = TimeSpan.Zero,
        Metrics = new MetricsServerOptions { BindAddress = IPAddress.Loopback, Register = false, DefaultMemory = new Quantity("16Mi") },
    };

    [Fact(Timeout = 60_000)]
    public async Task PodMetrics_AnnotatedPod_ReportsUsageSplitOverContainersAndSelectsByLabel()
    {
        await using var bed = await SimulatorTestBed.StartAsync(fixture, WithMetrics);
        var pod = SimulatorTestBed.NewPod("busy", spec => spec.Containers!.Add(new Kcm.Api.Core.V1.Container { Name = "sidecar", Image = "busybox" }));
        pod.Metadata!.Labels = new() { ["app"] = "busy" };
        pod.Metadata.Annotations = new() { [MetricsServerOptions.CpuUsageAnnotation] = "250m" };
        await bed.Client.CreateAsync(pod, bed.Namespace);
        await bed.CreatePodAsync("quiet");
        await bed.RunningAsync("busy");
        await bed.RunningAsync("quiet");
        using var http = Client(bed.Simulator.MetricsServer!);
        var prefix = $"https://{bed.Simulator.MetricsServer!.EndPoint}/apis/metrics.k8s.io/v1beta1";

        var busy = await GetAsync(http, $"{prefix}/namespaces/{bed.Namespace}/pods?labelSelector=app%3Dbusy");
        var item = Assert.Single(busy["items"]!.AsArray())!;
        Assert.Equal("busy", item["metadata"]!["name"]!.GetValue<string>());
        // 250m over two containers: the remainder goes to the first; memory is the 16Mi default, halved.
        Assert.Equal(["web=125m/8Mi", "sidecar=125m/8Mi"], item["containers"]!.AsArray().Select(c => $"{c!["name"]}={c["usage"]!["cpu"]}/{c["usage"]!["memory"]}"));
        Assert.Equal("15s", item["window"]!.GetValue<string>());

        var quiet = await GetAsync(http, $"{prefix}/namespaces/{bed.Namespace}/pods/quiet");
        Assert.Equal("10m", quiet["containers"]![0]!["usage"]!["cpu"]!.GetValue<string>());

        var node = await GetAsync(http, $"{prefix}/nodes/{bed.Node(0)}");
        Assert.Equal("260m", node["usage"]!["cpu"]!.GetValue<string>());

        using var missing = await http.GetAsync($"{prefix}/namespaces/{bed.Namespace}/pods/nope");
        Assert.Equal(HttpStatusCode.NotFound, missing.StatusCode);
    }

    private static HttpClient Client(MetricsServer server)
    {
        var ca = System.Security.Cryptography.X509Certificates.X509Certificate2.CreateFromPem(server.CaBundlePem);
        var handler = new HttpClientHandler
        {
            ServerCertificateCustomValidationCallback = (_, certificate, _, _) => certificate is not null && certificate.Thumbprint == ca.Thumbprint,
        };
        return new HttpClient(handler) { Timeout = TimeSpan.FromSeconds(20) };
    }

    private static async Task<JsonObject> GetAsync(HttpClient http, string url)
    {
        using var response = await http.GetAsync(url);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        return JsonNode.Parse(await response.Content.ReadAsStringAsync())!.AsObject();
    }
}

using System.Net;
using static Kcm.ApiServer.Tests.Http;

namespace Kcm.ApiServer.Tests;

/// <summary>The kubernetes Service and the cluster IP / node port allocators (service range 10.254.0.0/16, ports 30000-32767).</summary>
[Collection(ServerCollection.Name)]
public sealed class ServiceAllocationTests(ApiServerFixture fixture)
{
    private readonly HttpClient _client = fixture.HttpClient;

    [Fact(Timeout = 30000)]
    public async Task KubernetesService_AtStart_FirstServiceIpWithEndpoints()
    {
        var (code, svc) = await GetAsync(_client, "/api/v1/namespaces/default/services/kubernetes");
        Assert.Equal(HttpStatusCode.OK, code);
        Assert.Equal("10.254.0.1", Str(svc!["spec"]!["clusterIP"]));
        Assert.Equal("apiserver", Str(svc["metadata"]!["labels"]!["component"]));
        Assert.Equal(443, (int)svc["spec"]!["ports"]![0]!["port"]!);
        var (epCode, endpoints) = await GetAsync(_client, "/api/v1/namespaces/default/endpoints/kubernetes");
        Assert.Equal(HttpStatusCode.OK, epCode);
        Assert.Equal("https", Str(endpoints!["subsets"]![0]!["ports"]![0]!["name"]));
        Assert.Equal(HttpStatusCode.OK, (await GetAsync(_client, "/apis/discovery.k8s.io/v1/namespaces/default/endpointslices/kubernetes")).Code);
    }

    [Theory(Timeout = 30000)]
    [InlineData("10.0.0.5", "spec.clusterIPs", "Invalid value: []string{\"10.0.0.5\"}: failed to allocate IP 10.0.0.5: the provided IP (10.0.0.5) is not in the valid range. The range of valid IPs is 10.254.0.0/16")]
    [InlineData("10.254.0.1", "spec.clusterIPs", "Invalid value: []string{\"10.254.0.1\"}: failed to allocate IP 10.254.0.1: provided IP is already allocated")]
    [InlineData("abc", "spec.clusterIPs[0]", "Invalid value: \"abc\": must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)")]
    public async Task CreateService_RequestedClusterIpUnusable_Invalid(string ip, string field, string message)
    {
        var ns = await CreateNamespaceAsync(_client);
        var (code, body) = await PostAsync(_client, $"/api/v1/namespaces/{ns}/services",
            $$$"""{"metadata":{"name":"s"},"spec":{"clusterIP":"{{{ip}}}","ports":[{"port":80}]}}""");
        Assert.Equal(HttpStatusCode.UnprocessableEntity, code);
        Assert.Equal(field, Str(body!["details"]!["causes"]![0]!["field"]));
        Assert.Equal(message, Str(body["details"]!["causes"]![0]!["message"]));
    }

    [Fact(Timeout = 30000)]
    public async Task NodePort_RequestedAllocatedKeptOnUpdateAndReleasedOnDelete()
    {
        var ns = await CreateNamespaceAsync(_client);
        var port = 30000 + Random.Shared.Next(2700);
        var service = $$$"""{"metadata":{"name":"NAME"},"spec":{"type":"NodePort","ports":[{"port":80,"nodePort":{{{port}}}}]}}""";
        Assert.Equal(HttpStatusCode.Created, (await PostAsync(_client, $"/api/v1/namespaces/{ns}/services", service.Replace("NAME", "a"))).Code);

        var (dupCode, dup) = await PostAsync(_client, $"/api/v1/namespaces/{ns}/services", service.Replace("NAME", "b"));
        Assert.Equal(HttpStatusCode.UnprocessableEntity, dupCode);
        Assert.Equal($"Service \"b\" is invalid: spec.ports[0].nodePort: Invalid value: {port}: provided port is already allocated", Str(dup!["message"]));

        var (lowCode, low) = await PostAsync(_client, $"/api/v1/namespaces/{ns}/services",
            """{"metadata":{"name":"low"},"spec":{"type":"NodePort","ports":[{"port":80,"nodePort":80}]}}""");
        Assert.Equal(HttpStatusCode.UnprocessableEntity, lowCode);
        Assert.Equal("spec.ports[0].nodePort: Invalid value: 80: provided port is not in the valid range. The range of valid ports is 30000-32767",
            Str(low!["message"]).Split(" is invalid: ")[1]);

        var (_, updated) = await PutAsync(_client, $"/api/v1/namespaces/{ns}/services/a",
            System.Text.Json.Nodes.JsonNode.Parse("""{"metadata":{"name":"a"},"spec":{"type":"NodePort","ports":[{"port":80}]}}""")!);
        Assert.Equal(port, (int)updated!["spec"]!["ports"]![0]!["nodePort"]!);

        var (_, lb) = await PostAsync(_client, $"/api/v1/namespaces/{ns}/services",
            """{"metadata":{"name":"lb"},"spec":{"type":"LoadBalancer","ports":[{"name":"a","port":80},{"name":"b","port":81}]}}""");
        foreach (var p in lb!["spec"]!["ports"]!.AsArray()) Assert.InRange((int)p!["nodePort"]!, 30000, 32767);
        Assert.Matches(@"^10\.254\.\d+\.\d+$", Str(lb["spec"]!["clusterIP"]));

        Assert.Equal(HttpStatusCode.OK, (await DeleteAsync(_client, $"/api/v1/namespaces/{ns}/services/a")).Code);
        Assert.Equal(HttpStatusCode.Created, (await PostAsync(_client, $"/api/v1/namespaces/{ns}/services", service.Replace("NAME", "c"))).Code);
    }

    [Theory(Timeout = 30000)]
    [InlineData("\"selector\":{\"a\":\"b\"},", "[\"IPv4\"]", "SingleStack")]
    [InlineData("", "[\"IPv4\",\"IPv6\"]", "RequireDualStack")]
    public async Task CreateService_Headless_NoAddressAndUpstreamFamilies(string selector, string families, string policy)
    {
        var ns = await CreateNamespaceAsync(_client);
        var (code, svc) = await PostAsync(_client, $"/api/v1/namespaces/{ns}/services",
            $$$"""{"metadata":{"name":"h"},"spec":{{{{selector}}}"clusterIP":"None","ports":[{"port":80}]}}""");
        Assert.Equal(HttpStatusCode.Created, code);
        Assert.Equal("[\"None\"]", svc!["spec"]!["clusterIPs"]!.ToJsonString());
        Assert.Equal(families, svc["spec"]!["ipFamilies"]!.ToJsonString());
        Assert.Equal(policy, Str(svc["spec"]!["ipFamilyPolicy"]));
    }
}

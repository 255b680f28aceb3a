using System.Text.Json.Nodes;
using Kcm.Testing;
using static Kcm.ApiServer.Tests.Differential.DiffStep;

namespace Kcm.ApiServer.Tests.Differential;

/// <summary>
/// The same requests on the embedded server and on a real v1.26 kube-apiserver (KCM_TEST_KUBECONFIG), compared after
/// normalization. A case is a list of steps; see <see cref="DiffStep"/> and <see cref="DiffRunner"/>.
/// </summary>
public sealed class DifferentialTests(DifferentialFixture fixture) : IClassFixture<DifferentialFixture>
{
    private const int Timeout = 120_000;

    // ---- secrets ----

    [RealClusterFact(Timeout = Timeout)]
    public Task Secret_StringData_MergedIntoDataAndNeverStored() => DiffRunner.RunAsync(fixture,
        Post("/api/v1/namespaces/{ns}/secrets", """{"metadata":{"name":"s"},"data":{"a":"eA==","b":"eQ=="},"stringData":{"a":"A","c":"C"}}"""),
        MergePatch("/api/v1/namespaces/{ns}/secrets/s", """{"stringData":{"b":"B"}}"""),
        Get("/api/v1/namespaces/{ns}/secrets/s"),
        Cli("create", "secret", "generic", "lit", "-n", "{ns}", "--from-literal=k=v"),
        Cli("get", "secret", "lit", "-n", "{ns}", "-o", "jsonpath={.data}"));

    // ---- namespace lifecycle ----

    [RealClusterTheory(Timeout = Timeout)]
    [InlineData("default")]
    [InlineData("kube-system")]
    [InlineData("kube-public")]
    public Task Namespace_ImmortalDeleted_Forbidden(string name) => DiffRunner.RunAsync(fixture,
        Delete($"/api/v1/namespaces/{name}"),
        Cli("delete", "namespace", name));

    [RealClusterFact(Timeout = Timeout)]
    public Task Create_InMissingNamespace_NotFound() => DiffRunner.RunAsync(fixture,
        Post("/api/v1/namespaces/{ns}-missing/configmaps", """{"metadata":{"name":"c"}}"""),
        Post("/api/v1/namespaces/{ns}-missing/pods", """{"metadata":{"name":"p"},"spec":{"containers":[{"name":"c","image":"x"}]}}"""));

    [RealClusterFact(Timeout = Timeout)]
    public Task Create_InTerminatingNamespace_ForbiddenWithCause() => DiffRunner.RunAsync(fixture,
        Delete("/api/v1/namespaces/{ns}"),
        Post("/api/v1/namespaces/{ns}/configmaps", """{"metadata":{"name":"c"}}"""),
        Post("/api/v1/namespaces/{ns}/pods", """{"metadata":{"name":"p"},"spec":{"containers":[{"name":"c","image":"x"}]}}"""));

    // ---- componentstatuses ----

    [RealClusterFact(Timeout = Timeout)]
    public Task ComponentStatuses_List_SameComponentsAndConditionShape() => DiffRunner.RunAsync(fixture,
        Get("/api/v1/componentstatuses").Only(DiffRunner.SortedItems(cs => new JsonObject
        {
            ["name"] = cs["metadata"]?["name"]?.DeepClone(),
            ["conditions"] = new JsonArray([.. (cs["conditions"] as JsonArray ?? []).OfType<JsonObject>()
                .Select(c => (JsonNode)new JsonObject { ["type"] = c["type"]?.DeepClone(), ["hasStatus"] = c["status"] is not null })]),
        })),
        Get("/api/v1/componentstatuses/etcd-0"),
        Get("/api/v1/componentstatuses/nope"));

    // ---- services ----

    [RealClusterFact(Timeout = Timeout)]
    public async Task KubernetesService_InDefault_FirstServiceIpWithEndpointsAndSlice()
    {
        // The secure port differs between the servers; the advertised address too (real: --advertise-address).
        static JsonNode? WithoutPorts(JsonNode? body)
        {
            foreach (var port in (body?["spec"]?["ports"] ?? body?["ports"]) as JsonArray ?? []) (port as JsonObject)?.Remove("targetPort");
            foreach (var port in (body?["ports"] as JsonArray) ?? []) (port as JsonObject)?.Remove("port");
            foreach (var subset in (body?["subsets"] as JsonArray) ?? [])
            {
                foreach (var port in (subset?["ports"] as JsonArray) ?? []) (port as JsonObject)?.Remove("port");
                foreach (var address in (subset?["addresses"] as JsonArray) ?? []) (address as JsonObject)?.Remove("ip");
            }
            foreach (var endpoint in (body?["endpoints"] as JsonArray) ?? []) (endpoint as JsonObject)?.Remove("addresses");
            return body;
        }
        var outcomes = await DiffRunner.RunAsync(fixture,
            Get("/api/v1/namespaces/default/services/kubernetes").Only(WithoutPorts),
            Get("/api/v1/namespaces/default/endpoints/kubernetes").Only(WithoutPorts),
            Get("/apis/discovery.k8s.io/v1/namespaces/default/endpointslices/kubernetes").Only(WithoutPorts));
        Assert.Equal("10.254.0.1", outcomes[0].Embedded.Body!["spec"]!["clusterIP"]!.GetValue<string>());
    }

    [RealClusterFact(Timeout = Timeout)]
    public Task ServiceClusterIp_OutOfRangeTakenOrMalformed_Invalid() => DiffRunner.RunAsync(fixture,
        Post("/api/v1/namespaces/{ns}/services", """{"metadata":{"name":"out"},"spec":{"clusterIP":"10.0.0.5","ports":[{"port":80}]}}"""),
        Post("/api/v1/namespaces/{ns}/services", """{"metadata":{"name":"taken"},"spec":{"clusterIP":"10.254.0.1","ports":[{"port":80}]}}"""),
        Post("/api/v1/namespaces/{ns}/services", """{"metadata":{"name":"bad"},"spec":{"clusterIP":"abc","ports":[{"port":80}]}}"""),
        Post("/api/v1/namespaces/{ns}/services", """{"metadata":{"name":"net"},"spec":{"clusterIP":"10.254.0.0","ports":[{"port":80}]}}"""));

    [RealClusterFact(Timeout = Timeout)]
    public async Task ServiceClusterIp_Allocated_InRangeAndKeptOnUpdate()
    {
        var outcomes = await DiffRunner.RunAsync(fixture,
            Post("/api/v1/namespaces/{ns}/services", """{"metadata":{"name":"web"},"spec":{"selector":{"a":"b"},"ports":[{"port":80}]}}"""),
            Put("/api/v1/namespaces/{ns}/services/web", """{"metadata":{"name":"web"},"spec":{"selector":{"a":"c"},"ports":[{"port":80}]}}"""),
            Post("/api/v1/namespaces/{ns}/services", """{"metadata":{"name":"headless"},"spec":{"clusterIP":"None","selector":{"a":"b"},"ports":[{"port":80}]}}"""),
            Post("/api/v1/namespaces/{ns}/services", """{"metadata":{"name":"headless-noselector"},"spec":{"clusterIP":"None","ports":[{"port":80}]}}"""),
            Post("/api/v1/namespaces/{ns}/services", """{"metadata":{"name":"ext"},"spec":{"type":"ExternalName","externalName":"example.com"}}"""));
        foreach (var response in new[] { outcomes[0].Embedded, outcomes[0].Real })
        {
            Assert.Matches(@"^10\.254\.\d+\.\d+$", response.Body!["spec"]!["clusterIP"]!.GetValue<string>());
        }
        Assert.Equal(outcomes[0].Embedded.Body!["spec"]!["clusterIP"]!.GetValue<string>(), outcomes[1].Embedded.Body!["spec"]!["clusterIP"]!.GetValue<string>());
    }

    [RealClusterFact(Timeout = Timeout)]
    public async Task ServiceNodePort_AllocatedValidatedKeptAndReleased()
    {
        // A port no earlier run on the real cluster still holds (namespaces of earlier runs are never purged there).
        var port = 30000 + Random.Shared.Next(2700);
        var outcomes = await DiffRunner.RunAsync(fixture,
            Post("/api/v1/namespaces/{ns}/services", $$$"""{"metadata":{"name":"np"},"spec":{"type":"NodePort","ports":[{"port":80,"nodePort":{{{port}}}}]}}"""),
            Post("/api/v1/namespaces/{ns}/services", $$$"""{"metadata":{"name":"np-dup"},"spec":{"type":"NodePort","ports":[{"port":80,"nodePort":{{{port}}}}]}}"""),
            Post("/api/v1/namespaces/{ns}/services", """{"metadata":{"name":"np-low"},"spec":{"type":"NodePort","ports":[{"port":80,"nodePort":80}]}}"""),
            Put("/api/v1/namespaces/{ns}/services/np", """{"metadata":{"name":"np"},"spec":{"type":"NodePort","ports":[{"port":80}]}}"""),
            Post("/api/v1/namespaces/{ns}/services", """{"metadata":{"name":"lb"},"spec":{"type":"LoadBalancer","ports":[{"name":"a","port":80},{"name":"b","port":81}]}}"""),
            Delete("/api/v1/namespaces/{ns}/services/np"),
            Post("/api/v1/namespaces/{ns}/services", $$$"""{"metadata":{"name":"np-again"},"spec":{"type":"NodePort","ports":[{"port":80,"nodePort":{{{port}}}}]}}"""));
        foreach (var response in new[] { outcomes[3].Embedded, outcomes[3].Real })
        {
            Assert.Equal(port, response.Body!["spec"]!["ports"]![0]!["nodePort"]!.GetValue<int>());
        }
        foreach (var response in new[] { outcomes[4].Embedded, outcomes[4].Real })
        {
            foreach (var p in response.Body!["spec"]!["ports"]!.AsArray()) Assert.InRange(p!["nodePort"]!.GetValue<int>(), 30000, 32767);
        }
    }

    // ---- service account admission ----

    [RealClusterFact(Timeout = Timeout)]
    // kube-apiserver's admission reads service accounts from its watch cache first, so `default` is deleted before
    // the other request, giving the deletion a round trip to reach that cache before the last pod asks for it.
    public Task Pod_MissingServiceAccount_Forbidden() => DiffRunner.RunAsync(fixture,
        Delete("/api/v1/namespaces/{ns}/serviceaccounts/default").Setup(),
        Post("/api/v1/namespaces/{ns}/pods", """{"metadata":{"name":"p"},"spec":{"serviceAccountName":"nosa","containers":[{"name":"c","image":"x"}]}}"""),
        Post("/api/v1/namespaces/{ns}/pods", """{"metadata":{"name":"p"},"spec":{"containers":[{"name":"c","image":"x"}]}}"""));

    [RealClusterFact(Timeout = Timeout)]
    public Task Pod_DefaultServiceAccount_GetsProjectedTokenVolumeInEveryContainer() => DiffRunner.RunAsync(fixture,
        Post("/api/v1/namespaces/{ns}/pods", """
            {"metadata":{"name":"p"},"spec":{"initContainers":[{"name":"i","image":"x"}],
             "containers":[{"name":"c","image":"x","volumeMounts":[{"name":"v","mountPath":"/v"}]},
                           {"name":"own","image":"x","volumeMounts":[{"name":"v","mountPath":"/var/run/secrets/kubernetes.io/serviceaccount"}]}],
             "volumes":[{"name":"v","emptyDir":{}}]}}
            """),
        Cli("get", "pod", "p", "-n", "{ns}", "-o", "jsonpath={.spec.serviceAccountName} {.spec.volumes[*].name}"));

    [RealClusterFact(Timeout = Timeout)]
    public Task Pod_AutomountOff_NoTokenVolume() => DiffRunner.RunAsync(fixture,
        Post("/api/v1/namespaces/{ns}/serviceaccounts", """{"metadata":{"name":"quiet"},"automountServiceAccountToken":false,"imagePullSecrets":[{"name":"reg"}]}"""),
        Post("/api/v1/namespaces/{ns}/pods", """{"metadata":{"name":"by-account"},"spec":{"serviceAccountName":"quiet","containers":[{"name":"c","image":"x"}]}}"""),
        Post("/api/v1/namespaces/{ns}/pods", """{"metadata":{"name":"by-pod"},"spec":{"automountServiceAccountToken":false,"containers":[{"name":"c","image":"x"}]}}"""),
        Post("/api/v1/namespaces/{ns}/pods", """{"metadata":{"name":"pod-wins"},"spec":{"serviceAccountName":"quiet","automountServiceAccountToken":true,"containers":[{"name":"c","image":"x"}]}}"""));
}

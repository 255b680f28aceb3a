using System.Text.Json.Nodes;
using Kcm.Api.Catalog;
using Kcm.ApiServer.Authentication;
using Kcm.ApiServer.Endpoints;
using Kcm.ApiServer.Registry;

namespace Kcm.ApiServer.Bootstrap;

/// <summary>
/// What upstream's bootstrap controller and endpoint reconciler write at start: the "kubernetes" Service in default
/// (first address of the service range, port 443 named https to the secure port, labels component=apiserver and
/// provider=kubernetes) with its Endpoints (skip-mirror) and EndpointSlice pointing at the advertised address.
/// </summary>
public static class KubernetesService
{
    public const string Name = "kubernetes";

    public static void Create(GenericStore resources, ServiceNetwork network, string advertiseAddress, int securePort, UserInfo system)
    {
        Write(resources, "", "v1", "services", new JsonObject
        {
            ["kind"] = "Service",
            ["apiVersion"] = "v1",
            ["metadata"] = Metadata(new JsonObject { ["component"] = "apiserver", ["provider"] = "kubernetes" }),
            ["spec"] = new JsonObject
            {
                ["ports"] = new JsonArray(new JsonObject { ["name"] = "https", ["protocol"] = "TCP", ["port"] = 443L, ["targetPort"] = (long)securePort }),
                ["clusterIP"] = network.Address(0),
                ["type"] = "ClusterIP",
                ["sessionAffinity"] = "None",
            },
        }, system);
        Write(resources, "", "v1", "endpoints", new JsonObject
        {
            ["kind"] = "Endpoints",
            ["apiVersion"] = "v1",
            ["metadata"] = Metadata(new JsonObject { ["endpointslice.kubernetes.io/skip-mirror"] = "true" }),
            ["subsets"] = new JsonArray(new JsonObject
            {
                ["addresses"] = new JsonArray(new JsonObject { ["ip"] = advertiseAddress }),
                ["ports"] = new JsonArray(new JsonObject { ["name"] = "https", ["port"] = (long)securePort, ["protocol"] = "TCP" }),
            }),
        }, system);
        Write(resources, "discovery.k8s.io", "v1", "endpointslices", new JsonObject
        {
            ["kind"] = "EndpointSlice",
            ["apiVersion"] = "discovery.k8s.io/v1",
            ["metadata"] = Metadata(new JsonObject { ["kubernetes.io/service-name"] = Name }),
            ["addressType"] = "IPv4",
            ["endpoints"] = new JsonArray(new JsonObject
            {
                ["addresses"] = new JsonArray(advertiseAddress),
                ["conditions"] = new JsonObject { ["ready"] = true },
            }),
            ["ports"] = new JsonArray(new JsonObject { ["name"] = "https", ["port"] = (long)securePort, ["protocol"] = "TCP" }),
        }, system);
    }

    private static JsonObject Metadata(JsonObject labels) => new() { ["name"] = Name, ["namespace"] = "default", ["labels"] = labels };

    private static void Write(GenericStore resources, string group, string version, string resource, JsonObject obj, UserInfo system)
    {
        var entry = ApiCatalog.Find(group, version, resource)!;
        resources.Create(new ResourceRequest(group, version, "default", resource, "", "", false, entry, null), obj, system);
    }
}

using System.Net;
using System.Text.Json.Nodes;
using Kcm.ApiServer.Errors;
using Kcm.ApiServer.Storage;
using static Kcm.ApiServer.Admission.Defaulting.JsonDefaults;

namespace Kcm.ApiServer.Registry;

/// <summary>
/// Upstream's service REST allocators (ipallocator + portallocator) for a single-stack IPv4 cluster: cluster IPs come
/// from the service range, node ports from the node port range, requested values must be in range and free (422
/// otherwise, with upstream's messages), updates keep what was allocated, deletes free it. What is in use is read from
/// the stored Services (no bitmap), so a restart or delete needs no extra state.
/// </summary>
public sealed class ServiceAllocation(ObjectStore store, ServiceNetwork network)
{
    // Serialises choose-and-check so two creates in this process do not pick the same free value at once;
    // the commit itself happens later in the handler, so a narrow race with a concurrent explicit request remains.
    private readonly object _gate = new();

    public ServiceNetwork Network => network;

    public void Allocate(string name, string @namespace, JsonObject spec, JsonObject? oldSpec)
    {
        lock (_gate)
        {
            var (usedIps, usedPorts) = InUse(StoredObject.MakeKey(@namespace, name));
            if (oldSpec is not null) KeepAllocated(spec, oldSpec);
            AllocateClusterIp(name, spec, usedIps, oldSpec);
            AllocateNodePorts(name, spec, usedPorts, oldSpec);
        }
    }

    private (HashSet<string> Ips, HashSet<long> Ports) InUse(string ownKey)
    {
        var ips = new HashSet<string>(StringComparer.Ordinal);
        var ports = new HashSet<long>();
        if (store.Find("", "services") is not { } services) return (ips, ports);
        foreach (var (key, stored) in services.Items)
        {
            if (key == ownKey) continue;
            var spec = ObjectEncoder.Parse(stored)["spec"] as JsonObject;
            if (spec is null) continue;
            foreach (var ip in (spec["clusterIPs"] as JsonArray ?? []).Select(Str).Append(Str(spec["clusterIP"])))
            {
                if (ip is { Length: > 0 } and not "None") ips.Add(ip);
            }
            foreach (var port in Objects(spec["ports"]))
            {
                if (port["nodePort"] is JsonValue v && v.TryGetValue<long>(out var p) && p > 0) ports.Add(p);
            }
            if (spec["healthCheckNodePort"] is JsonValue h && h.TryGetValue<long>(out var hp) && hp > 0) ports.Add(hp);
        }
        return (ips, ports);
    }

    private static bool NeedsClusterIp(JsonObject spec) => Str(spec["type"]) != "ExternalName";

    private static bool NeedsNodePorts(JsonObject spec) => Str(spec["type"]) is "NodePort" or "LoadBalancer";

    private static bool AllocatesNodePorts(JsonObject spec) => Str(spec["type"]) switch
    {
        "NodePort" => true,
        "LoadBalancer" => spec["allocateLoadBalancerNodePorts"] is not JsonValue v || !v.TryGetValue<bool>(out var b) || b,
        _ => false,
    };

    /// <summary>Upstream patchAllocatedValues: an update that leaves allocated values out keeps the stored ones.</summary>
    private static void KeepAllocated(JsonObject spec, JsonObject oldSpec)
    {
        if (NeedsClusterIp(oldSpec) && NeedsClusterIp(spec))
        {
            if (string.IsNullOrEmpty(Str(spec["clusterIP"])) && oldSpec["clusterIP"] is { } ip) spec["clusterIP"] = ip.DeepClone();
            if (spec["clusterIPs"] is not JsonArray { Count: > 0 } && oldSpec["clusterIPs"] is JsonArray { Count: > 0 } ips) spec["clusterIPs"] = ips.DeepClone();
            foreach (var key in new[] { "ipFamilies", "ipFamilyPolicy" })
            {
                if (spec[key] is null && oldSpec[key] is { } value) spec[key] = value.DeepClone();
            }
        }
        if (NeedsNodePorts(oldSpec) && NeedsNodePorts(spec))
        {
            var newPorts = Objects(spec["ports"]).ToList();
            var used = NodePorts(Objects(oldSpec["ports"])).Intersect(NodePorts(newPorts)).ToHashSet();
            var byName = new Dictionary<string, long>(StringComparer.Ordinal);
            foreach (var p in Objects(oldSpec["ports"])) byName[Str(p["name"]) ?? ""] = NodePort(p);
            foreach (var p in newPorts)
            {
                if (NodePort(p) != 0 || !byName.TryGetValue(Str(p["name"]) ?? "", out var old) || old == 0 || used.Contains(old)) continue;
                p["nodePort"] = old;
            }
            if (spec["healthCheckNodePort"] is null && oldSpec["healthCheckNodePort"] is { } hc) spec["healthCheckNodePort"] = hc.DeepClone();
        }
    }

    private void AllocateClusterIp(string name, JsonObject spec, HashSet<string> used, JsonObject? oldSpec)
    {
        if (!NeedsClusterIp(spec)) return;
        var requested = Str(spec["clusterIP"]) ?? "";
        if (requested.Length == 0 && spec["clusterIPs"] is JsonArray { Count: > 0 } ips) requested = Str(ips[0]) ?? "";
        if (requested == "None")
        {
            spec["clusterIP"] = "None";
            if (spec["clusterIPs"] is not JsonArray { Count: > 0 }) spec["clusterIPs"] = new JsonArray("None");
            // Upstream: a headless Service without selector is not bound to pod IPs, so it asks for every family.
            var selectorless = spec["selector"] is not JsonObject { Count: > 0 };
            if (spec["ipFamilies"] is not JsonArray { Count: > 0 }) spec["ipFamilies"] = selectorless ? new JsonArray("IPv4", "IPv6") : new JsonArray("IPv4");
            SetIfMissing(spec, "ipFamilyPolicy", selectorless ? "RequireDualStack" : "SingleStack");
            return;
        }
        var unchanged = oldSpec is not null && requested.Length > 0 && requested == Str(oldSpec["clusterIP"]);
        if (requested.Length > 0 && !unchanged)
        {
            if (!IPAddress.TryParse(requested, out var ip) || requested.Contains(':') != (ip.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6))
            {
                throw ApiException.Invalid("", "Service", name, [new StatusCauseInfo("FieldValueInvalid",
                    $"Invalid value: \"{requested}\": must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)", "spec.clusterIPs[0]")]);
            }
            string? problem = null;
            if (!network.Contains(ip)) problem = $"the provided IP ({requested}) is not in the valid range. The range of valid IPs is {network.ClusterIpRange}";
            else if (used.Contains(requested)) problem = "provided IP is already allocated";
            if (problem is not null)
            {
                throw ApiException.Invalid("", "Service", name, [new StatusCauseInfo("FieldValueInvalid",
                    $"Invalid value: []string{{\"{requested}\"}}: failed to allocate IP {requested}: {problem}", "spec.clusterIPs")]);
            }
        }
        if (requested.Length == 0) requested = PickFreeIp(used);
        spec["clusterIP"] = requested;
        if (spec["clusterIPs"] is not JsonArray { Count: > 0 }) spec["clusterIPs"] = new JsonArray(requested);
        if (spec["ipFamilies"] is not JsonArray { Count: > 0 }) spec["ipFamilies"] = new JsonArray("IPv4");
        SetIfMissing(spec, "ipFamilyPolicy", "SingleStack");
    }

    private string PickFreeIp(HashSet<string> used)
    {
        // Index 0 is reserved for the kubernetes Service, as upstream's bootstrap controller claims it.
        var size = network.Size;
        var offset = (uint)Random.Shared.NextInt64(size);
        for (uint i = 0; i < size; i++)
        {
            var index = (offset + i) % size;
            if (index == 0) continue;
            var candidate = network.Address(index);
            if (!used.Contains(candidate)) return candidate;
        }
        throw ApiException.InternalError($"failed to allocate a serviceIP: range is full");
    }

    private void AllocateNodePorts(string name, JsonObject spec, HashSet<long> used, JsonObject? oldSpec)
    {
        if (!NeedsNodePorts(spec)) return;
        var previously = oldSpec is not null && NeedsNodePorts(oldSpec) ? NodePorts(Objects(oldSpec["ports"])).ToHashSet() : [];
        var byServicePort = new Dictionary<long, long>();
        var ports = Objects(spec["ports"]).ToList();
        var allocate = AllocatesNodePorts(spec);
        for (var i = 0; i < ports.Count; i++)
        {
            var port = ports[i];
            var nodePort = NodePort(port);
            var servicePort = port["port"] is JsonValue sp && sp.TryGetValue<long>(out var s) ? s : 0;
            if (nodePort == 0)
            {
                if (!allocate) continue;
                // Several protocols on one service port share a node port, as upstream.
                if (!byServicePort.TryGetValue(servicePort, out nodePort))
                {
                    nodePort = RequestedLater(ports, i, servicePort) ?? PickFreePort(used);
                }
                port["nodePort"] = nodePort;
            }
            else if (!previously.Contains(nodePort) && !(byServicePort.TryGetValue(servicePort, out var shared) && shared == nodePort))
            {
                CheckRequestedPort(name, $"spec.ports[{i}].nodePort", nodePort, used);
            }
            used.Add(nodePort);
            byServicePort.TryAdd(servicePort, nodePort);
        }
        if (Str(spec["type"]) == "LoadBalancer" && Str(spec["externalTrafficPolicy"]) == "Local")
        {
            var health = spec["healthCheckNodePort"] is JsonValue h && h.TryGetValue<long>(out var hp) ? hp : 0;
            if (health == 0) spec["healthCheckNodePort"] = PickFreePort(used);
            else if (oldSpec?["healthCheckNodePort"]?.ToString() != health.ToString(System.Globalization.CultureInfo.InvariantCulture))
            {
                CheckRequestedPort(name, "spec.healthCheckNodePort", health, used);
            }
        }
    }

    private static long? RequestedLater(List<JsonObject> ports, int from, long servicePort)
    {
        for (var j = from + 1; j < ports.Count; j++)
        {
            if (ports[j]["port"] is JsonValue v && v.TryGetValue<long>(out var p) && p == servicePort && NodePort(ports[j]) is > 0 and var n) return n;
        }
        return null;
    }

    private void CheckRequestedPort(string name, string field, long nodePort, HashSet<long> used)
    {
        string? problem = null;
        if (!network.ContainsNodePort(nodePort)) problem = $"provided port is not in the valid range. The range of valid ports is {network.NodePortRange}";
        else if (used.Contains(nodePort)) problem = "provided port is already allocated";
        if (problem is null) return;
        throw ApiException.Invalid("", "Service", name, [new StatusCauseInfo("FieldValueInvalid", $"Invalid value: {nodePort}: {problem}", field)]);
    }

    private long PickFreePort(HashSet<long> used)
    {
        var size = network.LastNodePort - network.FirstNodePort + 1;
        var offset = Random.Shared.Next(size);
        for (var i = 0; i < size; i++)
        {
            long candidate = network.FirstNodePort + (offset + i) % size;
            if (!used.Contains(candidate)) return candidate;
        }
        throw ApiException.InternalError("failed to allocate a nodePort: range is full");
    }

    private static long NodePort(JsonObject port) => port["nodePort"] is JsonValue v && v.TryGetValue<long>(out var n) ? n : 0;

    private static IEnumerable<long> NodePorts(IEnumerable<JsonObject> ports) => ports.Select(NodePort).Where(p => p > 0);
}

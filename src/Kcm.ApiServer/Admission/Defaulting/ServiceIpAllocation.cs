using System.Text.Json.Nodes;
using Kcm.ApiServer.Storage;
using static Kcm.ApiServer.Admission.Defaulting.JsonDefaults;

namespace Kcm.ApiServer.Admission.Defaulting;

/// <summary>
/// A single-stack IPv4 stand-in for the service REST allocator: new Services get a free cluster IP from 10.0.0.0/24
/// plus the clusterIPs/ipFamilies/ipFamilyPolicy a single-stack v1.26 cluster reports.
/// </summary>
internal sealed class ServiceIpAllocation(ObjectStore store)
{
    private const string Prefix = "10.0.0.";

    public void Allocate(JsonObject spec)
    {
        if (Str(spec["type"]) == "ExternalName") return;
        var clusterIp = Str(spec["clusterIP"]) ?? "";
        if (clusterIp.Length == 0)
        {
            if (spec["clusterIPs"] is JsonArray ips && ips.Count > 0 && Str(ips[0]) is { Length: > 0 } first) clusterIp = first;
            else clusterIp = PickFree();
            spec["clusterIP"] = clusterIp;
        }
        if (spec["clusterIPs"] is not JsonArray existing || existing.Count == 0) spec["clusterIPs"] = new JsonArray(clusterIp);
        if (spec["ipFamilies"] is not JsonArray families || families.Count == 0) spec["ipFamilies"] = new JsonArray("IPv4");
        SetIfMissing(spec, "ipFamilyPolicy", "SingleStack");
    }

    // Scans stored Services rather than keeping a bitmap, so deletes free addresses and restarts need no state;
    // two concurrent creates can still race for one address, which a dev server tolerates.
    private string PickFree()
    {
        var used = new HashSet<string>(StringComparer.Ordinal);
        if (store.Find("", "services") is { } services)
        {
            foreach (var stored in services.Items.Values)
            {
                if (Str(ObjectEncoder.Parse(stored)["spec"]?["clusterIP"]) is { } value) used.Add(value);
            }
        }
        // .1 is conventionally the default "kubernetes" Service; start the random probe after it.
        var offset = Random.Shared.Next(253);
        for (var i = 0; i < 253; i++)
        {
            var candidate = Prefix + (2 + (offset + i) % 253).ToString(System.Globalization.CultureInfo.InvariantCulture);
            if (!used.Contains(candidate)) return candidate;
        }
        throw Errors.ApiException.InternalError("failed to allocate a serviceIP: range is full");
    }
}

using System.Text.Json.Nodes;
using static Kcm.ApiServer.Admission.Defaulting.JsonDefaults;

namespace Kcm.ApiServer.Admission.Defaulting;

/// <summary>core/v1 defaults other than the pod spec itself.</summary>
internal static class CoreDefaults
{
    public static void Service(JsonObject spec)
    {
        SetIfEmptyString(spec, "sessionAffinity", "None");
        SetIfEmptyString(spec, "type", "ClusterIP");
        var type = Str(spec["type"]);
        if (Str(spec["sessionAffinity"]) == "ClientIP")
        {
            SetIfMissing(GetOrCreate(GetOrCreate(spec, "sessionAffinityConfig"), "clientIP"), "timeoutSeconds", 10800);
        }
        foreach (var port in Objects(spec["ports"]))
        {
            SetIfEmptyString(port, "protocol", "TCP");
            var target = port["targetPort"];
            var unset = target is null || target.ToString() is "" or "0";
            if (unset && port["port"] is JsonNode p) port["targetPort"] = p.DeepClone();
        }
        if (type is "NodePort" or "LoadBalancer") SetIfEmptyString(spec, "externalTrafficPolicy", "Cluster");
        if (type is "ClusterIP" or "NodePort" or "LoadBalancer") SetIfMissing(spec, "internalTrafficPolicy", "Cluster");
        if (type == "LoadBalancer") SetIfMissing(spec, "allocateLoadBalancerNodePorts", true);
    }

    // Cluster IPs are immutable and allocated once; an update that leaves them out keeps the stored ones.
    public static void KeepAllocatedServiceFields(JsonObject spec, JsonObject? oldSpec)
    {
        if (oldSpec is null || Str(spec["type"]) != Str(oldSpec["type"])) return;
        if (spec["clusterIP"] is not null || oldSpec["clusterIP"] is null) return;
        foreach (var key in new[] { "clusterIP", "clusterIPs", "ipFamilies", "ipFamilyPolicy" })
        {
            if (spec[key] is null && oldSpec[key] is JsonNode value) spec[key] = value.DeepClone();
        }
    }

    public static void ReplicationController(JsonObject rc)
    {
        if (rc["spec"] is not JsonObject spec) return;
        // Without a selector or labels of its own, an RC takes them from its pod template.
        if (spec["template"]?["metadata"]?["labels"] is JsonObject templateLabels && templateLabels.Count > 0)
        {
            if (spec["selector"] is not JsonObject selector || selector.Count == 0) spec["selector"] = templateLabels.DeepClone();
            var metadata = GetOrCreate(rc, "metadata");
            if (metadata["labels"] is not JsonObject labels || labels.Count == 0) metadata["labels"] = templateLabels.DeepClone();
        }
        SetIfMissing(spec, "replicas", 1);
        PodDefaults.Template(spec);
    }

    public static void PersistentVolumeClaim(JsonObject claim)
    {
        SetIfMissing(GetOrCreate(claim, "spec"), "volumeMode", "Filesystem");
        SetIfEmptyString(GetOrCreate(claim, "status"), "phase", "Pending");
    }

    public static void PersistentVolume(JsonObject volume)
    {
        var spec = GetOrCreate(volume, "spec");
        SetIfEmptyString(spec, "persistentVolumeReclaimPolicy", "Retain");
        SetIfMissing(spec, "volumeMode", "Filesystem");
        SetIfEmptyString(GetOrCreate(volume, "status"), "phase", "Pending");
    }

    public static void Secret(JsonObject secret) => SetIfEmptyString(secret, "type", "Opaque");

    public static void Endpoints(JsonObject endpoints)
    {
        foreach (var subset in Objects(endpoints["subsets"]))
        {
            foreach (var port in Objects(subset["ports"])) SetIfEmptyString(port, "protocol", "TCP");
        }
    }
}

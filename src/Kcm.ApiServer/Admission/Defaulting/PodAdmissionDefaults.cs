using System.Text.Json.Nodes;
using static Kcm.ApiServer.Admission.Defaulting.JsonDefaults;

namespace Kcm.ApiServer.Admission.Defaulting;

/// <summary>
/// What a v1.26 server adds to a bare Pod beyond pod-spec defaults: SetDefaults_Pod, and on create the
/// Priority and DefaultTolerationSeconds admission plugins (ServiceAccount is its own step), plus the strategy's qosClass.
/// </summary>
internal static class PodAdmissionDefaults
{
    private const int DefaultTolerationSeconds = 300;

    // Built-in priority classes a fresh cluster always has; others would need a lookup this server does not do.
    private static readonly Dictionary<string, int> SystemPriorities = new()
    {
        ["system-node-critical"] = 2000001000,
        ["system-cluster-critical"] = 2000000000,
    };

    public static void Pod(JsonObject pod, bool creating)
    {
        if (pod["spec"] is not JsonObject spec) return;
        SetIfMissing(spec, "enableServiceLinks", true);
        foreach (var key in new[] { "initContainers", "containers" })
        {
            foreach (var c in Objects(spec[key])) RequestsFromLimits(c);
        }
        PodDefaults.Spec(spec);
        if (!creating) return;

        SetPriority(spec);
        AddNotReadyTolerations(spec);
        var status = GetOrCreate(pod, "status");
        SetIfMissing(status, "qosClass", QosClass(spec));
    }

    // A container with limits but no requests requests what it is limited to.
    private static void RequestsFromLimits(JsonObject container)
    {
        if (container["resources"]?["limits"] is not JsonObject limits || limits.Count == 0) return;
        var requests = GetOrCreate((JsonObject)container["resources"]!, "requests");
        foreach (var (name, value) in limits)
        {
            if (requests[name] is null && value is not null) requests[name] = value.DeepClone();
        }
    }

    private static void SetPriority(JsonObject spec)
    {
        var className = Str(spec["priorityClassName"]) ?? "";
        if (spec["priority"] is null)
        {
            if (className.Length == 0) spec["priority"] = 0;
            else if (SystemPriorities.TryGetValue(className, out var value)) spec["priority"] = value;
        }
        if (spec["preemptionPolicy"] is null && (className.Length == 0 || SystemPriorities.ContainsKey(className)))
        {
            spec["preemptionPolicy"] = "PreemptLowerPriority";
        }
    }

    private static void AddNotReadyTolerations(JsonObject spec)
    {
        var tolerations = spec["tolerations"] as JsonArray;
        var existing = Objects(tolerations).ToList();
        var missing = new[] { "node.kubernetes.io/not-ready", "node.kubernetes.io/unreachable" }
            .Where(taint => !existing.Any(t => ToleratesNoExecute(t, taint))).ToList();
        if (missing.Count == 0) return;
        if (tolerations is null)
        {
            tolerations = new JsonArray();
            spec["tolerations"] = tolerations;
        }
        foreach (var taint in missing)
        {
            tolerations.Add((JsonNode)new JsonObject
            {
                ["key"] = taint,
                ["operator"] = "Exists",
                ["effect"] = "NoExecute",
                ["tolerationSeconds"] = DefaultTolerationSeconds,
            });
        }
    }

    private static bool ToleratesNoExecute(JsonObject toleration, string taintKey)
    {
        var effect = Str(toleration["effect"]) ?? "";
        if (effect.Length > 0 && effect != "NoExecute") return false;
        var key = Str(toleration["key"]) ?? "";
        // An empty key with operator Exists tolerates every taint.
        return key.Length == 0 ? Str(toleration["operator"]) == "Exists" : key == taintKey;
    }

    // Compares quantities textually, which is exact for the usual spellings but not for e.g. "1" vs "1000m".
    private static string QosClass(JsonObject spec)
    {
        var anySet = false;
        var guaranteed = true;
        foreach (var c in Objects(spec["initContainers"]).Concat(Objects(spec["containers"])))
        {
            var requests = c["resources"]?["requests"] as JsonObject;
            var limits = c["resources"]?["limits"] as JsonObject;
            foreach (var resource in new[] { "cpu", "memory" })
            {
                var request = requests?[resource]?.ToString();
                var limit = limits?[resource]?.ToString();
                if (request is not null || limit is not null) anySet = true;
                if (limit is null || (request is not null && request != limit)) guaranteed = false;
            }
        }
        if (!anySet) return "BestEffort";
        return guaranteed ? "Guaranteed" : "Burstable";
    }
}

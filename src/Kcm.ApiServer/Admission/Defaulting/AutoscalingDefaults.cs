using System.Text.Json.Nodes;
using static Kcm.ApiServer.Admission.Defaulting.JsonDefaults;

namespace Kcm.ApiServer.Admission.Defaulting;

/// <summary>autoscaling HorizontalPodAutoscaler defaults (v2 fills metrics and, when present, behavior; v1 only minReplicas).</summary>
internal static class AutoscalingDefaults
{
    public static void HorizontalPodAutoscaler(JsonObject spec, string version)
    {
        SetIfMissing(spec, "minReplicas", 1);
        if (version == "v1") return;
        if (spec["metrics"] is not JsonArray metrics || metrics.Count == 0)
        {
            spec["metrics"] = new JsonArray(new JsonObject
            {
                ["type"] = "Resource",
                ["resource"] = new JsonObject
                {
                    ["name"] = "cpu",
                    ["target"] = new JsonObject { ["type"] = "Utilization", ["averageUtilization"] = 80 },
                },
            });
        }
        if (spec["behavior"] is not JsonObject behavior) return;
        ScalingRules(GetOrCreate(behavior, "scaleUp"), stabilizationSeconds: 0,
            () => new JsonArray(Policy("Pods", 4), Policy("Percent", 100)));
        ScalingRules(GetOrCreate(behavior, "scaleDown"), stabilizationSeconds: 300,
            () => new JsonArray(Policy("Percent", 100)));
    }

    private static void ScalingRules(JsonObject rules, int stabilizationSeconds, Func<JsonArray> policies)
    {
        SetIfMissing(rules, "stabilizationWindowSeconds", stabilizationSeconds);
        SetIfMissing(rules, "selectPolicy", "Max");
        if (rules["policies"] is not JsonArray existing || existing.Count == 0) rules["policies"] = policies();
    }

    private static JsonObject Policy(string type, int value) =>
        new() { ["type"] = type, ["value"] = value, ["periodSeconds"] = 15 };
}

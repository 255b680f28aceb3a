using System.Text.Json.Nodes;
using static Kcm.ApiServer.Admission.Defaulting.JsonDefaults;

namespace Kcm.ApiServer.Admission.Defaulting;

/// <summary>batch/v1 defaults (Job, CronJob) and the Job strategy's generated selector.</summary>
internal static class BatchDefaults
{
    public static void Job(JsonObject job, bool creating)
    {
        if (job["spec"] is not JsonObject spec) return;
        // The selector is generated before defaulting so the template labels it adds also become the Job's labels.
        if (creating) GenerateSelector(job, spec);
        if (spec["completions"] is null && spec["parallelism"] is null) spec["completions"] = 1;
        SetIfMissing(spec, "parallelism", 1);
        SetIfMissing(spec, "backoffLimit", 6);
        SetIfMissing(spec, "completionMode", "NonIndexed");
        SetIfMissing(spec, "suspend", false);
        var metadata = GetOrCreate(job, "metadata");
        if (spec["template"]?["metadata"]?["labels"] is JsonObject templateLabels && templateLabels.Count > 0
            && (metadata["labels"] is not JsonObject labels || labels.Count == 0))
        {
            metadata["labels"] = templateLabels.DeepClone();
        }
        foreach (var rule in Objects(spec["podFailurePolicy"]?["rules"]))
        {
            foreach (var condition in Objects(rule["onPodConditions"])) SetIfEmptyString(condition, "status", "True");
        }
        PodDefaults.Template(spec);
        if (creating)
        {
            // JobTrackingWithFinalizers is on in v1.26; the controller reads this annotation to pick the tracking mode.
            GetOrCreate(metadata, "annotations")["batch.kubernetes.io/job-tracking"] = "";
        }
    }

    private static void GenerateSelector(JsonObject job, JsonObject spec)
    {
        if (spec["manualSelector"] is JsonValue manual && manual.TryGetValue<bool>(out var m) && m) return;
        var metadata = (JsonObject)job["metadata"]!;
        var uid = Str(metadata["uid"]) ?? "";
        var name = Str(metadata["name"]) ?? "";
        var template = GetOrCreate(spec, "template");
        var templateLabels = GetOrCreate(GetOrCreate(template, "metadata"), "labels");
        templateLabels["controller-uid"] = uid;
        templateLabels["job-name"] = name;
        var selector = GetOrCreate(spec, "selector");
        GetOrCreate(selector, "matchLabels")["controller-uid"] = uid;
    }

    public static void CronJob(JsonObject spec)
    {
        SetIfEmptyString(spec, "concurrencyPolicy", "Allow");
        SetIfMissing(spec, "suspend", false);
        SetIfMissing(spec, "successfulJobsHistoryLimit", 3);
        SetIfMissing(spec, "failedJobsHistoryLimit", 1);
        // Only the pod template inside jobTemplate is defaulted, not the Job spec itself.
        if (spec["jobTemplate"]?["spec"] is JsonObject jobSpec) PodDefaults.Template(jobSpec);
    }
}

using System.Text.Json.Nodes;
using static Kcm.ApiServer.Admission.Defaulting.JsonDefaults;

namespace Kcm.ApiServer.Admission.Defaulting;

/// <summary>apps/v1 defaults (Deployment, ReplicaSet, DaemonSet, StatefulSet).</summary>
internal static class AppsDefaults
{
    public static void Deployment(JsonObject spec)
    {
        SetIfMissing(spec, "replicas", 1);
        var strategy = GetOrCreate(spec, "strategy");
        SetIfEmptyString(strategy, "type", "RollingUpdate");
        if (Str(strategy["type"]) == "RollingUpdate")
        {
            var rolling = GetOrCreate(strategy, "rollingUpdate");
            SetIfMissing(rolling, "maxUnavailable", "25%");
            SetIfMissing(rolling, "maxSurge", "25%");
        }
        SetIfMissing(spec, "revisionHistoryLimit", 10);
        SetIfMissing(spec, "progressDeadlineSeconds", 600);
        PodDefaults.Template(spec);
    }

    public static void ReplicaSet(JsonObject spec)
    {
        SetIfMissing(spec, "replicas", 1);
        PodDefaults.Template(spec);
    }

    public static void DaemonSet(JsonObject spec)
    {
        var strategy = GetOrCreate(spec, "updateStrategy");
        SetIfEmptyString(strategy, "type", "RollingUpdate");
        if (Str(strategy["type"]) == "RollingUpdate")
        {
            var rolling = GetOrCreate(strategy, "rollingUpdate");
            SetIfMissing(rolling, "maxUnavailable", 1);
            SetIfMissing(rolling, "maxSurge", 0);
        }
        SetIfMissing(spec, "revisionHistoryLimit", 10);
        PodDefaults.Template(spec);
    }

    public static void StatefulSet(JsonObject spec)
    {
        SetIfEmptyString(spec, "podManagementPolicy", "OrderedReady");
        var strategy = GetOrCreate(spec, "updateStrategy");
        SetIfEmptyString(strategy, "type", "RollingUpdate");
        if (Str(strategy["type"]) == "RollingUpdate")
        {
            SetIfMissing(GetOrCreate(strategy, "rollingUpdate"), "partition", 0);
        }
        // persistentVolumeClaimRetentionPolicy is only defaulted behind the alpha StatefulSetAutoDeletePVC gate (off in v1.26).
        SetIfMissing(spec, "replicas", 1);
        SetIfMissing(spec, "revisionHistoryLimit", 10);
        PodDefaults.Template(spec);
        foreach (var claim in Objects(spec["volumeClaimTemplates"])) CoreDefaults.PersistentVolumeClaim(claim);
    }
}

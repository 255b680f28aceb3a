using System.Text.Json.Nodes;
using static Kcm.ApiServer.Admission.Defaulting.JsonDefaults;

namespace Kcm.ApiServer.Admission.Defaulting;

/// <summary>core/v1 pod spec defaults, applied wherever a pod spec appears (pods and every pod template).</summary>
internal static class PodDefaults
{
    private const int DefaultFileMode = 420; // 0644

    public static void Template(JsonObject? owner, string templateKey = "template")
    {
        if (owner?[templateKey] is JsonObject template && template["spec"] is JsonObject spec) Spec(spec);
    }

    public static void Spec(JsonObject spec)
    {
        SetIfEmptyString(spec, "dnsPolicy", "ClusterFirst");
        SetIfEmptyString(spec, "restartPolicy", "Always");
        SetIfMissing(spec, "securityContext", new JsonObject());
        SetIfMissing(spec, "terminationGracePeriodSeconds", 30);
        SetIfEmptyString(spec, "schedulerName", "default-scheduler");
        // v1 keeps the deprecated serviceAccount field as an alias of serviceAccountName.
        var sa = Str(spec["serviceAccountName"]);
        if (string.IsNullOrEmpty(sa)) sa = Str(spec["serviceAccount"]);
        if (!string.IsNullOrEmpty(sa))
        {
            spec["serviceAccountName"] = sa;
            spec["serviceAccount"] = sa;
        }
        var hostNetwork = spec["hostNetwork"] is JsonValue hn && hn.TryGetValue<bool>(out var h) && h;
        foreach (var key in new[] { "initContainers", "containers", "ephemeralContainers" })
        {
            foreach (var c in Objects(spec[key])) Container(c, hostNetwork);
        }
        foreach (var v in Objects(spec["volumes"])) Volume(v);
    }

    private static void Container(JsonObject c, bool hostNetwork)
    {
        if (c["imagePullPolicy"] is null) c["imagePullPolicy"] = PullPolicyFor(Str(c["image"]) ?? "");
        SetIfEmptyString(c, "terminationMessagePath", "/dev/termination-log");
        SetIfEmptyString(c, "terminationMessagePolicy", "File");
        SetIfMissing(c, "resources", new JsonObject());
        foreach (var p in Objects(c["ports"]))
        {
            SetIfEmptyString(p, "protocol", "TCP");
            // With host networking the host port is the container port.
            if (hostNetwork && p["hostPort"] is null && p["containerPort"] is JsonNode cp) p["hostPort"] = cp.DeepClone();
        }
        foreach (var probeKey in new[] { "livenessProbe", "readinessProbe", "startupProbe" })
        {
            if (c[probeKey] is JsonObject probe) Probe(probe);
        }
        foreach (var env in Objects(c["env"]))
        {
            if (env["valueFrom"]?["fieldRef"] is JsonObject fieldRef) SetIfEmptyString(fieldRef, "apiVersion", "v1");
        }
        if (c["lifecycle"] is JsonObject lifecycle)
        {
            foreach (var hook in new[] { "postStart", "preStop" })
            {
                if (lifecycle[hook]?["httpGet"] is JsonObject get) HttpGet(get);
            }
        }
    }

    /// <summary>Images without a tag, or tagged :latest, are pulled every time; digests and other tags only when absent.</summary>
    public static string PullPolicyFor(string image)
    {
        if (image.Contains('@')) return "IfNotPresent";
        var lastSlash = image.LastIndexOf('/');
        var colon = image.IndexOf(':', lastSlash + 1);
        if (colon < 0) return "Always";
        return image[(colon + 1)..] == "latest" ? "Always" : "IfNotPresent";
    }

    private static void Probe(JsonObject probe)
    {
        SetIfMissing(probe, "timeoutSeconds", 1);
        SetIfMissing(probe, "periodSeconds", 10);
        SetIfMissing(probe, "successThreshold", 1);
        SetIfMissing(probe, "failureThreshold", 3);
        if (probe["httpGet"] is JsonObject get) HttpGet(get);
        if (probe["grpc"] is JsonObject grpc) SetIfMissing(grpc, "service", "");
    }

    private static void HttpGet(JsonObject get)
    {
        SetIfEmptyString(get, "path", "/");
        SetIfEmptyString(get, "scheme", "HTTP");
    }

    private static void Volume(JsonObject volume)
    {
        // A volume with no source at all is an emptyDir.
        if (!volume.Any(kv => kv.Key != "name")) volume["emptyDir"] = new JsonObject();
        foreach (var key in new[] { "secret", "configMap", "downwardAPI", "projected" })
        {
            if (volume[key] is JsonObject source) SetIfMissing(source, "defaultMode", DefaultFileMode);
        }
        if (volume["hostPath"] is JsonObject hostPath) SetIfMissing(hostPath, "type", "");
        if (volume["iscsi"] is JsonObject iscsi) SetIfEmptyString(iscsi, "iscsiInterface", "default");
        if (volume["rbd"] is JsonObject rbd)
        {
            SetIfEmptyString(rbd, "pool", "rbd");
            SetIfEmptyString(rbd, "user", "admin");
            SetIfEmptyString(rbd, "keyring", "/etc/ceph/keyring");
        }
        if (volume["azureDisk"] is JsonObject azureDisk)
        {
            SetIfMissing(azureDisk, "cachingMode", "ReadWrite");
            SetIfMissing(azureDisk, "fsType", "ext4");
            SetIfMissing(azureDisk, "readOnly", false);
            SetIfMissing(azureDisk, "kind", "Shared");
        }
        if (volume["ephemeral"]?["volumeClaimTemplate"]?["spec"] is JsonObject claimSpec) SetIfMissing(claimSpec, "volumeMode", "Filesystem");
    }
}

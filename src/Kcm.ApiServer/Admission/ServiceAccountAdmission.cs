using System.Text.Json.Nodes;
using Kcm.ApiServer.Storage;
using static Kcm.ApiServer.Admission.Defaulting.JsonDefaults;

namespace Kcm.ApiServer.Admission;

/// <summary>
/// Upstream's ServiceAccount admission plugin on pod create: the pod runs as spec.serviceAccountName (default
/// "default"), which must exist (else 403); unless automount is switched off on the pod or the account, a projected
/// kube-api-access-xxxxx volume (token, kube-root-ca.crt, namespace) is mounted into every container; the account's
/// imagePullSecrets are copied to a pod without any. Mirror pods may not use accounts, secrets or token projections.
/// </summary>
public sealed class ServiceAccountAdmission(ObjectStore store) : IMutatingAdmission
{
    public const string TokenMountPath = "/var/run/secrets/kubernetes.io/serviceaccount";
    private const string VolumePrefix = "kube-api-access-";
    private const string MirrorPodAnnotation = "kubernetes.io/config.mirror";
    private const string NameAlphabet = "bcdfghjklmnpqrstvwxz2456789";

    public void Admit(AdmissionRequest request)
    {
        if (request.Operation != AdmissionOperation.Create || request.Subresource.Length > 0) return;
        if (request.Strategy.Group.Length != 0 || request.Strategy.Resource != "pods" || request.Object is not { } pod) return;
        var spec = GetOrCreate(pod, "spec");
        if (pod["metadata"]?["annotations"]?[MirrorPodAnnotation] is not null)
        {
            ValidateMirrorPod(request, spec);
            return;
        }
        // The deprecated spec.serviceAccount stands in for an empty serviceAccountName and always mirrors it on output.
        var accountName = Str(spec["serviceAccountName"]);
        if (string.IsNullOrEmpty(accountName)) accountName = Str(spec["serviceAccount"]);
        if (string.IsNullOrEmpty(accountName)) accountName = "default";
        spec["serviceAccountName"] = accountName;
        spec["serviceAccount"] = accountName;
        var account = store.Find("", "serviceaccounts")?.Get(StoredObject.MakeKey(request.Namespace, accountName)) is { } stored
            ? ObjectEncoder.Parse(stored)
            : throw NamespaceLifecycle.Forbidden("", "pods", request.Name,
                $"error looking up service account {request.Namespace}/{accountName}: serviceaccount \"{accountName}\" not found");

        if (ShouldAutomount(account, spec)) MountToken(spec);
        if (spec["imagePullSecrets"] is not JsonArray { Count: > 0 } && account["imagePullSecrets"] is JsonArray { Count: > 0 } pullSecrets)
        {
            spec["imagePullSecrets"] = new JsonArray(Objects(pullSecrets)
                .Select(s => (JsonNode?)new JsonObject { ["name"] = Str(s["name"]) ?? "" }).ToArray());
        }
    }

    private static bool ShouldAutomount(JsonObject account, JsonObject spec)
    {
        if (spec["automountServiceAccountToken"] is JsonValue podValue && podValue.TryGetValue<bool>(out var onPod)) return onPod;
        if (account["automountServiceAccountToken"] is JsonValue saValue && saValue.TryGetValue<bool>(out var onAccount)) return onAccount;
        return true;
    }

    private static void MountToken(JsonObject spec)
    {
        var volumes = spec["volumes"] as JsonArray;
        var existing = Objects(volumes).Select(v => Str(v["name"]) ?? "").FirstOrDefault(n => n.StartsWith(VolumePrefix, StringComparison.Ordinal));
        var volumeName = existing ?? VolumePrefix + RandomSuffix();
        var needsVolume = false;
        foreach (var key in new[] { "initContainers", "containers" })
        {
            foreach (var container in Objects(spec[key]))
            {
                var mounts = container["volumeMounts"] as JsonArray;
                if (Objects(mounts).Any(m => Str(m["mountPath"]) == TokenMountPath)) continue;
                if (mounts is null)
                {
                    mounts = new JsonArray();
                    container["volumeMounts"] = mounts;
                }
                mounts.Add((JsonNode)new JsonObject { ["name"] = volumeName, ["readOnly"] = true, ["mountPath"] = TokenMountPath });
                needsVolume = true;
            }
        }
        if (existing is not null || !needsVolume) return;
        if (volumes is null)
        {
            volumes = new JsonArray();
            spec["volumes"] = volumes;
        }
        volumes.Add((JsonNode)TokenVolume(volumeName));
    }

    /// <summary>The projected volume of upstream's TokenVolumeSource (token valid 1h + 7s so kubelets can tell it apart).</summary>
    public static JsonObject TokenVolume(string name) => new()
    {
        ["name"] = name,
        ["projected"] = new JsonObject
        {
            ["sources"] = new JsonArray(
                new JsonObject { ["serviceAccountToken"] = new JsonObject { ["expirationSeconds"] = 3607, ["path"] = "token" } },
                new JsonObject
                {
                    ["configMap"] = new JsonObject
                    {
                        ["name"] = "kube-root-ca.crt",
                        ["items"] = new JsonArray(new JsonObject { ["key"] = "ca.crt", ["path"] = "ca.crt" }),
                    },
                },
                new JsonObject
                {
                    ["downwardAPI"] = new JsonObject
                    {
                        ["items"] = new JsonArray(new JsonObject
                        {
                            ["path"] = "namespace",
                            ["fieldRef"] = new JsonObject { ["apiVersion"] = "v1", ["fieldPath"] = "metadata.namespace" },
                        }),
                    },
                }),
            ["defaultMode"] = 420,
        },
    };

    private static string RandomSuffix()
    {
        Span<char> suffix = stackalloc char[5];
        for (var i = 0; i < suffix.Length; i++) suffix[i] = NameAlphabet[Random.Shared.Next(NameAlphabet.Length)];
        return new string(suffix);
    }

    private static void ValidateMirrorPod(AdmissionRequest request, JsonObject spec)
    {
        string? reason = null;
        if (!string.IsNullOrEmpty(Str(spec["serviceAccountName"])) || !string.IsNullOrEmpty(Str(spec["serviceAccount"]))) reason = "a mirror pod may not reference service accounts";
        else if (Objects(spec["volumes"]).Any(v => v["secret"] is not null)
            || AllContainers(spec).Any(c => Objects(c["env"]).Any(e => e["valueFrom"]?["secretKeyRef"] is not null)
                || Objects(c["envFrom"]).Any(e => e["secretRef"] is not null))
            || spec["imagePullSecrets"] is JsonArray { Count: > 0 })
        {
            reason = "a mirror pod may not reference secrets";
        }
        else if (Objects(spec["volumes"]).Any(v => Objects(v["projected"]?["sources"]).Any(s => s["serviceAccountToken"] is not null)))
        {
            reason = "a mirror pod may not use ServiceAccountToken volume projections";
        }
        if (reason is not null) throw NamespaceLifecycle.Forbidden("", "pods", request.Name, reason);
    }

    private static IEnumerable<JsonObject> AllContainers(JsonObject spec)
        => Objects(spec["initContainers"]).Concat(Objects(spec["containers"])).Concat(Objects(spec["ephemeralContainers"]));
}

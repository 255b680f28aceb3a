using System.Net;
using System.Text.Json.Nodes;
using Kcm.Testing;
using static Kcm.ApiServer.Tests.Http;

namespace Kcm.ApiServer.Tests;

[Collection(ServerCollection.Name)]
public sealed class DefaultingTests(ApiServerFixture fixture)
{
    private readonly HttpClient _client = fixture.HttpClient;

    private const string NginxTemplate = """{"metadata":{"labels":{"app":"x"}},"spec":{"containers":[{"name":"c","image":"nginx"}]}}""";

    private async Task<JsonNode> CreateAsync(string path, string json)
    {
        var (code, body) = await PostAsync(_client, path, json);
        Assert.True(code == HttpStatusCode.Created, $"{code}: {body?.ToJsonString()}");
        return body!;
    }

    // The pod-spec defaults every template gets (no pod-only fields such as enableServiceLinks).
    private static void AssertTemplateDefaults(JsonNode? podSpec, string restartPolicy = "Always", string pullPolicy = "Always")
    {
        Assert.NotNull(podSpec);
        Assert.Equal("ClusterFirst", Str(podSpec["dnsPolicy"]));
        Assert.Equal(restartPolicy, Str(podSpec["restartPolicy"]));
        Assert.Equal("default-scheduler", Str(podSpec["schedulerName"]));
        Assert.Equal("{}", podSpec["securityContext"]!.ToJsonString());
        Assert.Equal(30, (int)podSpec["terminationGracePeriodSeconds"]!);
        Assert.Null(podSpec["enableServiceLinks"]);
        Assert.Null(podSpec["tolerations"]);
        Assert.Null(podSpec["priority"]);
        var container = podSpec["containers"]![0]!;
        Assert.Equal(pullPolicy, Str(container["imagePullPolicy"]));
        Assert.Equal("/dev/termination-log", Str(container["terminationMessagePath"]));
        Assert.Equal("File", Str(container["terminationMessagePolicy"]));
        Assert.Equal("{}", container["resources"]!.ToJsonString());
    }

    [Fact(Timeout = 30000)]
    public async Task CreateDeployment_Minimal_GetsRollingUpdateAndTemplateDefaults()
    {
        var ns = await CreateNamespaceAsync(_client);
        var d = await CreateAsync($"/apis/apps/v1/namespaces/{ns}/deployments",
            $$$"""{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"d"},"spec":{"selector":{"matchLabels":{"app":"x"}},"template":{{{NginxTemplate}}}}}""");
        var spec = d["spec"]!;
        Assert.Equal(1, (int)spec["replicas"]!);
        Assert.Equal(10, (int)spec["revisionHistoryLimit"]!);
        Assert.Equal(600, (int)spec["progressDeadlineSeconds"]!);
        Assert.Equal(Canon("""{"type":"RollingUpdate","rollingUpdate":{"maxUnavailable":"25%","maxSurge":"25%"}}"""), spec["strategy"]!.ToJsonString());
        AssertTemplateDefaults(spec["template"]!["spec"]);
    }

    [Fact(Timeout = 30000)]
    public async Task CreateDeployment_RecreateStrategy_GetsNoRollingUpdate()
    {
        var ns = await CreateNamespaceAsync(_client);
        var d = await CreateAsync($"/apis/apps/v1/namespaces/{ns}/deployments",
            $$$"""{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"d"},"spec":{"strategy":{"type":"Recreate"},"selector":{"matchLabels":{"app":"x"}},"template":{{{NginxTemplate}}}}}""");
        Assert.Equal(Canon("""{"type":"Recreate"}"""), d["spec"]!["strategy"]!.ToJsonString());
    }

    [Fact(Timeout = 30000)]
    public async Task CreateReplicaSet_ZeroReplicas_KeepsZero()
    {
        var ns = await CreateNamespaceAsync(_client);
        var rs = await CreateAsync($"/apis/apps/v1/namespaces/{ns}/replicasets",
            $$$"""{"apiVersion":"apps/v1","kind":"ReplicaSet","metadata":{"name":"rs"},"spec":{"replicas":0,"selector":{"matchLabels":{"app":"x"}},"template":{{{NginxTemplate}}}}}""");
        Assert.Equal(0, (int)rs["spec"]!["replicas"]!);
        AssertTemplateDefaults(rs["spec"]!["template"]!["spec"]);

        var rs2 = await CreateAsync($"/apis/apps/v1/namespaces/{ns}/replicasets",
            $$$"""{"apiVersion":"apps/v1","kind":"ReplicaSet","metadata":{"name":"rs2"},"spec":{"selector":{"matchLabels":{"app":"x"}},"template":{{{NginxTemplate}}}}}""");
        Assert.Equal(1, (int)rs2["spec"]!["replicas"]!);
    }

    [Fact(Timeout = 30000)]
    public async Task CreateReplicationController_Minimal_TakesSelectorAndLabelsFromTemplate()
    {
        var ns = await CreateNamespaceAsync(_client);
        var rc = await CreateAsync($"/api/v1/namespaces/{ns}/replicationcontrollers",
            $$$"""{"apiVersion":"v1","kind":"ReplicationController","metadata":{"name":"rc"},"spec":{"template":{{{NginxTemplate}}}}}""");
        Assert.Equal(1, (int)rc["spec"]!["replicas"]!);
        Assert.Equal(Canon("""{"app":"x"}"""), rc["spec"]!["selector"]!.ToJsonString());
        Assert.Equal(Canon("""{"app":"x"}"""), rc["metadata"]!["labels"]!.ToJsonString());
        AssertTemplateDefaults(rc["spec"]!["template"]!["spec"]);
    }

    [Fact(Timeout = 30000)]
    public async Task CreateDaemonSet_Minimal_GetsRollingUpdateOneUnavailableNoSurge()
    {
        var ns = await CreateNamespaceAsync(_client);
        var ds = await CreateAsync($"/apis/apps/v1/namespaces/{ns}/daemonsets",
            $$$"""{"apiVersion":"apps/v1","kind":"DaemonSet","metadata":{"name":"ds"},"spec":{"selector":{"matchLabels":{"app":"x"}},"template":{{{NginxTemplate}}}}}""");
        var spec = ds["spec"]!;
        Assert.Equal(10, (int)spec["revisionHistoryLimit"]!);
        Assert.Equal("RollingUpdate", Str(spec["updateStrategy"]!["type"]));
        Assert.Equal(1, (int)spec["updateStrategy"]!["rollingUpdate"]!["maxUnavailable"]!);
        Assert.Equal(0, (int)spec["updateStrategy"]!["rollingUpdate"]!["maxSurge"]!);
        AssertTemplateDefaults(spec["template"]!["spec"]);
    }

    [Fact(Timeout = 30000)]
    public async Task CreateStatefulSet_Minimal_GetsOrderedReadyAndPartitionZero()
    {
        var ns = await CreateNamespaceAsync(_client);
        var ss = await CreateAsync($"/apis/apps/v1/namespaces/{ns}/statefulsets",
            $$$$$"""{"apiVersion":"apps/v1","kind":"StatefulSet","metadata":{"name":"ss"},"spec":{"serviceName":"ss","replicas":0,"selector":{"matchLabels":{"app":"x"}},"template":{{{{{NginxTemplate}}}}},"volumeClaimTemplates":[{"metadata":{"name":"data"},"spec":{"accessModes":["ReadWriteOnce"],"resources":{"requests":{"storage":"1Gi"}}}}]}}""");
        var spec = ss["spec"]!;
        Assert.Equal(0, (int)spec["replicas"]!);
        Assert.Equal("OrderedReady", Str(spec["podManagementPolicy"]));
        Assert.Equal(10, (int)spec["revisionHistoryLimit"]!);
        Assert.Equal(Canon("""{"type":"RollingUpdate","rollingUpdate":{"partition":0}}"""), spec["updateStrategy"]!.ToJsonString());
        Assert.Null(spec["persistentVolumeClaimRetentionPolicy"]);
        Assert.Equal("Filesystem", Str(spec["volumeClaimTemplates"]![0]!["spec"]!["volumeMode"]));
        Assert.Equal("Pending", Str(spec["volumeClaimTemplates"]![0]!["status"]!["phase"]));
        AssertTemplateDefaults(spec["template"]!["spec"]);
    }

    [Fact(Timeout = 30000)]
    public async Task CreateJob_Minimal_GetsCountsSelectorAndLabels()
    {
        var ns = await CreateNamespaceAsync(_client);
        var job = await CreateAsync($"/apis/batch/v1/namespaces/{ns}/jobs",
            """{"apiVersion":"batch/v1","kind":"Job","metadata":{"name":"j"},"spec":{"suspend":true,"template":{"spec":{"restartPolicy":"Never","containers":[{"name":"c","image":"busybox"}]}}}}""");
        var spec = job["spec"]!;
        var uid = Str(job["metadata"]!["uid"]);
        Assert.Equal(1, (int)spec["completions"]!);
        Assert.Equal(1, (int)spec["parallelism"]!);
        Assert.Equal(6, (int)spec["backoffLimit"]!);
        Assert.Equal("NonIndexed", Str(spec["completionMode"]));
        Assert.True((bool)spec["suspend"]!);
        Assert.Equal(Canon($$$"""{"matchLabels":{"controller-uid":"{{{uid}}}"}}"""), spec["selector"]!.ToJsonString());
        var expectedLabels = Canon($$$"""{"controller-uid":"{{{uid}}}","job-name":"j"}""");
        Assert.Equal(expectedLabels, spec["template"]!["metadata"]!["labels"]!.ToJsonString());
        Assert.Equal(expectedLabels, job["metadata"]!["labels"]!.ToJsonString());
        Assert.Equal("", Str(job["metadata"]!["annotations"]!["batch.kubernetes.io/job-tracking"]));
        AssertTemplateDefaults(spec["template"]!["spec"], restartPolicy: "Never");
    }

    [Fact(Timeout = 30000)]
    public async Task CreateJob_ParallelismOnly_LeavesCompletionsUnset()
    {
        var ns = await CreateNamespaceAsync(_client);
        var job = await CreateAsync($"/apis/batch/v1/namespaces/{ns}/jobs",
            """{"apiVersion":"batch/v1","kind":"Job","metadata":{"name":"j"},"spec":{"parallelism":3,"backoffLimit":0,"template":{"spec":{"restartPolicy":"Never","containers":[{"name":"c","image":"busybox"}]}}}}""");
        Assert.Null(job["spec"]!["completions"]);
        Assert.Equal(3, (int)job["spec"]!["parallelism"]!);
        Assert.Equal(0, (int)job["spec"]!["backoffLimit"]!);
        Assert.False((bool)job["spec"]!["suspend"]!);
    }

    [Fact(Timeout = 30000)]
    public async Task CreateCronJob_Minimal_GetsPolicyAndHistoryLimitsButNoJobSpecDefaults()
    {
        var ns = await CreateNamespaceAsync(_client);
        var cj = await CreateAsync($"/apis/batch/v1/namespaces/{ns}/cronjobs",
            """{"apiVersion":"batch/v1","kind":"CronJob","metadata":{"name":"cj"},"spec":{"schedule":"*/5 * * * *","jobTemplate":{"spec":{"template":{"spec":{"restartPolicy":"OnFailure","containers":[{"name":"c","image":"busybox"}]}}}}}}""");
        var spec = cj["spec"]!;
        Assert.Equal("Allow", Str(spec["concurrencyPolicy"]));
        Assert.False((bool)spec["suspend"]!);
        Assert.Equal(3, (int)spec["successfulJobsHistoryLimit"]!);
        Assert.Equal(1, (int)spec["failedJobsHistoryLimit"]!);
        Assert.Null(spec["jobTemplate"]!["spec"]!["backoffLimit"]);
        AssertTemplateDefaults(spec["jobTemplate"]!["spec"]!["template"]!["spec"], restartPolicy: "OnFailure");
    }

    [Fact(Timeout = 30000)]
    public async Task CreateStorageClass_Minimal_GetsDeleteAndImmediate()
    {
        var name = "sc-" + Guid.NewGuid().ToString("N")[..8];
        var sc = await CreateAsync("/apis/storage.k8s.io/v1/storageclasses",
            $$"""{"apiVersion":"storage.k8s.io/v1","kind":"StorageClass","metadata":{"name":"{{name}}"},"provisioner":"example.com/x"}""");
        Assert.Equal("Delete", Str(sc["reclaimPolicy"]));
        Assert.Equal("Immediate", Str(sc["volumeBindingMode"]));
    }

    [Fact(Timeout = 30000)]
    public async Task CreateService_Minimal_GetsClusterIpTypeAndPortDefaults()
    {
        var ns = await CreateNamespaceAsync(_client);
        var svc = await CreateAsync($"/api/v1/namespaces/{ns}/services",
            """{"apiVersion":"v1","kind":"Service","metadata":{"name":"svc"},"spec":{"selector":{"a":"b"},"ports":[{"name":"web","port":80},{"name":"named","port":81,"targetPort":"http","protocol":"UDP"}]}}""");
        var spec = svc["spec"]!;
        Assert.Equal("ClusterIP", Str(spec["type"]));
        Assert.Equal("None", Str(spec["sessionAffinity"]));
        Assert.Equal("Cluster", Str(spec["internalTrafficPolicy"]));
        Assert.Null(spec["externalTrafficPolicy"]);
        Assert.True(JsonNode.DeepEquals(JsonNode.Parse("""{"name":"web","protocol":"TCP","port":80,"targetPort":80}"""), spec["ports"]![0]), spec["ports"]![0]!.ToJsonString());
        Assert.Equal("http", Str(spec["ports"]![1]!["targetPort"]));
        var clusterIp = Str(spec["clusterIP"]);
        Assert.Matches(@"^10\.254\.[0-9]+\.[0-9]+$", clusterIp);
        Assert.Equal(Canon($"[\"{clusterIp}\"]"), spec["clusterIPs"]!.ToJsonString());
        Assert.Equal(Canon("""["IPv4"]"""), spec["ipFamilies"]!.ToJsonString());
        Assert.Equal("SingleStack", Str(spec["ipFamilyPolicy"]));

        var other = await CreateAsync($"/api/v1/namespaces/{ns}/services",
            """{"apiVersion":"v1","kind":"Service","metadata":{"name":"other"},"spec":{"ports":[{"port":80}]}}""");
        Assert.NotEqual(clusterIp, Str(other["spec"]!["clusterIP"]));

        // An update that leaves the allocated fields out keeps them.
        var edited = svc.DeepClone();
        foreach (var key in new[] { "clusterIP", "clusterIPs", "ipFamilies", "ipFamilyPolicy" }) edited["spec"]!.AsObject().Remove(key);
        var (putCode, updated) = await PutAsync(_client, $"/api/v1/namespaces/{ns}/services/svc", edited);
        Assert.Equal(HttpStatusCode.OK, putCode);
        Assert.Equal(clusterIp, Str(updated!["spec"]!["clusterIP"]));
        Assert.Equal("SingleStack", Str(updated["spec"]!["ipFamilyPolicy"]));
        Assert.Equal("UDP", Str(spec["ports"]![1]!["protocol"]));
    }

    [Fact(Timeout = 30000)]
    public async Task CreateService_NodePortWithClientIpAffinity_GetsExternalPolicyAndTimeout()
    {
        var ns = await CreateNamespaceAsync(_client);
        var svc = await CreateAsync($"/api/v1/namespaces/{ns}/services",
            """{"apiVersion":"v1","kind":"Service","metadata":{"name":"svc"},"spec":{"type":"NodePort","sessionAffinity":"ClientIP","ports":[{"port":80}]}}""");
        Assert.Equal("Cluster", Str(svc["spec"]!["externalTrafficPolicy"]));
        Assert.Equal(10800, (int)svc["spec"]!["sessionAffinityConfig"]!["clientIP"]!["timeoutSeconds"]!);
    }

    [Fact(Timeout = 30000)]
    public async Task CreateService_HeadlessAndExternalName_AllocateNoAddress()
    {
        var ns = await CreateNamespaceAsync(_client);
        var headless = await CreateAsync($"/api/v1/namespaces/{ns}/services",
            """{"apiVersion":"v1","kind":"Service","metadata":{"name":"h"},"spec":{"clusterIP":"None","selector":{"a":"b"},"ports":[{"port":80}]}}""");
        Assert.Equal("None", Str(headless["spec"]!["clusterIP"]));
        Assert.Equal(Canon("""["None"]"""), headless["spec"]!["clusterIPs"]!.ToJsonString());
        var external = await CreateAsync($"/api/v1/namespaces/{ns}/services",
            """{"apiVersion":"v1","kind":"Service","metadata":{"name":"e"},"spec":{"type":"ExternalName","externalName":"example.com"}}""");
        Assert.Null(external["spec"]!["clusterIP"]);
        Assert.Null(external["spec"]!["internalTrafficPolicy"]);
        Assert.Equal("None", Str(external["spec"]!["sessionAffinity"]));
    }

    [Fact(Timeout = 30000)]
    public async Task CreateHpaV2_Minimal_GetsMinReplicasOnly()
    {
        var ns = await CreateNamespaceAsync(_client);
        var hpa = await CreateAsync($"/apis/autoscaling/v2/namespaces/{ns}/horizontalpodautoscalers",
            """{"apiVersion":"autoscaling/v2","kind":"HorizontalPodAutoscaler","metadata":{"name":"hpa"},"spec":{"scaleTargetRef":{"apiVersion":"apps/v1","kind":"Deployment","name":"d"},"maxReplicas":3,"metrics":[{"type":"Resource","resource":{"name":"cpu","target":{"type":"Utilization","averageUtilization":50}}}]}}""");
        var spec = hpa["spec"]!;
        Assert.Equal(1, (int)spec["minReplicas"]!);
        Assert.Equal(50, (int)spec["metrics"]![0]!["resource"]!["target"]!["averageUtilization"]!);
        Assert.Single(spec["metrics"]!.AsArray());
        Assert.Null(spec["behavior"]);
    }

    [Fact(Timeout = 30000)]
    public async Task CreateHpaV2_EmptyBehaviorAndNoMetrics_GetsCpu80AndScalingRules()
    {
        var ns = await CreateNamespaceAsync(_client);
        var hpa = await CreateAsync($"/apis/autoscaling/v2/namespaces/{ns}/horizontalpodautoscalers",
            """{"apiVersion":"autoscaling/v2","kind":"HorizontalPodAutoscaler","metadata":{"name":"hpa"},"spec":{"scaleTargetRef":{"apiVersion":"apps/v1","kind":"Deployment","name":"d"},"minReplicas":2,"maxReplicas":3,"behavior":{"scaleDown":{"stabilizationWindowSeconds":60}}}}""");
        var spec = hpa["spec"]!;
        Assert.Equal(2, (int)spec["minReplicas"]!);
        Assert.Equal(80, (int)spec["metrics"]![0]!["resource"]!["target"]!["averageUtilization"]!);
        var up = spec["behavior"]!["scaleUp"]!;
        Assert.Equal(0, (int)up["stabilizationWindowSeconds"]!);
        Assert.Equal("Max", Str(up["selectPolicy"]));
        Assert.Equal(2, up["policies"]!.AsArray().Count);
        var down = spec["behavior"]!["scaleDown"]!;
        Assert.Equal(60, (int)down["stabilizationWindowSeconds"]!);
        Assert.Equal(Canon("""[{"type":"Percent","value":100,"periodSeconds":15}]"""), down["policies"]!.ToJsonString());
    }

    [Fact(Timeout = 30000)]
    public async Task CreatePdbAndServiceAccount_Minimal_SpecUnchanged()
    {
        var ns = await CreateNamespaceAsync(_client);
        var pdb = await CreateAsync($"/apis/policy/v1/namespaces/{ns}/poddisruptionbudgets",
            """{"apiVersion":"policy/v1","kind":"PodDisruptionBudget","metadata":{"name":"pdb"},"spec":{"minAvailable":1,"selector":{"matchLabels":{"a":"b"}}}}""");
        Assert.Equal(Canon("""{"minAvailable":1,"selector":{"matchLabels":{"a":"b"}}}"""), pdb["spec"]!.ToJsonString());
        var sa = await CreateAsync($"/api/v1/namespaces/{ns}/serviceaccounts",
            """{"apiVersion":"v1","kind":"ServiceAccount","metadata":{"name":"sa"}}""");
        Assert.Null(sa["secrets"]);
        Assert.Null(sa["automountServiceAccountToken"]);
    }

    [Fact(Timeout = 30000)]
    public async Task CreatePod_Minimal_GetsSpecAdmissionAndStatusDefaults()
    {
        var ns = await CreateNamespaceAsync(_client);
        var pod = await CreateAsync($"/api/v1/namespaces/{ns}/pods",
            """{"apiVersion":"v1","kind":"Pod","metadata":{"name":"p"},"spec":{"automountServiceAccountToken":false,"containers":[{"name":"c","image":"nginx"}]}}""");
        var spec = pod["spec"]!;
        Assert.Equal("ClusterFirst", Str(spec["dnsPolicy"]));
        Assert.Equal("Always", Str(spec["restartPolicy"]));
        Assert.Equal(30, (int)spec["terminationGracePeriodSeconds"]!);
        Assert.True((bool)spec["enableServiceLinks"]!);
        Assert.Equal(0, (int)spec["priority"]!);
        Assert.Equal("PreemptLowerPriority", Str(spec["preemptionPolicy"]));
        Assert.Equal("default", Str(spec["serviceAccountName"]));
        Assert.Equal("default", Str(spec["serviceAccount"]));
        Assert.Equal(Canon("""
            [{"key":"node.kubernetes.io/not-ready","operator":"Exists","effect":"NoExecute","tolerationSeconds":300},
             {"key":"node.kubernetes.io/unreachable","operator":"Exists","effect":"NoExecute","tolerationSeconds":300}]
            """), spec["tolerations"]!.ToJsonString());
        Assert.Equal("Always", Str(spec["containers"]![0]!["imagePullPolicy"]));
        Assert.Equal("Pending", Str(pod["status"]!["phase"]));
        Assert.Equal("BestEffort", Str(pod["status"]!["qosClass"]));
    }

    [Fact(Timeout = 30000)]
    public async Task CreatePod_AutomountedServiceAccount_GetsProjectedTokenVolume()
    {
        var ns = await CreateNamespaceAsync(_client);
        var pod = await CreateAsync($"/api/v1/namespaces/{ns}/pods",
            """{"apiVersion":"v1","kind":"Pod","metadata":{"name":"p"},"spec":{"containers":[{"name":"c","image":"nginx"}]}}""");
        var volume = Assert.Single(pod["spec"]!["volumes"]!.AsArray())!;
        var name = Str(volume["name"]);
        Assert.Matches("^kube-api-access-[a-z0-9]{5}$", name);
        Assert.True(JsonNode.DeepEquals(JsonNode.Parse("""
            {"defaultMode":420,"sources":[{"serviceAccountToken":{"expirationSeconds":3607,"path":"token"}},
             {"configMap":{"items":[{"key":"ca.crt","path":"ca.crt"}],"name":"kube-root-ca.crt"}},
             {"downwardAPI":{"items":[{"fieldRef":{"apiVersion":"v1","fieldPath":"metadata.namespace"},"path":"namespace"}]}}]}
            """), volume["projected"]), volume.ToJsonString());
        var mount = Assert.Single(pod["spec"]!["containers"]![0]!["volumeMounts"]!.AsArray())!;
        Assert.True(JsonNode.DeepEquals(JsonNode.Parse($$"""{"mountPath":"/var/run/secrets/kubernetes.io/serviceaccount","name":"{{name}}","readOnly":true}"""), mount), mount.ToJsonString());
    }

    [Fact(Timeout = 30000)]
    public async Task CreatePod_ExplicitValues_AreKept()
    {
        var ns = await CreateNamespaceAsync(_client);
        await CreateAsync($"/api/v1/namespaces/{ns}/serviceaccounts", """{"apiVersion":"v1","kind":"ServiceAccount","metadata":{"name":"builder"}}""");
        var pod = await CreateAsync($"/api/v1/namespaces/{ns}/pods",
            """
            {"apiVersion":"v1","kind":"Pod","metadata":{"name":"p"},"spec":{"serviceAccountName":"builder","restartPolicy":"Never",
             "terminationGracePeriodSeconds":0,"enableServiceLinks":false,
             "tolerations":[{"key":"node.kubernetes.io/not-ready","operator":"Exists","effect":"NoExecute","tolerationSeconds":5}],
             "containers":[{"name":"a","image":"nginx","imagePullPolicy":"Never","ports":[{"containerPort":80}],
                            "resources":{"limits":{"cpu":"1","memory":"1Gi"}}},
                           {"name":"b","image":"registry:5000/app:1.2","resources":{"limits":{"cpu":"1","memory":"1Gi"}}},
                           {"name":"c","image":"app:latest","resources":{"limits":{"cpu":"1","memory":"1Gi"}}}]}}
            """);
        var spec = pod["spec"]!;
        Assert.Equal("builder", Str(spec["serviceAccountName"]));
        Assert.Equal("Never", Str(spec["restartPolicy"]));
        Assert.Equal(0, (int)spec["terminationGracePeriodSeconds"]!);
        Assert.False((bool)spec["enableServiceLinks"]!);
        var tolerations = spec["tolerations"]!.AsArray();
        Assert.Equal(2, tolerations.Count);
        Assert.Equal(5, (int)tolerations[0]!["tolerationSeconds"]!);
        Assert.Equal("node.kubernetes.io/unreachable", Str(tolerations[1]!["key"]));
        var containers = spec["containers"]!.AsArray();
        Assert.Equal("Never", Str(containers[0]!["imagePullPolicy"]));
        Assert.Equal("TCP", Str(containers[0]!["ports"]![0]!["protocol"]));
        Assert.Equal(Canon("""{"cpu":"1","memory":"1Gi"}"""), containers[0]!["resources"]!["requests"]!.ToJsonString());
        Assert.Equal("IfNotPresent", Str(containers[1]!["imagePullPolicy"]));
        Assert.Equal("Always", Str(containers[2]!["imagePullPolicy"]));
        Assert.Equal("Guaranteed", Str(pod["status"]!["qosClass"]));
    }

    [Fact(Timeout = 30000)]
    public async Task UpdateDeployment_RemovedDefaults_AreFilledAgain()
    {
        var ns = await CreateNamespaceAsync(_client);
        var d = await CreateAsync($"/apis/apps/v1/namespaces/{ns}/deployments",
            $$$"""{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"d"},"spec":{"replicas":0,"selector":{"matchLabels":{"app":"x"}},"template":{{{NginxTemplate}}}}}""");
        Assert.Equal(0, (int)d["spec"]!["replicas"]!);
        var spec = d["spec"]!.AsObject();
        spec.Remove("revisionHistoryLimit");
        spec.Remove("strategy");
        spec["template"]!["spec"]!.AsObject().Remove("dnsPolicy");
        var (code, updated) = await PutAsync(_client, $"/apis/apps/v1/namespaces/{ns}/deployments/d", d);
        Assert.Equal(HttpStatusCode.OK, code);
        Assert.Equal(0, (int)updated!["spec"]!["replicas"]!);
        Assert.Equal(10, (int)updated["spec"]!["revisionHistoryLimit"]!);
        Assert.Equal("RollingUpdate", Str(updated["spec"]!["strategy"]!["type"]));
        Assert.Equal("ClusterFirst", Str(updated["spec"]!["template"]!["spec"]!["dnsPolicy"]));
    }
}

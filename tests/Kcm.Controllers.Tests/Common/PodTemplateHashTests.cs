using System.Text;
using Kcm.Api;
using Kcm.Api.Core.V1;
using Kcm.Controllers.Common.GoSpew;
using Kcm.Controllers.Deployments;

namespace Kcm.Controllers.Tests.Common;

public class PodTemplateHashTests
{
    // Each template is spec.template as a real kube-apiserver v1.26.3 stored it (after defaulting), read back with
    // kubectl; each hash is the pod-template-hash (Deployments) or controller-revision-hash (DaemonSets) that
    // upstream's kube-controller-manager v1.26.3 ($KCM_UPSTREAM, --controllers=deployment,daemonset) gave it.
    // Sources: no-sa, web (after `set image c=nginx:2`), zero: tools/Kcm.Differ/scenarios/deployment.yaml;
    // the others: Deployments and DaemonSets written to vary resources, probes, env, volumes, affinity,
    // tolerations, securityContext, named and numeric ports, and quantities the server canonicalises.
    public static TheoryData<string, string, string> UpstreamHashes => new()
    {
        { "no-sa", """{"metadata":{"creationTimestamp":null,"labels":{"app":"no-sa"}},"spec":{"containers":[{"image":"nginx","imagePullPolicy":"Always","name":"c","resources":{},"terminationMessagePath":"/dev/termination-log","terminationMessagePolicy":"File"}],"dnsPolicy":"ClusterFirst","restartPolicy":"Always","schedulerName":"default-scheduler","securityContext":{},"serviceAccount":"missing","serviceAccountName":"missing","terminationGracePeriodSeconds":30}}""", "65477c86" },
        { "web", """{"metadata":{"creationTimestamp":null,"labels":{"app":"web"}},"spec":{"containers":[{"image":"nginx:2","imagePullPolicy":"Always","name":"c","resources":{},"terminationMessagePath":"/dev/termination-log","terminationMessagePolicy":"File"}],"dnsPolicy":"ClusterFirst","restartPolicy":"Always","schedulerName":"default-scheduler","securityContext":{},"terminationGracePeriodSeconds":30}}""", "57678bd8d8" },
        { "zero", """{"metadata":{"creationTimestamp":null,"labels":{"app":"zero"}},"spec":{"containers":[{"image":"nginx","imagePullPolicy":"Always","name":"c","resources":{},"terminationMessagePath":"/dev/termination-log","terminationMessagePolicy":"File"}],"dnsPolicy":"ClusterFirst","restartPolicy":"Always","schedulerName":"default-scheduler","securityContext":{},"terminationGracePeriodSeconds":30}}""", "568dd68c7b" },
        { "d-resources", """{"metadata":{"annotations":{"a":"1","b":"2"},"creationTimestamp":null,"labels":{"app":"d1","tier":"web"}},"spec":{"containers":[{"image":"nginx:1.25","imagePullPolicy":"IfNotPresent","name":"c","resources":{"limits":{"cpu":"1","memory":"512Mi"},"requests":{"cpu":"250m","ephemeral-storage":"1Gi","memory":"128Mi"}},"terminationMessagePath":"/dev/termination-log","terminationMessagePolicy":"File"}],"dnsPolicy":"ClusterFirst","restartPolicy":"Always","schedulerName":"default-scheduler","securityContext":{},"terminationGracePeriodSeconds":30}}""", "5f9f85b4d7" },
        { "d-probes", """{"metadata":{"creationTimestamp":null,"labels":{"app":"d2"}},"spec":{"containers":[{"image":"nginx","imagePullPolicy":"Always","lifecycle":{"preStop":{"exec":{"command":["sleep","5"]}}},"livenessProbe":{"failureThreshold":3,"periodSeconds":5,"successThreshold":1,"tcpSocket":{"port":8080},"timeoutSeconds":1},"name":"c","ports":[{"containerPort":8080,"name":"http","protocol":"TCP"},{"containerPort":9090,"protocol":"UDP"}],"readinessProbe":{"failureThreshold":3,"httpGet":{"path":"/healthz","port":"http","scheme":"HTTP"},"initialDelaySeconds":3,"periodSeconds":10,"successThreshold":1,"timeoutSeconds":1},"resources":{},"startupProbe":{"exec":{"command":["cat","/tmp/ok"]},"failureThreshold":30,"periodSeconds":10,"successThreshold":1,"timeoutSeconds":1},"terminationMessagePath":"/dev/termination-log","terminationMessagePolicy":"File"}],"dnsPolicy":"ClusterFirst","restartPolicy":"Always","schedulerName":"default-scheduler","securityContext":{},"terminationGracePeriodSeconds":30}}""", "5657fc867b" },
        { "d-env-volumes", """{"metadata":{"creationTimestamp":null,"labels":{"app":"d3"}},"spec":{"containers":[{"env":[{"name":"A","value":"x"},{"name":"POD","valueFrom":{"fieldRef":{"apiVersion":"v1","fieldPath":"metadata.name"}}},{"name":"MEM","valueFrom":{"resourceFieldRef":{"divisor":"1Mi","resource":"limits.memory"}}},{"name":"S","valueFrom":{"secretKeyRef":{"key":"k","name":"s","optional":true}}}],"envFrom":[{"configMapRef":{"name":"cm"},"prefix":"CM_"}],"image":"nginx","imagePullPolicy":"Always","name":"c","resources":{},"terminationMessagePath":"/dev/termination-log","terminationMessagePolicy":"File","volumeMounts":[{"mountPath":"/data","name":"data"},{"mountPath":"/cfg","name":"cfg","readOnly":true}]}],"dnsPolicy":"ClusterFirst","initContainers":[{"command":["sh","-c","true"],"image":"busybox","imagePullPolicy":"Always","name":"init","resources":{},"terminationMessagePath":"/dev/termination-log","terminationMessagePolicy":"File"}],"restartPolicy":"Always","schedulerName":"default-scheduler","securityContext":{},"terminationGracePeriodSeconds":30,"volumes":[{"emptyDir":{"medium":"Memory","sizeLimit":"500Mi"},"name":"data"},{"configMap":{"defaultMode":420,"items":[{"key":"a","mode":256,"path":"a.txt"}],"name":"cm"},"name":"cfg"},{"name":"sec","secret":{"defaultMode":420,"secretName":"s"}},{"name":"proj","projected":{"defaultMode":420,"sources":[{"serviceAccountToken":{"expirationSeconds":3600,"path":"token"}},{"downwardAPI":{"items":[{"fieldRef":{"apiVersion":"v1","fieldPath":"metadata.labels"},"path":"labels"}]}}]}},{"hostPath":{"path":"/var/log","type":"Directory"},"name":"hp"}]}}""", "579c66558c" },
        { "d-sched", """{"metadata":{"creationTimestamp":null,"labels":{"app":"d4"}},"spec":{"affinity":{"nodeAffinity":{"preferredDuringSchedulingIgnoredDuringExecution":[{"preference":{"matchExpressions":[{"key":"zone","operator":"Exists"}]},"weight":10}],"requiredDuringSchedulingIgnoredDuringExecution":{"nodeSelectorTerms":[{"matchExpressions":[{"key":"kubernetes.io/os","operator":"In","values":["linux"]}]}]}},"podAntiAffinity":{"preferredDuringSchedulingIgnoredDuringExecution":[{"podAffinityTerm":{"labelSelector":{"matchLabels":{"app":"d4"}},"topologyKey":"kubernetes.io/hostname"},"weight":100}]}},"containers":[{"image":"nginx","imagePullPolicy":"Always","name":"c","resources":{},"terminationMessagePath":"/dev/termination-log","terminationMessagePolicy":"File"}],"dnsPolicy":"ClusterFirst","nodeSelector":{"disk":"ssd","zone":"a"},"restartPolicy":"Always","schedulerName":"default-scheduler","securityContext":{},"terminationGracePeriodSeconds":30,"tolerations":[{"effect":"NoSchedule","key":"dedicated","operator":"Equal","value":"gpu"},{"effect":"NoExecute","operator":"Exists","tolerationSeconds":300}],"topologySpreadConstraints":[{"labelSelector":{"matchLabels":{"app":"d4"}},"maxSkew":1,"topologyKey":"zone","whenUnsatisfiable":"ScheduleAnyway"}]}}""", "7f6944ccd8" },
        { "d-security", """{"metadata":{"creationTimestamp":null,"labels":{"app":"d5"}},"spec":{"automountServiceAccountToken":false,"containers":[{"image":"nginx","imagePullPolicy":"Always","name":"c","resources":{},"securityContext":{"allowPrivilegeEscalation":false,"capabilities":{"add":["NET_BIND_SERVICE"],"drop":["ALL"]},"privileged":false,"readOnlyRootFilesystem":true},"stdin":true,"terminationMessagePath":"/dev/termination-log","terminationMessagePolicy":"File","tty":true,"workingDir":"/w"}],"dnsConfig":{"nameservers":["1.1.1.1"],"options":[{"name":"ndots","value":"2"}]},"dnsPolicy":"ClusterFirst","enableServiceLinks":false,"hostAliases":[{"hostnames":["a","b"],"ip":"10.0.0.1"}],"restartPolicy":"Always","schedulerName":"default-scheduler","securityContext":{"fsGroup":2000,"runAsGroup":3000,"runAsNonRoot":true,"runAsUser":1000,"seccompProfile":{"type":"RuntimeDefault"},"supplementalGroups":[4,5],"sysctls":[{"name":"net.core.somaxconn","value":"1024"}]},"terminationGracePeriodSeconds":30}}""", "cdd8cb894" },
        { "d-quantities", """{"metadata":{"creationTimestamp":null,"labels":{"app":"d6"}},"spec":{"containers":[{"image":"nginx","imagePullPolicy":"Always","name":"c","resources":{"limits":{"cpu":"1500m","hugepages-2Mi":"64Mi","memory":"1536Mi","nvidia.com/gpu":"2"},"requests":{"cpu":"500m","hugepages-2Mi":"64Mi","memory":"1G","nvidia.com/gpu":"2"}},"terminationMessagePath":"/dev/termination-log","terminationMessagePolicy":"File"}],"dnsPolicy":"ClusterFirst","restartPolicy":"Always","schedulerName":"default-scheduler","securityContext":{},"terminationGracePeriodSeconds":30}}""", "786bb7574f" },
        { "ds1", """{"metadata":{"creationTimestamp":null,"labels":{"app":"ds1"}},"spec":{"containers":[{"image":"nginx","imagePullPolicy":"Always","name":"c","ports":[{"containerPort":80,"hostPort":8080,"protocol":"TCP"}],"resources":{"requests":{"cpu":"100m"}},"terminationMessagePath":"/dev/termination-log","terminationMessagePolicy":"File"}],"dnsPolicy":"ClusterFirst","restartPolicy":"Always","schedulerName":"default-scheduler","securityContext":{},"terminationGracePeriodSeconds":30,"tolerations":[{"operator":"Exists"}]}}""", "56d5c4bf" },
        { "ds2", """{"metadata":{"creationTimestamp":null,"labels":{"app":"ds2"}},"spec":{"containers":[{"args":["sleep","3600"],"env":[{"name":"X","value":"1"}],"image":"busybox","imagePullPolicy":"Always","name":"c","resources":{},"terminationMessagePath":"/dev/termination-log","terminationMessagePolicy":"File"}],"dnsPolicy":"ClusterFirst","restartPolicy":"Always","schedulerName":"default-scheduler","securityContext":{},"terminationGracePeriodSeconds":30}}""", "c9c8b76f" },
    };

    [Theory]
    [MemberData(nameof(UpstreamHashes))]
    public void ComputeHash_TemplateAsStored_EqualsUpstreamsHash(string name, string template, string upstream)
    {
        var spec = KubeJson.Deserialize<PodTemplateSpec>(Encoding.UTF8.GetBytes(template))!;

        Assert.True(upstream == PodTemplateHash.TryCompute(spec, null), $"{name}: {PodTemplateHash.Dump(spec)}");
        Assert.Equal(upstream, PodTemplates.ComputeHash(spec, null));
    }

    [Fact]
    public void ComputeHash_CollisionCount_ChangesTheHash()
    {
        var spec = new PodTemplateSpec { Spec = new() { Containers = [new() { Name = "c", Image = "nginx" }] } };

        Assert.NotEqual(PodTemplateHash.TryCompute(spec, null), PodTemplateHash.TryCompute(spec, 1));
        Assert.NotEqual(PodTemplateHash.TryCompute(spec, 1), PodTemplateHash.TryCompute(spec, 2));
    }

    [Fact]
    public void ComputeHash_NonZeroTimestamp_FallsBackToAStableHash()
    {
        var spec = new PodTemplateSpec { Metadata = new() { CreationTimestamp = DateTimeOffset.UnixEpoch.AddDays(1) }, Spec = new() { Containers = [new() { Name = "c", Image = "nginx" }] } };

        Assert.Null(PodTemplateHash.TryCompute(spec, null));
        Assert.Equal(PodTemplates.ComputeHash(spec, null), PodTemplates.ComputeHash(spec, null));
    }

    // ParseQuantity's state for the strings a server stores (canonical forms): the cached string survives only when
    // the input is canonical in ParseQuantity's own sense (128Mi is not: its mantissa is a multiple of 8).
    [Theory]
    [InlineData("0", 0L, 0, "0", "DecimalSI")]
    [InlineData("500m", 500L, -3, "500m", "DecimalSI")]
    [InlineData("2", 2L, 0, "2", "DecimalSI")]
    [InlineData("1G", 1L, 9, "1G", "DecimalSI")]
    [InlineData("1000", 1000L, 0, "", "DecimalSI")]
    [InlineData("0.5", 5L, -1, "", "DecimalSI")]
    [InlineData("128Mi", 134217728L, 0, "", "BinarySI")]
    [InlineData("1Gi", 1073741824L, 0, "1Gi", "BinarySI")]
    [InlineData("1e3", 1L, 3, "1e3", "DecimalExponent")]
    [InlineData("-1500m", -1500L, -3, "-1500m", "DecimalSI")]
    public void Parse_CanonicalStrings_GoState(string text, long value, int scale, string cached, string format)
    {
        Assert.Equal(new GoQuantity(value, scale, cached, format), GoQuantity.Parse(text));
    }

    [Fact]
    public void Parse_BeyondInt64_IsUnsupported()
    {
        Assert.Throws<NotSupportedException>(() => GoQuantity.Parse("100000000000000000000"));
        Assert.Throws<NotSupportedException>(() => GoQuantity.Parse("1.5Gi"));
    }
}

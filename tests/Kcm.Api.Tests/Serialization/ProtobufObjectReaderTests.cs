using System.Text;
using System.Text.Json;
using Kcm.Api.Apps.V1;
using Kcm.Api.Batch.V1;
using Kcm.Api.Coordination.V1;
using Kcm.Api.Core.V1;
using Kcm.Api.Discovery.V1;
using Kcm.Api.Protobuf;

namespace Kcm.Api.Tests.Serialization;

/// <summary>Reading protobuf straight into the types gives exactly what transcoding to JSON and deserializing gives.</summary>
public sealed class ProtobufObjectReaderTests
{
    private const string ManagedFields = """
        "managedFields":[{"manager":"kube-controller-manager","operation":"Update","apiVersion":"v1","time":"2026-01-02T03:04:05Z",
          "fieldsType":"FieldsV1","fieldsV1":{"f:metadata":{"f:labels":{".":{},"f:app":{}}},"f:spec":{"f:replicas":{}}}},
          {"manager":"kubectl","operation":"Apply","apiVersion":"v1","time":"2026-01-02T03:04:06Z","fieldsType":"FieldsV1","fieldsV1":{}}]
        """;

    private const string PodJson = """
        {"apiVersion":"v1","kind":"Pod","metadata":{"name":"web-7d4b9-x2x9z","generateName":"web-7d4b9-","namespace":"ns","uid":"7b3c1a52-0000-4000-8000-000000000001",
          "resourceVersion":"1234","creationTimestamp":"2026-01-02T03:04:05Z","labels":{"app":"web","pod-template-hash":"7d4b9"},
          "annotations":{"a":"","b":"x"},"finalizers":["f1"],
          "ownerReferences":[{"apiVersion":"apps/v1","kind":"ReplicaSet","name":"web-7d4b9","uid":"u-1","controller":true,"blockOwnerDeletion":true}],
          MANAGED},
         "spec":{"volumes":[{"name":"data","emptyDir":{"sizeLimit":"1Gi"}},{"name":"cm","configMap":{"name":"c","defaultMode":420,"items":[{"key":"k","path":"p"}]}},
             {"name":"token","projected":{"sources":[{"serviceAccountToken":{"expirationSeconds":3607,"path":"token"}}],"defaultMode":420}}],
           "containers":[{"name":"app","image":"nginx:1.25","command":["sh","-c","exit 0"],"ports":[{"name":"http","containerPort":80,"protocol":"TCP"}],
             "env":[{"name":"E","value":""},{"name":"N","valueFrom":{"fieldRef":{"apiVersion":"v1","fieldPath":"metadata.name"}}}],
             "resources":{"limits":{"cpu":"1500m","memory":"1Gi"},"requests":{"cpu":"100m","memory":"512Mi","ephemeral-storage":"1k"}},
             "volumeMounts":[{"name":"data","mountPath":"/data","readOnly":true}],
             "livenessProbe":{"httpGet":{"path":"/healthz","port":"http","scheme":"HTTP"},"timeoutSeconds":1,"periodSeconds":10,"successThreshold":1,"failureThreshold":3},
             "readinessProbe":{"tcpSocket":{"port":8080},"timeoutSeconds":1,"periodSeconds":10,"successThreshold":1,"failureThreshold":3},
             "terminationMessagePath":"/dev/termination-log","terminationMessagePolicy":"File","imagePullPolicy":"IfNotPresent"}],
           "restartPolicy":"Always","terminationGracePeriodSeconds":30,"dnsPolicy":"ClusterFirst","serviceAccountName":"default","serviceAccount":"default",
           "nodeName":"node-1","securityContext":{},"schedulerName":"default-scheduler",
           "tolerations":[{"key":"node.kubernetes.io/not-ready","operator":"Exists","effect":"NoExecute","tolerationSeconds":300}],
           "affinity":{"nodeAffinity":{"requiredDuringSchedulingIgnoredDuringExecution":{"nodeSelectorTerms":[{"matchFields":[{"key":"metadata.name","operator":"In","values":["node-1"]}]}]}}},
           "priority":0,"enableServiceLinks":true,"preemptionPolicy":"PreemptLowerPriority"},
         "status":{"phase":"Running","conditions":[{"type":"Ready","status":"True","lastProbeTime":null,"lastTransitionTime":"2026-01-02T03:04:09Z"}],
           "hostIP":"10.0.0.1","podIP":"10.1.0.5","podIPs":[{"ip":"10.1.0.5"}],"startTime":"2026-01-02T03:04:05Z","qosClass":"Burstable",
           "containerStatuses":[{"name":"app","state":{"running":{"startedAt":"2026-01-02T03:04:08Z"}},"lastState":{},"ready":true,"restartCount":0,
             "image":"nginx:1.25","imageID":"","containerID":"containerd://abc","started":true}]}}
        """;

    private const string DeploymentJson = """
        {"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"web","namespace":"ns","generation":3,"annotations":{"deployment.kubernetes.io/revision":"2"},MANAGED},
         "spec":{"replicas":0,"selector":{"matchLabels":{"app":"web"},"matchExpressions":[{"key":"tier","operator":"In","values":["a","b"]}]},
           "template":{"metadata":{"creationTimestamp":null,"labels":{"app":"web"}},"spec":{"containers":[{"name":"app","image":"nginx","resources":{}}]}},
           "strategy":{"type":"RollingUpdate","rollingUpdate":{"maxUnavailable":"25%","maxSurge":1}},"revisionHistoryLimit":10,"progressDeadlineSeconds":600},
         "status":{"observedGeneration":3,"replicas":10,"updatedReplicas":10,"readyReplicas":9,"availableReplicas":9,"unavailableReplicas":1,
           "conditions":[{"type":"Available","status":"True","lastUpdateTime":"2026-01-02T03:04:05Z","lastTransitionTime":"2026-01-02T03:04:05Z","reason":"MinimumReplicasAvailable","message":"ok"}]}}
        """;

    private const string LeaseJson = """
        {"apiVersion":"coordination.k8s.io/v1","kind":"Lease","metadata":{"name":"kube-controller-manager","namespace":"kube-system"},
         "spec":{"holderIdentity":"host_1","leaseDurationSeconds":15,"acquireTime":"2026-01-02T03:04:05.123456Z","renewTime":"2026-01-02T03:04:06.000001Z","leaseTransitions":2}}
        """;

    private const string EventJson = """
        {"apiVersion":"v1","kind":"Event","metadata":{"name":"web.1","namespace":"ns"},
         "involvedObject":{"kind":"Deployment","namespace":"ns","name":"web","uid":"u","apiVersion":"apps/v1","resourceVersion":"5"},
         "reason":"ScalingReplicaSet","message":"Scaled up","source":{"component":"deployment-controller"},"firstTimestamp":"2026-01-02T03:04:05Z",
         "lastTimestamp":"2026-01-02T03:04:05Z","count":1,"type":"Normal","eventTime":null,"reportingComponent":"","reportingInstance":""}
        """;

    private const string SecretJson = """
        {"apiVersion":"v1","kind":"Secret","metadata":{"name":"s","namespace":"ns"},"data":{"a":"aGVsbG8=","empty":""},"type":"Opaque","immutable":false}
        """;

    private const string ControllerRevisionJson = """
        {"apiVersion":"apps/v1","kind":"ControllerRevision","metadata":{"name":"ds-1","namespace":"ns"},
         "data":{"spec":{"template":{"$patch":"replace","spec":{"containers":[{"name":"c","image":"i"}]}}}},"revision":2}
        """;

    private const string NodeJson = """
        {"apiVersion":"v1","kind":"Node","metadata":{"name":"node-1","labels":{"kubernetes.io/hostname":"node-1"}},
         "spec":{"podCIDR":"10.1.0.0/24","podCIDRs":["10.1.0.0/24"],"taints":[{"key":"node.kubernetes.io/unreachable","effect":"NoExecute","timeAdded":"2026-01-02T03:04:05Z"}]},
         "status":{"capacity":{"cpu":"4","memory":"16Gi","pods":"110"},"allocatable":{"cpu":"3800m","memory":"15Gi","pods":"110"},
           "conditions":[{"type":"Ready","status":"Unknown","lastHeartbeatTime":"2026-01-02T03:04:05Z","lastTransitionTime":"2026-01-02T03:04:45Z","reason":"NodeStatusUnknown","message":"Kubelet stopped posting node status."}],
           "addresses":[{"type":"InternalIP","address":"10.0.0.1"}],"daemonEndpoints":{"kubeletEndpoint":{"Port":10250}},
           "nodeInfo":{"machineID":"","systemUUID":"","bootID":"","kernelVersion":"6.1","osImage":"Debian","containerRuntimeVersion":"containerd://1.7","kubeletVersion":"v1.26.3","kubeProxyVersion":"v1.26.3","operatingSystem":"linux","architecture":"amd64"},
           "images":[{"names":["nginx:1.25"],"sizeBytes":67000000}]}}
        """;

    private const string EndpointSliceJson = """
        {"apiVersion":"discovery.k8s.io/v1","kind":"EndpointSlice","metadata":{"name":"svc-abcde","namespace":"ns","labels":{"kubernetes.io/service-name":"svc"}},
         "addressType":"IPv4","endpoints":[{"addresses":["10.1.0.5"],"conditions":{"ready":true,"serving":true,"terminating":false},"nodeName":"node-1","zone":"z1",
           "targetRef":{"kind":"Pod","namespace":"ns","name":"p","uid":"u"}}],"ports":[{"name":"http","protocol":"TCP","port":80}]}
        """;

    private const string JobJson = """
        {"apiVersion":"batch/v1","kind":"Job","metadata":{"name":"j","namespace":"ns"},
         "spec":{"parallelism":5,"completions":10,"backoffLimit":6,"completionMode":"NonIndexed","suspend":false,
           "podFailurePolicy":{"rules":[{"action":"FailJob","onExitCodes":{"operator":"In","values":[1,42]}}]},
           "selector":{"matchLabels":{"controller-uid":"u"}},"template":{"metadata":{"creationTimestamp":null},"spec":{"containers":[{"name":"c","image":"busybox"}],"restartPolicy":"Never"}}},
         "status":{"startTime":"2026-01-02T03:04:05Z","active":5,"succeeded":3,"uncountedTerminatedPods":{"succeeded":["u1","u2"]},"ready":4}}
        """;

    private const string PodListJson = """
        {"apiVersion":"v1","kind":"PodList","metadata":{"resourceVersion":"99","continue":"abc","remainingItemCount":5},
         "items":[{"metadata":{"name":"a","namespace":"ns"},"spec":{"containers":[{"name":"c","image":"i"}]}},{"metadata":{"name":"b","namespace":"ns"},"status":{"phase":"Pending"}}]}
        """;

    public static TheoryData<string, Type> Objects => new()
    {
        { "Pod", typeof(Pod) },
        { "Deployment", typeof(Deployment) },
        { "Lease", typeof(Lease) },
        { "Event", typeof(Kcm.Api.Core.V1.Event) },
        { "Secret", typeof(Secret) },
        { "ControllerRevision", typeof(ControllerRevision) },
        { "Node", typeof(Kcm.Api.Core.V1.Node) },
        { "EndpointSlice", typeof(EndpointSlice) },
        { "Job", typeof(Job) },
        { "PodList", typeof(PodList) },
    };

    private static string Json(string name) => (name switch
    {
        "Pod" => PodJson,
        "Deployment" => DeploymentJson,
        "Lease" => LeaseJson,
        "Event" => EventJson,
        "Secret" => SecretJson,
        "ControllerRevision" => ControllerRevisionJson,
        "Node" => NodeJson,
        "EndpointSlice" => EndpointSliceJson,
        "Job" => JobJson,
        _ => PodListJson,
    }).Replace("MANAGED", ManagedFields, StringComparison.Ordinal);

    private static byte[] Protobuf(string json)
        => ProtobufEncoder.TryEncode(Encoding.UTF8.GetBytes(json)) ?? throw new InvalidOperationException("the sample has a field without a protobuf number");

    private static string Canonical(object? value, Type type) => JsonSerializer.Serialize(value, KubeJson.TypeInfo(type));

    [Theory]
    [MemberData(nameof(Objects))]
    public void TryRead_BuiltInObject_SameAsTranscodedJson(string name, Type type)
    {
        var proto = Protobuf(Json(name));
        var viaJson = JsonSerializer.Deserialize(ProtobufTranscoder.ToJson(proto), KubeJson.TypeInfo(type));

        Assert.True(ProtobufObjectReader.TryRead(proto, KubeJson.TypeInfo(type), omitManagedFields: false, out var direct));

        Assert.IsType(type, direct);
        Assert.Equal(Canonical(viaJson, type), Canonical(direct, type));
    }

    [Fact]
    public void TryRead_OmitManagedFields_SameObjectWithoutThem()
    {
        var proto = Protobuf(Json("Pod"));
        var expected = KubeJson.Deserialize<Pod>(ProtobufTranscoder.ToJson(proto))!;
        expected.Metadata!.ManagedFields = null;

        Assert.True(ProtobufObjectReader.TryRead(proto, KubeJson.TypeInfo<Pod>(), omitManagedFields: true, out var direct));

        Assert.Null(((Pod)direct!).Metadata!.ManagedFields);
        Assert.Equal(Canonical(expected, typeof(Pod)), Canonical(direct, typeof(Pod)));
    }

    [Fact]
    public void TryRead_OtherKindThanTheType_DeclinesSoJsonDecides()
    {
        // A Status where a Pod was expected: its "status" is a string, the Pod's an object.
        var proto = Protobuf("""{"apiVersion":"v1","kind":"Status","metadata":{},"status":"Failure","message":"m","reason":"NotFound","code":404}""");

        Assert.False(ProtobufObjectReader.TryRead(proto, KubeJson.TypeInfo<Pod>(), omitManagedFields: false, out _));
    }

    [Theory]
    [InlineData(new byte[] { (byte)'{', (byte)'}' })]
    [InlineData(new byte[] { (byte)'k', (byte)'8', (byte)'s', 0, 0x12, 0x05, 1 })]
    public void TryRead_NotProtobufOrTruncated_Declines(byte[] body)
    {
        Assert.False(ProtobufObjectReader.TryRead(body, KubeJson.TypeInfo<Pod>(), omitManagedFields: false, out _));
    }

    private static string ViaTranscoder(byte[] proto, Type type)
        => Canonical(JsonSerializer.Deserialize(ProtobufTranscoder.ToJson(proto), KubeJson.TypeInfo(type)), type);

    [Theory]
    [MemberData(nameof(Objects))]
    public void TryWrite_BuiltInObject_SameAsEncodedJson(string name, Type type)
    {
        var typed = JsonSerializer.Deserialize(Json(name), KubeJson.TypeInfo(type))!;
        var typeMeta = System.Text.Json.Nodes.JsonNode.Parse(Json(name))!;
        var viaJson = ProtobufEncoder.TryEncode(JsonSerializer.SerializeToUtf8Bytes(typed, KubeJson.TypeInfo(type)))!;

        var direct = ProtobufObjectWriter.TryWrite(typed, (string)typeMeta["apiVersion"]!, (string)typeMeta["kind"]!);

        Assert.NotNull(direct);
        Assert.Equal(ViaTranscoder(viaJson, type), ViaTranscoder(direct, type));
    }

    [Fact]
    public void TryWrite_UnknownFieldKept_DeclinesSoTheJsonGoes()
    {
        var pod = KubeJson.Deserialize<Pod>(Encoding.UTF8.GetBytes("""{"apiVersion":"v1","kind":"Pod","metadata":{"name":"p"},"spec":{"futureField":1}}"""))!;

        Assert.Null(ProtobufObjectWriter.TryWrite(pod, "v1", "Pod"));
    }

    [Fact]
    public void TryWrite_TimesAtTheirJsonPrecisionZeroTimeLeftOut()
    {
        var lease = new Lease
        {
            Metadata = new() { Name = "l", CreationTimestamp = default(DateTimeOffset), DeletionTimestamp = new DateTimeOffset(2026, 1, 2, 3, 4, 5, 678, TimeSpan.Zero) },
            Spec = new() { RenewTime = new DateTimeOffset(2026, 1, 2, 3, 4, 5, TimeSpan.Zero).AddTicks(1234567) },
        };

        var back = KubeJson.Deserialize<Lease>(ProtobufTranscoder.ToJson(ProtobufObjectWriter.TryWrite(lease, "coordination.k8s.io/v1", "Lease")!))!;

        Assert.Null(back.Metadata!.CreationTimestamp);
        Assert.Equal(new DateTimeOffset(2026, 1, 2, 3, 4, 5, TimeSpan.Zero), back.Metadata.DeletionTimestamp);
        Assert.Equal(new DateTimeOffset(2026, 1, 2, 3, 4, 5, TimeSpan.Zero).AddTicks(1234560), back.Spec!.RenewTime);
    }
}

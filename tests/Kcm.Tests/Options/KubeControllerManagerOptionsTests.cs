using System.Net;
using Kcm.Options;

namespace Kcm.Tests.Options;

public class KubeControllerManagerOptionsTests
{
    private static KubeControllerManagerOptions Parse(params string[] args) => KubeControllerManagerOptions.Parse(args);

    [Fact]
    public void Parse_NoFlags_UpstreamDefaults()
    {
        var o = Parse();
        Assert.Equal(["*"], o.Generic.Controllers);
        Assert.Equal(TimeSpan.FromHours(12), o.Generic.MinResyncPeriod);
        Assert.Equal(20f, o.Generic.ClientConnection.Qps);
        Assert.Equal(30, o.Generic.ClientConnection.Burst);
        Assert.Equal("application/vnd.kubernetes.protobuf", o.Generic.ClientConnection.ContentType);
        var le = o.Generic.LeaderElection;
        Assert.True(le.LeaderElect);
        Assert.Equal(TimeSpan.FromSeconds(15), le.LeaseDuration);
        Assert.Equal(TimeSpan.FromSeconds(10), le.RenewDeadline);
        Assert.Equal(TimeSpan.FromSeconds(2), le.RetryPeriod);
        Assert.Equal("leases", le.ResourceLock);
        Assert.Equal("kube-controller-manager", le.ResourceName);
        Assert.Equal("kube-system", le.ResourceNamespace);
        Assert.True(o.Generic.Profiling);
        Assert.False(o.Generic.ContentionProfiling);
        Assert.Equal(10257, o.SecureServing.SecurePort);
        Assert.Equal(IPAddress.Any, o.SecureServing.BindAddress);
        Assert.Equal(["x-remote-user"], o.Authentication.RequestHeaderUsernameHeaders);
        Assert.Equal(["x-remote-group"], o.Authentication.RequestHeaderGroupHeaders);
        Assert.Equal(["x-remote-extra-"], o.Authentication.RequestHeaderExtraHeaderPrefixes);
        Assert.Equal(TimeSpan.FromSeconds(10), o.Authentication.TokenWebhookCacheTtl);
        Assert.Equal(["/healthz", "/readyz", "/livez"], o.Authorization.AlwaysAllowPaths);
        Assert.Equal(TimeSpan.FromSeconds(10), o.Authorization.AllowCacheTtl);
        Assert.Equal(TimeSpan.FromSeconds(10), o.Authorization.DenyCacheTtl);
        Assert.Equal(TimeSpan.FromHours(8760), o.CsrSigningController.ClusterSigningDuration);
        Assert.Equal(5, o.DeploymentController.ConcurrentDeploymentSyncs);
        Assert.Equal(5, o.ReplicaSetController.ConcurrentReplicaSetSyncs);
        Assert.Equal(5, o.ReplicationController.ConcurrentRcSyncs);
        Assert.Equal(20, o.GarbageCollectorController.ConcurrentGcSyncs);
        Assert.Equal(10, o.NamespaceController.ConcurrentNamespaceSyncs);
        Assert.Equal(1, o.ServiceController.ConcurrentServiceSyncs);
        Assert.Equal(5, o.ServiceAccountController.ConcurrentSaTokenSyncs);
        Assert.Equal(2, o.DaemonSetController.ConcurrentDaemonSetSyncs);
        Assert.Equal(5, o.EndpointController.ConcurrentEndpointSyncs);
        Assert.Equal(12500, o.PodGcController.TerminatedPodGcThreshold);
        Assert.Equal("kubernetes", o.KubeCloudShared.ClusterName);
        Assert.Equal(TimeSpan.FromSeconds(5), o.KubeCloudShared.NodeMonitorPeriod);
        Assert.Equal(TimeSpan.FromSeconds(40), o.NodeLifecycleController.NodeMonitorGracePeriod);
        Assert.Equal(TimeSpan.FromMinutes(5), o.NodeLifecycleController.PodEvictionTimeout);
        Assert.Equal(TimeSpan.FromSeconds(15), o.HpaController.SyncPeriod);
        Assert.Equal(0.1, o.HpaController.Tolerance);
        Assert.Equal(TimeSpan.FromMinutes(5), o.HpaController.DownscaleStabilizationWindow);
        Assert.Equal(0, o.Logs.Verbosity);
        Assert.Empty(o.Warnings);
        Assert.Empty(o.Validate());
    }

    [Theory]
    [InlineData("*,bootstrapsigner,tokencleaner", "bootstrapsigner", true)]
    [InlineData("*,bootstrapsigner,tokencleaner", "garbagecollector", true)]
    [InlineData("*", "bootstrapsigner", false)]
    [InlineData("*", "tokencleaner", false)]
    [InlineData("*", "deployment", true)]
    [InlineData("*,-garbagecollector", "garbagecollector", false)]
    [InlineData("*,-garbagecollector", "namespace", true)]
    [InlineData("-garbagecollector,*", "garbagecollector", false)]
    [InlineData("garbagecollector,-garbagecollector", "garbagecollector", true)]
    [InlineData("deployment,replicaset", "deployment", true)]
    [InlineData("deployment,replicaset", "garbagecollector", false)]
    [InlineData("tokencleaner", "tokencleaner", true)]
    public void IsControllerEnabled_Selection_FollowsUpstreamRules(string controllers, string name, bool enabled)
    {
        var o = Parse($"--controllers={controllers}");
        Assert.Empty(o.Validate(checkFiles: false));
        Assert.Equal(enabled, o.IsControllerEnabled(name));
    }

    [Fact]
    public void Controllers_RepeatedFlag_Appends()
    {
        var o = Parse("--controllers=deployment", "--controllers", "replicaset");
        Assert.Equal(["deployment", "replicaset"], o.Generic.Controllers);
        Assert.Equal(["deployment", "replicaset"], o.EnabledControllers);
    }

    [Fact]
    public void Validate_UnknownController_NamesItAndTheKnownList()
    {
        var errors = Parse("--controllers=*,foo,-bar").Validate(checkFiles: false);
        Assert.Equal(2, errors.Count);
        Assert.StartsWith("\"foo\" is not in the list of known controllers (known: attachdetach, bootstrapsigner, ", errors[0], StringComparison.Ordinal);
        Assert.StartsWith("\"bar\" is not in the list of known controllers", errors[1], StringComparison.Ordinal);
    }

    [Fact]
    public void KnownControllers_MatchV126()
    {
        Assert.Equal(38, KnownControllers.All.Count);
        Assert.Contains("serviceaccount-token", KnownControllers.Names);
        Assert.Equal(["bootstrapsigner", "tokencleaner"], KnownControllers.DisabledByDefault);
        Assert.Contains("ephemeral-volume", KnownControllers.Names);
        Assert.Contains("root-ca-cert-publisher", KnownControllers.Names);
        Assert.DoesNotContain("resource-claim-controller", KnownControllers.Names);
    }

    [Theory]
    [InlineData("--leader-electt", "unknown flag: --leader-electt (did you mean --leader-elect?)")]
    [InlineData("--concurent-gc-syncs=3", "unknown flag: --concurent-gc-syncs (did you mean --concurrent-gc-syncs?)")]
    [InlineData("--config=/etc/kcm.yaml", "unknown flag: --config")]
    [InlineData("--secure-port=https", "invalid argument \"https\" for \"--secure-port\" flag: strconv.ParseInt: parsing \"https\": invalid syntax")]
    [InlineData("--concurrent-gc-syncs=99999999999", "invalid argument \"99999999999\" for \"--concurrent-gc-syncs\" flag: strconv.ParseInt: parsing \"99999999999\": value out of range")]
    [InlineData("--leader-elect=yes", "invalid argument \"yes\" for \"--leader-elect\" flag: strconv.ParseBool: parsing \"yes\": invalid syntax")]
    [InlineData("--leader-elect-lease-duration=15", "invalid argument \"15\" for \"--leader-elect-lease-duration\" flag: time: missing unit in duration \"15\"")]
    [InlineData("--kube-api-qps=fast", "invalid argument \"fast\" for \"--kube-api-qps\" flag: strconv.ParseFloat: parsing \"fast\": invalid syntax")]
    [InlineData("--bind-address=localhost", "invalid argument \"localhost\" for \"--bind-address\" flag: failed to parse IP: \"localhost\"")]
    [InlineData("--feature-gates=NoSuchGate=true", "invalid argument \"NoSuchGate=true\" for \"--feature-gates\" flag: unrecognized feature gate: NoSuchGate")]
    [InlineData("--feature-gates=RotateKubeletServerCertificate", "invalid argument \"RotateKubeletServerCertificate\" for \"--feature-gates\" flag: missing bool value for RotateKubeletServerCertificate")]
    [InlineData("--feature-gates=CPUManager=false", "invalid argument \"CPUManager=false\" for \"--feature-gates\" flag: cannot set feature gate CPUManager to false, feature is locked to true")]
    [InlineData("--v=high", "invalid argument \"high\" for \"-v, --v\" flag: strconv.ParseInt: parsing \"high\": invalid syntax")]
    [InlineData("--vmodule=gc", "invalid argument \"gc\" for \"--vmodule\" flag: syntax error: expect comma-separated list of filename=N")]
    [InlineData("--kubeconfig", "flag needs an argument: --kubeconfig")]
    [InlineData("-x", "unknown shorthand flag: 'x' in -x")]
    [InlineData("extra", "\"kube-controller-manager\" does not take any arguments, got [extra]")]
    public void Parse_BadValue_OneLineError(string arg, string message)
    {
        var e = Assert.Throws<FlagException>(() => Parse(arg));
        Assert.Equal(message, e.Message);
        Assert.DoesNotContain('\n', e.Message);
    }

    [Theory]
    [InlineData("--service-cluster-ip-range=10.254.0.0/33", "invalid --service-cluster-ip-range \"10.254.0.0/33\": invalid CIDR address: 10.254.0.0/33")]
    [InlineData("--service-cluster-ip-range=10.0.0.0/16,fd00::/108,10.1.0.0/16", "--service-cluster-ip-range can not contain more than two entries")]
    [InlineData("--cluster-cidr=not-a-cidr", "invalid --cluster-cidr \"not-a-cidr\": invalid CIDR address: not-a-cidr")]
    [InlineData("--allocate-node-cidrs", "--cluster-cidr is required when --allocate-node-cidrs is true")]
    [InlineData("--leader-elect-renew-deadline=20s", "--leader-elect-lease-duration (15s) must be greater than --leader-elect-renew-deadline (20s)")]
    [InlineData("--leader-elect-resource-lock=endpoints", "--leader-elect-resource-lock: unsupported value \"endpoints\": supported values: \"leases\", \"endpointsleases\", \"configmapsleases\"")]
    [InlineData("--cluster-signing-cert-file=/tmp/ca.pem", "--cluster-signing-cert-file is set but --cluster-signing-key-file is not; give both or neither")]
    [InlineData("--cluster-signing-kubelet-serving-key-file=/tmp/k.pem", "--cluster-signing-kubelet-serving-key-file is set but --cluster-signing-kubelet-serving-cert-file is not; give both or neither")]
    [InlineData("--tls-cert-file=/tmp/c.pem", "--tls-cert-file and --tls-private-key-file must be given together")]
    [InlineData("--secure-port=70000", "--secure-port 70000 must be between 0 and 65535, inclusive. 0 for turning off secure port")]
    [InlineData("--tls-min-version=TLS12", "--tls-min-version: unknown tls version \"TLS12\" (known: VersionTLS10, VersionTLS11, VersionTLS12, VersionTLS13)")]
    [InlineData("--logging-format=xml", "--logging-format: Unsupported value: \"xml\": supported values: \"json\", \"text\"")]
    public void Validate_BadValue_OneLineError(string arg, string message)
    {
        var errors = Parse(arg).Validate(checkFiles: false);
        Assert.Contains(message, errors);
    }

    [Fact]
    public void Validate_LegacyAndPerSignerFilesTogether_Rejected()
    {
        var errors = Parse("--cluster-signing-cert-file=/a", "--cluster-signing-key-file=/b",
            "--cluster-signing-kubelet-client-cert-file=/c", "--cluster-signing-kubelet-client-key-file=/d").Validate(checkFiles: false);
        Assert.Equal(["cannot specify --cluster-signing-{cert,key}-file and other --cluster-signing-*-file flags at the same time"], errors);
    }

    [Fact]
    public void Validate_DualStackClusterCidr_Accepted()
    {
        var o = Parse("--allocate-node-cidrs", "--cluster-cidr=10.244.0.0/16,fd00:10:244::/56", "--service-cluster-ip-range=10.96.0.0/12,fd00:10:96::/112",
            "--node-cidr-mask-size-ipv4=24", "--node-cidr-mask-size-ipv6=64");
        Assert.Empty(o.Validate(checkFiles: false));
    }

    // Upstream's NewCIDRSet limits the bits between the masks only for IPv6.
    [Fact]
    public void Validate_Ipv4MoreThan16BitsBetweenMasks_Accepted()
        => Assert.Empty(Parse("--allocate-node-cidrs", "--cluster-cidr=10.0.0.0/8", "--node-cidr-mask-size=30").Validate(checkFiles: false));

    [Fact]
    public void Validate_Ipv6MoreThan16BitsBetweenMasks_Rejected()
        => Assert.Contains("--cluster-cidr fd00::/40: node mask size 64 leaves more than 2^16 node ranges (at most 16 bits between the prefix lengths)",
            Parse("--allocate-node-cidrs", "--cluster-cidr=fd00::/40").Validate(checkFiles: false));

    [Fact]
    public void Parse_ShorthandAndUnderscoreForms_Accepted()
    {
        Assert.Equal(4, Parse("-v=4").Logs.Verbosity);
        Assert.Equal(3, Parse("-v", "3").Logs.Verbosity);
        Assert.Equal(5, Parse("-v5").Logs.Verbosity);
        Assert.Equal(9, Parse("--concurrent-rc-syncs=9").ReplicationController.ConcurrentRcSyncs);
        Assert.Equal(8, Parse("--concurrent_rc_syncs=8").ReplicationController.ConcurrentRcSyncs);
        Assert.Equal([("gc*", 4), ("node", 2)], Parse("--vmodule=gc*=4,node=2").Logs.VModule);
    }

    [Fact]
    public void Parse_FeatureGates_MergeAndWarnForGa()
    {
        var o = Parse("--feature-gates=CronJobTimeZone=false,AllAlpha=true", "--feature-gates=ServerSideApply=true");
        Assert.False(o.FeatureGates.Enabled("CronJobTimeZone"));
        Assert.True(o.FeatureGates.Enabled("DynamicResourceAllocation"));
        Assert.True(o.FeatureGates.Enabled("ServerSideApply"));
        Assert.Equal(["Setting GA feature gate ServerSideApply=true. It will be removed in a future release."], o.Warnings);
    }

    [Fact]
    public void Parse_HelpAndVersion_AreReported()
    {
        Assert.True(Parse("--help").HelpRequested);
        Assert.True(Parse("-h").HelpRequested);
        Assert.Equal("true", Parse("--version").VersionRequested);
        Assert.Equal("raw", Parse("--version=raw").VersionRequested);
        Assert.Equal("", Parse().VersionRequested);
    }

    [Fact]
    public void Parse_ExperimentalSigningDuration_MapsToClusterSigningDuration()
    {
        var o = Parse("--experimental-cluster-signing-duration=87600h");
        Assert.Equal(TimeSpan.FromHours(87600), o.CsrSigningController.ClusterSigningDuration);
        Assert.True(o.Changed("experimental-cluster-signing-duration"));
    }

    [Fact]
    public void Usage_ListsUpstreamSectionsWithTypesAndDefaults()
    {
        var usage = KubeControllerManagerOptions.Usage();
        foreach (var section in new[]
                 {
                     "Debugging flags:", "Generic flags:", "Service controller flags:", "Secure serving flags:", "Authentication flags:",
                     "Authorization flags:", "Csrsigning controller flags:", "Garbagecollector controller flags:", "Nodeipam controller flags:",
                     "Nodelifecycle controller flags:", "Podgc controller flags:", "Metrics flags:", "Logs flags:", "Misc flags:", "Global flags:",
                 })
            Assert.Contains("\n" + section + "\n", usage);
        Assert.Contains("--controllers strings", usage);
        Assert.Contains("(default [*])", usage);
        Assert.Contains("--leader-elect-lease-duration duration", usage);
        Assert.Contains("(default 15s)", usage);
        Assert.Contains("--cluster-signing-duration duration", usage);
        Assert.Contains("(default 8760h0m0s)", usage);
        Assert.Contains("--kube-api-qps float32", usage);
        Assert.Contains("--bind-address ip", usage);
        Assert.Contains("(default 0.0.0.0)", usage);
        Assert.Contains("(default \"kube-controller-manager\")", usage);
        Assert.Contains("--feature-gates mapStringBool", usage);
        Assert.Contains("  -v, --v Level", usage);
        Assert.Contains("  -h, --help", usage);
        Assert.Contains("--version version[=true]", usage);
        Assert.Contains("--concurrent-rc-syncs int32", usage);
        Assert.Contains("--secure-port int ", usage);
        Assert.Contains("Leader-migration flags:", usage);
        Assert.DoesNotContain("--enable-taint-manager", usage);
        Assert.DoesNotContain("--pod-eviction-timeout", usage);
        Assert.DoesNotContain("--experimental-cluster-signing-duration", usage);
        Assert.DoesNotContain("--logtostderr", usage);
        Assert.DoesNotContain("--port ", usage);
        Assert.DoesNotContain("Insecure serving flags:", usage);
        Assert.DoesNotContain("Deprecated flags:", usage);
    }
}

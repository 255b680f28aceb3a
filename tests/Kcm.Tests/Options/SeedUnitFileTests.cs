using System.Net;
using System.Text;
using Kcm.Options;

namespace Kcm.Tests.Options;

/// <summary>
/// The ExecStart flag blocks of the unit files users run upstream's kube-controller-manager with
/// (placeholders such as ${SERVICE_CIDR} filled in). Each must parse unchanged.
/// </summary>
public class SeedUnitFileTests
{
    // Seed 000: binary-install guide for v1.10 (same block appears twice in the seed).
    private const string Seed000 = """
          --port=0 \
          --secure-port=10252 \
          --bind-address=127.0.0.1 \
          --kubeconfig=/etc/kubernetes/kube-controller-manager.kubeconfig \
          --service-cluster-ip-range=10.254.0.0/16 \
          --cluster-name=kubernetes \
          --cluster-signing-cert-file=/etc/kubernetes/cert/ca.pem \
          --cluster-signing-key-file=/etc/kubernetes/cert/ca-key.pem \
          --experimental-cluster-signing-duration=8760h \
          --root-ca-file=/etc/kubernetes/cert/ca.pem \
          --service-account-private-key-file=/etc/kubernetes/cert/ca-key.pem \
          --leader-elect=true \
          --feature-gates=RotateKubeletServerCertificate=true \
          --controllers=*,bootstrapsigner,tokencleaner \
          --horizontal-pod-autoscaler-use-rest-clients=true \
          --horizontal-pod-autoscaler-sync-period=10s \
          --tls-cert-file=/etc/kubernetes/cert/kube-controller-manager.pem \
          --tls-private-key-file=/etc/kubernetes/cert/kube-controller-manager-key.pem \
          --use-service-account-credentials=true \
          --alsologtostderr=true \
          --logtostderr=false \
          --log-dir=/var/log/kubernetes \
          --v=2
        """;

    // Seed 001: HA template (##MASTER_IP## filled in); note the bare booleans and the missing space before "\".
    private const string Seed001 = """
          --profiling \
          --cluster-name=kubernetes \
          --controllers=*,bootstrapsigner,tokencleaner \
          --kube-api-qps=1000 \
          --kube-api-burst=2000 \
          --leader-elect \
          --use-service-account-credentials\
          --concurrent-service-syncs=2 \
          --bind-address=172.24.8.71 \
          --secure-port=10252 \
          --tls-cert-file=/etc/kubernetes/cert/kube-controller-manager.pem \
          --tls-private-key-file=/etc/kubernetes/cert/kube-controller-manager-key.pem \
          --port=0 \
          --authentication-kubeconfig=/etc/kubernetes/kube-controller-manager.kubeconfig \
          --client-ca-file=/etc/kubernetes/cert/ca.pem \
          --requestheader-allowed-names="" \
          --requestheader-client-ca-file=/etc/kubernetes/cert/ca.pem \
          --requestheader-extra-headers-prefix="X-Remote-Extra-" \
          --requestheader-group-headers=X-Remote-Group \
          --requestheader-username-headers=X-Remote-User \
          --authorization-kubeconfig=/etc/kubernetes/kube-controller-manager.kubeconfig \
          --cluster-signing-cert-file=/etc/kubernetes/cert/ca.pem \
          --cluster-signing-key-file=/etc/kubernetes/cert/ca-key.pem \
          --experimental-cluster-signing-duration=8760h \
          --horizontal-pod-autoscaler-sync-period=10s \
          --concurrent-deployment-syncs=10 \
          --concurrent-gc-syncs=30 \
          --node-cidr-mask-size=24 \
          --service-cluster-ip-range=10.254.0.0/16 \
          --pod-eviction-timeout=6m \
          --terminated-pod-gc-threshold=10000 \
          --root-ca-file=/etc/kubernetes/cert/ca.pem \
          --service-account-private-key-file=/etc/kubernetes/cert/ca-key.pem \
          --kubeconfig=/etc/kubernetes/kube-controller-manager.kubeconfig \
          --logtostderr=true \
          --v=2
        """;

    // Seed 002: docker debugging command line (one flag per line, no leading spaces).
    private const string Seed002 = """
        --address=127.0.0.1 \
        --master=https://192.168.56.105:6443 \
        --kubeconfig=/usr/local/k8s/conf/kube-controller-manager.kubeconfig \
        --allocate-node-cidrs=true \
        --service-cluster-ip-range=10.254.0.0/16 \
        --cluster-cidr=172.30.0.0/16 \
        --cluster-name=kubernetes \
        --cluster-signing-cert-file=/usr/local/k8s/cert/ca.pem \
        --cluster-signing-key-file=/usr/local/k8s/cert/ca-key.pem \
        --experimental-cluster-signing-duration=8760h \
        --leader-elect=true \
        --feature-gates=RotateKubeletServercertificate=true \
        --controllers=*,bootstrapsigner,tokencleaner \
        --horizontal-pod-autoscaler-use-rest-clients=true \
        --horizontal-pod-autoscaler-sync-period=10s \
        --tls-cert-file=/usr/local/k8s/cert/kube-controller-manager.pem \
        --tls-private-key-file=/usr/local/k8s/cert/kube-controller-manager-key.pem \
        --service-account-private-key-file=/usr/local/k8s/cert/ca-key.pem \
        --root-ca-file=/usr/local/k8s/cert/ca.pem \
        --use-service-account-credentials=true \
        --v=2 \
        --logtostderr=false \
        --log-dir=/usr/local/kubernetes/logs
        """;

    // Seed 003 section 8.2: the v1.14 template, with bind-address 0.0.0.0 and the secure port left at its default.
    private const string Seed003 = """
          --profiling \
          --cluster-name=kubernetes \
          --controllers=*,bootstrapsigner,tokencleaner \
          --kube-api-qps=1000 \
          --kube-api-burst=2000 \
          --leader-elect \
          --use-service-account-credentials=true \
          --concurrent-service-syncs=2 \
          --bind-address=0.0.0.0 \
          --tls-cert-file=/etc/kubernetes/cert/kube-controller-manager.pem \
          --tls-private-key-file=/etc/kubernetes/cert/kube-controller-manager-key.pem \
          --authentication-kubeconfig=/etc/kubernetes/kube-controller-manager.kubeconfig \
          --client-ca-file=/etc/kubernetes/cert/ca.pem \
          --requestheader-allowed-names="" \
          --requestheader-client-ca-file=/etc/kubernetes/cert/ca.pem \
          --requestheader-extra-headers-prefix="X-Remote-Extra-" \
          --requestheader-group-headers=X-Remote-Group \
          --requestheader-username-headers=X-Remote-User \
          --authorization-kubeconfig=/etc/kubernetes/kube-controller-manager.kubeconfig \
          --cluster-signing-cert-file=/etc/kubernetes/cert/ca.pem \
          --cluster-signing-key-file=/etc/kubernetes/cert/ca-key.pem \
          --experimental-cluster-signing-duration=8760h \
          --horizontal-pod-autoscaler-sync-period=10s \
          --concurrent-deployment-syncs=10 \
          --concurrent-gc-syncs=30 \
          --node-cidr-mask-size=24 \
          --service-cluster-ip-range=10.254.0.0/16 \
          --pod-eviction-timeout=6m \
          --terminated-pod-gc-threshold=10000 \
          --root-ca-file=/etc/kubernetes/cert/ca.pem \
          --service-account-private-key-file=/etc/kubernetes/cert/ca-key.pem \
          --kubeconfig=/etc/kubernetes/kube-controller-manager.kubeconfig \
          --logtostderr=true \
          --v=2
        """;

    // Seed 004: the article's text is mangled (lost line breaks, "/ A", "csrs- for", "Bootstrapsigner");
    // these are the flags it meant, with its lower-case file names restored.
    private const string Seed004 = """
        --logtostderr=true --v=0 --master=https://192.168.15.200:6443 \
        --kubeconfig=/etc/kubernetes/controller-manager.conf --cluster-name=kubernetes \
        --cluster-signing-cert-file=/etc/kubernetes/ssl/ca.pem --cluster-signing-key-file=/etc/kubernetes/ssl/ca-key.pem \
        --service-account-private-key-file=/etc/kubernetes/ssl/ca-key.pem --root-ca-file=/etc/kubernetes/ssl/ca.pem \
        --insecure-experimental-approve-all-kubelet-csrs-for-group=system:bootstrappers \
        --use-service-account-credentials=true --service-cluster-ip-range=10.96.0.0/12 \
        --cluster-cidr=10.244.0.0/16 --allocate-node-cidrs=true --leader-elect=true \
        --controllers=*,bootstrapsigner,tokencleaner
        """;

    /// <summary>What systemd does to an ExecStart value: join "\" continuations, split on blanks, drop double quotes.</summary>
    internal static List<string> SplitExecStart(string block)
    {
        var text = block.Replace("\\\r\n", " ", StringComparison.Ordinal).Replace("\\\n", " ", StringComparison.Ordinal);
        var args = new List<string>();
        var current = new StringBuilder();
        var inQuotes = false;
        var any = false;
        foreach (var c in text)
        {
            if (c == '"')
            {
                inQuotes = !inQuotes;
                any = true;
            }
            else if (char.IsWhiteSpace(c) && !inQuotes)
            {
                if (any) args.Add(current.ToString());
                current.Clear();
                any = false;
            }
            else
            {
                current.Append(c);
                any = true;
            }
        }
        if (any) args.Add(current.ToString());
        return args;
    }

    public static TheoryData<string> AllSeeds => new() { Seed000, Seed001, Seed002, Seed003, Seed004 };

    [Theory]
    [MemberData(nameof(AllSeeds))]
    public void Parse_SeedUnitFile_IsAccepted(string block)
    {
        var options = KubeControllerManagerOptions.Parse(SplitExecStart(block));
        Assert.False(options.HelpRequested);
        Assert.Empty(options.Arguments);
        Assert.True(options.IsControllerEnabled("bootstrapsigner"));
        Assert.True(options.IsControllerEnabled("tokencleaner"));
        Assert.True(options.IsControllerEnabled("garbagecollector"));
        Assert.True(options.Generic.LeaderElection.LeaderElect);
        Assert.True(options.KubeCloudShared.UseServiceAccountCredentials);
        Assert.Equal("kubernetes", options.KubeCloudShared.ClusterName);
        Assert.Empty(options.Validate(checkFiles: false));
    }

    [Fact]
    public void Parse_Seed000_ValuesAndWarnings()
    {
        var o = KubeControllerManagerOptions.Parse(SplitExecStart(Seed000));
        Assert.Equal(0, o.InsecureServing.Port);
        Assert.Equal(10252, o.SecureServing.SecurePort);
        Assert.Equal(IPAddress.Loopback, o.SecureServing.BindAddress);
        Assert.Equal("/etc/kubernetes/kube-controller-manager.kubeconfig", o.Generic.ClientConnection.Kubeconfig);
        Assert.Equal("10.254.0.0/16", o.NodeIpamController.ServiceCidr);
        Assert.Equal("/etc/kubernetes/cert/ca.pem", o.CsrSigningController.ClusterSigningCertFile);
        Assert.Equal("/etc/kubernetes/cert/ca-key.pem", o.CsrSigningController.ClusterSigningKeyFile);
        Assert.Equal(TimeSpan.FromHours(8760), o.CsrSigningController.ClusterSigningDuration);
        Assert.Equal("/etc/kubernetes/cert/ca.pem", o.ServiceAccountController.RootCaFile);
        Assert.Equal("/etc/kubernetes/cert/ca-key.pem", o.ServiceAccountController.ServiceAccountKeyFile);
        Assert.True(o.FeatureGates.Enabled("RotateKubeletServerCertificate"));
        Assert.Equal(new[] { "*", "bootstrapsigner", "tokencleaner" }, o.Generic.Controllers);
        Assert.Equal(TimeSpan.FromSeconds(10), o.HpaController.SyncPeriod);
        Assert.Equal("/etc/kubernetes/cert/kube-controller-manager.pem", o.SecureServing.TlsCertFile);
        Assert.Equal("/etc/kubernetes/cert/kube-controller-manager-key.pem", o.SecureServing.TlsPrivateKeyFile);
        Assert.Equal(2, o.Logs.Verbosity);
        Assert.True(o.Logs.Legacy.AlsoLogToStderr);
        Assert.False(o.Logs.Legacy.LogToStderr);
        Assert.Equal("/var/log/kubernetes", o.Logs.Legacy.LogDir);
        Assert.Equal(
            [
                "Flag --port has been deprecated, insecure serving was removed in v1.24; this flag has no effect (serve with --secure-port)",
                "Flag --experimental-cluster-signing-duration has been deprecated, use --cluster-signing-duration",
                "Flag --horizontal-pod-autoscaler-use-rest-clients has been deprecated, Heapster is no longer supported as a source for Horizontal Pod Autoscaler metrics.",
                "Flag --alsologtostderr has been deprecated, it was removed from Kubernetes components in v1.26 (klog flags, KEP-2845); log to stderr and let systemd/journald handle files",
                "Flag --logtostderr has been deprecated, it was removed from Kubernetes components in v1.26 (klog flags, KEP-2845); log to stderr and let systemd/journald handle files",
                "Flag --log-dir has been deprecated, it was removed from Kubernetes components in v1.26 (klog flags, KEP-2845); log to stderr and let systemd/journald handle files",
            ],
            o.Warnings);
    }

    [Fact]
    public void Parse_Seed001_ValuesAndWarnings()
    {
        var o = KubeControllerManagerOptions.Parse(SplitExecStart(Seed001));
        Assert.True(o.Generic.Profiling);
        Assert.Equal(1000f, o.Generic.ClientConnection.Qps);
        Assert.Equal(2000, o.Generic.ClientConnection.Burst);
        Assert.Equal(2, o.ServiceController.ConcurrentServiceSyncs);
        Assert.Equal(IPAddress.Parse("172.24.8.71"), o.SecureServing.BindAddress);
        Assert.Equal("/etc/kubernetes/kube-controller-manager.kubeconfig", o.Authentication.RemoteKubeconfigFile);
        Assert.Equal("/etc/kubernetes/cert/ca.pem", o.Authentication.ClientCaFile);
        Assert.Empty(o.Authentication.RequestHeaderAllowedNames);
        Assert.Equal("/etc/kubernetes/cert/ca.pem", o.Authentication.RequestHeaderClientCaFile);
        Assert.Equal(["X-Remote-Extra-"], o.Authentication.RequestHeaderExtraHeaderPrefixes);
        Assert.Equal(["X-Remote-Group"], o.Authentication.RequestHeaderGroupHeaders);
        Assert.Equal(["X-Remote-User"], o.Authentication.RequestHeaderUsernameHeaders);
        Assert.Equal("/etc/kubernetes/kube-controller-manager.kubeconfig", o.Authorization.RemoteKubeconfigFile);
        Assert.Equal(10, o.DeploymentController.ConcurrentDeploymentSyncs);
        Assert.Equal(30, o.GarbageCollectorController.ConcurrentGcSyncs);
        Assert.Equal(24, o.NodeIpamController.NodeCidrMaskSize);
        Assert.Equal(TimeSpan.FromMinutes(6), o.NodeLifecycleController.PodEvictionTimeout);
        Assert.Equal(10000, o.PodGcController.TerminatedPodGcThreshold);
        Assert.True(o.Logs.Legacy.LogToStderr);
        Assert.Equal(
            [
                "Flag --port has been deprecated, insecure serving was removed in v1.24; this flag has no effect (serve with --secure-port)",
                "Flag --experimental-cluster-signing-duration has been deprecated, use --cluster-signing-duration",
                "Flag --pod-eviction-timeout has been deprecated, This flag is deprecated and it will be removed in 1.27. Once taint manager is enabled, this flag has no effect.",
                "Flag --logtostderr has been deprecated, it was removed from Kubernetes components in v1.26 (klog flags, KEP-2845); log to stderr and let systemd/journald handle files",
                "--profiling has no effect: Go's /debug/pprof is not served by this build",
            ],
            o.Warnings);
    }

    [Fact]
    public void Parse_Seed002_MiscasedGateIsMappedWithWarning()
    {
        var o = KubeControllerManagerOptions.Parse(SplitExecStart(Seed002));
        Assert.Equal("https://192.168.56.105:6443", o.Generic.ClientConnection.Master);
        Assert.Equal(IPAddress.Loopback, o.InsecureServing.Address);
        Assert.True(o.KubeCloudShared.AllocateNodeCidrs);
        Assert.Equal("172.30.0.0/16", o.KubeCloudShared.ClusterCidr);
        Assert.Equal(new Dictionary<string, bool> { ["RotateKubeletServerCertificate"] = true }, o.FeatureGates.Explicit);
        Assert.Contains(o.Warnings, w => w.StartsWith("feature gate RotateKubeletServercertificate is spelt RotateKubeletServerCertificate", StringComparison.Ordinal));
        Assert.Contains("Flag --address has been deprecated, insecure serving was removed in v1.24; this flag has no effect (use --bind-address)", o.Warnings);
        Assert.Equal("/usr/local/kubernetes/logs", o.Logs.Legacy.LogDir);
    }

    [Fact]
    public void Parse_Seed003_ValuesAndDefaultPort()
    {
        var o = KubeControllerManagerOptions.Parse(SplitExecStart(Seed003));
        Assert.Equal(10257, o.SecureServing.SecurePort);
        Assert.Equal(IPAddress.Any, o.SecureServing.BindAddress);
        Assert.Equal(2, o.ServiceController.ConcurrentServiceSyncs);
        Assert.Equal(["X-Remote-User"], o.Authentication.RequestHeaderUsernameHeaders);
        Assert.Equal(4, o.Warnings.Count);
        Assert.Contains("--profiling has no effect: Go's /debug/pprof is not served by this build", o.Warnings);
        Assert.Contains(o.Warnings, w => w.StartsWith("Flag --pod-eviction-timeout has been deprecated, ", StringComparison.Ordinal));
    }

    [Fact]
    public void Parse_Seed004_ValuesAndWarnings()
    {
        var o = KubeControllerManagerOptions.Parse(SplitExecStart(Seed004));
        Assert.Equal(0, o.Logs.Verbosity);
        Assert.Equal("https://192.168.15.200:6443", o.Generic.ClientConnection.Master);
        Assert.Equal("/etc/kubernetes/controller-manager.conf", o.Generic.ClientConnection.Kubeconfig);
        Assert.Equal("10.96.0.0/12", o.NodeIpamController.ServiceCidr);
        Assert.Equal("10.244.0.0/16", o.KubeCloudShared.ClusterCidr);
        Assert.Contains("Flag --insecure-experimental-approve-all-kubelet-csrs-for-group has been deprecated, This flag does nothing.", o.Warnings);
    }

    [Fact]
    public void Validate_Seed001WithRealFiles_PassesAndMissingFilesAreReported()
    {
        var dir = Directory.CreateTempSubdirectory("kcm-seed-");
        try
        {
            var args = SplitExecStart(Seed001).Select(a => a.Replace("=/etc/kubernetes", "=" + dir.FullName, StringComparison.Ordinal)).ToList();
            var o = KubeControllerManagerOptions.Parse(args);
            var missing = o.Validate();
            Assert.Contains($"--kubeconfig: open {dir.FullName}/kube-controller-manager.kubeconfig: no such file or directory", missing);
            Assert.Contains(missing, e => e.StartsWith("--cluster-signing-key-file: open ", StringComparison.Ordinal));

            Directory.CreateDirectory(Path.Combine(dir.FullName, "cert"));
            foreach (var file in new[] { "kube-controller-manager.kubeconfig", "cert/ca.pem", "cert/ca-key.pem", "cert/kube-controller-manager.pem", "cert/kube-controller-manager-key.pem" })
                File.WriteAllText(Path.Combine(dir.FullName, file), "x");
            Assert.Empty(o.Validate());
        }
        finally
        {
            dir.Delete(recursive: true);
        }
    }
}

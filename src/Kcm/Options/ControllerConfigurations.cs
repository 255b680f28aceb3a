using Kcm.Api.Codecs;

namespace Kcm.Options;

// One class per upstream controller configuration group, named as upstream's componentconfig types
// (pkg/controller/*/config/types.go); each registers its own flags.

public sealed class ServiceControllerConfiguration
{
    public int ConcurrentServiceSyncs { get; set; } = 1;

    public void AddFlags(FlagSet fs)
        => fs.Int32Var("concurrent-service-syncs", ConcurrentServiceSyncs, "Services synced at once. More = quicker service handling, more CPU and network load.", v => ConcurrentServiceSyncs = v);
}

public sealed class AttachDetachControllerConfiguration
{
    public bool DisableReconcileSync { get; set; }
    public TimeSpan ReconcileSyncPeriod { get; set; } = TimeSpan.FromMinutes(1);

    public void AddFlags(FlagSet fs)
    {
        fs.DurationVar("attach-detach-reconcile-sync-period", ReconcileSyncPeriod, "Wait between reconciliations of volume attachments. Must be over one second; raising it may leave volumes out of step with pods for longer.", v => ReconcileSyncPeriod = v);
        fs.BoolVar("disable-attach-detach-reconcile-sync", DisableReconcileSync, "Turn off the attach/detach reconciler. Volumes may end up out of step with pods; use with care.", v => DisableReconcileSync = v);
    }

    public IEnumerable<string> Validate()
    {
        if (ReconcileSyncPeriod < TimeSpan.FromSeconds(1))
            yield return "duration time must be greater than one second as set via command line option reconcile-sync-loop-period"; // upstream's text, flag name and all
    }
}

/// <summary>A certificate/key pair used to sign for one signer name.</summary>
public sealed record CsrSignerFiles(string CertFile, string KeyFile)
{
    public bool IsSet => CertFile.Length > 0 || KeyFile.Length > 0;
}

public sealed class CSRSigningControllerConfiguration
{
    public string ClusterSigningCertFile { get; set; } = "";
    public string ClusterSigningKeyFile { get; set; } = "";
    public CsrSignerFiles KubeletServing { get; set; } = new("", "");
    public CsrSignerFiles KubeletClient { get; set; } = new("", "");
    public CsrSignerFiles KubeApiServerClient { get; set; } = new("", "");
    public CsrSignerFiles LegacyUnknown { get; set; } = new("", "");
    public TimeSpan ClusterSigningDuration { get; set; } = TimeSpan.FromHours(8760);

    public void AddFlags(FlagSet fs)
    {
        fs.StringVar("cluster-signing-cert-file", ClusterSigningCertFile, "PEM X509 CA certificate used to issue cluster-scoped certificates for every kubernetes.io signer. Cannot be combined with the per-signer --cluster-signing-* flags.", v => ClusterSigningCertFile = v);
        fs.DurationVar("cluster-signing-duration", ClusterSigningDuration, "Longest validity given to signed certificates. A CSR's spec.expirationSeconds can only shorten it.", v => ClusterSigningDuration = v);
        fs.StringVar("cluster-signing-key-file", ClusterSigningKeyFile, "PEM RSA or ECDSA private key matching --cluster-signing-cert-file. Cannot be combined with the per-signer --cluster-signing-* flags.", v => ClusterSigningKeyFile = v);
        Signer(fs, "kube-apiserver-client", "kubernetes.io/kube-apiserver-client", () => KubeApiServerClient, f => KubeApiServerClient = f);
        Signer(fs, "kubelet-client", "kubernetes.io/kube-apiserver-client-kubelet", () => KubeletClient, f => KubeletClient = f);
        Signer(fs, "kubelet-serving", "kubernetes.io/kubelet-serving", () => KubeletServing, f => KubeletServing = f);
        Signer(fs, "legacy-unknown", "kubernetes.io/legacy-unknown", () => LegacyUnknown, f => LegacyUnknown = f);
        fs.DurationVar("experimental-cluster-signing-duration", ClusterSigningDuration, "Old name of --cluster-signing-duration.", v => ClusterSigningDuration = v);
        fs.MarkDeprecated("experimental-cluster-signing-duration", "use --cluster-signing-duration");
    }

    private static void Signer(FlagSet fs, string flag, string signerName, Func<CsrSignerFiles> get, Action<CsrSignerFiles> set)
    {
        fs.StringVar($"cluster-signing-{flag}-cert-file", "", $"PEM X509 CA certificate used to issue certificates for the {signerName} signer. Needs --cluster-signing-{flag}-key-file too.", v => set(get() with { CertFile = v }));
        fs.StringVar($"cluster-signing-{flag}-key-file", "", $"PEM RSA or ECDSA private key used to sign certificates for the {signerName} signer. Needs --cluster-signing-{flag}-cert-file too.", v => set(get() with { KeyFile = v }));
    }

    /// <summary>The files each signer actually uses: its own pair when given, else the shared cluster pair.</summary>
    public CsrSignerFiles FilesFor(string signerFlagName) => signerFlagName switch
    {
        "kubelet-serving" => Pick(KubeletServing),
        "kubelet-client" => Pick(KubeletClient),
        "kube-apiserver-client" => Pick(KubeApiServerClient),
        "legacy-unknown" => Pick(LegacyUnknown),
        _ => throw new ArgumentOutOfRangeException(nameof(signerFlagName), signerFlagName, "not a signer flag name"),
    };

    private CsrSignerFiles Pick(CsrSignerFiles specific) => specific.IsSet ? specific : new(ClusterSigningCertFile, ClusterSigningKeyFile);

    public IEnumerable<(string Flag, string Path)> Files()
    {
        if (ClusterSigningCertFile.Length > 0) yield return ("cluster-signing-cert-file", ClusterSigningCertFile);
        if (ClusterSigningKeyFile.Length > 0) yield return ("cluster-signing-key-file", ClusterSigningKeyFile);
        foreach (var (name, files) in Signers())
        {
            if (files.CertFile.Length > 0) yield return ($"cluster-signing-{name}-cert-file", files.CertFile);
            if (files.KeyFile.Length > 0) yield return ($"cluster-signing-{name}-key-file", files.KeyFile);
        }
    }

    private IEnumerable<(string Name, CsrSignerFiles Files)> Signers()
        => [("kubelet-serving", KubeletServing), ("kubelet-client", KubeletClient), ("kube-apiserver-client", KubeApiServerClient), ("legacy-unknown", LegacyUnknown)];

    public IEnumerable<string> Validate()
    {
        var legacySet = ClusterSigningCertFile.Length > 0 || ClusterSigningKeyFile.Length > 0;
        if (legacySet && Signers().Any(s => s.Files.IsSet))
            yield return "cannot specify --cluster-signing-{cert,key}-file and other --cluster-signing-*-file flags at the same time";
        if (ClusterSigningCertFile.Length > 0 && ClusterSigningKeyFile.Length == 0) yield return "--cluster-signing-cert-file is set but --cluster-signing-key-file is not; give both or neither";
        if (ClusterSigningKeyFile.Length > 0 && ClusterSigningCertFile.Length == 0) yield return "--cluster-signing-key-file is set but --cluster-signing-cert-file is not; give both or neither";
        foreach (var (name, files) in Signers())
        {
            if (files.CertFile.Length > 0 && files.KeyFile.Length == 0) yield return $"--cluster-signing-{name}-cert-file is set but --cluster-signing-{name}-key-file is not; give both or neither";
            if (files.KeyFile.Length > 0 && files.CertFile.Length == 0) yield return $"--cluster-signing-{name}-key-file is set but --cluster-signing-{name}-cert-file is not; give both or neither";
        }
        if (ClusterSigningDuration <= TimeSpan.Zero) yield return $"--cluster-signing-duration ({GoDuration.Format(ClusterSigningDuration)}) must be positive";
    }
}

public sealed class DeploymentControllerConfiguration
{
    public int ConcurrentDeploymentSyncs { get; set; } = 5;

    public void AddFlags(FlagSet fs)
        => fs.Int32Var("concurrent-deployment-syncs", ConcurrentDeploymentSyncs, "Deployments synced at once. More = more responsive deployments, more CPU and network load.", v => ConcurrentDeploymentSyncs = v);
}

public sealed class StatefulSetControllerConfiguration
{
    public int ConcurrentStatefulSetSyncs { get; set; } = 5;

    public void AddFlags(FlagSet fs)
        => fs.Int32Var("concurrent-statefulset-syncs", ConcurrentStatefulSetSyncs, "StatefulSets synced at once. More = more responsive statefulsets, more CPU and network load.", v => ConcurrentStatefulSetSyncs = v);
}

// v1.26 has no flags for the DaemonSet, Job and CronJob worker counts: they stay at the componentconfig defaults.
public sealed class DaemonSetControllerConfiguration
{
    public int ConcurrentDaemonSetSyncs { get; set; } = 2;
}

/// <summary>Flags upstream dropped long ago that old unit files still carry; accepted, warned about, ignored.</summary>
public sealed class DeprecatedControllerConfiguration
{
    public void AddFlags(FlagSet fs)
    {
        fs.Float32Var("deleting-pods-qps", 0.1f, "Has no effect.", _ => { });
        fs.MarkDeprecated("deleting-pods-qps", "This flag is currently no-op and will be deleted.");
        fs.Int32Var("deleting-pods-burst", 0, "Has no effect.", _ => { });
        fs.MarkDeprecated("deleting-pods-burst", "This flag is currently no-op and will be deleted.");
        fs.Int32Var("register-retry-count", 10, "Has no effect.", _ => { });
        fs.MarkDeprecated("register-retry-count", "This flag is currently no-op and will be deleted.");
    }
}

public sealed class EndpointControllerConfiguration
{
    public int ConcurrentEndpointSyncs { get; set; } = 5;
    public TimeSpan EndpointUpdatesBatchPeriod { get; set; }

    public void AddFlags(FlagSet fs)
    {
        fs.Int32Var("concurrent-endpoint-syncs", ConcurrentEndpointSyncs, "Endpoints synced at once. More = quicker endpoint updates, more CPU and network load.", v => ConcurrentEndpointSyncs = v);
        fs.DurationVar("endpoint-updates-batch-period", EndpointUpdatesBatchPeriod, "Pod changes are held this long so that several of them make one Endpoints update. Longer = higher latency, fewer Endpoints revisions.", v => EndpointUpdatesBatchPeriod = v);
    }
}

public sealed class EndpointSliceControllerConfiguration
{
    public int ConcurrentServiceEndpointSyncs { get; set; } = 5;
    public int MaxEndpointsPerSlice { get; set; } = 100;
    public TimeSpan EndpointSliceUpdatesBatchPeriod { get; set; }

    public void AddFlags(FlagSet fs)
    {
        fs.Int32Var("concurrent-service-endpoint-syncs", ConcurrentServiceEndpointSyncs, "Services whose EndpointSlices are synced at once. More = quicker EndpointSlice updates, more CPU and network load.", v => ConcurrentServiceEndpointSyncs = v);
        fs.DurationVar("endpointslice-updates-batch-period", EndpointSliceUpdatesBatchPeriod, "Pod changes are held this long so that several of them make one EndpointSlice update. Longer = higher latency, fewer EndpointSlice revisions.", v => EndpointSliceUpdatesBatchPeriod = v);
        fs.Int32Var("max-endpoints-per-slice", MaxEndpointsPerSlice, "Most endpoints put in one EndpointSlice. More = fewer, larger slices.", v => MaxEndpointsPerSlice = v);
    }

    public IEnumerable<string> Validate()
    {
        if (ConcurrentServiceEndpointSyncs is < 1 or > 50) yield return $"--concurrent-service-endpoint-syncs must not be less than 1 or greater than 50, but got {ConcurrentServiceEndpointSyncs}";
        if (MaxEndpointsPerSlice is < 1 or > 1000) yield return $"--max-endpoints-per-slice must not be less than 1 or greater than 1000, but got {MaxEndpointsPerSlice}";
    }
}

public sealed class EndpointSliceMirroringControllerConfiguration
{
    public int ConcurrentServiceEndpointSyncs { get; set; } = 5;
    public int MaxEndpointsPerSubset { get; set; } = 1000;
    public TimeSpan EndpointSliceUpdatesBatchPeriod { get; set; }

    public void AddFlags(FlagSet fs)
    {
        fs.Int32Var("mirroring-concurrent-service-endpoint-syncs", ConcurrentServiceEndpointSyncs, "Services whose mirrored EndpointSlices are synced at once. More = quicker mirroring, more CPU and network load.", v => ConcurrentServiceEndpointSyncs = v);
        fs.DurationVar("mirroring-endpointslice-updates-batch-period", EndpointSliceUpdatesBatchPeriod, "Endpoints changes are held this long so that several make one mirrored EndpointSlice update.", v => EndpointSliceUpdatesBatchPeriod = v);
        fs.Int32Var("mirroring-max-endpoints-per-subset", MaxEndpointsPerSubset, "Most endpoints the mirroring controller puts in one EndpointSlice for an Endpoints subset.", v => MaxEndpointsPerSubset = v);
    }

    public IEnumerable<string> Validate()
    {
        if (ConcurrentServiceEndpointSyncs is < 1 or > 50) yield return $"--mirroring-concurrent-service-endpoint-syncs must not be less than 1 or greater than 50, but got {ConcurrentServiceEndpointSyncs}";
        if (MaxEndpointsPerSubset is < 1 or > 1000) yield return $"--mirroring-max-endpoints-per-subset must not be less than 1 or greater than 1000, but got {MaxEndpointsPerSubset}";
    }
}

public sealed class EphemeralVolumeControllerConfiguration
{
    public int ConcurrentEphemeralVolumeSyncs { get; set; } = 5;

    public void AddFlags(FlagSet fs)
        => fs.Int32Var("concurrent-ephemeralvolume-syncs", ConcurrentEphemeralVolumeSyncs, "Ephemeral volume claims created at once. More = quicker, more CPU and network load.", v => ConcurrentEphemeralVolumeSyncs = v);

    public IEnumerable<string> Validate()
    {
        if (ConcurrentEphemeralVolumeSyncs < 1) yield return $"concurrent-ephemeralvolume-syncs must be greater than 0, but got {ConcurrentEphemeralVolumeSyncs}";
    }
}

public sealed class GarbageCollectorControllerConfiguration
{
    public int ConcurrentGcSyncs { get; set; } = 20;
    public bool EnableGarbageCollector { get; set; } = true;

    public void AddFlags(FlagSet fs)
    {
        fs.Int32Var("concurrent-gc-syncs", ConcurrentGcSyncs, "Garbage collector workers that sync at once.", v => ConcurrentGcSyncs = v);
        fs.BoolVar("enable-garbage-collector", EnableGarbageCollector, "Run the generic garbage collector. Must match the kube-apiserver's flag of the same name.", v => EnableGarbageCollector = v);
    }
}

public sealed class HPAControllerConfiguration
{
    public int ConcurrentHorizontalPodAutoscalerSyncs { get; set; } = 5;
    public TimeSpan SyncPeriod { get; set; } = TimeSpan.FromSeconds(15);
    public TimeSpan DownscaleStabilizationWindow { get; set; } = TimeSpan.FromMinutes(5);
    public double Tolerance { get; set; } = 0.1;
    public TimeSpan CpuInitializationPeriod { get; set; } = TimeSpan.FromMinutes(5);
    public TimeSpan InitialReadinessDelay { get; set; } = TimeSpan.FromSeconds(30);

    public void AddFlags(FlagSet fs)
    {
        fs.Int32Var("concurrent-horizontal-pod-autoscaler-syncs", ConcurrentHorizontalPodAutoscalerSyncs, "Horizontal pod autoscalers synced at once. More = more responsive autoscaling, more CPU and network load.", v => ConcurrentHorizontalPodAutoscalerSyncs = v);
        fs.DurationVar("horizontal-pod-autoscaler-cpu-initialization-period", CpuInitializationPeriod, "How long after a pod starts its CPU samples may be skipped.", v => CpuInitializationPeriod = v);
        fs.DurationVar("horizontal-pod-autoscaler-downscale-stabilization", DownscaleStabilizationWindow, "Look-back window: the autoscaler never scales below the highest recommendation made within it.", v => DownscaleStabilizationWindow = v);
        fs.DurationVar("horizontal-pod-autoscaler-initial-readiness-delay", InitialReadinessDelay, "How long after a pod starts readiness changes count as its initial readiness.", v => InitialReadinessDelay = v);
        fs.DurationVar("horizontal-pod-autoscaler-sync-period", SyncPeriod, "How often the autoscaler re-evaluates the pod count of each target.", v => SyncPeriod = v);
        fs.Float64Var("horizontal-pod-autoscaler-tolerance", Tolerance, "Smallest change (from 1.0) of the desired-to-actual metric ratio that makes the autoscaler scale.", v => Tolerance = v);
        fs.BoolVar("horizontal-pod-autoscaler-use-rest-clients", true, "Has no effect: metrics always come from the metrics APIs.", _ => { });
        fs.MarkDeprecated("horizontal-pod-autoscaler-use-rest-clients", "Heapster is no longer supported as a source for Horizontal Pod Autoscaler metrics.");
        fs.DurationVar("horizontal-pod-autoscaler-upscale-delay", TimeSpan.FromMinutes(3), "Has no effect.", _ => { });
        fs.MarkDeprecated("horizontal-pod-autoscaler-upscale-delay", "This flag is currently no-op and will be deleted.");
        fs.DurationVar("horizontal-pod-autoscaler-downscale-delay", TimeSpan.FromMinutes(5), "Has no effect.", _ => { });
        fs.MarkDeprecated("horizontal-pod-autoscaler-downscale-delay", "This flag is currently no-op and will be deleted.");
    }

    public IEnumerable<string> Validate()
    {
        if (ConcurrentHorizontalPodAutoscalerSyncs < 1) yield return $"concurrent-horizontal-pod-autoscaler-syncs must be greater than 0, but got {ConcurrentHorizontalPodAutoscalerSyncs}";
    }
}

public sealed class JobControllerConfiguration
{
    public int ConcurrentJobSyncs { get; set; } = 5;
}

public sealed class CronJobControllerConfiguration
{
    public int ConcurrentCronJobSyncs { get; set; } = 5;
}

public sealed class NamespaceControllerConfiguration
{
    public TimeSpan NamespaceSyncPeriod { get; set; } = TimeSpan.FromMinutes(5);
    public int ConcurrentNamespaceSyncs { get; set; } = 10;

    public void AddFlags(FlagSet fs)
    {
        fs.Int32Var("concurrent-namespace-syncs", ConcurrentNamespaceSyncs, "Namespaces synced at once. More = quicker namespace termination, more CPU and network load.", v => ConcurrentNamespaceSyncs = v);
        fs.DurationVar("namespace-sync-period", NamespaceSyncPeriod, "How often namespace lifecycle updates are resynced.", v => NamespaceSyncPeriod = v);
    }
}

public sealed class NodeIPAMControllerConfiguration
{
    public string ServiceCidr { get; set; } = "";
    public int NodeCidrMaskSize { get; set; }
    public int NodeCidrMaskSizeIPv4 { get; set; }
    public int NodeCidrMaskSizeIPv6 { get; set; }

    public void AddFlags(FlagSet fs)
    {
        fs.Int32Var("node-cidr-mask-size", NodeCidrMaskSize, "Prefix length of each node's pod range (single-stack clusters; 0 means 24 for IPv4 and 64 for IPv6).", v => NodeCidrMaskSize = v);
        fs.Int32Var("node-cidr-mask-size-ipv4", NodeCidrMaskSizeIPv4, "Prefix length of each node's IPv4 pod range in dual-stack clusters (0 means 24).", v => NodeCidrMaskSizeIPv4 = v);
        fs.Int32Var("node-cidr-mask-size-ipv6", NodeCidrMaskSizeIPv6, "Prefix length of each node's IPv6 pod range in dual-stack clusters (0 means 64).", v => NodeCidrMaskSizeIPv6 = v);
        fs.StringVar("service-cluster-ip-range", ServiceCidr, "Address range(s) of the cluster's Services (one, or one IPv4 and one IPv6 comma-separated). Requires --allocate-node-cidrs.", v => ServiceCidr = v);
    }

    public IEnumerable<string> Validate(KubeCloudSharedOptions shared)
    {
        var errors = new List<string>();
        if (ServiceCidr.Length > 0)
        {
            if (ServiceCidr.Split(',').Length > 2) errors.Add("--service-cluster-ip-range can not contain more than two entries");
            else CheckDualStack("service-cluster-ip-range", NetParsing.ParseCidrList("service-cluster-ip-range", ServiceCidr, errors), errors);
        }
        if (shared.ClusterCidr.Length > 0)
        {
            var cluster = NetParsing.ParseCidrList("cluster-cidr", shared.ClusterCidr, errors);
            if (shared.ClusterCidr.Split(',').Length > 2) errors.Add("--cluster-cidr can not contain more than two entries");
            else if (CheckDualStack("cluster-cidr", cluster, errors) && shared.AllocateNodeCidrs) CheckMaskSizes(cluster, errors);
        }
        else if (shared.AllocateNodeCidrs && shared.CidrAllocatorType == "RangeAllocator")
        {
            errors.Add("--cluster-cidr is required when --allocate-node-cidrs is true");
        }
        return errors;
    }

    private static bool CheckDualStack(string flag, IReadOnlyList<Cidr> cidrs, List<string> errors)
    {
        if (cidrs.Count == 2 && cidrs[0].IsIPv6 == cidrs[1].IsIPv6)
        {
            errors.Add($"--{flag}: a dual-stack value needs one IPv4 and one IPv6 range, got {cidrs[0]} and {cidrs[1]}");
            return false;
        }
        return true;
    }

    private void CheckMaskSizes(IReadOnlyList<Cidr> cluster, List<string> errors)
    {
        var dualStack = cluster.Count == 2;
        if (dualStack && NodeCidrMaskSize != 0) errors.Add("usage of --node-cidr-mask-size is not allowed with dual-stack clusters");
        if (!dualStack && (NodeCidrMaskSizeIPv4 != 0 || NodeCidrMaskSizeIPv6 != 0) && NodeCidrMaskSize != 0)
            errors.Add("usage of --node-cidr-mask-size-ipv4 and --node-cidr-mask-size-ipv6 is not allowed together with --node-cidr-mask-size");
        foreach (var c in cluster)
        {
            var (flag, given) = c.IsIPv6
                ? (NodeCidrMaskSizeIPv6 != 0 ? "node-cidr-mask-size-ipv6" : "node-cidr-mask-size", NodeCidrMaskSizeIPv6 != 0 ? NodeCidrMaskSizeIPv6 : NodeCidrMaskSize)
                : (NodeCidrMaskSizeIPv4 != 0 ? "node-cidr-mask-size-ipv4" : "node-cidr-mask-size", NodeCidrMaskSizeIPv4 != 0 ? NodeCidrMaskSizeIPv4 : NodeCidrMaskSize);
            var mask = given != 0 ? given : c.IsIPv6 ? 64 : 24;
            var max = c.IsIPv6 ? 128 : 32;
            if (mask > max || mask < 0) errors.Add($"--{flag} {mask} is not a valid prefix length for {c}");
            else if (mask < c.PrefixLength)
                errors.Add($"--cluster-cidr {c}: its prefix length must be at most the node mask size (--{flag} {mask})");
            // Upstream (cidrset.NewCIDRSet) bounds only IPv6 clusters; an IPv4 one may hold up to 2^32 node ranges.
            else if (c.IsIPv6 && mask - c.PrefixLength > 16)
                errors.Add($"--cluster-cidr {c}: node mask size {mask} leaves more than 2^16 node ranges (at most 16 bits between the prefix lengths)");
        }
    }
}

public sealed class NodeLifecycleControllerConfiguration
{
    public bool EnableTaintManager { get; set; } = true;
    public float NodeEvictionRate { get; set; } = 0.1f;
    public float SecondaryNodeEvictionRate { get; set; } = 0.01f;
    public TimeSpan NodeStartupGracePeriod { get; set; } = TimeSpan.FromMinutes(1);
    public TimeSpan NodeMonitorGracePeriod { get; set; } = TimeSpan.FromSeconds(40);
    public TimeSpan PodEvictionTimeout { get; set; } = TimeSpan.FromMinutes(5);
    public int LargeClusterSizeThreshold { get; set; } = 50;
    public float UnhealthyZoneThreshold { get; set; } = 0.55f;

    public void AddFlags(FlagSet fs)
    {
        fs.BoolVar("enable-taint-manager", EnableTaintManager, "Beta: evict pods that do not tolerate NoExecute taints on their node.", v => EnableTaintManager = v);
        fs.Int32Var("large-cluster-size-threshold", LargeClusterSizeThreshold, "Node count from which the node lifecycle controller treats the cluster as large for eviction; at or below it --secondary-node-eviction-rate is taken as 0.", v => LargeClusterSizeThreshold = v);
        fs.Float32Var("node-eviction-rate", NodeEvictionRate, "Nodes per second whose pods are deleted after node failure while the zone is healthy (see --unhealthy-zone-threshold). Without zones the whole cluster is one zone.", v => NodeEvictionRate = v);
        fs.DurationVar("node-monitor-grace-period", NodeMonitorGracePeriod, "How long a running node may stay unresponsive before it is marked unhealthy. Must be N times the kubelet's nodeStatusUpdateFrequency, N being the kubelet's allowed status retries.", v => NodeMonitorGracePeriod = v);
        fs.DurationVar("node-startup-grace-period", NodeStartupGracePeriod, "How long a starting node may stay unresponsive before it is marked unhealthy.", v => NodeStartupGracePeriod = v);
        fs.DurationVar("pod-eviction-timeout", PodEvictionTimeout, "Grace period before pods on failed nodes are deleted.", v => PodEvictionTimeout = v);
        fs.Float32Var("secondary-node-eviction-rate", SecondaryNodeEvictionRate, "Nodes per second whose pods are deleted after node failure while the zone is unhealthy. Taken as 0 for clusters at or below --large-cluster-size-threshold.", v => SecondaryNodeEvictionRate = v);
        fs.Float32Var("unhealthy-zone-threshold", UnhealthyZoneThreshold, "Share of a zone's nodes (at least 3) that must be NotReady for the zone to count as unhealthy.", v => UnhealthyZoneThreshold = v);
        fs.MarkDeprecated("enable-taint-manager", "This flag is deprecated and it will be removed in 1.27. The taint-manager is enabled by default and will remain implicitly enabled once this flag is removed.");
        fs.MarkDeprecated("pod-eviction-timeout", "This flag is deprecated and it will be removed in 1.27. Once taint manager is enabled, this flag has no effect.");
    }
}

public sealed class PersistentVolumeBinderControllerConfiguration
{
    public TimeSpan PvClaimBinderSyncPeriod { get; set; } = TimeSpan.FromSeconds(15);
    public string RecyclerPodTemplateFilePathNfs { get; set; } = "";
    public int RecyclerMinimumTimeoutNfs { get; set; } = 300;
    public int RecyclerIncrementTimeoutNfs { get; set; } = 30;
    public string RecyclerPodTemplateFilePathHostPath { get; set; } = "";
    public int RecyclerMinimumTimeoutHostPath { get; set; } = 60;
    public int RecyclerTimeoutIncrementHostPath { get; set; } = 30;
    public bool EnableHostPathProvisioning { get; set; }
    public bool EnableDynamicProvisioning { get; set; } = true;
    public IReadOnlyList<string> VolumeHostCidrDenylist { get; set; } = [];
    public bool VolumeHostAllowLocalLoopback { get; set; } = true;
    public string FlexVolumePluginDir { get; set; } = "/usr/libexec/kubernetes/kubelet-plugins/volume/exec/";

    public void AddFlags(FlagSet fs)
    {
        fs.BoolVar("enable-dynamic-provisioning", EnableDynamicProvisioning, "Provision volumes dynamically where the environment supports it.", v => EnableDynamicProvisioning = v);
        fs.BoolVar("enable-hostpath-provisioner", EnableHostPathProvisioning, "Provision HostPath volumes when there is no cloud provider. For testing and development only: unsupported, and broken on multi-node clusters.", v => EnableHostPathProvisioning = v);
        fs.StringVar("flex-volume-plugin-dir", FlexVolumePluginDir, "Directory searched for additional third-party flex volume plugins.", v => FlexVolumePluginDir = v);
        fs.Int32Var("pv-recycler-increment-timeout-nfs", RecyclerIncrementTimeoutNfs, "Seconds added to the NFS scrubber pod's ActiveDeadlineSeconds per Gi of volume.", v => RecyclerIncrementTimeoutNfs = v);
        fs.Int32Var("pv-recycler-minimum-timeout-hostpath", RecyclerMinimumTimeoutHostPath, "Minimum ActiveDeadlineSeconds of a HostPath recycler pod. Development and testing only; breaks on multi-node clusters.", v => RecyclerMinimumTimeoutHostPath = v);
        fs.Int32Var("pv-recycler-minimum-timeout-nfs", RecyclerMinimumTimeoutNfs, "Minimum ActiveDeadlineSeconds of an NFS recycler pod.", v => RecyclerMinimumTimeoutNfs = v);
        fs.StringVar("pv-recycler-pod-template-filepath-hostpath", RecyclerPodTemplateFilePathHostPath, "Pod definition used as the template for HostPath volume recycling. Development and testing only; breaks on multi-node clusters.", v => RecyclerPodTemplateFilePathHostPath = v);
        fs.StringVar("pv-recycler-pod-template-filepath-nfs", RecyclerPodTemplateFilePathNfs, "Pod definition used as the template for NFS volume recycling.", v => RecyclerPodTemplateFilePathNfs = v);
        fs.Int32Var("pv-recycler-timeout-increment-hostpath", RecyclerTimeoutIncrementHostPath, "Seconds added to the HostPath scrubber pod's ActiveDeadlineSeconds per Gi of volume. Development and testing only.", v => RecyclerTimeoutIncrementHostPath = v);
        fs.DurationVar("pvclaimbinder-sync-period", PvClaimBinderSyncPeriod, "How often persistent volumes and claims are synced.", v => PvClaimBinderSyncPeriod = v);
        fs.StringSliceVar("volume-host-cidr-denylist", VolumeHostCidrDenylist, "Address ranges volume plugins must not reach.", v => VolumeHostCidrDenylist = v);
        fs.BoolVar("volume-host-allow-local-loopback", VolumeHostAllowLocalLoopback, "Let volume plugins reach local loopback addresses (false forbids it).", v => VolumeHostAllowLocalLoopback = v);
    }

    public IEnumerable<string> Validate()
    {
        foreach (var cidr in VolumeHostCidrDenylist.Where(c => !NetParsing.TryParseCidr(c, out _)))
            yield return $"invalid --volume-host-cidr-denylist entry \"{cidr}\": invalid CIDR address: {cidr}";
    }
}

public sealed class PodGCControllerConfiguration
{
    public int TerminatedPodGcThreshold { get; set; } = 12500;

    public void AddFlags(FlagSet fs)
        => fs.Int32Var("terminated-pod-gc-threshold", TerminatedPodGcThreshold, "Terminated pods kept before the collector starts deleting them; 0 or less turns the collector off.", v => TerminatedPodGcThreshold = v);
}

public sealed class ReplicaSetControllerConfiguration
{
    public int ConcurrentReplicaSetSyncs { get; set; } = 5;

    public void AddFlags(FlagSet fs)
        => fs.Int32Var("concurrent-replicaset-syncs", ConcurrentReplicaSetSyncs, "ReplicaSets synced at once. More = more responsive replica management, more CPU and network load.", v => ConcurrentReplicaSetSyncs = v);
}

public sealed class ReplicationControllerConfiguration
{
    public int ConcurrentRcSyncs { get; set; } = 5;

    // Upstream registers this one with underscores; the name normalization makes --concurrent-rc-syncs work too.
    public void AddFlags(FlagSet fs)
        => fs.Int32Var("concurrent_rc_syncs", ConcurrentRcSyncs, "Replication controllers synced at once. More = more responsive replica management, more CPU and network load.", v => ConcurrentRcSyncs = v);
}

public sealed class ResourceQuotaControllerConfiguration
{
    public TimeSpan ResourceQuotaSyncPeriod { get; set; } = TimeSpan.FromMinutes(5);
    public int ConcurrentResourceQuotaSyncs { get; set; } = 5;

    public void AddFlags(FlagSet fs)
    {
        fs.Int32Var("concurrent-resource-quota-syncs", ConcurrentResourceQuotaSyncs, "Resource quotas synced at once. More = more responsive quota management, more CPU and network load.", v => ConcurrentResourceQuotaSyncs = v);
        fs.DurationVar("resource-quota-sync-period", ResourceQuotaSyncPeriod, "How often quota usage is recomputed in the system.", v => ResourceQuotaSyncPeriod = v);
    }
}

public sealed class SAControllerConfiguration
{
    public string ServiceAccountKeyFile { get; set; } = "";
    public int ConcurrentSaTokenSyncs { get; set; } = 5;
    public string RootCaFile { get; set; } = "";

    public void AddFlags(FlagSet fs)
    {
        fs.Int32Var("concurrent-serviceaccount-token-syncs", ConcurrentSaTokenSyncs, "Service account token secrets synced at once. More = quicker token generation, more CPU and network load.", v => ConcurrentSaTokenSyncs = v);
        fs.StringVar("root-ca-file", RootCaFile, "CA bundle put into service account token secrets (as ca.crt) when set.", v => RootCaFile = v);
        fs.StringVar("service-account-private-key-file", ServiceAccountKeyFile, "PEM RSA or ECDSA private key used to sign service account tokens.", v => ServiceAccountKeyFile = v);
    }
}

public sealed class TTLAfterFinishedControllerConfiguration
{
    public int ConcurrentTtlSyncs { get; set; } = 5;

    public void AddFlags(FlagSet fs)
        => fs.Int32Var("concurrent-ttl-after-finished-syncs", ConcurrentTtlSyncs, "TTL-after-finished workers that sync at once.", v => ConcurrentTtlSyncs = v);
}

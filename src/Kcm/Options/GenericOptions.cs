using System.Globalization;
using Kcm.Api.Codecs;

namespace Kcm.Options;

public sealed class ClientConnectionOptions
{
    public string Kubeconfig { get; set; } = "";
    public string Master { get; set; } = "";
    public string ContentType { get; set; } = "application/vnd.kubernetes.protobuf";
    public float Qps { get; set; } = 20;
    public int Burst { get; set; } = 30;

    /// <summary>The media types client-go's scheme can encode; any other makes every write fail upstream.</summary>
    public static IReadOnlyList<string> ContentTypes { get; } = ["application/json", "application/yaml", "application/vnd.kubernetes.protobuf"];

    public IEnumerable<string> Validate()
    {
        // Upstream's client refuses every request body in a type it has no serializer for ("no serializers
        // registered for text/plain"), so the leader lock is never taken; refusing at start says so at once.
        if (ContentType.Length > 0 && !ContentTypes.Contains(ContentType))
            yield return $"--kube-api-content-type: no serializers registered for {ContentType}";
        // rest.RESTClientFor: QPS 0 means the default 5, so only a negative (or NaN) QPS needs no burst.
        if (Burst < 0 && Qps >= 0)
            yield return $"--kube-api-burst {Burst.ToString(CultureInfo.InvariantCulture)}: burst is required to be greater than 0 when RateLimiter is not set and QPS is set to greater than 0";
    }
}

public sealed class LeaderElectionOptions
{
    public static IReadOnlyList<string> ResourceLocks { get; } = ["leases", "endpointsleases", "configmapsleases"];

    public bool LeaderElect { get; set; } = true;
    public TimeSpan LeaseDuration { get; set; } = TimeSpan.FromSeconds(15);
    public TimeSpan RenewDeadline { get; set; } = TimeSpan.FromSeconds(10);
    public TimeSpan RetryPeriod { get; set; } = TimeSpan.FromSeconds(2);
    public string ResourceLock { get; set; } = "leases";
    public string ResourceName { get; set; } = "kube-controller-manager";
    public string ResourceNamespace { get; set; } = "kube-system";

    public void AddFlags(FlagSet fs)
    {
        fs.BoolVar("leader-elect", LeaderElect, "Run several replicas safely: take a leader election lock before doing any work, so only one replica is active at a time.", v => LeaderElect = v);
        fs.DurationVar("leader-elect-lease-duration", LeaseDuration, "How long followers wait after the leader's last renewal before trying to take over a vacant lease. Only used with --leader-elect.", v => LeaseDuration = v);
        fs.DurationVar("leader-elect-renew-deadline", RenewDeadline, "How long the leader keeps retrying to renew its lease before giving up leadership; must be shorter than the lease duration. Only used with --leader-elect.", v => RenewDeadline = v);
        fs.StringVar("leader-elect-resource-lock", ResourceLock, "Kind of object the election lock is kept in. Supported: 'leases', 'endpointsleases', 'configmapsleases'.", v => ResourceLock = v);
        fs.StringVar("leader-elect-resource-name", ResourceName, "Name of the object holding the election lock.", v => ResourceName = v);
        fs.StringVar("leader-elect-resource-namespace", ResourceNamespace, "Namespace of the object holding the election lock.", v => ResourceNamespace = v);
        fs.DurationVar("leader-elect-retry-period", RetryPeriod, "How long candidates wait between attempts to acquire or renew leadership. Only used with --leader-elect.", v => RetryPeriod = v);
    }

    public IEnumerable<string> Validate()
    {
        if (!LeaderElect) yield break;
        if (LeaseDuration <= TimeSpan.Zero) yield return "--leader-elect-lease-duration must be greater than zero";
        if (RenewDeadline <= TimeSpan.Zero) yield return "--leader-elect-renew-deadline must be greater than zero";
        if (RetryPeriod <= TimeSpan.Zero) yield return "--leader-elect-retry-period must be greater than zero";
        if (LeaseDuration <= RenewDeadline)
            yield return $"--leader-elect-lease-duration ({GoDuration.Format(LeaseDuration)}) must be greater than --leader-elect-renew-deadline ({GoDuration.Format(RenewDeadline)})";
        // client-go's elector rejects a renew deadline that leaves no room for a jittered retry (factor 1.2).
        if (RetryPeriod > TimeSpan.Zero && RenewDeadline <= RetryPeriod * 1.2)
            yield return $"--leader-elect-renew-deadline ({GoDuration.Format(RenewDeadline)}) must be greater than 1.2 x --leader-elect-retry-period ({GoDuration.Format(RetryPeriod)})";
        if (ResourceLock.Length == 0) yield return "--leader-elect-resource-lock is required";
        else if (!ResourceLocks.Contains(ResourceLock))
            yield return $"--leader-elect-resource-lock: unsupported value \"{ResourceLock}\": supported values: {string.Join(", ", ResourceLocks.Select(l => $"\"{l}\""))}";
        if (ResourceName.Length == 0) yield return "--leader-elect-resource-name is required";
        if (ResourceNamespace.Length == 0) yield return "--leader-elect-resource-namespace is required";
    }
}

/// <summary>Upstream's GenericControllerManagerConfigurationOptions plus the debugging flags.</summary>
public sealed class GenericOptions
{
    public IReadOnlyList<string> Controllers { get; set; } = ["*"];
    public TimeSpan MinResyncPeriod { get; set; } = TimeSpan.FromHours(12);
    public TimeSpan ControllerStartInterval { get; set; } = TimeSpan.Zero;
    public ClientConnectionOptions ClientConnection { get; } = new();
    public LeaderElectionOptions LeaderElection { get; } = new();
    public bool EnableLeaderMigration { get; set; }
    public string LeaderMigrationConfig { get; set; } = "";
    public bool Profiling { get; set; } = true;
    public bool ContentionProfiling { get; set; }

    public void AddDebuggingFlags(FlagSet fs)
    {
        fs.BoolVar("contention-profiling", ContentionProfiling, "Turn on lock contention profiling (only when --profiling is on).", v => ContentionProfiling = v);
        fs.BoolVar("profiling", Profiling, "Serve profiling data at host:port/debug/pprof/.", v => Profiling = v);
    }

    public void AddFlags(FlagSet fs)
    {
        fs.DurationVar("min-resync-period", MinResyncPeriod, "Informers resync at a random period between this value and twice this value.", v => MinResyncPeriod = v);
        fs.StringVar("kube-api-content-type", ClientConnection.ContentType, "Content type of requests sent to the API server.", v => ClientConnection.ContentType = v);
        fs.Float32Var("kube-api-qps", ClientConnection.Qps, "Queries per second allowed when talking to the API server.", v => ClientConnection.Qps = v);
        fs.Int32Var("kube-api-burst", ClientConnection.Burst, "Short bursts of requests above --kube-api-qps allowed when talking to the API server.", v => ClientConnection.Burst = v);
        fs.DurationVar("controller-start-interval", ControllerStartInterval, "Pause between starting one controller and the next.", v => ControllerStartInterval = v);
        fs.StringSliceVar("controllers", Controllers,
            "Controllers to run. '*' turns on every controller that is on by default, 'foo' turns on the controller named foo, '-foo' turns it off.\n"
            + $"All controllers: {string.Join(", ", KnownControllers.Names)}\nDisabled-by-default controllers: {string.Join(", ", KnownControllers.DisabledByDefault)}",
            v => Controllers = v);
        LeaderElection.AddFlags(fs);
    }

    /// <summary>Upstream's LeaderMigrationOptions, in their own "leader-migration" section.</summary>
    public void AddLeaderMigrationFlags(FlagSet fs)
    {
        fs.BoolVar("enable-leader-migration", EnableLeaderMigration, "Take part in leader migration (moving controllers between managers) using --leader-migration-config.", v => EnableLeaderMigration = v);
        fs.StringVar("leader-migration-config", LeaderMigrationConfig, "Path to the leader migration configuration file; empty uses the built-in default. Needs --enable-leader-migration.", v => LeaderMigrationConfig = v);
    }

    public IEnumerable<string> Validate() => KnownControllers.Validate(Controllers).Concat(ClientConnection.Validate()).Concat(LeaderElection.Validate());
}

/// <summary>Upstream's KubeCloudSharedOptions (flags listed under "generic").</summary>
public sealed class KubeCloudSharedOptions
{
    public string CloudProvider { get; set; } = "";
    public string CloudConfig { get; set; } = "";
    public string ExternalCloudVolumePlugin { get; set; } = "";
    public bool UseServiceAccountCredentials { get; set; }
    public bool AllowUntaggedCloud { get; set; }
    public TimeSpan RouteReconciliationPeriod { get; set; } = TimeSpan.FromSeconds(10);
    public TimeSpan NodeMonitorPeriod { get; set; } = TimeSpan.FromSeconds(5);
    public string ClusterName { get; set; } = "kubernetes";
    public string ClusterCidr { get; set; } = "";
    public bool AllocateNodeCidrs { get; set; }
    public string CidrAllocatorType { get; set; } = "RangeAllocator";
    public bool ConfigureCloudRoutes { get; set; } = true;
    public TimeSpan NodeSyncPeriod { get; set; }

    public void AddFlags(FlagSet fs)
    {
        fs.StringVar("cloud-provider", CloudProvider, "Cloud provider to use; empty for none.", v => CloudProvider = v);
        fs.StringVar("cloud-config", CloudConfig, "Path to the cloud provider's configuration file; empty for none.", v => CloudConfig = v);
        fs.StringVar("external-cloud-volume-plugin", ExternalCloudVolumePlugin, "Volume plugin for the cloud when --cloud-provider is 'external' (needed for the in-tree volume plugins that still rely on cloud code).", v => ExternalCloudVolumePlugin = v);
        fs.BoolVar("use-service-account-credentials", UseServiceAccountCredentials, "Give each controller its own service account credentials instead of the manager's.", v => UseServiceAccountCredentials = v);
        fs.BoolVar("allow-untagged-cloud", AllowUntaggedCloud, "Let the manager run against a cloud with no cluster tags on its instances.", v => AllowUntaggedCloud = v);
        fs.MarkDeprecated("allow-untagged-cloud", "This flag is deprecated and will be removed in a future release. A cluster-id will be required on cloud instances.");
        fs.DurationVar("route-reconciliation-period", RouteReconciliationPeriod, "How often cloud routes created for nodes are reconciled with the cloud provider.", v => RouteReconciliationPeriod = v);
        fs.DurationVar("node-monitor-period", NodeMonitorPeriod, "How often the node lifecycle controller checks each node's status.", v => NodeMonitorPeriod = v);
        fs.StringVar("cluster-name", ClusterName, "Name prefix of this cluster's cloud resources.", v => ClusterName = v);
        fs.StringVar("cluster-cidr", ClusterCidr, "Address range of the cluster's pods. Requires --allocate-node-cidrs.", v => ClusterCidr = v);
        fs.BoolVar("allocate-node-cidrs", AllocateNodeCidrs, "Give every node a pod address range (and set it on the cloud provider when there is one).", v => AllocateNodeCidrs = v);
        fs.StringVar("cidr-allocator-type", CidrAllocatorType, "Which node address range allocator to use.", v => CidrAllocatorType = v);
        fs.BoolVar("configure-cloud-routes", ConfigureCloudRoutes, "Create routes on the cloud provider for the ranges handed out by --allocate-node-cidrs.", v => ConfigureCloudRoutes = v);
        fs.DurationVar("node-sync-period", NodeSyncPeriod, "Has no effect.", v => NodeSyncPeriod = v);
        fs.MarkDeprecated("node-sync-period", "This flag is currently no-op and will be deleted.");
    }

    public IEnumerable<string> Validate()
    {
        // Like upstream's providerless build (the in-tree providers are deprecated): no cloud but an external one.
        // Upstream finds this only once it leads, when it builds the controller context; refusing it at start says the same sooner.
        if (CloudProvider.Length > 0 && CloudProvider != "external")
            yield return $"--cloud-provider: cloud provider could not be initialized: unknown cloud provider \"{CloudProvider}\"";
        if (CidrAllocatorType is not ("RangeAllocator" or "CloudAllocator" or "IPAMFromCluster" or "IPAMFromCloud" or "MultiCIDRRangeAllocator"))
            yield return $"--cidr-allocator-type: unsupported value \"{CidrAllocatorType}\": supported values: \"RangeAllocator\", \"CloudAllocator\", \"IPAMFromCluster\", \"IPAMFromCloud\", \"MultiCIDRRangeAllocator\"";
    }
}

namespace Kcm.Options;

/// <summary>
/// The command line of upstream's v1.26 kube-controller-manager: every flag with upstream's name,
/// type and default, grouped like upstream's option structs, plus the flags old unit files carry
/// that upstream has since removed (accepted with a warning). Build with <see cref="Parse"/>, then
/// call <see cref="Validate"/> before starting anything.
/// </summary>
public sealed class KubeControllerManagerOptions
{
    public const string CommandName = "kube-controller-manager";

    private readonly FeatureGates _featureGates = new();
    private readonly List<string> _extraWarnings = [];
    private FlagSet? _flags;

    public GenericOptions Generic { get; } = new();
    public KubeCloudSharedOptions KubeCloudShared { get; } = new();
    public ServiceControllerConfiguration ServiceController { get; } = new();
    public SecureServingOptions SecureServing { get; } = new();
    public InsecureServingOptions InsecureServing { get; } = new();
    public AuthenticationOptions Authentication { get; } = new();
    public AuthorizationOptions Authorization { get; } = new();
    public AttachDetachControllerConfiguration AttachDetachController { get; } = new();
    public CSRSigningControllerConfiguration CsrSigningController { get; } = new();
    public DeploymentControllerConfiguration DeploymentController { get; } = new();
    public StatefulSetControllerConfiguration StatefulSetController { get; } = new();
    public DaemonSetControllerConfiguration DaemonSetController { get; } = new();
    public DeprecatedControllerConfiguration DeprecatedFlags { get; } = new();
    public EndpointControllerConfiguration EndpointController { get; } = new();
    public EndpointSliceControllerConfiguration EndpointSliceController { get; } = new();
    public EndpointSliceMirroringControllerConfiguration EndpointSliceMirroringController { get; } = new();
    public EphemeralVolumeControllerConfiguration EphemeralVolumeController { get; } = new();
    public GarbageCollectorControllerConfiguration GarbageCollectorController { get; } = new();
    public HPAControllerConfiguration HpaController { get; } = new();
    public JobControllerConfiguration JobController { get; } = new();
    public CronJobControllerConfiguration CronJobController { get; } = new();
    public NamespaceControllerConfiguration NamespaceController { get; } = new();
    public NodeIPAMControllerConfiguration NodeIpamController { get; } = new();
    public NodeLifecycleControllerConfiguration NodeLifecycleController { get; } = new();
    public PersistentVolumeBinderControllerConfiguration PersistentVolumeBinderController { get; } = new();
    public PodGCControllerConfiguration PodGcController { get; } = new();
    public ReplicaSetControllerConfiguration ReplicaSetController { get; } = new();
    public ReplicationControllerConfiguration ReplicationController { get; } = new();
    public ResourceQuotaControllerConfiguration ResourceQuotaController { get; } = new();
    public SAControllerConfiguration ServiceAccountController { get; } = new();
    public TTLAfterFinishedControllerConfiguration TtlAfterFinishedController { get; } = new();
    public MetricsOptions Metrics { get; } = new();
    public LoggingOptions Logs { get; } = new();

    public FeatureGates FeatureGates => _featureGates;

    public bool HelpRequested { get; private set; }

    /// <summary>"" when --version was not given, else "true" or "raw" (or the version string to report instead).</summary>
    public string VersionRequested { get; private set; } = "";

    /// <summary>Positional arguments; upstream rejects any ("... does not take any arguments").</summary>
    public IReadOnlyList<string> Arguments { get; private set; } = [];

    /// <summary>One-line notices for the caller to log as warnings: deprecated or removed flags, GA feature gates.</summary>
    public IReadOnlyList<string> Warnings => [.. Flags.Warnings, .. _featureGates.Warnings, .. _extraWarnings];

    private FlagSet Flags => _flags ??= BuildFlagSet();

    /// <summary>Parses a command line; throws <see cref="FlagException"/> with one line on the first bad flag.</summary>
    public static KubeControllerManagerOptions Parse(IReadOnlyList<string> args)
    {
        var options = new KubeControllerManagerOptions();
        options.Flags.Parse(args);
        options.HelpRequested |= options.Flags.HelpRequested;
        options.Arguments = options.Flags.Arguments;
        if (options.Arguments.Count > 0 && !options.HelpRequested)
            throw new FlagException($"\"{CommandName}\" does not take any arguments, got [{string.Join(" ", options.Arguments)}]");
        options.AddDerivedWarnings();
        return options;
    }

    /// <summary>Every flag and its value, sorted by name (upstream's start-up FLAG dump).</summary>
    public IEnumerable<(string Name, string Value)> FlagValues() => Flags.Values();

    /// <summary>Whether the flag was given on the command line.</summary>
    public bool Changed(string flagName) => Flags.Changed(flagName);

    /// <summary>Upstream's IsControllerEnabled over --controllers.</summary>
    public bool IsControllerEnabled(string name) => KnownControllers.IsEnabled(name, Generic.Controllers);

    /// <summary>Every controller --controllers turns on, in registration order.</summary>
    public IReadOnlyList<string> EnabledControllers => [.. KnownControllers.All.Where(c => IsControllerEnabled(c.Name)).Select(c => c.Name)];

    /// <summary>The help text: flags by upstream's named sections, as cobra prints them.</summary>
    public static string Usage() => new KubeControllerManagerOptions().Flags.Usage();

    /// <summary>
    /// Everything upstream refuses before starting, one line each: bad values, contradicting flags,
    /// unknown controllers, and files named by flags that cannot be read. Empty when all is well.
    /// </summary>
    public IReadOnlyList<string> Validate(bool checkFiles = true)
    {
        var errors = new List<string>();
        errors.AddRange(Generic.Validate());
        errors.AddRange(KubeCloudShared.Validate());
        errors.AddRange(SecureServing.Validate());
        errors.AddRange(Authorization.Validate());
        errors.AddRange(AttachDetachController.Validate());
        errors.AddRange(CsrSigningController.Validate());
        errors.AddRange(EndpointSliceController.Validate());
        errors.AddRange(EndpointSliceMirroringController.Validate());
        errors.AddRange(EphemeralVolumeController.Validate());
        errors.AddRange(HpaController.Validate());
        errors.AddRange(NodeIpamController.Validate(KubeCloudShared));
        errors.AddRange(PersistentVolumeBinderController.Validate());
        errors.AddRange(Metrics.Validate());
        errors.AddRange(Logs.Validate(_featureGates));
        if (checkFiles)
        {
            foreach (var (flag, path) in FilesToRead())
            {
                var problem = UnreadableReason(path);
                if (problem != null) errors.Add($"--{flag}: open {path}: {problem}");
            }
        }
        return errors;
    }

    private IEnumerable<(string Flag, string Path)> FilesToRead()
    {
        (string, string)[] candidates =
        [
            ("kubeconfig", Generic.ClientConnection.Kubeconfig),
            ("authentication-kubeconfig", Authentication.RemoteKubeconfigFile),
            ("authorization-kubeconfig", Authorization.RemoteKubeconfigFile),
            ("client-ca-file", Authentication.ClientCaFile),
            ("requestheader-client-ca-file", Authentication.RequestHeaderClientCaFile),
            ("tls-cert-file", SecureServing.TlsCertFile),
            ("tls-private-key-file", SecureServing.TlsPrivateKeyFile),
            ("service-account-private-key-file", ServiceAccountController.ServiceAccountKeyFile),
            ("root-ca-file", ServiceAccountController.RootCaFile),
            ("leader-migration-config", Generic.LeaderMigrationConfig),
            ("cloud-config", KubeCloudShared.CloudConfig),
        ];
        return candidates.Where(c => c.Item2.Length > 0).Concat(CsrSigningController.Files());
    }

    private static string? UnreadableReason(string path)
    {
        if (Directory.Exists(path)) return "is a directory";
        if (!File.Exists(path)) return "no such file or directory";
        try
        {
            using var _ = File.OpenRead(path);
            return null;
        }
        catch (UnauthorizedAccessException)
        {
            return "permission denied";
        }
        catch (IOException e)
        {
            return e.Message;
        }
    }

    private void AddDerivedWarnings()
    {
        if (InsecureServing.Port > 0)
            _extraWarnings.Add($"--port={InsecureServing.Port} serves /healthz and /metrics over plain HTTP without authentication (kept for old clusters' componentstatuses; upstream v1.24+ dropped it); prefer --secure-port");
        if (Generic.ContentionProfiling && !Generic.Profiling)
            _extraWarnings.Add("--contention-profiling has no effect while --profiling is false");
        // Accepted for unit files written for upstream, but nothing here can honour them; say so rather than ignore them.
        if (Flags.Changed("vmodule"))
            _extraWarnings.Add("--vmodule has no effect: it selects Go source files, which this build does not have; use -v");
        if (Generic.EnableLeaderMigration)
            _extraWarnings.Add("--enable-leader-migration has no effect: leader migration is not implemented; this build runs no cloud controllers, so it takes only the main lock");
        if (Flags.Changed("profiling") && Generic.Profiling)
            _extraWarnings.Add("--profiling has no effect: Go's /debug/pprof is not served by this build");
        foreach (var flag in new[] { "disabled-metrics", "show-hidden-metrics-for-version", "allow-metric-labels" })
        {
            if (Flags.Changed(flag)) _extraWarnings.Add($"--{flag} has no effect: this build's metrics registry does not filter metrics yet");
        }
    }

    private FlagSet BuildFlagSet()
    {
        var fs = new FlagSet(CommandName);
        fs.Section("debugging");
        Generic.AddDebuggingFlags(fs);
        fs.Section("leader-migration");
        Generic.AddLeaderMigrationFlags(fs);
        fs.Section("generic");
        Generic.AddFlags(fs);
        KubeCloudShared.AddFlags(fs);
        fs.Var("feature-gates", "mapStringBool", "", FeatureGates.HelpText(), _featureGates.Set);
        fs.Section("service controller");
        ServiceController.AddFlags(fs);
        fs.Section("secure serving");
        SecureServing.AddFlags(fs);
        fs.Section("insecure serving");
        InsecureServing.AddFlags(fs);
        fs.Section("authentication");
        Authentication.AddFlags(fs);
        fs.Section("authorization");
        Authorization.AddFlags(fs);
        fs.Section("attachdetach controller");
        AttachDetachController.AddFlags(fs);
        fs.Section("csrsigning controller");
        CsrSigningController.AddFlags(fs);
        fs.Section("deployment controller");
        DeploymentController.AddFlags(fs);
        fs.Section("statefulset controller");
        StatefulSetController.AddFlags(fs);
        fs.Section("deprecated");
        DeprecatedFlags.AddFlags(fs);
        fs.Section("endpoint controller");
        EndpointController.AddFlags(fs);
        fs.Section("endpointslice controller");
        EndpointSliceController.AddFlags(fs);
        fs.Section("endpointslicemirroring controller");
        EndpointSliceMirroringController.AddFlags(fs);
        fs.Section("ephemeralvolume controller");
        EphemeralVolumeController.AddFlags(fs);
        fs.Section("garbagecollector controller");
        GarbageCollectorController.AddFlags(fs);
        fs.Section("horizontalpodautoscaling controller");
        HpaController.AddFlags(fs);
        fs.Section("namespace controller");
        NamespaceController.AddFlags(fs);
        fs.Section("nodeipam controller");
        NodeIpamController.AddFlags(fs);
        fs.Section("nodelifecycle controller");
        NodeLifecycleController.AddFlags(fs);
        fs.Section("persistentvolume-binder controller");
        PersistentVolumeBinderController.AddFlags(fs);
        fs.Section("podgc controller");
        PodGcController.AddFlags(fs);
        fs.Section("replicaset controller");
        ReplicaSetController.AddFlags(fs);
        fs.Section("replicationcontroller");
        ReplicationController.AddFlags(fs);
        fs.Section("resourcequota controller");
        ResourceQuotaController.AddFlags(fs);
        fs.Section("serviceaccount controller");
        ServiceAccountController.AddFlags(fs);
        fs.Section("ttl-after-finished controller");
        TtlAfterFinishedController.AddFlags(fs);
        fs.Section("metrics");
        Metrics.AddFlags(fs);
        fs.Section("logs");
        Logs.AddFlags(fs);
        fs.Section("misc");
        fs.StringVar("kubeconfig", "", "Path to a kubeconfig file with the API server's location and the credentials to use.", v => Generic.ClientConnection.Kubeconfig = v);
        fs.StringVar("master", "", "API server address; overrides the one in the kubeconfig.", v => Generic.ClientConnection.Master = v);
        fs.StringVar("insecure-experimental-approve-all-kubelet-csrs-for-group", "", "Has no effect.", _ => { });
        fs.MarkDeprecated("insecure-experimental-approve-all-kubelet-csrs-for-group", "This flag does nothing.");
        fs.Section("global");
        fs.Var("help", "", "", $"help for {CommandName}", v => HelpRequested = FlagSet.ParseBoolValue(v), noOptValue: "true", shorthand: 'h');
        fs.Var("version", "version", "", "Print version information and quit; --version=vX.Y.Z... reports the given version instead.", v =>
        {
            if (v is "false" or "0" or "f" or "F" or "FALSE" or "False") VersionRequested = "";
            else VersionRequested = v is "1" or "t" or "T" or "TRUE" or "True" ? "true" : v;
        }, noOptValue: "true");
        return fs;
    }
}

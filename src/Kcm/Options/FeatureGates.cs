namespace Kcm.Options;

public enum FeatureStage
{
    Alpha,
    Beta,
    GA,
    Deprecated,
}

public sealed record FeatureSpec(string Name, bool Default, FeatureStage Stage, bool LockedToDefault = false);

/// <summary>
/// `--feature-gates` of a v1.26 kube-controller-manager: the gate table (kube, apiserver and
/// component-base gates as v1.26 defaults them), `A=true,B=false` parsing with upstream's errors,
/// and the warnings upstream logs for GA and deprecated gates.
/// </summary>
public sealed class FeatureGates
{
    private readonly Dictionary<string, bool> _explicit = new(StringComparer.Ordinal);
    private readonly List<string> _warnings = [];

    public static IReadOnlyList<FeatureSpec> Known { get; } = BuildKnown();

    private static readonly Dictionary<string, FeatureSpec> KnownByName = Known.ToDictionary(f => f.Name, StringComparer.Ordinal);

    public IReadOnlyDictionary<string, bool> Explicit => _explicit;

    public IReadOnlyList<string> Warnings => _warnings;

    public bool Enabled(string name)
    {
        if (_explicit.TryGetValue(name, out var v)) return v;
        if (!KnownByName.TryGetValue(name, out var spec)) throw new ArgumentException($"feature gate {name} is not registered", nameof(name));
        if (spec.Stage == FeatureStage.Alpha && _explicit.TryGetValue("AllAlpha", out var allAlpha)) return allAlpha;
        if (spec.Stage == FeatureStage.Beta && _explicit.TryGetValue("AllBeta", out var allBeta)) return allBeta;
        return spec.Default;
    }

    /// <summary>Applies one `--feature-gates` value; repeated uses merge, as upstream's.</summary>
    public void Set(string value)
    {
        var parsed = new List<(string Key, bool Value)>();
        foreach (var pair in value.Split(','))
        {
            if (pair.Length == 0) continue;
            var parts = pair.Split('=', 2);
            var key = parts[0].Trim();
            if (parts.Length != 2) throw new FormatException($"missing bool value for {key}");
            var text = parts[1].Trim();
            bool b;
            try
            {
                b = FlagSet.ParseBoolValue(text);
            }
            catch (FormatException e)
            {
                throw new FormatException($"invalid value of {key}={text}, err: {e.Message}");
            }
            parsed.Add((key, b));
        }
        foreach (var (rawKey, v) in parsed)
        {
            var key = rawKey;
            if (!KnownByName.TryGetValue(key, out var spec))
            {
                // Upstream matches names exactly; unit files in the wild carry miscased names
                // (e.g. RotateKubeletServercertificate), so a case-only difference is accepted with a warning.
                var near = Known.FirstOrDefault(f => string.Equals(f.Name, key, StringComparison.OrdinalIgnoreCase));
                if (near == null) throw new FormatException($"unrecognized feature gate: {key}");
                _warnings.Add($"feature gate {key} is spelt {near.Name} upstream (which rejects the miscased name); treating it as {near.Name}");
                spec = near;
                key = near.Name;
            }
            if (spec.LockedToDefault && spec.Default != v)
                throw new FormatException($"cannot set feature gate {key} to {(v ? "true" : "false")}, feature is locked to {(spec.Default ? "true" : "false")}");
            _explicit[key] = v;
            if (spec.Stage == FeatureStage.Deprecated) _warnings.Add($"Setting deprecated feature gate {key}={(v ? "true" : "false")}. It will be removed in a future release.");
            else if (spec.Stage == FeatureStage.GA) _warnings.Add($"Setting GA feature gate {key}={(v ? "true" : "false")}. It will be removed in a future release.");
        }
    }

    /// <summary>Every known gate with its stage as kubernetes_feature_enabled labels it ("" for GA) and whether it is on.</summary>
    public IEnumerable<(string Name, string Stage, bool Enabled)> States()
        => Known.Select(f => (f.Name, f.Stage == FeatureStage.GA ? "" : f.Stage.ToString().ToUpperInvariant(), Enabled(f.Name)));

    public static string HelpText()
    {
        var lines = Known.Where(f => f.Stage != FeatureStage.GA && f.Name is not ("AllAlpha" or "AllBeta"))
            .OrderBy(f => f.Name, StringComparer.Ordinal)
            .Select(f => $"{f.Name}=true|false ({(f.Stage == FeatureStage.Deprecated ? "DEPRECATED" : f.Stage.ToString().ToUpperInvariant())} - default={(f.Default ? "true" : "false")})");
        return "Feature gates to turn on or off, as comma-separated Name=true|false pairs. Known gates:\n"
            + "AllAlpha=true|false (ALPHA - default=false)\nAllBeta=true|false (BETA - default=false)\n" + string.Join("\n", lines);
    }

    private static List<FeatureSpec> BuildKnown()
    {
        var list = new List<FeatureSpec>
        {
            new("AllAlpha", false, FeatureStage.Alpha),
            new("AllBeta", false, FeatureStage.Beta),
        };
        void Alpha(params string[] names) => list.AddRange(names.Select(n => new FeatureSpec(n, false, FeatureStage.Alpha)));
        void Beta(params string[] names) => list.AddRange(names.Select(n => new FeatureSpec(n, true, FeatureStage.Beta)));
        void BetaOff(params string[] names) => list.AddRange(names.Select(n => new FeatureSpec(n, false, FeatureStage.Beta)));
        void AlphaOn(params string[] names) => list.AddRange(names.Select(n => new FeatureSpec(n, true, FeatureStage.Alpha)));
        void GA(params string[] names) => list.AddRange(names.Select(n => new FeatureSpec(n, true, FeatureStage.GA, LockedToDefault: true)));
        void GAUnlocked(params string[] names) => list.AddRange(names.Select(n => new FeatureSpec(n, true, FeatureStage.GA)));

        // The gates (and stages, defaults, locks) upstream v1.26.3's kube_features.go tables give the controller manager,
        // as its kubernetes_feature_enabled metric lists them.
        Alpha("APISelfSubjectReview", "APIServerTracing", "AggregatedDiscoveryEndpoint", "CPUManagerPolicyAlphaOptions", "CSIMigrationRBD",
            "CSINodeExpandSecret", "CSIVolumeHealth", "ComponentSLIs", "ContainerCheckpoint", "ContextualLogging",
            "CrossNamespaceVolumeDataSource", "CustomCPUCFSQuotaPeriod", "DisableCloudProviders", "DisableKubeletCloudCredentialProviders",
            "DynamicResourceAllocation", "EventedPLEG", "HPAContainerMetrics", "HPAScaleToZero", "HonorPVReclaimPolicy",
            "IPTablesOwnershipCleanup", "InTreePluginAWSUnregister", "InTreePluginAzureDiskUnregister", "InTreePluginAzureFileUnregister",
            "InTreePluginGCEUnregister", "InTreePluginOpenStackUnregister", "InTreePluginPortworxUnregister", "InTreePluginRBDUnregister",
            "InTreePluginvSphereUnregister", "KMSv2", "KubeletInUserNamespace", "KubeletTracing", "LegacyServiceAccountTokenTracking",
            "LocalStorageCapacityIsolationFSQuotaMonitoring", "LoggingAlphaOptions", "MatchLabelKeysInPodTopologySpread",
            "MaxUnavailableStatefulSet", "MemoryQoS", "MinimizeIPTablesRestore", "MultiCIDRRangeAllocator", "NetworkPolicyStatus", "NodeSwap",
            "PDBUnhealthyPodEvictionPolicy", "PodAndContainerStatsFromCRI", "PodHasNetworkCondition", "PodSchedulingReadiness",
            "ProcMountType", "QOSReserved", "ReadWriteOncePod", "RecoverVolumeExpansionFailure", "SELinuxMountReadWriteOncePod",
            "StatefulSetAutoDeletePVC", "StatefulSetStartOrdinal", "StorageVersionAPI", "TopologyManagerPolicyAlphaOptions",
            "TopologyManagerPolicyOptions", "UserNamespacesStatelessPodsSupport", "ValidatingAdmissionPolicy", "VolumeCapacityPriority",
            "WinDSR");
        AlphaOn("WindowsHostNetwork");
        Beta("APIListChunking", "APIPriorityAndFairness", "APIResponseCompression", "APIServerIdentity", "AnyVolumeDataSource", "AppArmor",
            "CPUManagerPolicyBetaOptions", "CPUManagerPolicyOptions", "CronJobTimeZone", "CustomResourceValidationExpressions",
            "DownwardAPIHugePages", "ExpandedDNSConfig", "GRPCContainerProbe", "GracefulNodeShutdown",
            "GracefulNodeShutdownBasedOnPodPriority", "JobMutableNodeSchedulingDirectives", "JobPodFailurePolicy", "JobReadyPods",
            "KubeletPodResources", "KubeletPodResourcesGetAllocatable", "LogarithmicScaleDown", "LoggingBetaOptions", "MemoryManager",
            "NodeInclusionPolicyInPodTopologySpread", "NodeOutOfServiceVolumeDetach", "OpenAPIEnums", "OpenAPIV3", "PodDeletionCost",
            "PodDisruptionConditions", "ProbeTerminationGracePeriod", "ProxyTerminatingEndpoints", "RemainingItemCount",
            "RetroactiveDefaultStorageClass", "RotateKubeletServerCertificate", "SeccompDefault", "ServerSideFieldValidation",
            "SizeMemoryBackedVolumes", "StorageVersionHash", "TopologyAwareHints", "TopologyManager", "WinOverlay");
        BetaOff("CSIMigrationPortworx", "ExperimentalHostUserNamespaceDefaulting", "MinDomainsInPodTopologySpread",
            "TopologyManagerPolicyBetaOptions");
        GA("CPUManager", "CSIInlineVolume", "CSIMigration", "CSIMigrationAWS", "CSIMigrationAzureDisk", "CSIMigrationGCE",
            "CSIMigrationvSphere", "CSIStorageCapacity", "ControllerManagerLeaderMigration", "DaemonSetUpdateSurge",
            "DelegateFSGroupToCSIDriver", "DevicePlugins", "DisableAcceleratorUsageMetrics", "DryRun", "EfficientWatchResumption",
            "EndpointSliceTerminatingCondition", "EphemeralContainers", "IPv6DualStack", "IdentifyPodOS", "JobTrackingWithFinalizers",
            "KubeletCredentialProviders", "LocalStorageCapacityIsolation", "MixedProtocolLBService", "NetworkPolicyEndPort", "PodSecurity",
            "RemoveSelfLink", "ServerSideApply", "ServiceIPStaticSubrange", "ServiceInternalTrafficPolicy", "StatefulSetMinReadySeconds",
            "WatchBookmark", "WindowsHostProcessContainers");
        GAUnlocked("AdvancedAuditing", "CSIMigrationAzureFile", "ConsistentHTTPGetHandlers", "ExecProbeTimeout", "ExpandCSIVolumes",
            "ExpandInUsePersistentVolumes", "ExpandPersistentVolumes", "LegacyServiceAccountTokenNoAutoGeneration");
        return list;
    }
}

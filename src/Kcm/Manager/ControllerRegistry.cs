using Kcm.Controllers;
using Kcm.Controllers.AttachDetach;
using Kcm.Controllers.Bootstrap;
using Kcm.Controllers.Certificates;
using Kcm.Controllers.CloudProvider;
using Kcm.Controllers.ClusterRoleAggregation;
using Kcm.Controllers.Common;
using Kcm.Controllers.CronJobs;
using Kcm.Controllers.DaemonSets;
using Kcm.Controllers.Deployments;
using Kcm.Controllers.Disruption;
using Kcm.Controllers.EndpointSliceMirroring;
using Kcm.Controllers.EndpointSlices;
using Kcm.Controllers.EphemeralVolumes;
using Kcm.Controllers.GarbageCollector;
using Kcm.Controllers.Jobs;
using Kcm.Controllers.Namespaces;
using Kcm.Controllers.NodeIpam;
using Kcm.Controllers.NodeLifecycle;
using Kcm.Controllers.PersistentVolumes;
using Kcm.Controllers.PodAutoscaling;
using Kcm.Controllers.PodGc;
using Kcm.Controllers.PvcProtection;
using Kcm.Controllers.PvProtection;
using Kcm.Controllers.ReplicaSets;
using Kcm.Controllers.ResourceQuotas;
using Kcm.Controllers.RootCaCertPublisher;
using Kcm.Controllers.ServiceAccounts;
using Kcm.Controllers.ServiceEndpoints;
using Kcm.Controllers.StatefulSets;
using Kcm.Controllers.Ttl;
using Kcm.Controllers.TtlAfterFinished;
using Kcm.Controllers.VolumeExpansion;
using Kcm.Options;

namespace Kcm.Manager;

/// <summary>Builds a controller from the shared context and the flags; null when it decides not to run.</summary>
public delegate RunController? ControllerInitializer(ControllerContext context, KubeControllerManagerOptions options);

/// <summary>One entry of the registry: a controller's descriptor and how to start it.</summary>
public sealed record RegisteredController(ControllerDescriptor Descriptor, ControllerInitializer Initialize);

/// <summary>
/// Every controller v1.26's NewControllerInitializers registers with default feature gates, in its order, one line
/// each binds its descriptor (declared in its own folder) to the values of its flag group. (storage-version-gc needs the alpha
/// StorageVersionAPI gate and resource-claim-controller the alpha DynamicResourceAllocation gate, so neither is
/// known by default.)
/// </summary>
public static class ControllerRegistry
{
    public static IReadOnlyList<RegisteredController> All { get; } =
    [
        // Upstream starts the tokens controller before all others (serviceAccountTokenControllerStarter).
        Bind(ServiceAccountDescriptors.Tokens, o => new(o.ServiceAccountController.ServiceAccountKeyFile, o.ServiceAccountController.RootCaFile, o.ServiceAccountController.ConcurrentSaTokenSyncs, o.FeatureGates.Enabled("LegacyServiceAccountTokenNoAutoGeneration"))),
        Bind(EndpointsDescriptor.Value, o => new() { Workers = o.EndpointController.ConcurrentEndpointSyncs, UpdatesBatchPeriod = o.EndpointController.EndpointUpdatesBatchPeriod }),
        Bind(EndpointSliceDescriptors.EndpointSlice, o => new()
        {
            Workers = o.EndpointSliceController.ConcurrentServiceEndpointSyncs,
            MaxEndpointsPerSlice = o.EndpointSliceController.MaxEndpointsPerSlice,
            BatchPeriod = o.EndpointSliceController.EndpointSliceUpdatesBatchPeriod,
            TopologyAwareHints = o.FeatureGates.Enabled("TopologyAwareHints"),
        }),
        Bind(EndpointSliceMirroringDescriptors.EndpointSliceMirroring, o => new()
        {
            Workers = o.EndpointSliceMirroringController.ConcurrentServiceEndpointSyncs,
            MaxEndpointsPerSubset = o.EndpointSliceMirroringController.MaxEndpointsPerSubset,
            BatchPeriod = o.EndpointSliceMirroringController.EndpointSliceUpdatesBatchPeriod,
        }),
        Bind(ReplicaSetDescriptors.ReplicationController, o => ReplicaSetOptions(o, o.ReplicationController.ConcurrentRcSyncs)),
        Bind(PodGcDescriptor.Value, o => new() { TerminatedPodThreshold = o.PodGcController.TerminatedPodGcThreshold }),
        Bind(ResourceQuotaDescriptor.Value, o => new() { Workers = o.ResourceQuotaController.ConcurrentResourceQuotaSyncs, ResyncPeriod = o.ResourceQuotaController.ResourceQuotaSyncPeriod }),
        Bind(NamespaceDescriptor.Value, o => new() { ResyncPeriod = o.NamespaceController.NamespaceSyncPeriod, Workers = o.NamespaceController.ConcurrentNamespaceSyncs }),
        Bind(ServiceAccountDescriptors.ServiceAccount, _ => NoSettings.Value),
        Bind(GarbageCollectorDescriptor.Value, o => new(o.GarbageCollectorController.EnableGarbageCollector, o.GarbageCollectorController.ConcurrentGcSyncs)),
        // v1.26 has no --concurrent-daemonset-syncs flag: the componentconfig default (2) is the worker count.
        Bind(DaemonSetDescriptor.Value, _ => new DaemonSetControllerOptions()),
        Bind(JobDescriptor.Value, o => new() { Workers = o.JobController.ConcurrentJobSyncs }),
        Bind(DeploymentDescriptor.Value, o => new() { Workers = o.DeploymentController.ConcurrentDeploymentSyncs }),
        Bind(ReplicaSetDescriptors.ReplicaSet, o => ReplicaSetOptions(o, o.ReplicaSetController.ConcurrentReplicaSetSyncs)),
        Bind(HorizontalPodAutoscalerDescriptor.Value, o => new()
        {
            Workers = o.HpaController.ConcurrentHorizontalPodAutoscalerSyncs,
            SyncPeriod = o.HpaController.SyncPeriod,
            DownscaleStabilizationWindow = o.HpaController.DownscaleStabilizationWindow,
            Tolerance = o.HpaController.Tolerance,
            CpuInitializationPeriod = o.HpaController.CpuInitializationPeriod,
            InitialReadinessDelay = o.HpaController.InitialReadinessDelay,
        }),
        Bind(DisruptionDescriptor.Value, _ => NoSettings.Value),
        Bind(StatefulSetDescriptor.Value, o => new()
        {
            Workers = o.StatefulSetController.ConcurrentStatefulSetSyncs,
            Features = new(
                AutoDeletePvc: o.FeatureGates.Enabled("StatefulSetAutoDeletePVC"),
                MaxUnavailable: o.FeatureGates.Enabled("MaxUnavailableStatefulSet"),
                StartOrdinal: o.FeatureGates.Enabled("StatefulSetStartOrdinal")),
        }),
        Bind(CronJobDescriptor.Value, o => new() { Workers = o.CronJobController.ConcurrentCronJobSyncs, TimeZoneEnabled = o.FeatureGates.Enabled("CronJobTimeZone") }),
        Bind(CertificateDescriptors.Signing, CertificatesInitializers.SigningSettings),
        Bind(CertificateDescriptors.Approving, _ => NoSettings.Value),
        Bind(CertificateDescriptors.Cleaning, _ => NoSettings.Value),
        Bind(TtlDescriptor.Value, _ => new TtlControllerOptions()),
        Bind(BootstrapDescriptors.BootstrapSigner, _ => NoSettings.Value),
        Bind(BootstrapDescriptors.TokenCleaner, _ => NoSettings.Value),
        Bind(NodeIpamDescriptor.Value, o => new NodeIpamSettings
        {
            AllocateNodeCidrs = o.KubeCloudShared.AllocateNodeCidrs,
            ClusterCidr = o.KubeCloudShared.ClusterCidr,
            ServiceCidr = o.NodeIpamController.ServiceCidr,
            NodeCidrMaskSize = o.NodeIpamController.NodeCidrMaskSize,
            NodeCidrMaskSizeIPv4 = o.NodeIpamController.NodeCidrMaskSizeIPv4,
            NodeCidrMaskSizeIPv6 = o.NodeIpamController.NodeCidrMaskSizeIPv6,
            CidrAllocatorType = o.KubeCloudShared.CidrAllocatorType,
        }),
        Bind(NodeLifecycleDescriptor.Value, o => new NodeLifecycleControllerOptions
        {
            NodeMonitorPeriod = o.KubeCloudShared.NodeMonitorPeriod,
            NodeStartupGracePeriod = o.NodeLifecycleController.NodeStartupGracePeriod,
            NodeMonitorGracePeriod = o.NodeLifecycleController.NodeMonitorGracePeriod,
            PodEvictionTimeout = o.NodeLifecycleController.PodEvictionTimeout,
            EvictionLimiterQps = o.NodeLifecycleController.NodeEvictionRate,
            SecondaryEvictionLimiterQps = o.NodeLifecycleController.SecondaryNodeEvictionRate,
            LargeClusterThreshold = o.NodeLifecycleController.LargeClusterSizeThreshold,
            UnhealthyZoneThreshold = o.NodeLifecycleController.UnhealthyZoneThreshold,
            RunTaintManager = o.NodeLifecycleController.EnableTaintManager,
        }),
        Bind(CloudControllerDescriptors.Service, CloudSettings),
        Bind(CloudControllerDescriptors.Route, CloudSettings),
        Bind(CloudControllerDescriptors.CloudNodeLifecycle, CloudSettings),
        Bind(PersistentVolumeBinderDescriptor.Value, o => new()
        {
            SyncPeriod = o.PersistentVolumeBinderController.PvClaimBinderSyncPeriod,
            EnableDynamicProvisioning = o.PersistentVolumeBinderController.EnableDynamicProvisioning,
            EnableHostPathProvisioning = o.PersistentVolumeBinderController.EnableHostPathProvisioning,
            RecyclerPodTemplateFilePathHostPath = o.PersistentVolumeBinderController.RecyclerPodTemplateFilePathHostPath,
            RecyclerMinimumTimeoutHostPath = o.PersistentVolumeBinderController.RecyclerMinimumTimeoutHostPath,
            RecyclerTimeoutIncrementHostPath = o.PersistentVolumeBinderController.RecyclerTimeoutIncrementHostPath,
            RecyclerPodTemplateFilePathNfs = o.PersistentVolumeBinderController.RecyclerPodTemplateFilePathNfs,
            RecyclerMinimumTimeoutNfs = o.PersistentVolumeBinderController.RecyclerMinimumTimeoutNfs,
            RecyclerIncrementTimeoutNfs = o.PersistentVolumeBinderController.RecyclerIncrementTimeoutNfs,
            FeatureGates = o.FeatureGates.Enabled,
        }),
        Bind(AttachDetachDescriptor.Value, o => new(o.AttachDetachController.DisableReconcileSync, o.AttachDetachController.ReconcileSyncPeriod,
            o.FeatureGates.Enabled("NodeOutOfServiceVolumeDetach"))),
        Bind(ExpandControllerDescriptor.Value, o => new(CsiMigration.EnabledPlugins(o.FeatureGates.Enabled))),
        Bind(ClusterRoleAggregationDescriptor.Value, _ => new ClusterRoleAggregationOptions()),
        Bind(PvcProtectionDescriptor.Value, _ => NoSettings.Value),
        Bind(PvProtectionDescriptor.Value, _ => NoSettings.Value),
        Bind(TtlAfterFinishedDescriptor.Value, o => new() { Workers = o.TtlAfterFinishedController.ConcurrentTtlSyncs }),
        Bind(RootCaCertPublisherDescriptor.Value, o => o.ServiceAccountController.RootCaFile),
        Bind(EphemeralVolumeDescriptor.Value, o => new() { Workers = o.EphemeralVolumeController.ConcurrentEphemeralVolumeSyncs }),
    ];

    /// <summary>The entry for a name (or alias), if known.</summary>
    public static RegisteredController? Find(string name)
        => All.FirstOrDefault(c => c.Descriptor.Name == name || c.Descriptor.Aliases.Contains(name));

    private static RegisteredController Bind<TSettings>(ControllerDescriptor<TSettings> descriptor, Func<KubeControllerManagerOptions, TSettings> settings)
        => new(descriptor, (context, options) => descriptor.Start(context, settings(options)));


    private static CloudControllerSettings CloudSettings(KubeControllerManagerOptions options) => new(
        options.KubeCloudShared.CloudProvider == "external", options.KubeCloudShared.AllocateNodeCidrs, options.KubeCloudShared.ConfigureCloudRoutes);

    private static ReplicaSetControllerOptions ReplicaSetOptions(KubeControllerManagerOptions options, int workers) => new()
    {
        Workers = workers,
        Ranking = new PodRankingFeatures(
            PodDeletionCost: options.FeatureGates.Enabled("PodDeletionCost"),
            LogarithmicScaleDown: options.FeatureGates.Enabled("LogarithmicScaleDown")),
    };

    /// <summary>
    /// Contents of files enabled controllers will read, checked before anything starts so a bad file is one clear
    /// line rather than a controller failing after leader election: the service account key and the root CA.
    /// </summary>
    public static IReadOnlyList<string> ValidateInputs(KubeControllerManagerOptions options)
    {
        var errors = new List<string>();
        var sa = options.ServiceAccountController;
        var tokens = options.IsControllerEnabled(ServiceAccountDescriptors.Tokens.Name);
        if (tokens && sa.ServiceAccountKeyFile.Length > 0)
        {
            try
            {
                LegacyTokenGenerator.FromPemFile(sa.ServiceAccountKeyFile).Dispose();
            }
            catch (ServiceAccountKeyFileException e)
            {
                errors.Add(e.Message);
            }
        }
        if (sa.RootCaFile.Length > 0 && (tokens || options.IsControllerEnabled(RootCaCertPublisherDescriptor.Value.Name)))
        {
            try
            {
                RootCaBundle.ReadFile(sa.RootCaFile);
            }
            catch (RootCaFileException e)
            {
                errors.Add(e.Message);
            }
        }
        return errors;
    }
}

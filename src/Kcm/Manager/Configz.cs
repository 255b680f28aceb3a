using Kcm.Api.Codecs;
using Kcm.Options;

namespace Kcm.Manager;

/// <summary>
/// The /configz document: upstream's KubeControllerManagerConfiguration (v1alpha1 field names, every
/// section in its order) under "kubecontrollermanager.config.k8s.io"; durations as Go prints them.
/// </summary>
public static class Configz
{
    public const string Group = "kubecontrollermanager.config.k8s.io";

    public static Dictionary<string, object?> Build(KubeControllerManagerOptions o) => new() { [Group] = Configuration(o) };

    private static Dictionary<string, object?> Configuration(KubeControllerManagerOptions o)
    {
        var g = o.Generic;
        var shared = o.KubeCloudShared;
        var csr = o.CsrSigningController;
        var hpa = o.HpaController;
        var nodes = o.NodeLifecycleController;
        var pv = o.PersistentVolumeBinderController;
        var serviceCidrs = o.NodeIpamController.ServiceCidr.Split(',');
        return new()
        {
            ["Generic"] = Map(
                ("Port", o.InsecureServing.Port),
                ("Address", o.InsecureServing.Address.ToString()),
                ("MinResyncPeriod", D(g.MinResyncPeriod)),
                // Upstream keeps the kubeconfig path out of the component configuration.
                ("ClientConnection", Map(("Kubeconfig", ""), ("AcceptContentTypes", ""), ("ContentType", g.ClientConnection.ContentType),
                    ("QPS", g.ClientConnection.Qps), ("Burst", g.ClientConnection.Burst))),
                ("ControllerStartInterval", D(g.ControllerStartInterval)),
                ("LeaderElection", Map(("LeaderElect", g.LeaderElection.LeaderElect), ("LeaseDuration", D(g.LeaderElection.LeaseDuration)),
                    ("RenewDeadline", D(g.LeaderElection.RenewDeadline)), ("RetryPeriod", D(g.LeaderElection.RetryPeriod)),
                    ("ResourceLock", g.LeaderElection.ResourceLock), ("ResourceName", g.LeaderElection.ResourceName),
                    ("ResourceNamespace", g.LeaderElection.ResourceNamespace))),
                ("Controllers", g.Controllers.ToList()),
                ("Debugging", Map(("EnableProfiling", g.Profiling), ("EnableContentionProfiling", g.ContentionProfiling))),
                ("LeaderMigrationEnabled", g.EnableLeaderMigration),
                ("LeaderMigration", Map(("LeaderName", ""), ("ResourceLock", ""), ("ControllerLeaders", null)))),
            ["KubeCloudShared"] = Map(
                ("CloudProvider", Map(("Name", shared.CloudProvider), ("CloudConfigFile", shared.CloudConfig))),
                ("ExternalCloudVolumePlugin", shared.ExternalCloudVolumePlugin),
                ("UseServiceAccountCredentials", shared.UseServiceAccountCredentials),
                ("AllowUntaggedCloud", shared.AllowUntaggedCloud),
                ("RouteReconciliationPeriod", D(shared.RouteReconciliationPeriod)),
                ("NodeMonitorPeriod", D(shared.NodeMonitorPeriod)),
                ("ClusterName", shared.ClusterName),
                ("ClusterCIDR", shared.ClusterCidr),
                ("AllocateNodeCIDRs", shared.AllocateNodeCidrs),
                ("CIDRAllocatorType", shared.CidrAllocatorType),
                ("ConfigureCloudRoutes", shared.ConfigureCloudRoutes),
                ("NodeSyncPeriod", D(shared.NodeSyncPeriod))),
            ["AttachDetachController"] = Map(
                ("DisableAttachDetachReconcilerSync", o.AttachDetachController.DisableReconcileSync),
                ("ReconcilerSyncLoopPeriod", D(o.AttachDetachController.ReconcileSyncPeriod))),
            ["CSRSigningController"] = Map(
                ("ClusterSigningCertFile", csr.ClusterSigningCertFile),
                ("ClusterSigningKeyFile", csr.ClusterSigningKeyFile),
                ("KubeletServingSignerConfiguration", Signer(csr.KubeletServing)),
                ("KubeletClientSignerConfiguration", Signer(csr.KubeletClient)),
                ("KubeAPIServerClientSignerConfiguration", Signer(csr.KubeApiServerClient)),
                ("LegacyUnknownSignerConfiguration", Signer(csr.LegacyUnknown)),
                ("ClusterSigningDuration", D(csr.ClusterSigningDuration))),
            ["DaemonSetController"] = Map(("ConcurrentDaemonSetSyncs", o.DaemonSetController.ConcurrentDaemonSetSyncs)),
            ["DeploymentController"] = Map(("ConcurrentDeploymentSyncs", o.DeploymentController.ConcurrentDeploymentSyncs)),
            ["StatefulSetController"] = Map(("ConcurrentStatefulSetSyncs", o.StatefulSetController.ConcurrentStatefulSetSyncs)),
            ["DeprecatedController"] = Map(),
            ["EndpointController"] = Map(
                ("ConcurrentEndpointSyncs", o.EndpointController.ConcurrentEndpointSyncs),
                ("EndpointUpdatesBatchPeriod", D(o.EndpointController.EndpointUpdatesBatchPeriod))),
            ["EndpointSliceController"] = Map(
                ("ConcurrentServiceEndpointSyncs", o.EndpointSliceController.ConcurrentServiceEndpointSyncs),
                ("MaxEndpointsPerSlice", o.EndpointSliceController.MaxEndpointsPerSlice),
                ("EndpointUpdatesBatchPeriod", D(o.EndpointSliceController.EndpointSliceUpdatesBatchPeriod))),
            ["EndpointSliceMirroringController"] = Map(
                ("MirroringConcurrentServiceEndpointSyncs", o.EndpointSliceMirroringController.ConcurrentServiceEndpointSyncs),
                ("MirroringMaxEndpointsPerSubset", o.EndpointSliceMirroringController.MaxEndpointsPerSubset),
                ("MirroringEndpointUpdatesBatchPeriod", D(o.EndpointSliceMirroringController.EndpointSliceUpdatesBatchPeriod))),
            ["EphemeralVolumeController"] = Map(("ConcurrentEphemeralVolumeSyncs", o.EphemeralVolumeController.ConcurrentEphemeralVolumeSyncs)),
            ["GarbageCollectorController"] = Map(
                ("EnableGarbageCollector", o.GarbageCollectorController.EnableGarbageCollector),
                ("ConcurrentGCSyncs", o.GarbageCollectorController.ConcurrentGcSyncs),
                ("GCIgnoredResources", new List<object?> { Map(("Group", ""), ("Resource", "events")), Map(("Group", "events.k8s.io"), ("Resource", "events")) })),
            ["HPAController"] = Map(
                // --concurrent-horizontal-pod-autoscaler-syncs arrives with the HPA controller; its default until then.
                ("ConcurrentHorizontalPodAutoscalerSyncs", 5),
                ("HorizontalPodAutoscalerSyncPeriod", D(hpa.SyncPeriod)),
                ("HorizontalPodAutoscalerUpscaleForbiddenWindow", D(TimeSpan.FromMinutes(3))),
                ("HorizontalPodAutoscalerDownscaleForbiddenWindow", D(TimeSpan.FromMinutes(5))),
                ("HorizontalPodAutoscalerDownscaleStabilizationWindow", D(hpa.DownscaleStabilizationWindow)),
                ("HorizontalPodAutoscalerTolerance", hpa.Tolerance),
                ("HorizontalPodAutoscalerCPUInitializationPeriod", D(hpa.CpuInitializationPeriod)),
                ("HorizontalPodAutoscalerInitialReadinessDelay", D(hpa.InitialReadinessDelay))),
            ["JobController"] = Map(("ConcurrentJobSyncs", o.JobController.ConcurrentJobSyncs)),
            ["CronJobController"] = Map(("ConcurrentCronJobSyncs", o.CronJobController.ConcurrentCronJobSyncs)),
            ["NamespaceController"] = Map(
                ("NamespaceSyncPeriod", D(o.NamespaceController.NamespaceSyncPeriod)),
                ("ConcurrentNamespaceSyncs", o.NamespaceController.ConcurrentNamespaceSyncs)),
            ["NodeIPAMController"] = Map(
                ("ServiceCIDR", serviceCidrs[0]),
                ("SecondaryServiceCIDR", serviceCidrs.Length > 1 ? serviceCidrs[1] : ""),
                ("NodeCIDRMaskSize", o.NodeIpamController.NodeCidrMaskSize),
                ("NodeCIDRMaskSizeIPv4", o.NodeIpamController.NodeCidrMaskSizeIPv4),
                ("NodeCIDRMaskSizeIPv6", o.NodeIpamController.NodeCidrMaskSizeIPv6)),
            ["NodeLifecycleController"] = Map(
                ("EnableTaintManager", nodes.EnableTaintManager),
                ("NodeEvictionRate", nodes.NodeEvictionRate),
                ("SecondaryNodeEvictionRate", nodes.SecondaryNodeEvictionRate),
                ("NodeStartupGracePeriod", D(nodes.NodeStartupGracePeriod)),
                ("NodeMonitorGracePeriod", D(nodes.NodeMonitorGracePeriod)),
                ("PodEvictionTimeout", D(nodes.PodEvictionTimeout)),
                ("LargeClusterSizeThreshold", nodes.LargeClusterSizeThreshold),
                ("UnhealthyZoneThreshold", nodes.UnhealthyZoneThreshold)),
            ["PersistentVolumeBinderController"] = Map(
                ("PVClaimBinderSyncPeriod", D(pv.PvClaimBinderSyncPeriod)),
                ("VolumeConfiguration", Map(
                    ("EnableHostPathProvisioning", pv.EnableHostPathProvisioning),
                    ("EnableDynamicProvisioning", pv.EnableDynamicProvisioning),
                    ("PersistentVolumeRecyclerConfiguration", Map(
                        ("MaximumRetry", 3),
                        ("MinimumTimeoutNFS", pv.RecyclerMinimumTimeoutNfs),
                        ("PodTemplateFilePathNFS", pv.RecyclerPodTemplateFilePathNfs),
                        ("IncrementTimeoutNFS", pv.RecyclerIncrementTimeoutNfs),
                        ("PodTemplateFilePathHostPath", pv.RecyclerPodTemplateFilePathHostPath),
                        ("MinimumTimeoutHostPath", pv.RecyclerMinimumTimeoutHostPath),
                        ("IncrementTimeoutHostPath", pv.RecyclerTimeoutIncrementHostPath))),
                    ("FlexVolumePluginDir", pv.FlexVolumePluginDir))),
                // A Go nil slice when the flag is not given.
                ("VolumeHostCIDRDenylist", pv.VolumeHostCidrDenylist.Count == 0 ? null : pv.VolumeHostCidrDenylist.ToList()),
                ("VolumeHostAllowLocalLoopback", pv.VolumeHostAllowLocalLoopback)),
            ["PodGCController"] = Map(("TerminatedPodGCThreshold", o.PodGcController.TerminatedPodGcThreshold)),
            ["ReplicaSetController"] = Map(("ConcurrentRSSyncs", o.ReplicaSetController.ConcurrentReplicaSetSyncs)),
            ["ReplicationController"] = Map(("ConcurrentRCSyncs", o.ReplicationController.ConcurrentRcSyncs)),
            ["ResourceQuotaController"] = Map(
                ("ResourceQuotaSyncPeriod", D(o.ResourceQuotaController.ResourceQuotaSyncPeriod)),
                ("ConcurrentResourceQuotaSyncs", o.ResourceQuotaController.ConcurrentResourceQuotaSyncs)),
            ["SAController"] = Map(
                ("ServiceAccountKeyFile", o.ServiceAccountController.ServiceAccountKeyFile),
                ("ConcurrentSATokenSyncs", o.ServiceAccountController.ConcurrentSaTokenSyncs),
                ("RootCAFile", o.ServiceAccountController.RootCaFile)),
            ["ServiceController"] = Map(("ConcurrentServiceSyncs", o.ServiceController.ConcurrentServiceSyncs)),
            ["TTLAfterFinishedController"] = Map(("ConcurrentTTLSyncs", o.TtlAfterFinishedController.ConcurrentTtlSyncs)),
        };
    }

    private static Dictionary<string, object?> Signer(CsrSignerFiles files) => Map(("CertFile", files.CertFile), ("KeyFile", files.KeyFile));

    private static string D(TimeSpan d) => GoDuration.Format(d);

    private static Dictionary<string, object?> Map(params (string Key, object? Value)[] fields)
    {
        var map = new Dictionary<string, object?>();
        foreach (var (key, value) in fields) map[key] = value;
        return map;
    }
}

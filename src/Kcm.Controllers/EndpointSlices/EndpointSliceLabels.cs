namespace Kcm.Controllers.EndpointSlices;

/// <summary>The well-known labels and annotations of EndpointSlices (k8s.io/api discovery/v1 and core/v1).</summary>
public static class EndpointSliceLabels
{
    public const string ServiceName = "kubernetes.io/service-name";
    public const string ManagedBy = "endpointslice.kubernetes.io/managed-by";
    public const string SkipMirror = "endpointslice.kubernetes.io/skip-mirror";
    public const string HeadlessService = "service.kubernetes.io/headless";

    public const string LastChangeTriggerTime = "endpoints.kubernetes.io/last-change-trigger-time";
    public const string LastAppliedConfig = "kubectl.kubernetes.io/last-applied-configuration";
    public const string TopologyAwareHints = "service.kubernetes.io/topology-aware-hints";
    public const string LeaderElectionRecord = "control-plane.alpha.kubernetes.io/leader";
    public const string TopologyZone = "topology.kubernetes.io/zone";

    public const string AddressTypeIPv4 = "IPv4";
    public const string AddressTypeIPv6 = "IPv6";
}

using Kcm.Api.Core.V1;
using Kcm.Api.Discovery.V1;
using Kcm.Controllers.Common;
using EndpointPort = Kcm.Api.Discovery.V1.EndpointPort;

namespace Kcm.Controllers.EndpointSlices;

/// <summary>What a Service's slices look like: endpoints from pods, ports, address types, labels, ownership (upstream's endpointslice utils.go).</summary>
public sealed partial class EndpointSliceReconciler
{
    internal static Endpoint PodToEndpoint(Pod pod, Node? node, Service service, string addressType)
    {
        var serving = PodReadiness.IsPodReady(pod);
        var terminating = pod.Metadata?.DeletionTimestamp is not null;
        var endpoint = new Endpoint
        {
            Addresses = AddressesOf(pod, addressType),
            Conditions = new EndpointConditions
            {
                Ready = service.Spec?.PublishNotReadyAddresses == true || (serving && !terminating),
                Serving = serving,
                Terminating = terminating,
            },
            TargetRef = new ObjectReference { Kind = "Pod", Namespace = pod.Metadata?.Namespace, Name = pod.Metadata?.Name, Uid = pod.Metadata?.Uid },
        };
        if (!string.IsNullOrEmpty(pod.Spec?.NodeName))
        {
            endpoint.NodeName = pod.Spec.NodeName;
        }
        if (node?.Metadata?.Labels?.GetValueOrDefault(EndpointSliceLabels.TopologyZone) is { Length: > 0 } zone)
        {
            endpoint.Zone = zone;
        }
        if (PodEndpoints.ShouldSetHostname(pod, service))
        {
            endpoint.Hostname = pod.Spec!.Hostname;
        }
        return endpoint;
    }

    private static List<string> AddressesOf(Pod pod, string addressType)
    {
        var result = new List<string>();
        foreach (var ip in pod.Status?.PodIPs ?? [])
        {
            if (ip.Ip is { } address && (IsIPv6(address) ? EndpointSliceLabels.AddressTypeIPv6 : EndpointSliceLabels.AddressTypeIPv4) == addressType)
            {
                result.Add(address);
            }
        }
        return result;
    }

    /// <summary>utilnet.IsIPv6String: a parseable address that is not IPv4.</summary>
    internal static bool IsIPv6(string address)
        => System.Net.IPAddress.TryParse(address, out var ip) && ip.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6 && address.Contains(':');

    /// <summary>The Service's ports as this pod serves them (named target ports resolved on the pod; ports it lacks left out).</summary>
    internal static List<EndpointPort> EndpointPortsFor(Service service, Pod pod)
    {
        var result = new List<EndpointPort>();
        var servicePorts = service.Spec?.Ports ?? [];
        if (servicePorts.Count == 0 && service.Spec?.ClusterIP == PodEndpoints.ClusterIpNone)
        {
            return result;
        }
        foreach (var servicePort in servicePorts)
        {
            if (PodEndpoints.FindPort(pod, servicePort) is not { } number)
            {
                continue;
            }
            result.Add(new EndpointPort { Name = servicePort.Name ?? "", Port = number, Protocol = servicePort.Protocol ?? "TCP", AppProtocol = servicePort.AppProtocol });
        }
        return result;
    }

    /// <summary>The address types a Service's slices carry: its ipFamilies; else its cluster IP's family; else (headless, old apiserver) both.</summary>
    internal static List<string> AddressTypesFor(Service service)
    {
        var result = new List<string>();
        foreach (var family in service.Spec?.IpFamilies ?? [])
        {
            var type = family switch { "IPv4" => EndpointSliceLabels.AddressTypeIPv4, "IPv6" => EndpointSliceLabels.AddressTypeIPv6, _ => null };
            if (type is not null && !result.Contains(type))
            {
                result.Add(type);
            }
        }
        if (result.Count > 0)
        {
            return result;
        }
        var clusterIp = service.Spec?.ClusterIP;
        if (!string.IsNullOrEmpty(clusterIp) && clusterIp != PodEndpoints.ClusterIpNone)
        {
            return [IsIPv6(clusterIp) ? EndpointSliceLabels.AddressTypeIPv6 : EndpointSliceLabels.AddressTypeIPv4];
        }
        return [EndpointSliceLabels.AddressTypeIPv4, EndpointSliceLabels.AddressTypeIPv6];
    }

    internal static EndpointSlice NewEndpointSlice(Service service, List<EndpointPort> ports, string addressType)
    {
        var slice = new EndpointSlice
        {
            Metadata = new Kcm.Api.Meta.V1.ObjectMeta
            {
                GenerateName = service.Metadata?.Name + "-",
                Namespace = service.Metadata?.Namespace,
                OwnerReferences = [ControllerRefs.NewControllerRef(service.Metadata!, Service.Resource)],
            },
            Ports = ports,
            AddressType = addressType,
            Endpoints = [],
        };
        slice.Metadata.Labels = SliceLabels(slice, service).Labels;
        return slice;
    }

    /// <summary>
    /// The labels a slice should carry: the Service's (minus the reserved keys) plus service-name, managed-by and the
    /// headless marker. Changed reports only a difference in the copied Service labels, as upstream (a stale headless
    /// label alone does not cause an update).
    /// </summary>
    internal static (Dictionary<string, string> Labels, bool Changed) SliceLabels(EndpointSlice slice, Service service)
    {
        var sliceLabels = (slice.Metadata?.Labels ?? []).Where(kv => !IsReservedLabel(kv.Key)).ToDictionary();
        var labels = new Dictionary<string, string>();
        foreach (var (key, value) in service.Metadata?.Labels ?? [])
        {
            if (!IsReservedLabel(key))
            {
                labels[key] = value;
            }
        }
        var changed = sliceLabels.Count != labels.Count || sliceLabels.Any(kv => !labels.TryGetValue(kv.Key, out var v) || v != kv.Value);
        var clusterIp = service.Spec?.ClusterIP;
        if (string.IsNullOrEmpty(clusterIp) || clusterIp == PodEndpoints.ClusterIpNone)
        {
            labels[EndpointSliceLabels.HeadlessService] = "";
        }
        labels[EndpointSliceLabels.ServiceName] = service.Metadata?.Name ?? "";
        labels[EndpointSliceLabels.ManagedBy] = EndpointSliceController.ManagedByValue;
        return (labels, changed);
    }

    internal static bool IsReservedLabel(string key)
        => key is EndpointSliceLabels.ServiceName or EndpointSliceLabels.ManagedBy or EndpointSliceLabels.HeadlessService;

    internal static bool OwnedBy(EndpointSlice slice, Service service)
        => slice.Metadata?.OwnerReferences?.Any(o => o.Uid == service.Metadata?.Uid && o.Kind == "Service" && o.ApiVersion == "v1") == true;

    internal static bool HintsEnabled(Service service)
        => service.Metadata?.Annotations?.GetValueOrDefault(EndpointSliceLabels.TopologyAwareHints) is "Auto" or "auto";
}

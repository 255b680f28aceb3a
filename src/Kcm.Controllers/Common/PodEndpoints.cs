using System.Globalization;
using Kcm.Api.Core.V1;

namespace Kcm.Controllers.Common;

/// <summary>How a pod becomes a Service endpoint (upstream's endpointutil and podutil.FindPort), shared by the endpoint and endpointslice controllers.</summary>
public static class PodEndpoints
{
    public const string ClusterIpNone = "None";

    /// <summary>Not terminal and has an IP; terminating pods only when <paramref name="includeTerminating"/>.</summary>
    public static bool ShouldPodBeInEndpoints(Pod pod, bool includeTerminating)
    {
        if (pod.Status?.Phase is PodReadiness.PhaseFailed or PodReadiness.PhaseSucceeded)
        {
            return false;
        }
        if (string.IsNullOrEmpty(pod.Status?.PodIP) && pod.Status?.PodIPs is not { Count: > 0 })
        {
            return false;
        }
        return includeTerminating || pod.Metadata?.DeletionTimestamp is null;
    }

    /// <summary>A pod's hostname is published only for the Service its subdomain names.</summary>
    public static bool ShouldSetHostname(Pod pod, Service service)
        => !string.IsNullOrEmpty(pod.Spec?.Hostname) && pod.Spec!.Subdomain == service.Metadata?.Name && service.Metadata?.Namespace == pod.Metadata?.Namespace;

    /// <summary>The container port a Service port targets on this pod: a number as is, a name looked up among the containers' ports with the same protocol.</summary>
    public static int? FindPort(Pod pod, ServicePort servicePort)
    {
        // The apiserver defaults targetPort to port; an object that skipped defaulting means the same.
        var target = servicePort.TargetPort ?? Kcm.Api.IntOrString.FromInt(servicePort.Port ?? 0);
        if (target.IsInt)
        {
            return target.IntValue;
        }
        foreach (var container in pod.Spec?.Containers ?? [])
        {
            foreach (var port in container.Ports ?? [])
            {
                if (port.Name == target.StringValue && (port.Protocol ?? "TCP") == (servicePort.Protocol ?? "TCP"))
                {
                    return port.ContainerPortValue ?? 0;
                }
            }
        }
        return null;
    }

    /// <summary>Whether an update changed the pod's endpoint (deletion, readiness, IPs) and whether its labels or hostname/subdomain changed.</summary>
    public static (bool PodChanged, bool LabelsChanged) PodEndpointsChanged(Pod oldPod, Pod newPod)
    {
        var labelsChanged = !SameMap(oldPod.Metadata?.Labels, newPod.Metadata?.Labels)
            || oldPod.Spec?.Hostname != newPod.Spec?.Hostname
            || oldPod.Spec?.Subdomain != newPod.Spec?.Subdomain;
        if (oldPod.Metadata?.DeletionTimestamp != newPod.Metadata?.DeletionTimestamp)
        {
            return (true, labelsChanged);
        }
        if (PodReadiness.IsPodReady(oldPod) != PodReadiness.IsPodReady(newPod))
        {
            return (true, labelsChanged);
        }
        var oldIps = oldPod.Status?.PodIPs ?? [];
        var newIps = newPod.Status?.PodIPs ?? [];
        if (oldIps.Count != newIps.Count || oldIps.Where((ip, i) => ip.Ip != newIps[i].Ip).Any())
        {
            return (true, labelsChanged);
        }
        return (false, labelsChanged);
    }

    /// <summary>Go's time.RFC3339Nano in UTC: fractional seconds without trailing zeros, none when whole.</summary>
    public static string FormatRfc3339Nano(DateTimeOffset time)
    {
        var utc = time.ToUniversalTime();
        var fraction = utc.ToString("fffffff", CultureInfo.InvariantCulture).TrimEnd('0');
        return utc.ToString("yyyy-MM-dd'T'HH:mm:ss", CultureInfo.InvariantCulture) + (fraction.Length > 0 ? "." + fraction : "") + "Z";
    }

    private static bool SameMap(IReadOnlyDictionary<string, string>? a, IReadOnlyDictionary<string, string>? b)
    {
        if ((a?.Count ?? 0) != (b?.Count ?? 0))
        {
            return false;
        }
        return a is null || a.All(kv => b!.TryGetValue(kv.Key, out var v) && v == kv.Value);
    }
}

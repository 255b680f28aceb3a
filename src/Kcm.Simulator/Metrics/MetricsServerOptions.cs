using System.Net;
using System.Net.NetworkInformation;
using System.Net.Sockets;
using Kcm.Api;

namespace Kcm.Simulator.Metrics;

/// <summary>
/// The simulator's metrics.k8s.io server. A pod's usage is its annotations' (<see cref="CpuUsageAnnotation"/>,
/// <see cref="MemoryUsageAnnotation"/>: the pod's total, split evenly over its containers), else the defaults.
/// </summary>
public sealed record MetricsServerOptions
{
    public const string CpuUsageAnnotation = "simulator.kcm.dev/cpu-usage";
    public const string MemoryUsageAnnotation = "simulator.kcm.dev/memory-usage";

    /// <summary>
    /// Where to serve HTTPS. A real kube-apiserver reaches aggregated servers through a Service's Endpoints, which
    /// may not hold loopback or link-local addresses, so this must be an address of the machine others can reach
    /// (<see cref="DefaultBindAddress"/>).
    /// </summary>
    public required IPAddress BindAddress { get; init; }

    /// <summary>0 picks a free port.</summary>
    public int Port { get; init; }

    public Quantity DefaultCpu { get; init; } = new("10m");

    public Quantity DefaultMemory { get; init; } = new("16Mi");

    /// <summary>The window every sample claims to cover (metrics-server's resolution).</summary>
    public TimeSpan Window { get; init; } = TimeSpan.FromSeconds(15);

    /// <summary>Register APIService v1beta1.metrics.k8s.io with a Service and Endpoints pointing here (and remove them on stop).</summary>
    public bool Register { get; init; } = true;

    public string ServiceNamespace { get; init; } = "kube-system";

    public string ServiceName { get; init; } = "kcm-simulator-metrics";

    /// <summary>The first IPv4 address of an interface that is up and is neither loopback nor link-local (what `hostname -I` lists first).</summary>
    public static IPAddress DefaultBindAddress()
    {
        foreach (var nic in NetworkInterface.GetAllNetworkInterfaces())
        {
            if (nic.OperationalStatus != OperationalStatus.Up || nic.NetworkInterfaceType == NetworkInterfaceType.Loopback) continue;
            foreach (var address in nic.GetIPProperties().UnicastAddresses.Select(a => a.Address))
            {
                if (address.AddressFamily == AddressFamily.InterNetwork && !IPAddress.IsLoopback(address) && !address.ToString().StartsWith("169.254.", StringComparison.Ordinal))
                {
                    return address;
                }
            }
        }
        throw new InvalidOperationException("no non-loopback IPv4 address found for the metrics server; pass one explicitly");
    }

    /// <summary>Throws <see cref="ArgumentException"/> with one line naming the bad setting.</summary>
    public void Validate()
    {
        if (Port is < 0 or > 65535) throw new ArgumentException($"metrics port must be between 0 and 65535, got {Port}");
        if (DefaultCpu.Sign < 0) throw new ArgumentException($"metrics default cpu must not be negative, got {DefaultCpu}");
        if (DefaultMemory.Sign < 0) throw new ArgumentException($"metrics default memory must not be negative, got {DefaultMemory}");
        if (Window <= TimeSpan.Zero) throw new ArgumentException($"metrics window must be positive, got {Window}");
        if (Register && (IPAddress.IsLoopback(BindAddress) || BindAddress.Equals(IPAddress.Any) || BindAddress.Equals(IPAddress.IPv6Any)))
        {
            throw new ArgumentException($"metrics bind address {BindAddress} cannot be registered: Endpoints need a routable address of this machine");
        }
    }
}

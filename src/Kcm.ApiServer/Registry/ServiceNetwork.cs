using System.Globalization;
using System.Net;
using System.Net.Sockets;

namespace Kcm.ApiServer.Registry;

/// <summary>Thrown when --service-cluster-ip-range or --service-node-port-range cannot be used.</summary>
public sealed class ServiceNetworkException(string message) : Exception(message);

/// <summary>
/// --service-cluster-ip-range (IPv4 only here) and --service-node-port-range as upstream reads them: the usable
/// addresses exclude the network and broadcast addresses; the first usable one belongs to the kubernetes Service.
/// </summary>
public sealed class ServiceNetwork
{
    public const string DefaultClusterIpRange = "10.254.0.0/16";
    public const string DefaultNodePortRange = "30000-32767";

    private readonly uint _network;
    private readonly uint _size;

    private ServiceNetwork(string cidr, uint network, uint size, int firstNodePort, int lastNodePort, string portRange)
    {
        ClusterIpRange = cidr;
        _network = network;
        _size = size;
        FirstNodePort = firstNodePort;
        LastNodePort = lastNodePort;
        NodePortRange = portRange;
    }

    public string ClusterIpRange { get; }
    public string NodePortRange { get; }
    public int FirstNodePort { get; }
    public int LastNodePort { get; }

    /// <summary>Usable service addresses (network and broadcast excluded).</summary>
    public uint Size => _size;

    public static ServiceNetwork Default { get; } = Parse(DefaultClusterIpRange, DefaultNodePortRange);

    public static ServiceNetwork Parse(string clusterIpRange, string nodePortRange)
    {
        var parts = clusterIpRange.Split('/');
        if (parts.Length != 2 || !IPAddress.TryParse(parts[0], out var ip) || ip.AddressFamily != AddressFamily.InterNetwork
            || !int.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out var bits) || bits is < 1 or > 30)
        {
            throw new ServiceNetworkException($"--service-cluster-ip-range \"{clusterIpRange}\" must be an IPv4 CIDR with a prefix of /1 to /30");
        }
        var mask = uint.MaxValue << (32 - bits);
        var network = ToUInt(ip) & mask;
        var size = (uint)((1L << (32 - bits)) - 2);
        var range = nodePortRange.Split('-');
        if (range.Length != 2 || !int.TryParse(range[0], NumberStyles.None, CultureInfo.InvariantCulture, out var first)
            || !int.TryParse(range[1], NumberStyles.None, CultureInfo.InvariantCulture, out var last) || first < 1 || last > 65535 || first > last)
        {
            throw new ServiceNetworkException($"--service-node-port-range \"{nodePortRange}\" must be <first>-<last> within 1-65535");
        }
        var normalized = $"{FromUInt(network)}/{bits}";
        return new ServiceNetwork(normalized, network, size, first, last, $"{first}-{last}");
    }

    /// <summary>The n-th usable address (0 is the kubernetes Service's).</summary>
    public string Address(uint index) => FromUInt(_network + 1 + index);

    public bool Contains(IPAddress ip)
    {
        if (ip.AddressFamily != AddressFamily.InterNetwork) return false;
        var value = ToUInt(ip);
        return value > _network && value - _network <= _size;
    }

    public bool ContainsNodePort(long port) => port >= FirstNodePort && port <= LastNodePort;

    private static uint ToUInt(IPAddress ip)
    {
        var b = ip.GetAddressBytes();
        return (uint)(b[0] << 24 | b[1] << 16 | b[2] << 8 | b[3]);
    }

    private static string FromUInt(uint value)
        => $"{value >> 24}.{(value >> 16) & 255}.{(value >> 8) & 255}.{value & 255}";
}

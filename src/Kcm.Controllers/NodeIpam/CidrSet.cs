using System.Net;
using System.Net.Sockets;
using Kcm.Runtime.Metrics;

namespace Kcm.Controllers.NodeIpam;

public sealed class CidrSetException(string message) : Exception(message);

/// <summary>
/// The node ranges of one cluster CIDR as a bitmap, as upstream's cidrset.CidrSet: ranges are handed out round
/// robin from just after the last one allocated, so a manager taking over from upstream's picks the same next range.
/// Addresses are handled as 128-bit integers (IPv4 in the low 32 bits).
/// </summary>
public sealed class CidrSet
{
    public const string NoCidrsRemaining = "CIDR allocation failed; there are no remaining CIDRs left to allocate in the accepted range";
    private const int MaxBitsBetweenMasks = 16;

    private readonly Lock _lock = new();
    // Sparse: an IPv4 cluster may hold up to 2^32 node ranges (upstream bounds only IPv6), few of them used.
    private readonly HashSet<long> _used = [];
    private readonly UInt128 _base;
    private readonly int _bits;
    private readonly CidrSetMetrics _metrics;
    private long _nextCandidate;
    private int _allocated;

    public CidrSet(IPNetwork clusterCidr, int nodeMaskSize, CidrSetMetrics? metrics = null)
    {
        ClusterCidr = clusterCidr;
        NodeMaskSize = nodeMaskSize;
        _bits = clusterCidr.BaseAddress.AddressFamily == AddressFamily.InterNetworkV6 ? 128 : 32;
        if (nodeMaskSize < clusterCidr.PrefixLength || nodeMaskSize > _bits)
        {
            throw new CidrSetException($"node mask size {nodeMaskSize} does not fit cluster CIDR {clusterCidr}");
        }
        // Upstream refuses more than 2^16 ranges only for IPv6; an IPv4 set just gets large.
        if (_bits == 128 && nodeMaskSize - clusterCidr.PrefixLength > MaxBitsBetweenMasks)
        {
            throw new CidrSetException("New CIDR set failed; the node CIDR size is too big");
        }
        MaxCidrs = 1L << (nodeMaskSize - clusterCidr.PrefixLength);
        _base = ToInteger(clusterCidr.BaseAddress);
        _metrics = metrics ?? CidrSetMetrics.Unregistered;
        Label = Format(clusterCidr);
    }

    public IPNetwork ClusterCidr { get; }

    public int NodeMaskSize { get; }

    public long MaxCidrs { get; }

    /// <summary>The clusterCIDR label of the metrics (Go's IPNet.String()).</summary>
    public string Label { get; }

    public int AllocatedCount
    {
        get
        {
            lock (_lock)
            {
                return _allocated;
            }
        }
    }

    public IPNetwork AllocateNext()
    {
        lock (_lock)
        {
            if (_allocated == MaxCidrs)
            {
                throw new CidrSetException(NoCidrsRemaining);
            }
            var candidate = _nextCandidate;
            var tries = 0;
            for (; tries < MaxCidrs && _used.Contains(candidate); tries++)
            {
                candidate = (candidate + 1) % MaxCidrs;
            }
            _nextCandidate = (candidate + 1) % MaxCidrs;
            _used.Add(candidate);
            _allocated++;
            _metrics.Allocations.Inc(Label);
            _metrics.TriesPerRequest.Observe(tries, Label);
            _metrics.Usage.Set((double)_allocated / MaxCidrs, Label);
            return IndexToCidr(candidate);
        }
    }

    /// <summary>Marks every node range overlapping <paramref name="cidr"/> as used (existing nodes, the service range).</summary>
    public void Occupy(IPNetwork cidr)
    {
        var (begin, end) = Indices(cidr);
        lock (_lock)
        {
            for (var i = begin; i <= end; i++)
            {
                if (_used.Add(i))
                {
                    _allocated++;
                    _metrics.Allocations.Inc(Label);
                }
            }
            _metrics.Usage.Set((double)_allocated / MaxCidrs, Label);
        }
    }

    public void Release(IPNetwork cidr)
    {
        var (begin, end) = Indices(cidr);
        lock (_lock)
        {
            for (var i = begin; i <= end; i++)
            {
                if (_used.Remove(i))
                {
                    _allocated--;
                    _metrics.Releases.Inc(Label);
                }
            }
            _metrics.Usage.Set((double)_allocated / MaxCidrs, Label);
        }
    }

    public bool Overlaps(IPNetwork cidr)
        => cidr.BaseAddress.AddressFamily == ClusterCidr.BaseAddress.AddressFamily
           && (ClusterCidr.Contains(cidr.BaseAddress) || cidr.Contains(ClusterCidr.BaseAddress));

    /// <summary>Go's IPNet.String(): the masked address and the prefix length.</summary>
    public static string Format(IPNetwork cidr) => $"{cidr.BaseAddress}/{cidr.PrefixLength}";

    /// <summary>Parses like Go's ParseCIDR: the host bits are dropped.</summary>
    public static bool TryParse(string text, out IPNetwork cidr)
    {
        cidr = default;
        var slash = text.IndexOf('/');
        if (slash < 0 || !IPAddress.TryParse(text.AsSpan(0, slash), out var address)
            || !int.TryParse(text.AsSpan(slash + 1), System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var prefix))
        {
            return false;
        }
        if (address.IsIPv4MappedToIPv6)
        {
            address = address.MapToIPv4();
        }
        var bits = address.AddressFamily == AddressFamily.InterNetworkV6 ? 128 : 32;
        if (prefix > bits)
        {
            return false;
        }
        cidr = new IPNetwork(FromInteger(Mask(ToInteger(address), prefix, bits), bits), prefix);
        return true;
    }

    // Range of node-range indices covered by the cidr; a cidr as large as the cluster's (or larger) covers them all.
    private (long Begin, long End) Indices(IPNetwork cidr)
    {
        if (!Overlaps(cidr))
        {
            throw new CidrSetException($"cidr {Format(cidr)} is out the range of cluster cidr {Label}");
        }
        if (cidr.PrefixLength <= ClusterCidr.PrefixLength)
        {
            return (0, MaxCidrs - 1);
        }
        var first = ToInteger(cidr.BaseAddress);
        var last = first | HostBits(cidr.PrefixLength, _bits);
        return (IndexOf(first), IndexOf(last));
    }

    private long IndexOf(UInt128 address)
    {
        var index = (address ^ _base) >> (_bits - NodeMaskSize);
        if (index >= (UInt128)MaxCidrs)
        {
            throw new CidrSetException($"CIDR: {FromInteger(address, _bits)}/{NodeMaskSize} is out of the range of CIDR allocator");
        }
        return (long)index;
    }

    private IPNetwork IndexToCidr(long index)
        => new(FromInteger(_base | ((UInt128)(ulong)index << (_bits - NodeMaskSize)), _bits), NodeMaskSize);

    private static UInt128 HostBits(int prefix, int bits)
        => prefix >= bits ? UInt128.Zero : prefix == 0 && bits == 128 ? UInt128.MaxValue : (UInt128.One << (bits - prefix)) - 1;

    private static UInt128 Mask(UInt128 address, int prefix, int bits) => address & ~HostBits(prefix, bits);

    private static UInt128 ToInteger(IPAddress address)
    {
        var bytes = address.GetAddressBytes();
        UInt128 value = 0;
        foreach (var b in bytes)
        {
            value = (value << 8) | b;
        }
        return value;
    }

    private static IPAddress FromInteger(UInt128 value, int bits)
    {
        var bytes = new byte[bits / 8];
        for (var i = bytes.Length - 1; i >= 0; i--)
        {
            bytes[i] = (byte)(value & 0xff);
            value >>= 8;
        }
        return new IPAddress(bytes);
    }
}

/// <summary>Upstream's node_ipam_controller_cidrset_* metrics, labelled by cluster CIDR.</summary>
public sealed class CidrSetMetrics
{
    private const string Subsystem = "node_ipam_controller_";

    public static CidrSetMetrics Unregistered { get; } = new(new MetricsRegistry());

    public CidrSetMetrics(MetricsRegistry registry)
    {
        Allocations = registry.Counter(Subsystem + "cidrset_cidrs_allocations_total", "Counter measuring total number of CIDR allocations.", "clusterCIDR");
        Releases = registry.Counter(Subsystem + "cidrset_cidrs_releases_total", "Counter measuring total number of CIDR releases.", "clusterCIDR");
        Usage = registry.Gauge(Subsystem + "cidrset_usage_cidrs", "Gauge measuring percentage of allocated CIDRs.", "clusterCIDR");
        TriesPerRequest = registry.Histogram(Subsystem + "cidrset_allocation_tries_per_request", "Number of endpoints added on each Service sync", Histogram.ExponentialBuckets(1, 5, 5), "clusterCIDR");
    }

    public Counter Allocations { get; }

    public Counter Releases { get; }

    public Gauge Usage { get; }

    public Histogram TriesPerRequest { get; }
}

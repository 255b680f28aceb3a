using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using Kcm.Api.Core.V1;

namespace Kcm.Controllers.ServiceEndpoints;

/// <summary>
/// Upstream's pkg/api/v1/endpoints RepackSubsets and SortSubsets, EndpointSubsetsEqualIgnoreResourceVersion and the
/// endpoint controller's truncation. The order of ports and of subsets is upstream's: by the MD5 of the object as
/// go-spew prints it (<see cref="SpewPort"/>, <see cref="SpewSubset"/>), so Endpoints written by either controller
/// manager compare equal and a switch between them rewrites nothing.
/// </summary>
public static class EndpointSubsets
{
    public const int MaxCapacity = 1000;

    /// <summary>One subset per distinct set of (address, ready) pairs, holding every port those addresses share; an address both ready and not ready for a port counts as not ready.</summary>
    public static List<EndpointSubset> Repack(IEnumerable<EndpointSubset> subsets)
    {
        var allAddresses = new Dictionary<(string Ip, string Uid), EndpointAddress>();
        // Insertion-ordered so that grouping does not depend on dictionary order (the result is sorted anyway).
        var portOrder = new List<PortKey>();
        var byPort = new Dictionary<PortKey, Dictionary<EndpointAddress, bool>>();

        void Map(EndpointSubset subset, PortKey port)
        {
            if (!byPort.TryGetValue(port, out var set))
            {
                set = new Dictionary<EndpointAddress, bool>(ReferenceEqualityComparer.Instance);
                byPort[port] = set;
                portOrder.Add(port);
            }
            foreach (var (address, ready) in (subset.Addresses ?? []).Select(a => (a, true)).Concat((subset.NotReadyAddresses ?? []).Select(a => (a, false))))
            {
                var key = (address.Ip ?? "", address.TargetRef?.Uid ?? "");
                if (!allAddresses.TryGetValue(key, out var existing))
                {
                    existing = address;
                    allAddresses[key] = existing;
                }
                if (!set.TryGetValue(existing, out var wasReady) || wasReady)
                {
                    set[existing] = ready;
                }
            }
        }

        foreach (var subset in subsets)
        {
            if (subset.Ports is not { Count: > 0 })
            {
                Map(subset, PortKey.Sentinel);
                continue;
            }
            foreach (var port in subset.Ports)
            {
                Map(subset, PortKey.Of(port));
            }
        }

        var groups = new Dictionary<string, (Dictionary<EndpointAddress, bool> Addresses, List<EndpointPort>? Ports)>(StringComparer.Ordinal);
        var groupOrder = new List<string>();
        foreach (var port in portOrder)
        {
            var addresses = byPort[port];
            var key = AddressSetKey(addresses);
            if (!groups.TryGetValue(key, out var group))
            {
                group = (addresses, null);
                groupOrder.Add(key);
            }
            if (port.Port > 0)
            {
                group.Ports ??= [];
                group.Ports.Add(port.ToEndpointPort());
            }
            groups[key] = group;
        }

        var final = new List<EndpointSubset>(groupOrder.Count);
        foreach (var key in groupOrder)
        {
            var (addresses, ports) = groups[key];
            var ready = addresses.Where(a => a.Value).Select(a => a.Key).ToList();
            var notReady = addresses.Where(a => !a.Value).Select(a => a.Key).ToList();
            final.Add(new EndpointSubset
            {
                Addresses = ready.Count > 0 ? ready : null,
                NotReadyAddresses = notReady.Count > 0 ? notReady : null,
                Ports = ports,
            });
        }
        return Sort(final);
    }

    /// <summary>Addresses by IP then target uid, ports and then subsets by their spew hash.</summary>
    public static List<EndpointSubset> Sort(List<EndpointSubset> subsets)
    {
        foreach (var subset in subsets)
        {
            subset.Addresses?.Sort(CompareAddresses);
            subset.NotReadyAddresses?.Sort(CompareAddresses);
            subset.Ports = SortByHash(subset.Ports, SpewPort);
        }
        return SortByHash(subsets, SpewSubset)!;
    }

    /// <summary>Upstream's LessEndpointAddress as a comparison: IP bytes, then a missing target before any, then target uid.</summary>
    public static int CompareAddresses(EndpointAddress a, EndpointAddress b)
    {
        var ip = string.CompareOrdinal(a.Ip ?? "", b.Ip ?? "");
        if (ip != 0)
        {
            return ip;
        }
        if (a.TargetRef is null || b.TargetRef is null)
        {
            return (a.TargetRef is null ? 0 : 1) - (b.TargetRef is null ? 0 : 1);
        }
        return string.CompareOrdinal(a.TargetRef.Uid ?? "", b.TargetRef.Uid ?? "");
    }

    /// <summary>Semantic equality ignoring target resourceVersions; a missing list equals an empty one, a missing Go string an empty one.</summary>
    public static bool EqualIgnoreResourceVersion(IReadOnlyList<EndpointSubset>? a, IReadOnlyList<EndpointSubset>? b)
        => ListsEqual(a, b, (x, y) =>
            ListsEqual(x.Addresses, y.Addresses, AddressesEqual)
            && ListsEqual(x.NotReadyAddresses, y.NotReadyAddresses, AddressesEqual)
            && ListsEqual(x.Ports, y.Ports, PortsEqual));

    /// <summary>
    /// Keeps at most <see cref="MaxCapacity"/> addresses, as upstream's truncateEndpoints: ready ones first, each subset
    /// keeping its share (rounded up) of what is left. True when anything was over capacity.
    /// </summary>
    public static bool Truncate(List<EndpointSubset> subsets)
    {
        var totalReady = subsets.Sum(s => s.Addresses?.Count ?? 0);
        var totalNotReady = subsets.Sum(s => s.NotReadyAddresses?.Count ?? 0);
        if (totalReady + totalNotReady <= MaxCapacity)
        {
            return false;
        }
        var truncateReady = totalReady > MaxCapacity;
        var max = truncateReady ? MaxCapacity : MaxCapacity - totalReady;
        var numTotal = truncateReady ? totalReady : totalNotReady;
        var canBeAdded = max;
        foreach (var subset in subsets)
        {
            var numInSubset = truncateReady ? subset.Addresses?.Count ?? 0 : subset.NotReadyAddresses?.Count ?? 0;
            var toBeAdded = Math.Min((int)Math.Ceiling((double)numInSubset / numTotal * max), canBeAdded);
            if (truncateReady)
            {
                subset.Addresses = Prefix(subset.Addresses, toBeAdded);
                subset.NotReadyAddresses = null;
                canBeAdded -= subset.Addresses?.Count ?? 0;
            }
            else
            {
                subset.NotReadyAddresses = Prefix(subset.NotReadyAddresses, toBeAdded);
                canBeAdded -= subset.NotReadyAddresses?.Count ?? 0;
            }
        }
        return true;
    }

    public static int AddressCount(IEnumerable<EndpointSubset>? subsets)
        => subsets?.Sum(s => (s.Addresses?.Count ?? 0) + (s.NotReadyAddresses?.Count ?? 0)) ?? 0;

    /// <summary>go-spew's "%#v" of a v1.EndpointPort value, as upstream's hash sees it.</summary>
    internal static string SpewPort(EndpointPort port)
    {
        var sb = new StringBuilder("(v1.EndpointPort)");
        AppendPort(sb, port);
        return sb.ToString();
    }

    /// <summary>go-spew's "%#v" of a v1.EndpointSubset value.</summary>
    internal static string SpewSubset(EndpointSubset subset)
    {
        var sb = new StringBuilder("(v1.EndpointSubset){Addresses:([]v1.EndpointAddress)");
        AppendList(sb, subset.Addresses, AppendAddress);
        sb.Append(" NotReadyAddresses:([]v1.EndpointAddress)");
        AppendList(sb, subset.NotReadyAddresses, AppendAddress);
        sb.Append(" Ports:([]v1.EndpointPort)");
        AppendList(sb, subset.Ports, AppendPort);
        return sb.Append('}').ToString();
    }

    private static void AppendList<T>(StringBuilder sb, List<T>? items, Action<StringBuilder, T> append)
    {
        if (items is null)
        {
            sb.Append("<nil>");
            return;
        }
        sb.Append('[');
        for (var i = 0; i < items.Count; i++)
        {
            if (i > 0)
            {
                sb.Append(' ');
            }
            append(sb, items[i]);
        }
        sb.Append(']');
    }

    private static void AppendPort(StringBuilder sb, EndpointPort port)
        => sb.Append("{Name:(string)").Append(port.Name)
            .Append(" Port:(int32)").Append((port.Port ?? 0).ToString(CultureInfo.InvariantCulture))
            .Append(" Protocol:(v1.Protocol)").Append(port.Protocol)
            .Append(" AppProtocol:(*string)").Append(port.AppProtocol ?? "<nil>")
            .Append('}');

    private static void AppendAddress(StringBuilder sb, EndpointAddress address)
    {
        sb.Append("{IP:(string)").Append(address.Ip)
            .Append(" Hostname:(string)").Append(address.Hostname)
            .Append(" NodeName:(*string)").Append(address.NodeName ?? "<nil>")
            .Append(" TargetRef:(*v1.ObjectReference)");
        if (address.TargetRef is not { } t)
        {
            sb.Append("<nil>}");
            return;
        }
        sb.Append("{Kind:(string)").Append(t.Kind)
            .Append(" Namespace:(string)").Append(t.Namespace)
            .Append(" Name:(string)").Append(t.Name)
            .Append(" UID:(types.UID)").Append(t.Uid)
            .Append(" APIVersion:(string)").Append(t.ApiVersion)
            .Append(" ResourceVersion:(string)").Append(t.ResourceVersion)
            .Append(" FieldPath:(string)").Append(t.FieldPath)
            .Append("}}");
    }

    private static List<T>? SortByHash<T>(List<T>? items, Func<T, string> spew)
    {
        if (items is not { Count: > 1 })
        {
            return items;
        }
        return items
            .Select(item => (Item: item, Hash: MD5.HashData(Encoding.UTF8.GetBytes(spew(item)))))
            .OrderBy(x => x.Hash, ByteOrder.Instance)
            .Select(x => x.Item)
            .ToList();
    }

    private static string AddressSetKey(Dictionary<EndpointAddress, bool> addresses)
    {
        var sb = new StringBuilder();
        foreach (var (address, ready) in addresses.OrderBy(a => a.Key, Comparer<EndpointAddress>.Create(CompareAddresses)))
        {
            sb.Append(address.Ip).Append('\0').Append(address.TargetRef?.Uid).Append('\0').Append(ready ? '1' : '0').Append('\n');
        }
        return sb.ToString();
    }

    private static List<EndpointAddress>? Prefix(List<EndpointAddress>? addresses, int count)
        => addresses is null || addresses.Count <= count ? addresses : addresses.GetRange(0, count);

    private static bool ListsEqual<T>(IReadOnlyList<T>? a, IReadOnlyList<T>? b, Func<T, T, bool> equal)
    {
        var countA = a?.Count ?? 0;
        if (countA != (b?.Count ?? 0))
        {
            return false;
        }
        for (var i = 0; i < countA; i++)
        {
            if (!equal(a![i], b![i]))
            {
                return false;
            }
        }
        return true;
    }

    private static bool GoStringsEqual(string? a, string? b) => string.Equals(a ?? "", b ?? "", StringComparison.Ordinal);

    private static bool AddressesEqual(EndpointAddress a, EndpointAddress b)
        => GoStringsEqual(a.Ip, b.Ip)
            && GoStringsEqual(a.Hostname, b.Hostname)
            && a.NodeName == b.NodeName
            && (a.TargetRef is null ? b.TargetRef is null : b.TargetRef is not null && TargetsEqual(a.TargetRef, b.TargetRef));

    private static bool TargetsEqual(ObjectReference a, ObjectReference b)
        => GoStringsEqual(a.Kind, b.Kind) && GoStringsEqual(a.Namespace, b.Namespace) && GoStringsEqual(a.Name, b.Name)
            && GoStringsEqual(a.Uid, b.Uid) && GoStringsEqual(a.ApiVersion, b.ApiVersion) && GoStringsEqual(a.FieldPath, b.FieldPath);

    private static bool PortsEqual(EndpointPort a, EndpointPort b)
        => GoStringsEqual(a.Name, b.Name) && (a.Port ?? 0) == (b.Port ?? 0) && GoStringsEqual(a.Protocol, b.Protocol) && a.AppProtocol == b.AppProtocol;

    /// <summary>A port as a map key: upstream keys its port map by the EndpointPort value; -1 stands for "no ports".</summary>
    private readonly record struct PortKey(string Name, int Port, string Protocol, string? AppProtocol)
    {
        public static PortKey Sentinel { get; } = new("", -1, "", null);

        public static PortKey Of(EndpointPort port) => new(port.Name ?? "", port.Port ?? 0, port.Protocol ?? "", port.AppProtocol);

        public EndpointPort ToEndpointPort() => new()
        {
            Name = Name.Length > 0 ? Name : null,
            Port = Port,
            Protocol = Protocol.Length > 0 ? Protocol : null,
            AppProtocol = AppProtocol,
        };
    }

    private sealed class ByteOrder : IComparer<byte[]>
    {
        public static ByteOrder Instance { get; } = new();

        public int Compare(byte[]? x, byte[]? y) => x.AsSpan().SequenceCompareTo(y);
    }
}

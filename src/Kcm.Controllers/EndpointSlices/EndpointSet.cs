using System.Text;
using Kcm.Api.Discovery.V1;

namespace Kcm.Controllers.EndpointSlices;

/// <summary>
/// Upstream's EndpointSet: endpoints keyed by identity (addresses, hostname, target namespace and name), so a
/// desired endpoint finds the existing one it replaces whatever else changed. Iteration follows insertion order.
/// </summary>
public sealed class EndpointSet
{
    private readonly Dictionary<string, Endpoint> _items = [];

    public int Count => _items.Count;

    /// <summary>Adds or replaces; sorts the endpoint's addresses as upstream's hashing does.</summary>
    public void Insert(Endpoint endpoint)
    {
        endpoint.Addresses?.Sort(StringComparer.Ordinal);
        _items[Key(endpoint)] = endpoint;
    }

    public Endpoint? Get(Endpoint endpoint) => _items.GetValueOrDefault(Key(endpoint));

    public void Delete(Endpoint endpoint) => _items.Remove(Key(endpoint));

    public Endpoint PopAny()
    {
        foreach (var (key, endpoint) in _items)
        {
            _items.Remove(key);
            return endpoint;
        }
        throw new InvalidOperationException("the endpoint set is empty");
    }

    public static string Key(Endpoint endpoint)
    {
        var sb = new StringBuilder();
        foreach (var address in (endpoint.Addresses ?? []).Order(StringComparer.Ordinal))
        {
            sb.Append(address).Append(',');
        }
        sb.Append('\n').Append(endpoint.Hostname).Append('\n').Append(endpoint.TargetRef?.Namespace).Append('\n').Append(endpoint.TargetRef?.Name);
        return sb.ToString();
    }

    /// <summary>Upstream's EndpointsEqualBeyondHash: what the identity key leaves out (node, zone, conditions, target apart from its resourceVersion).</summary>
    public static bool EqualBeyondKey(Endpoint a, Endpoint b)
        => a.NodeName == b.NodeName
            && a.Zone == b.Zone
            && a.Conditions?.Ready == b.Conditions?.Ready
            && a.Conditions?.Serving == b.Conditions?.Serving
            && a.Conditions?.Terminating == b.Conditions?.Terminating
            && SameTarget(a.TargetRef, b.TargetRef);

    private static bool SameTarget(Kcm.Api.Core.V1.ObjectReference? a, Kcm.Api.Core.V1.ObjectReference? b)
    {
        if (a is null || b is null)
        {
            return a is null && b is null;
        }
        return a.Kind == b.Kind && a.Namespace == b.Namespace && a.Name == b.Name && a.Uid == b.Uid && a.ApiVersion == b.ApiVersion && a.FieldPath == b.FieldPath;
    }
}

/// <summary>
/// Upstream's PortMapKey: the set of ports a group of endpoints serves. Ports are put in a canonical order first (upstream
/// orders them by the hash of each port; we order by name, protocol, number and app protocol), in place, so the slice
/// carries them in that order.
/// </summary>
public static class PortMapKey
{
    public static string Of(List<EndpointPort> ports)
    {
        ports.Sort((a, b) => string.CompareOrdinal(Key(a), Key(b)));
        return string.Join(";", ports.Select(Key));
    }

    /// <summary>The key of ports read from a cache: sorted on a copy, the cached object stays as it is.</summary>
    public static string OfExisting(IReadOnlyList<EndpointPort>? ports) => Of([.. ports ?? []]);

    private static string Key(EndpointPort p) => $"{p.Name}\u0001{p.Protocol}\u0001{p.Port}\u0001{(p.AppProtocol is null ? "-" : "+" + p.AppProtocol)}";
}

using Kcm.Client;

namespace Kcm.Runtime.LeaderElection;

/// <summary>client-go's resourcelock.New: the --leader-elect-resource-lock values and the locks they build.</summary>
public static class ResourceLocks
{
    public const string Endpoints = "endpoints";
    public const string ConfigMaps = "configmaps";
    public const string Leases = "leases";
    public const string EndpointsLeases = "endpointsleases";
    public const string ConfigMapsLeases = "configmapsleases";

    public static IReadOnlyList<string> All { get; } = [Leases, EndpointsLeases, ConfigMapsLeases, Endpoints, ConfigMaps];

    /// <summary>The lock of <paramref name="lockType"/> for object <paramref name="namespace"/>/<paramref name="name"/>.</summary>
    public static IResourceLock Create(string lockType, string @namespace, string name, KubeApiClient client, string identity)
    {
        ArgumentException.ThrowIfNullOrEmpty(@namespace);
        ArgumentException.ThrowIfNullOrEmpty(name);
        ArgumentNullException.ThrowIfNull(client);
        return lockType switch
        {
            Leases => new LeaseLock(client, @namespace, name, identity),
            Endpoints => new EndpointsLock(client, @namespace, name, identity),
            ConfigMaps => new ConfigMapLock(client, @namespace, name, identity),
            EndpointsLeases => new MultiLock(new EndpointsLock(client, @namespace, name, identity), new LeaseLock(client, @namespace, name, identity)),
            ConfigMapsLeases => new MultiLock(new ConfigMapLock(client, @namespace, name, identity), new LeaseLock(client, @namespace, name, identity)),
            _ => throw new InvalidLockTypeException(lockType),
        };
    }
}

public sealed class InvalidLockTypeException(string lockType)
    : ArgumentException($"Invalid lock-type {lockType}; expected one of {string.Join(", ", ResourceLocks.All)}")
{
    public string LockType { get; } = lockType;
}

/// <summary>Identities as kube-controller-manager makes them: hostname, underscore, a fresh UUID.</summary>
public static class LeaderElectionIdentity
{
    // Dns.GetHostName is the full kernel hostname, as Go's os.Hostname; Environment.MachineName cuts it at the first dot.
    public static string Create() => Create(System.Net.Dns.GetHostName());

    public static string Create(string hostname) => $"{hostname}_{Guid.NewGuid():D}";
}

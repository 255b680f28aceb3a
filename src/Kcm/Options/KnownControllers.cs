namespace Kcm.Options;

/// <summary>One controller name `--controllers` understands.</summary>
/// <param name="Name">The name as v1.26 registers it (v1.26 has no aliases; the `-controller` names came in v1.28).</param>
/// <param name="EnabledByDefault">False for the ones `*` leaves off (bootstrapsigner, tokencleaner).</param>
/// <param name="NeedsCloudProvider">service, route and cloud-node-lifecycle only do work with a cloud provider.</param>
public sealed record ControllerDescriptor(string Name, bool EnabledByDefault, bool NeedsCloudProvider = false);

/// <summary>
/// The controllers v1.26's NewControllerInitializers registers with default feature gates, in its
/// order. (storage-version-gc needs the alpha StorageVersionAPI gate and resource-claim-controller
/// the alpha DynamicResourceAllocation gate, so neither is known by default.)
/// </summary>
public static class KnownControllers
{
    public static IReadOnlyList<ControllerDescriptor> All { get; } =
    [
        // Upstream starts the tokens controller before all others (serviceAccountTokenControllerStarter).
        new("serviceaccount-token", true),
        new("endpoint", true),
        new("endpointslice", true),
        new("endpointslicemirroring", true),
        new("replicationcontroller", true),
        new("podgc", true),
        new("resourcequota", true),
        new("namespace", true),
        new("serviceaccount", true),
        new("garbagecollector", true),
        new("daemonset", true),
        new("job", true),
        new("deployment", true),
        new("replicaset", true),
        new("horizontalpodautoscaling", true),
        new("disruption", true),
        new("statefulset", true),
        new("cronjob", true),
        new("csrsigning", true),
        new("csrapproving", true),
        new("csrcleaner", true),
        new("ttl", true),
        new("bootstrapsigner", false),
        new("tokencleaner", false),
        new("nodeipam", true),
        new("nodelifecycle", true),
        new("service", true, NeedsCloudProvider: true),
        new("route", true, NeedsCloudProvider: true),
        new("cloud-node-lifecycle", true, NeedsCloudProvider: true),
        new("persistentvolume-binder", true),
        new("attachdetach", true),
        new("persistentvolume-expander", true),
        new("clusterrole-aggregation", true),
        new("pvc-protection", true),
        new("pv-protection", true),
        new("ttl-after-finished", true),
        new("root-ca-cert-publisher", true),
        new("ephemeral-volume", true),
    ];

    public static IReadOnlyList<string> Names { get; } = [.. All.Select(c => c.Name).Order(StringComparer.Ordinal)];

    public static IReadOnlyList<string> DisabledByDefault { get; } = [.. All.Where(c => !c.EnabledByDefault).Select(c => c.Name).Order(StringComparer.Ordinal)];

    public static bool IsKnown(string name) => All.Any(c => c.Name == name);

    /// <summary>
    /// Upstream's rule: the first entry naming the controller wins (`name` on, `-name` off); otherwise
    /// `*` turns on everything enabled by default; without `*` nothing else is on.
    /// </summary>
    public static bool IsEnabled(string name, IReadOnlyList<string> selection)
    {
        var hasStar = false;
        foreach (var entry in selection)
        {
            if (entry == name) return true;
            if (entry == "-" + name) return false;
            if (entry == "*") hasStar = true;
        }
        return hasStar && !DisabledByDefault.Contains(name);
    }

    /// <summary>One error per entry that is neither `*` nor a known name (with or without a leading `-`).</summary>
    public static IEnumerable<string> Validate(IReadOnlyList<string> selection)
    {
        foreach (var entry in selection)
        {
            if (entry == "*") continue;
            var name = entry.StartsWith('-') ? entry[1..] : entry;
            if (!IsKnown(name)) yield return $"\"{name}\" is not in the list of known controllers (known: {string.Join(", ", Names)})";
        }
    }
}

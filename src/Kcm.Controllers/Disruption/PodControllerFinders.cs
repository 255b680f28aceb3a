using Kcm.Api.Apps.V1;
using Kcm.Api.Core.V1;
using Kcm.Api.Meta.V1;
using Kcm.Client;
using Kcm.Controllers.Common;
using Kcm.Runtime.Informers;

namespace Kcm.Controllers.Disruption;

/// <summary>Thrown for an ownerReference apiVersion that is not "version" or "group/version" (schema.ParseGroupVersion).</summary>
public sealed class InvalidGroupVersionException(string value) : FormatException($"unexpected GroupVersion string: {value}");

/// <summary>Thrown when a pod's controller is none the finders know (upstream's getExpectedScale error).</summary>
public sealed class NoControllerFoundException(string podName) : InvalidOperationException($"found no controllers for pod \"{podName}\"");

/// <summary>
/// Upstream's podControllerFinders, in its order: the pod's controller and its desired scale from the caches of
/// ReplicationControllers, Deployments (through their ReplicaSets), ReplicaSets not run by a Deployment and
/// StatefulSets, and otherwise from the scale subresource of whatever the reference names. A finder that does not
/// recognise the reference returns null; one that recognises but cannot resolve it also returns null, so the next
/// one gets a chance.
/// </summary>
public sealed class PodControllerFinders(
    IObjectCache<ReplicationController> replicationControllers,
    IObjectCache<ReplicaSet> replicaSets,
    IObjectCache<Deployment> deployments,
    IObjectCache<StatefulSet> statefulSets,
    IScaleClient scales)
{
    private static readonly string[] AppsGroups = ["apps", "extensions"];

    /// <summary>The controller of <paramref name="controllerRef"/> and its scale, or null when no finder resolves it.</summary>
    public async Task<ControllerScale?> FindAsync(OwnerReference controllerRef, string @namespace, CancellationToken cancellationToken)
    {
        return FindReplicationController(controllerRef, @namespace)
            ?? FindDeployment(controllerRef, @namespace)
            ?? FindReplicaSet(controllerRef, @namespace)
            ?? FindStatefulSet(controllerRef, @namespace)
            ?? await FindByScaleAsync(controllerRef, @namespace, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// The denominator of a percentage budget: the summed scale of the controllers of <paramref name="pods"/>, each
    /// counted once. Pods without a controller are returned as unmanaged (upstream logs and ignores them); a pod
    /// whose controller no finder resolves is an error.
    /// </summary>
    public async Task<(int ExpectedCount, List<string> UnmanagedPods)> ExpectedScaleAsync(IEnumerable<Pod> pods, CancellationToken cancellationToken)
    {
        var scaleByUid = new Dictionary<string, int>(StringComparer.Ordinal);
        var unmanaged = new List<string>();
        foreach (var pod in pods)
        {
            if (ControllerRefs.ControllerOf(pod.Metadata) is not { } controllerRef)
            {
                unmanaged.Add(pod.Metadata?.Name ?? "");
                continue;
            }
            if (scaleByUid.ContainsKey(controllerRef.Uid ?? ""))
            {
                continue;
            }
            var found = await FindAsync(controllerRef, pod.Metadata?.Namespace ?? "", cancellationToken).ConfigureAwait(false)
                ?? throw new NoControllerFoundException(pod.Metadata?.Name ?? "");
            scaleByUid[found.Uid] = found.Replicas;
        }
        return (scaleByUid.Values.Sum(), unmanaged);
    }

    private ControllerScale? FindReplicationController(OwnerReference controllerRef, string @namespace)
    {
        if (!IsKind(controllerRef, "ReplicationController", [""]))
        {
            return null;
        }
        var rc = replicationControllers.Get(new ObjectKey(@namespace, controllerRef.Name ?? ""));
        return rc?.Metadata?.Uid == controllerRef.Uid && rc is not null ? new ControllerScale(rc.Metadata!.Uid!, rc.Spec?.Replicas ?? 1) : null;
    }

    private ControllerScale? FindDeployment(OwnerReference controllerRef, string @namespace)
    {
        if (!IsKind(controllerRef, "ReplicaSet", AppsGroups)
            || replicaSets.Get(new ObjectKey(@namespace, controllerRef.Name ?? "")) is not { } rs
            || rs.Metadata?.Uid != controllerRef.Uid
            || ControllerRefs.ControllerOf(rs.Metadata) is not { } deploymentRef
            || !IsKind(deploymentRef, "Deployment", AppsGroups))
        {
            return null;
        }
        var deployment = deployments.Get(new ObjectKey(@namespace, deploymentRef.Name ?? ""));
        return deployment?.Metadata?.Uid == deploymentRef.Uid && deployment is not null
            ? new ControllerScale(deployment.Metadata!.Uid!, deployment.Spec?.Replicas ?? 1)
            : null;
    }

    private ControllerScale? FindReplicaSet(OwnerReference controllerRef, string @namespace)
    {
        if (!IsKind(controllerRef, "ReplicaSet", AppsGroups)
            || replicaSets.Get(new ObjectKey(@namespace, controllerRef.Name ?? "")) is not { } rs
            || rs.Metadata?.Uid != controllerRef.Uid)
        {
            return null;
        }
        // A ReplicaSet run by a Deployment counts only through it (its kind alone decides, as upstream).
        if (ControllerRefs.ControllerOf(rs.Metadata) is { Kind: "Deployment" })
        {
            return null;
        }
        return new ControllerScale(rs.Metadata!.Uid!, rs.Spec?.Replicas ?? 1);
    }

    private ControllerScale? FindStatefulSet(OwnerReference controllerRef, string @namespace)
    {
        if (!IsKind(controllerRef, "StatefulSet", ["apps"]))
        {
            return null;
        }
        var ss = statefulSets.Get(new ObjectKey(@namespace, controllerRef.Name ?? ""));
        return ss?.Metadata?.Uid == controllerRef.Uid && ss is not null ? new ControllerScale(ss.Metadata!.Uid!, ss.Spec?.Replicas ?? 1) : null;
    }

    private async Task<ControllerScale?> FindByScaleAsync(OwnerReference controllerRef, string @namespace, CancellationToken cancellationToken)
    {
        var (group, version) = ParseGroupVersion(controllerRef.ApiVersion);
        var resource = await scales.MapAsync(group, version, controllerRef.Kind ?? "", cancellationToken).ConfigureAwait(false);
        var scale = await scales.GetScaleAsync(resource, @namespace, controllerRef.Name ?? "", cancellationToken).ConfigureAwait(false);
        if (scale is null)
        {
            // NotFound means either no such object or no scale subresource; only the second is an error.
            if (!await scales.ImplementsScaleAsync(resource, cancellationToken).ConfigureAwait(false))
            {
                throw new ScaleNotImplementedException(resource.Group.Length == 0 ? resource.Resource : $"{resource.Resource}.{resource.Group}");
            }
            return null;
        }
        return scale.Value.Uid == controllerRef.Uid ? scale : null;
    }

    // verifyGroupKind: an unparsable apiVersion is an error even when the kind differs.
    private static bool IsKind(OwnerReference controllerRef, string kind, string[] groups)
    {
        var (group, _) = ParseGroupVersion(controllerRef.ApiVersion);
        return controllerRef.Kind == kind && groups.Contains(group);
    }

    /// <summary>schema.ParseGroupVersion: "" is the empty group version, "v1" the core group, "g/v" a group; more slashes are an error.</summary>
    public static (string Group, string Version) ParseGroupVersion(string? apiVersion)
    {
        if (string.IsNullOrEmpty(apiVersion) || apiVersion == "/")
        {
            return ("", "");
        }
        var parts = apiVersion.Split('/');
        return parts.Length switch
        {
            1 => ("", parts[0]),
            2 => (parts[0], parts[1]),
            _ => throw new InvalidGroupVersionException(apiVersion),
        };
    }
}

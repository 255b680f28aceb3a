using Kcm.Api.Core.V1;

namespace Kcm.Controllers.AttachDetach;

/// <summary>A volume that should be attached to a node, with the pods scheduled there that use it.</summary>
public sealed record VolumeToAttach(string VolumeName, VolumeSpec Spec, string NodeName, IReadOnlyList<Pod> ScheduledPods, bool MultiAttachErrorReported)
{
    public override string ToString() => $"{Spec.Name} (UniqueName: {VolumeName}) from node {NodeName}";
}

/// <summary>A pod in the desired state, with one volume it brought there.</summary>
public sealed record PodToAdd(Pod Pod, string VolumeName, string NodeName);

/// <summary>
/// Upstream's desiredStateOfWorld: the nodes this controller manages (those with the controller-managed-attach-detach
/// annotation), and per node the attachable volumes its scheduled pods use. Thread-safe.
/// </summary>
public sealed class DesiredStateOfWorld(CsiAttachPlugin plugin)
{
    private sealed class ManagedNode(bool keepTerminatedPodVolumes)
    {
        public bool KeepTerminatedPodVolumes { get; } = keepTerminatedPodVolumes;
        public Dictionary<string, VolumeEntry> Volumes { get; } = new(StringComparer.Ordinal);
    }

    private sealed class VolumeEntry(VolumeSpec spec)
    {
        public VolumeSpec Spec { get; } = spec;
        public bool MultiAttachErrorReported { get; set; }
        public Dictionary<string, Pod> Pods { get; } = new(StringComparer.Ordinal);
    }

    private readonly Lock _gate = new();
    private readonly Dictionary<string, ManagedNode> _nodes = new(StringComparer.Ordinal);

    public void AddNode(string nodeName, bool keepTerminatedPodVolumes)
    {
        lock (_gate)
        {
            _nodes.TryAdd(nodeName, new ManagedNode(keepTerminatedPodVolumes));
        }
    }

    /// <summary>Adds the pod to the volume's pods on the node; the node must be managed and the volume attachable.</summary>
    public string AddPod(string podUid, Pod pod, VolumeSpec spec, string nodeName)
    {
        lock (_gate)
        {
            if (!_nodes.TryGetValue(nodeName, out var node))
            {
                throw new InvalidVolumeSpecException($"no node with the name \"{nodeName}\" exists in the list of managed nodes");
            }
            if (!plugin.IsAttachable(spec))
            {
                throw new InvalidVolumeSpecException($"failed to get AttachablePlugin from volumeSpec for volume \"{spec.Name}\" err=plugin do not support attachment");
            }
            var volumeName = CsiAttachPlugin.UniqueVolumeName(spec);
            if (!node.Volumes.TryGetValue(volumeName, out var entry))
            {
                entry = new VolumeEntry(spec);
                node.Volumes[volumeName] = entry;
            }
            entry.Pods.TryAdd(podUid, pod);
            return volumeName;
        }
    }

    /// <summary>Forgets a node that has no volumes left to attach; one that still has some stays (upstream's error, logged by the caller).</summary>
    public string? DeleteNode(string nodeName)
    {
        lock (_gate)
        {
            if (!_nodes.TryGetValue(nodeName, out var node))
            {
                return null;
            }
            if (node.Volumes.Count > 0)
            {
                return $"failed to delete node \"{nodeName}\" from list of nodes managed by attach/detach controller--the node still contains {node.Volumes.Count} volumes in its list of volumes to attach";
            }
            _nodes.Remove(nodeName);
            return null;
        }
    }

    public void DeletePod(string podUid, string volumeName, string nodeName)
    {
        lock (_gate)
        {
            if (!_nodes.TryGetValue(nodeName, out var node) || !node.Volumes.TryGetValue(volumeName, out var entry))
            {
                return;
            }
            if (entry.Pods.Remove(podUid) && entry.Pods.Count == 0)
            {
                node.Volumes.Remove(volumeName);
            }
        }
    }

    public bool NodeExists(string nodeName)
    {
        lock (_gate)
        {
            return _nodes.ContainsKey(nodeName);
        }
    }

    public bool VolumeExists(string volumeName, string nodeName)
    {
        lock (_gate)
        {
            return _nodes.TryGetValue(nodeName, out var node) && node.Volumes.ContainsKey(volumeName);
        }
    }

    public bool KeepTerminatedPodVolumes(string nodeName)
    {
        lock (_gate)
        {
            return nodeName.Length > 0 && _nodes.TryGetValue(nodeName, out var node) && node.KeepTerminatedPodVolumes;
        }
    }

    public void SetMultiAttachError(string volumeName, string nodeName)
    {
        lock (_gate)
        {
            if (_nodes.TryGetValue(nodeName, out var node) && node.Volumes.TryGetValue(volumeName, out var entry))
            {
                entry.MultiAttachErrorReported = true;
            }
        }
    }

    public IReadOnlyList<VolumeToAttach> GetVolumesToAttach()
    {
        lock (_gate)
        {
            // The reconciler asks ten times a second and most managed nodes have no volumes: a plain loop allocates
            // nothing for them.
            var volumes = new List<VolumeToAttach>();
            foreach (var (nodeName, node) in _nodes)
            {
                foreach (var (volumeName, entry) in node.Volumes)
                {
                    volumes.Add(new VolumeToAttach(volumeName, entry.Spec, nodeName, entry.Pods.Values.ToList(), entry.MultiAttachErrorReported));
                }
            }
            return volumes;
        }
    }

    public IReadOnlyDictionary<string, PodToAdd> GetPodsToAdd()
    {
        lock (_gate)
        {
            var pods = new Dictionary<string, PodToAdd>(StringComparer.Ordinal);
            foreach (var (nodeName, node) in _nodes)
            {
                foreach (var (volumeName, entry) in node.Volumes)
                {
                    foreach (var (uid, pod) in entry.Pods)
                    {
                        pods[uid] = new PodToAdd(pod, volumeName, nodeName);
                    }
                }
            }
            return pods;
        }
    }

    /// <summary>The pods on <paramref name="nodes"/> that use the volume (the Multi-Attach error names them).</summary>
    public IReadOnlyList<Pod> GetVolumePodsOnNodes(IEnumerable<string> nodes, string volumeName)
    {
        lock (_gate)
        {
            return nodes.SelectMany(n => _nodes.TryGetValue(n, out var node) && node.Volumes.TryGetValue(volumeName, out var entry)
                ? entry.Pods.Values : Enumerable.Empty<Pod>()).ToList();
        }
    }
}

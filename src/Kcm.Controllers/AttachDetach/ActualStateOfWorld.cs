namespace Kcm.Controllers.AttachDetach;

public enum AttachState
{
    Attached,
    Uncertain,
    Detached,
}

/// <summary>A volume attached (or maybe attached) to a node. Spec is null for one known only from a node's status.</summary>
public sealed record AttachedVolumeInfo(string VolumeName, VolumeSpec? Spec, string NodeName, string DevicePath, bool MountedByNode, DateTimeOffset? DetachRequestedTime)
{
    public string SpecName => Spec?.Name ?? "nil";

    public override string ToString() => $"{SpecName} (UniqueName: {VolumeName}) on node {NodeName}";
}

/// <summary>
/// Upstream's actualStateOfWorld: which volumes are attached to which nodes (confirmed, or uncertain after a failed or
/// interrupted attach), whether the node still mounts them, since when a detach is wanted, and per node the volumes
/// to report in its status.volumesAttached and whether that report needs writing. Thread-safe.
/// </summary>
public sealed class ActualStateOfWorld(TimeProvider time)
{
    private sealed class VolumeEntry(string volumeName)
    {
        public string VolumeName { get; } = volumeName;
        public VolumeSpec? Spec { get; set; }
        public string DevicePath { get; set; } = "";
        public Dictionary<string, NodeEntry> Nodes { get; } = new(StringComparer.Ordinal);
    }

    private sealed class NodeEntry
    {
        public bool MountedByNode { get; set; } = true; // Assume mounted until the node says otherwise.
        public bool AttachedConfirmed { get; set; }
        public DateTimeOffset? DetachRequestedTime { get; set; }
    }

    private sealed class NodeStatusEntry
    {
        public bool StatusUpdateNeeded { get; set; } = true;
        public SortedSet<string> VolumesToReport { get; } = new(StringComparer.Ordinal);
    }

    private readonly Lock _gate = new();
    private readonly Dictionary<string, VolumeEntry> _volumes = new(StringComparer.Ordinal);
    private readonly Dictionary<string, NodeStatusEntry> _nodeStatuses = new(StringComparer.Ordinal);

    public void MarkVolumeAsAttached(string volumeName, VolumeSpec? spec, string nodeName, string devicePath)
        => AddVolumeNode(volumeName, spec, nodeName, devicePath, attached: true);

    public void MarkVolumeAsUncertain(string volumeName, VolumeSpec? spec, string nodeName)
        => AddVolumeNode(volumeName, spec, nodeName, "", attached: false);

    public void MarkVolumeAsDetached(string volumeName, string nodeName) => DeleteVolumeNode(volumeName, nodeName);

    public void AddVolumeNode(string volumeName, VolumeSpec? spec, string nodeName, string devicePath, bool attached)
    {
        lock (_gate)
        {
            if (!_volumes.TryGetValue(volumeName, out var volume))
            {
                volume = new VolumeEntry(volumeName);
                _volumes[volumeName] = volume;
            }
            volume.Spec = spec;
            volume.DevicePath = devicePath;
            if (!volume.Nodes.TryGetValue(nodeName, out var node))
            {
                node = new NodeEntry();
                volume.Nodes[nodeName] = node;
            }
            node.AttachedConfirmed = attached;
            if (attached)
            {
                AddVolumeToReportLocked(volumeName, nodeName);
            }
        }
    }

    public void SetVolumeMountedByNode(string volumeName, string nodeName, bool mounted)
    {
        lock (_gate)
        {
            if (Find(volumeName, nodeName) is { } node)
            {
                node.MountedByNode = mounted;
            }
        }
    }

    public void ResetDetachRequestTime(string volumeName, string nodeName)
    {
        lock (_gate)
        {
            if (Find(volumeName, nodeName) is { } node)
            {
                node.DetachRequestedTime = null;
            }
        }
    }

    /// <summary>Starts the detach clock on first call; returns how long a detach has been wanted (null when the volume is gone).</summary>
    public TimeSpan? SetDetachRequestTime(string volumeName, string nodeName)
    {
        lock (_gate)
        {
            if (Find(volumeName, nodeName) is not { } node)
            {
                return null;
            }
            var now = time.GetUtcNow();
            node.DetachRequestedTime ??= now;
            return now - node.DetachRequestedTime.Value;
        }
    }

    public void DeleteVolumeNode(string volumeName, string nodeName)
    {
        lock (_gate)
        {
            if (!_volumes.TryGetValue(volumeName, out var volume))
            {
                return;
            }
            volume.Nodes.Remove(nodeName);
            if (volume.Nodes.Count == 0)
            {
                _volumes.Remove(volumeName);
            }
            RemoveVolumeFromReportLocked(volumeName, nodeName);
        }
    }

    public AttachState GetAttachState(string volumeName, string nodeName)
    {
        lock (_gate)
        {
            return Find(volumeName, nodeName) switch
            {
                null => AttachState.Detached,
                { AttachedConfirmed: true } => AttachState.Attached,
                _ => AttachState.Uncertain,
            };
        }
    }

    public IReadOnlyList<AttachedVolumeInfo> GetAttachedVolumes()
    {
        lock (_gate)
        {
            return _volumes.Values.SelectMany(v => v.Nodes.Select(n => Snapshot(v, n.Key, n.Value))).ToList();
        }
    }

    public IReadOnlyList<AttachedVolumeInfo> GetAttachedVolumesForNode(string nodeName)
    {
        lock (_gate)
        {
            return _volumes.Values.Where(v => v.Nodes.ContainsKey(nodeName)).Select(v => Snapshot(v, nodeName, v.Nodes[nodeName])).ToList();
        }
    }

    /// <summary>Confirmed attachments per node (what the periodic sync verifies).</summary>
    public IReadOnlyDictionary<string, List<AttachedVolumeInfo>> GetAttachedVolumesPerNode()
    {
        lock (_gate)
        {
            var perNode = new Dictionary<string, List<AttachedVolumeInfo>>(StringComparer.Ordinal);
            foreach (var volume in _volumes.Values)
            {
                foreach (var (nodeName, node) in volume.Nodes.Where(n => n.Value.AttachedConfirmed))
                {
                    if (!perNode.TryGetValue(nodeName, out var list))
                    {
                        perNode[nodeName] = list = [];
                    }
                    list.Add(Snapshot(volume, nodeName, node));
                }
            }
            return perNode;
        }
    }

    public IReadOnlyList<string> GetNodesForAttachedVolume(string volumeName)
    {
        lock (_gate)
        {
            return _volumes.TryGetValue(volumeName, out var volume)
                ? volume.Nodes.Where(n => n.Value.AttachedConfirmed).Select(n => n.Key).ToList()
                : [];
        }
    }

    /// <summary>Takes the nodes whose status report changed, with what to report; their flags are cleared.</summary>
    public IReadOnlyDictionary<string, List<Api.Core.V1.AttachedVolume>> GetVolumesToReportAttached()
    {
        lock (_gate)
        {
            var result = new Dictionary<string, List<Api.Core.V1.AttachedVolume>>(StringComparer.Ordinal);
            foreach (var (nodeName, status) in _nodeStatuses)
            {
                if (status.StatusUpdateNeeded)
                {
                    result[nodeName] = ReportLocked(status);
                }
                status.StatusUpdateNeeded = false;
            }
            return result;
        }
    }

    /// <summary>The node's report if it needs writing (clearing the flag), else null.</summary>
    public List<Api.Core.V1.AttachedVolume>? GetVolumesToReportAttachedForNode(string nodeName)
    {
        lock (_gate)
        {
            if (!_nodeStatuses.TryGetValue(nodeName, out var status) || !status.StatusUpdateNeeded)
            {
                return null;
            }
            status.StatusUpdateNeeded = false;
            return ReportLocked(status);
        }
    }

    public void SetNodeStatusUpdateNeeded(string nodeName)
    {
        lock (_gate)
        {
            if (_nodeStatuses.TryGetValue(nodeName, out var status))
            {
                status.StatusUpdateNeeded = true;
            }
        }
    }

    /// <summary>Stops reporting the volume in the node's status (before a detach); false when it was not reported.</summary>
    public bool RemoveVolumeFromReportAsAttached(string volumeName, string nodeName)
    {
        lock (_gate)
        {
            return RemoveVolumeFromReportLocked(volumeName, nodeName);
        }
    }

    public void AddVolumeToReportAsAttached(string volumeName, string nodeName)
    {
        lock (_gate)
        {
            AddVolumeToReportLocked(volumeName, nodeName);
        }
    }

    private NodeEntry? Find(string volumeName, string nodeName)
        => _volumes.TryGetValue(volumeName, out var volume) && volume.Nodes.TryGetValue(nodeName, out var node) ? node : null;

    private void AddVolumeToReportLocked(string volumeName, string nodeName)
    {
        if (Find(volumeName, nodeName) is null)
        {
            return; // No longer attached.
        }
        if (!_nodeStatuses.TryGetValue(nodeName, out var status))
        {
            _nodeStatuses[nodeName] = status = new NodeStatusEntry();
        }
        if (status.VolumesToReport.Add(volumeName))
        {
            status.StatusUpdateNeeded = true;
        }
    }

    private bool RemoveVolumeFromReportLocked(string volumeName, string nodeName)
    {
        if (_nodeStatuses.TryGetValue(nodeName, out var status) && status.VolumesToReport.Remove(volumeName))
        {
            status.StatusUpdateNeeded = true;
            return true;
        }
        return false;
    }

    private List<Api.Core.V1.AttachedVolume> ReportLocked(NodeStatusEntry status)
        => status.VolumesToReport.Select(name => new Api.Core.V1.AttachedVolume
        {
            Name = name,
            DevicePath = _volumes.TryGetValue(name, out var volume) ? volume.DevicePath : "",
        }).ToList();

    private static AttachedVolumeInfo Snapshot(VolumeEntry volume, string nodeName, NodeEntry node)
        => new(volume.VolumeName, volume.Spec, nodeName, volume.DevicePath, node.MountedByNode, node.DetachRequestedTime);
}

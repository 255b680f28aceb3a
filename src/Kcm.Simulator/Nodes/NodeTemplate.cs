using Kcm.Api;
using Kcm.Api.Core.V1;
using Kcm.Api.Meta.V1;

namespace Kcm.Simulator.Nodes;

/// <summary>The Node a simulated kubelet registers and the status it reports, as a real v1.26.3 kubelet fills them.</summary>
internal static class NodeTemplate
{
    public const string KubeletVersion = "v1.26.3";

    private static readonly (string Type, string Reason, string Message)[] PressureConditions =
    [
        ("MemoryPressure", "KubeletHasSufficientMemory", "kubelet has sufficient memory available"),
        ("DiskPressure", "KubeletHasNoDiskPressure", "kubelet has no disk pressure"),
        ("PIDPressure", "KubeletHasSufficientPID", "kubelet has sufficient PID available"),
    ];

    public static Node NewNode(SimulatorOptions options, int index)
    {
        var name = options.NodeName(index);
        var node = new Node
        {
            ApiVersion = "v1",
            Kind = "Node",
            Metadata = new ObjectMeta
            {
                Name = name,
                Labels = new Dictionary<string, string>
                {
                    ["kubernetes.io/hostname"] = name,
                    ["kubernetes.io/os"] = "linux",
                    ["kubernetes.io/arch"] = "amd64",
                    ["beta.kubernetes.io/os"] = "linux",
                    ["beta.kubernetes.io/arch"] = "amd64",
                },
                Annotations = new Dictionary<string, string>
                {
                    ["node.alpha.kubernetes.io/ttl"] = "0",
                    ["volumes.kubernetes.io/controller-managed-attach-detach"] = "true",
                },
            },
            Spec = new NodeSpec(),
        };
        options.ConfigureNode?.Invoke(index, node);
        return node;
    }

    /// <summary>Node IPs 10.240.x.y and pod CIDRs 10.{64+index/256}.{index%256}.0/24 (used unless the node has spec.podCIDR).</summary>
    public static string InternalIp(int index) => $"10.240.{index / 250}.{index % 250 + 2}";

    public static string PodSubnetPrefix(int index) => $"10.{64 + index / 256}.{index % 256}.";

    /// <summary>
    /// The status the kubelet would compute now, keeping each condition's lastTransitionTime while its status is
    /// unchanged; heartbeat times are now.
    /// </summary>
    public static NodeStatus Status(SimulatorOptions options, int index, NodeStatus? current, DateTimeOffset now)
    {
        var name = options.NodeName(index);
        var capacity = new Dictionary<string, Quantity>
        {
            ["cpu"] = options.Cpu,
            ["memory"] = options.Memory,
            ["pods"] = options.Pods,
            ["ephemeral-storage"] = new Quantity("100Gi"),
            ["hugepages-1Gi"] = new Quantity("0"),
            ["hugepages-2Mi"] = new Quantity("0"),
        };
        var conditions = new List<NodeCondition>();
        foreach (var (type, reason, message) in PressureConditions)
        {
            conditions.Add(Condition(current, type, "False", reason, message, now));
        }
        conditions.Add(Condition(current, "Ready", "True", "KubeletReady", "kubelet is posting ready status", now));
        return new NodeStatus
        {
            Capacity = capacity,
            Allocatable = new Dictionary<string, Quantity>(capacity),
            Conditions = conditions,
            Addresses = [new NodeAddress { Type = "InternalIP", Address = InternalIp(index) }, new NodeAddress { Type = "Hostname", Address = name }],
            DaemonEndpoints = new NodeDaemonEndpoints { KubeletEndpoint = new DaemonEndpoint { Port = 10250 } },
            NodeInfo = new NodeSystemInfo
            {
                MachineID = StableId(name, "machine"),
                SystemUUID = StableId(name, "system", "D").ToUpperInvariant(),
                BootID = StableId(name, "boot", "D"),
                KernelVersion = "5.15.0-simulated",
                OsImage = "Simulated Linux (kcm simulator)",
                ContainerRuntimeVersion = "containerd://1.6.20",
                KubeletVersion = KubeletVersion,
                KubeProxyVersion = KubeletVersion,
                OperatingSystem = "linux",
                Architecture = "amd64",
            },
            // Fields the simulator does not own (images, volumes, config) are kept as the server has them.
            Images = current?.Images,
            VolumesAttached = current?.VolumesAttached,
            VolumesInUse = current?.VolumesInUse,
            Config = current?.Config,
            ExtensionData = current?.ExtensionData,
        };
    }

    /// <summary>Whether posting <paramref name="computed"/> would change more than heartbeat times (kubelet's nodeStatusHasChanged).</summary>
    public static bool HasChanged(NodeStatus? current, NodeStatus computed)
    {
        if (current?.Conditions is not { } conditions || conditions.Count != computed.Conditions!.Count) return true;
        foreach (var c in computed.Conditions)
        {
            var old = conditions.FirstOrDefault(o => o.Type == c.Type);
            if (old is null || old.Status != c.Status || old.Reason != c.Reason || old.Message != c.Message || old.LastTransitionTime != c.LastTransitionTime) return true;
        }
        return !SameQuantities(current.Capacity, computed.Capacity) || !SameQuantities(current.Allocatable, computed.Allocatable)
            || current.NodeInfo?.KubeletVersion != computed.NodeInfo!.KubeletVersion
            || !(current.Addresses ?? []).Select(a => (a.Type, a.Address)).SequenceEqual(computed.Addresses!.Select(a => (a.Type, a.Address)));
    }

    private static bool SameQuantities(Dictionary<string, Quantity>? a, Dictionary<string, Quantity>? b)
        => a is not null && b is not null && a.Count == b.Count && a.All(kv => b.TryGetValue(kv.Key, out var v) && v.CompareTo(kv.Value) == 0);

    private static NodeCondition Condition(NodeStatus? current, string type, string status, string reason, string message, DateTimeOffset now)
    {
        var old = current?.Conditions?.FirstOrDefault(c => c.Type == type);
        return new NodeCondition
        {
            Type = type,
            Status = status,
            Reason = reason,
            Message = message,
            LastHeartbeatTime = now,
            LastTransitionTime = old?.Status == status && old.LastTransitionTime is { } since ? since : now,
        };
    }

    private static string StableId(string nodeName, string kind, string format = "N")
    {
        var hash = System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(kind + "/" + nodeName));
        return new Guid(hash.AsSpan(0, 16)).ToString(format);
    }
}

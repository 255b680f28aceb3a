using Kcm.Api;
using Kcm.Api.Core.V1;

namespace Kcm.Simulator;

/// <summary>
/// What the simulator pretends to be. Defaults follow upstream's kubelet (lease of 40 s renewed every 10 s, status
/// computed every 10 s and posted when it changed or every 5 min) and a small node (4 CPU, 16Gi, 110 pods).
/// </summary>
public sealed record SimulatorOptions
{
    /// <summary>
    /// Pod annotation "&lt;duration&gt;:&lt;exit code&gt;" (e.g. "2s:0", "500ms:3"): every container of the pod exits with
    /// that code that long after it started, whatever its command. Without it only simple commands end (true, false,
    /// sleep N, sh -c "sleep N; exit M"); other containers run until the pod is deleted. An unparsable value runs for good.
    /// </summary>
    public const string ExitAfterAnnotation = "simulator.kcm.dev/exit-after";

    /// <summary>
    /// Node annotation: "stopped" stops that simulated node's heartbeats (Lease and status) and pod handling, a node
    /// failure; removing it (or any other value) resumes them. E.g. `kubectl annotate node kcm-sim-node-1
    /// simulator.kcm.dev/heartbeats=stopped`.
    /// </summary>
    public const string HeartbeatsAnnotation = "simulator.kcm.dev/heartbeats";

    public int NodeCount { get; init; } = 1;

    /// <summary>Nodes are named prefix + index (0..N-1); two simulators on one cluster need different prefixes.</summary>
    public string NodeNamePrefix { get; init; } = "kcm-sim-node-";

    /// <summary>How long a bound pod stays Pending before it is Running and Ready.</summary>
    public TimeSpan PodReadyDelay { get; init; } = TimeSpan.Zero;

    /// <summary>Namespaces whose unscheduled pods this simulator binds; empty binds pods of every namespace.</summary>
    public IReadOnlySet<string> Namespaces { get; init; } = new HashSet<string>();

    /// <summary>A further restriction on those namespaces (tests give each simulator its own namespace prefix).</summary>
    public Func<string, bool>? NamespaceFilter { get; init; }

    /// <summary>Only pods with this spec.schedulerName are bound, as each real scheduler handles only its own.</summary>
    public string SchedulerName { get; init; } = "default-scheduler";

    /// <summary>Delete the Nodes and Leases when stopping (tests on a shared cluster); a stopped kubelet leaves them.</summary>
    public bool DeleteNodesOnStop { get; init; }

    public Quantity Cpu { get; init; } = new("4");

    public Quantity Memory { get; init; } = new("16Gi");

    public Quantity Pods { get; init; } = new("110");

    /// <summary>kubelet --node-lease-duration-seconds (40); the lease is renewed every quarter of it, as upstream.</summary>
    public TimeSpan NodeLeaseDuration { get; init; } = TimeSpan.FromSeconds(40);

    /// <summary>kubelet nodeStatusUpdateFrequency: how often the status is computed (and posted when changed).</summary>
    public TimeSpan NodeStatusUpdateFrequency { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>kubelet nodeStatusReportFrequency: an unchanged status is still posted this often (a heartbeat).</summary>
    public TimeSpan NodeStatusReportFrequency { get; init; } = TimeSpan.FromMinutes(5);

    /// <summary>
    /// Remove the not-ready:NoSchedule taint kube-apiserver puts on new Nodes once they are Ready, standing in for the
    /// node lifecycle controller so pods can be scheduled when no controller manager runs (harmless when one does).
    /// </summary>
    public bool RemoveNotReadyTaint { get; init; } = true;

    /// <summary>Concurrent pod writes (status, deletion) of the kubelet stand-in.</summary>
    public int KubeletWorkers { get; init; } = 8;

    /// <summary>Adjusts a node before it is first registered (index, node): extra labels, taints.</summary>
    public Action<int, Node>? ConfigureNode { get; init; }

    public TimeProvider TimeProvider { get; init; } = TimeProvider.System;

    /// <summary>Also serve metrics.k8s.io for the simulated pods and nodes (null: no metrics server).</summary>
    public Metrics.MetricsServerOptions? Metrics { get; init; }

    public TimeSpan LeaseRenewInterval => NodeLeaseDuration / 4;

    public string NodeName(int index) => NodeNamePrefix + index;

    public bool InScope(string ns) => (Namespaces.Count == 0 || Namespaces.Contains(ns)) && (NamespaceFilter?.Invoke(ns) ?? true);

    /// <summary>Throws <see cref="ArgumentException"/> with one line naming the bad setting.</summary>
    public void Validate()
    {
        if (NodeCount < 1 || NodeCount > 5000) throw new ArgumentException($"node count must be between 1 and 5000, got {NodeCount}");
        if (PodReadyDelay < TimeSpan.Zero) throw new ArgumentException($"pod ready delay must not be negative, got {PodReadyDelay}");
        if (NodeLeaseDuration < TimeSpan.FromSeconds(1)) throw new ArgumentException($"node lease duration must be at least 1s, got {NodeLeaseDuration}");
        if (NodeStatusUpdateFrequency <= TimeSpan.Zero) throw new ArgumentException($"node status update frequency must be positive, got {NodeStatusUpdateFrequency}");
        if (NodeStatusReportFrequency <= TimeSpan.Zero) throw new ArgumentException($"node status report frequency must be positive, got {NodeStatusReportFrequency}");
        if (KubeletWorkers < 1) throw new ArgumentException($"kubelet workers must be at least 1, got {KubeletWorkers}");
        if (NodeNamePrefix.Length == 0 || NodeNamePrefix.Length > 200) throw new ArgumentException("node name prefix must be 1 to 200 characters");
    }
}

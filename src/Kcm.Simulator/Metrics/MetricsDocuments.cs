using System.Text.Json.Nodes;
using Kcm.Api;
using Kcm.Api.Core.V1;

namespace Kcm.Simulator.Metrics;

/// <summary>The metrics.k8s.io/v1beta1 objects the simulator reports, built from pods as metrics-server would from kubelets.</summary>
public static class MetricsDocuments
{
    public const string GroupVersion = "metrics.k8s.io/v1beta1";

    /// <summary>Per container (name, cpu, memory): the pod's usage (annotations, else the defaults) split evenly, in milli-units.</summary>
    public static IReadOnlyList<(string Name, long CpuMilli, long MemoryMilli)> ContainerUsage(Pod pod, MetricsServerOptions options)
    {
        var containers = pod.Spec?.Containers ?? [];
        if (containers.Count == 0) return [];
        var cpu = Usage(pod, MetricsServerOptions.CpuUsageAnnotation, options.DefaultCpu);
        var memory = Usage(pod, MetricsServerOptions.MemoryUsageAnnotation, options.DefaultMemory);
        var result = new List<(string, long, long)>(containers.Count);
        for (var i = 0; i < containers.Count; i++)
        {
            // The remainder goes to the first container, so the pod's sum is exactly its usage.
            result.Add((containers[i].Name ?? "", Share(cpu, containers.Count, i), Share(memory, containers.Count, i)));
        }
        return result;
    }

    public static JsonObject PodMetrics(Pod pod, MetricsServerOptions options, DateTimeOffset now)
    {
        var containers = new JsonArray();
        foreach (var (name, cpu, memory) in ContainerUsage(pod, options))
        {
            containers.Add((JsonNode)new JsonObject
            {
                ["name"] = name,
                ["usage"] = new JsonObject { ["cpu"] = Quantity.FromMilli(cpu).ToString(), ["memory"] = Memory(memory) },
            });
        }
        var metadata = new JsonObject
        {
            ["name"] = pod.Metadata?.Name,
            ["namespace"] = pod.Metadata?.Namespace,
            ["creationTimestamp"] = KubeTime.Format(Seconds(now)),
        };
        if (pod.Metadata?.Labels is { Count: > 0 } labels)
        {
            metadata["labels"] = new JsonObject(labels.Select(l => KeyValuePair.Create(l.Key, (JsonNode?)JsonValue.Create(l.Value))));
        }
        return new JsonObject
        {
            ["kind"] = "PodMetrics",
            ["apiVersion"] = GroupVersion,
            ["metadata"] = metadata,
            ["timestamp"] = KubeTime.Format(Seconds(now)),
            ["window"] = Kcm.Api.Codecs.GoDuration.Format(options.Window),
            ["containers"] = containers,
        };
    }

    public static JsonObject NodeMetrics(string node, IEnumerable<Pod> podsOnNode, MetricsServerOptions options, DateTimeOffset now)
    {
        long cpu = 0, memory = 0;
        foreach (var pod in podsOnNode)
        {
            foreach (var (_, c, m) in ContainerUsage(pod, options))
            {
                cpu += c;
                memory += m;
            }
        }
        return new JsonObject
        {
            ["kind"] = "NodeMetrics",
            ["apiVersion"] = GroupVersion,
            ["metadata"] = new JsonObject { ["name"] = node, ["creationTimestamp"] = KubeTime.Format(Seconds(now)) },
            ["timestamp"] = KubeTime.Format(Seconds(now)),
            ["window"] = Kcm.Api.Codecs.GoDuration.Format(options.Window),
            ["usage"] = new JsonObject { ["cpu"] = Quantity.FromMilli(cpu).ToString(), ["memory"] = Memory(memory) },
        };
    }

    public static JsonObject List(string kind, IEnumerable<JsonObject> items) => new()
    {
        ["kind"] = kind,
        ["apiVersion"] = GroupVersion,
        ["metadata"] = new JsonObject(),
        ["items"] = new JsonArray([.. items]),
    };

    /// <summary>What metrics-server serves at /apis/metrics.k8s.io/v1beta1.</summary>
    public static JsonObject ResourceList() => new()
    {
        ["kind"] = "APIResourceList",
        ["apiVersion"] = "v1",
        ["groupVersion"] = GroupVersion,
        ["resources"] = new JsonArray(
            Resource("nodes", "NodeMetrics", namespaced: false),
            Resource("pods", "PodMetrics", namespaced: true)),
    };

    public static JsonObject Group() => new()
    {
        ["kind"] = "APIGroup",
        ["apiVersion"] = "v1",
        ["name"] = "metrics.k8s.io",
        ["versions"] = new JsonArray(new JsonObject { ["groupVersion"] = GroupVersion, ["version"] = "v1beta1" }),
        ["preferredVersion"] = new JsonObject { ["groupVersion"] = GroupVersion, ["version"] = "v1beta1" },
    };

    public static JsonObject Status(int code, string reason, string message) => new()
    {
        ["kind"] = "Status",
        ["apiVersion"] = "v1",
        ["metadata"] = new JsonObject(),
        ["status"] = "Failure",
        ["message"] = message,
        ["reason"] = reason,
        ["code"] = code,
    };

    private static JsonObject Resource(string name, string kind, bool namespaced) => new()
    {
        ["name"] = name,
        ["singularName"] = "",
        ["namespaced"] = namespaced,
        ["kind"] = kind,
        ["verbs"] = new JsonArray("get", "list"),
    };

    private static long Usage(Pod pod, string annotation, Quantity fallback)
        => pod.Metadata?.Annotations?.GetValueOrDefault(annotation) is { } text && Quantity.TryParse(text.Trim(), out var q) && q.Sign >= 0
            ? q.MilliValue()
            : fallback.MilliValue();

    private static long Share(long total, int count, int index) => total / count + (index == 0 ? total % count : 0);

    /// <summary>Memory in whole bytes (binary suffixes where exact), as metrics-server reports it.</summary>
    private static string Memory(long milli) => Quantity.FromInt64((milli + 999) / 1000, QuantityFormat.BinarySI).ToString();

    private static DateTimeOffset Seconds(DateTimeOffset t) => new(t.Ticks - t.Ticks % TimeSpan.TicksPerSecond, TimeSpan.Zero);
}

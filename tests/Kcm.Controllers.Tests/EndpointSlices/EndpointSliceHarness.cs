using Kcm.Api;
using Kcm.Api.Core.V1;
using Kcm.Api.Discovery.V1;
using Kcm.Api.Meta.V1;
using Kcm.Controllers.Common;
using Kcm.Controllers.EndpointSlices;
using Kcm.Runtime.Events;
using Kcm.Runtime.Informers;
using Kcm.Runtime.Metrics;
using Kcm.Runtime.Queues;
using Kcm.Testing;
using Microsoft.Extensions.Logging.Abstractions;
using static Kcm.Controllers.Tests.Common.TestStores;

namespace Kcm.Controllers.Tests.EndpointSlices;

/// <summary>Writes slices into a store as an apiserver would (names from generateName, uid, generation), recording every call.</summary>
internal sealed class FakeEndpointSliceClient(ThreadSafeStore<EndpointSlice> store) : IEndpointSliceClient
{
    private int _next;

    public List<(string Verb, string Name)> Calls { get; } = [];

    public bool ApplyToStore { get; set; } = true;

    public IEnumerable<(string Verb, string Name)> Writes(string verb) => Calls.Where(c => c.Verb == verb);

    public Task<EndpointSlice> CreateAsync(EndpointSlice slice, CancellationToken cancellationToken)
    {
        var created = KubeObjects.Clone(slice);
        created.Metadata!.Name = slice.Metadata!.GenerateName + (++_next).ToString("x5", System.Globalization.CultureInfo.InvariantCulture);
        created.Metadata.Uid = Guid.NewGuid().ToString();
        created.Metadata.Generation = 1;
        created.Metadata.ResourceVersion = (++_next).ToString(System.Globalization.CultureInfo.InvariantCulture);
        Calls.Add(("create", created.Metadata.Name));
        if (ApplyToStore)
        {
            store.Upsert(created);
        }
        return Task.FromResult(created);
    }

    public Task<EndpointSlice> UpdateAsync(EndpointSlice slice, CancellationToken cancellationToken)
    {
        var existing = store.Get(ObjectKey.Of(slice));
        var updated = KubeObjects.Clone(slice);
        updated.Metadata!.Uid = existing?.Metadata?.Uid ?? slice.Metadata?.Uid;
        updated.Metadata.Generation = (existing?.Metadata?.Generation ?? 0) + 1;
        updated.Metadata.ResourceVersion = (++_next).ToString(System.Globalization.CultureInfo.InvariantCulture);
        Calls.Add(("update", updated.Metadata.Name!));
        if (ApplyToStore)
        {
            store.Upsert(updated);
        }
        return Task.FromResult(updated);
    }

    public Task DeleteAsync(string @namespace, string name, CancellationToken cancellationToken)
    {
        Calls.Add(("delete", name));
        if (ApplyToStore)
        {
            store.Delete(new ObjectKey(@namespace, name));
        }
        return Task.CompletedTask;
    }
}

/// <summary>Caches, a fake client and a fake clock around one endpointslice controller.</summary>
internal sealed class EndpointSliceHarness : IDisposable
{
    public const string Ns = "ns";

    public EndpointSliceHarness(int maxEndpointsPerSlice = 100, bool topology = true)
    {
        Client = new FakeEndpointSliceClient(Slices);
        Queue = new RateLimitingQueue<ObjectKey>(new ItemExponentialFailureRateLimiter<ObjectKey>(TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(1000)), new WorkQueueOptions { Name = "endpoint_slice", TimeProvider = Time });
        Metrics = new EndpointSliceMetrics(Registry);
        Controller = new EndpointSliceController(
            new EndpointSliceControllerOptions { MaxEndpointsPerSlice = maxEndpointsPerSlice, TopologyAwareHints = topology },
            Services, Pods, Slices, Nodes, Client, Queue, Recorder, Metrics, NullLogger.Instance);
    }

    public FakeTimeProvider Time { get; } = new(new DateTimeOffset(2026, 1, 2, 3, 4, 5, TimeSpan.Zero));
    public ThreadSafeStore<Service> Services { get; } = Store<Service>();
    public ThreadSafeStore<Pod> Pods { get; } = Store<Pod>();
    public ThreadSafeStore<EndpointSlice> Slices { get; } = Store<EndpointSlice>();
    public ThreadSafeStore<Node> Nodes { get; } = Store<Node>();
    public FakeEndpointSliceClient Client { get; }
    public RateLimitingQueue<ObjectKey> Queue { get; }
    public MetricsRegistry Registry { get; } = new();
    public EndpointSliceMetrics Metrics { get; }
    public RecordingEventRecorder Recorder { get; } = new();
    public EndpointSliceController Controller { get; }

    public Task SyncAsync(string service = "svc") => Controller.SyncAsync(new ObjectKey(Ns, service), CancellationToken.None);

    public List<EndpointSlice> SlicesOf(string service = "svc")
        => Slices.List().Where(s => s.Metadata?.Labels?.GetValueOrDefault(EndpointSliceLabels.ServiceName) == service).OrderBy(s => s.Metadata!.Name, StringComparer.Ordinal).ToList();

    public Service AddService(string name = "svc", Action<Service>? configure = null)
    {
        var service = new Service
        {
            Metadata = new ObjectMeta { Name = name, Namespace = Ns, Uid = "uid-" + name, CreationTimestamp = Time.GetUtcNow().AddMinutes(-5), Labels = new() { ["team"] = "a" } },
            Spec = new ServiceSpec
            {
                Selector = new() { ["app"] = name },
                ClusterIP = "10.0.0.10",
                IpFamilies = ["IPv4"],
                Ports = [new ServicePort { Name = "http", Port = 80, Protocol = "TCP", TargetPort = IntOrString.FromString("web") }],
            },
        };
        configure?.Invoke(service);
        Services.Upsert(service);
        return service;
    }

    public Node AddNode(string name = "node-a", string? zone = "zone-a", int cpu = 4)
    {
        var node = new Node
        {
            Metadata = new ObjectMeta { Name = name, Labels = zone is null ? [] : new() { [EndpointSliceLabels.TopologyZone] = zone } },
            Status = new NodeStatus
            {
                Allocatable = new() { ["cpu"] = Quantity.FromInt64(cpu) },
                Conditions = [new NodeCondition { Type = "Ready", Status = "True" }],
            },
        };
        Nodes.Upsert(node);
        return node;
    }

    public Pod AddPod(string name, string ip, string app = "svc", bool ready = true, int webPort = 8080, string node = "node-a", Action<Pod>? configure = null)
    {
        var pod = new Pod
        {
            Metadata = new ObjectMeta { Name = name, Namespace = Ns, Uid = "uid-" + name, Labels = new() { ["app"] = app }, ResourceVersion = "1" },
            Spec = new PodSpec
            {
                NodeName = node,
                Containers = [new Container { Name = "c", Ports = [new ContainerPort { Name = "web", ContainerPortValue = webPort, Protocol = "TCP" }] }],
            },
            Status = new PodStatus
            {
                Phase = "Running",
                PodIP = ip,
                PodIPs = [new PodIP { Ip = ip }],
                Conditions = [new PodCondition { Type = "Ready", Status = ready ? "True" : "False", LastTransitionTime = Time.GetUtcNow().AddMinutes(-1) }],
            },
        };
        configure?.Invoke(pod);
        Pods.Upsert(pod);
        return pod;
    }

    public static string Ip(int i) => $"10.1.{i / 250}.{i % 250 + 1}";

    public void Dispose() => Queue.Dispose();
}

internal sealed class RecordingEventRecorder : IEventRecorder
{
    public List<(string Type, string Reason, string Message)> Events { get; } = [];

    public void Event(ObjectReference reference, string type, string reason, string message) => Events.Add((type, reason, message));
}

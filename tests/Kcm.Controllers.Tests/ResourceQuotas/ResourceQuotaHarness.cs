using Kcm.Api;
using Kcm.Api.Core.V1;
using Kcm.Api.Meta.V1;
using Kcm.Api.Quota;
using Kcm.Controllers.Common;
using Kcm.Controllers.ResourceQuotas;
using Kcm.Runtime.Informers;
using Kcm.Runtime.Queues;
using Kcm.Testing;
using Microsoft.Extensions.Logging.Abstractions;
using static Kcm.Controllers.Tests.Common.TestStores;

namespace Kcm.Controllers.Tests.ResourceQuotas;

/// <summary>The quota controller over hand-fed caches and a fake clock; a written status lands back in the quota cache, as the informer would deliver it.</summary>
internal sealed class ResourceQuotaHarness : IDisposable
{
    public const string Ns = "ns";

    public ResourceQuotaHarness()
    {
        var options = (string name) => new WorkQueueOptions { Name = name, TimeProvider = Clock };
        Primary = RateLimitingQueue<ObjectKey>.WithDefaultControllerRateLimiter(options(ResourceQuotaController.PrimaryQueueName));
        Priority = RateLimitingQueue<ObjectKey>.WithDefaultControllerRateLimiter(options(ResourceQuotaController.PriorityQueueName));
        Controller = new ResourceQuotaController(Quotas, Writer, Primary, Priority, Clock, NullLoggerFactory.Instance);
        Controller.Monitor.UseCache(new GroupResource("", "pods"), Pods, () => PodsSynced);
        Controller.Monitor.UseCache(new GroupResource("", "services"), Services, () => true);
        Controller.Monitor.UseCache(new GroupResource("", "persistentvolumeclaims"), Claims, () => true);
        Controller.Monitor.UseCache(new GroupResource("", "configmaps"), ConfigMaps, () => true);
    }

    public FakeTimeProvider Clock { get; } = new(new DateTimeOffset(2026, 1, 2, 3, 4, 5, TimeSpan.Zero));

    public ThreadSafeStore<ResourceQuota> Quotas { get; } = Store<ResourceQuota>();

    public ThreadSafeStore<Pod> Pods { get; } = Store<Pod>();

    public ThreadSafeStore<Service> Services { get; } = Store<Service>();

    public ThreadSafeStore<PersistentVolumeClaim> Claims { get; } = Store<PersistentVolumeClaim>();

    public ThreadSafeStore<ConfigMap> ConfigMaps { get; } = Store<ConfigMap>();

    public bool PodsSynced { get; set; } = true;

    public FakeQuotaWriter Writer { get; } = new();

    public RateLimitingQueue<ObjectKey> Primary { get; }

    public RateLimitingQueue<ObjectKey> Priority { get; }

    public ResourceQuotaController Controller { get; }

    public void Dispose()
    {
        Primary.Dispose();
        Priority.Dispose();
    }

    /// <summary>Syncs the quota; a written status lands in the cache (also when the sync then fails).</summary>
    public async Task SyncAsync(string name = "quota")
    {
        var before = Writer.Statuses.Count;
        try
        {
            await Controller.SyncAsync(new ObjectKey(Ns, name), CancellationToken.None);
        }
        finally
        {
            if (Writer.Statuses.Count > before) Quotas.Upsert(KubeObjects.Clone(Writer.Statuses[^1]));
        }
    }

    public Dictionary<string, string> Used(string name = "quota")
        => (Quotas.Get(new ObjectKey(Ns, name))!.Status?.Used ?? []).ToDictionary(e => e.Key, e => e.Value.ToString());

    public ResourceQuota AddQuota(Dictionary<string, string> hard, string name = "quota", Action<ResourceQuotaSpec>? configure = null)
    {
        var spec = new ResourceQuotaSpec { Hard = hard.ToDictionary(e => e.Key, e => Quantity.Parse(e.Value)) };
        configure?.Invoke(spec);
        var quota = new ResourceQuota { Metadata = new ObjectMeta { Name = name, Namespace = Ns, ResourceVersion = "1" }, Spec = spec };
        Quotas.Upsert(quota);
        return quota;
    }

    public static Pod NewPod(string name, string? cpu = null, string? memoryLimit = null, string phase = "Pending")
    {
        var requests = cpu is null ? null : new Dictionary<string, Quantity> { ["cpu"] = Quantity.Parse(cpu) };
        var limits = memoryLimit is null ? null : new Dictionary<string, Quantity> { ["memory"] = Quantity.Parse(memoryLimit) };
        return new Pod
        {
            Metadata = new ObjectMeta { Name = name, Namespace = Ns },
            Spec = new PodSpec { Containers = [new Container { Name = "c", Image = "x", Resources = new ResourceRequirements { Requests = requests, Limits = limits } }] },
            Status = new PodStatus { Phase = phase },
        };
    }
}

internal sealed class FakeQuotaWriter : IResourceQuotaWriter
{
    public List<ResourceQuota> Statuses { get; } = [];

    public Task UpdateStatusAsync(ResourceQuota quota, CancellationToken cancellationToken)
    {
        Statuses.Add(KubeObjects.Clone(quota));
        return Task.CompletedTask;
    }
}

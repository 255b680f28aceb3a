using Kcm.Api;
using Kcm.Api.Core.V1;
using Kcm.Api.Meta.V1;
using Kcm.Client.Errors;
using Kcm.Controllers.Common;
using Kcm.Controllers.ServiceEndpoints;

namespace Kcm.Controllers.Tests.ServiceEndpoints;

internal static class EndpointsTestObjects
{
    public const string Ns = "ns";
    public static readonly DateTimeOffset ServiceCreated = new(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);

    public static Service NewService(string name, Dictionary<string, string>? selector, params ServicePort[] ports) => new()
    {
        Metadata = new ObjectMeta { Name = name, Namespace = Ns, Uid = "svc-" + name, CreationTimestamp = ServiceCreated, ResourceVersion = "1" },
        Spec = new ServiceSpec
        {
            Selector = selector,
            ClusterIP = "10.254.0.10",
            IpFamilies = ["IPv4"],
            Ports = [.. ports],
        },
    };

    public static ServicePort Port(string name, int port, IntOrString target, string protocol = "TCP", string? appProtocol = null)
        => new() { Name = name, Port = port, TargetPort = target, Protocol = protocol, AppProtocol = appProtocol };

    public static Pod NewPod(string name, string ip, bool ready = true, Dictionary<string, string>? labels = null, int webPort = 8080, string? uid = null, string? node = null)
        => new()
        {
            Metadata = new ObjectMeta
            {
                Name = name,
                Namespace = Ns,
                Uid = uid ?? "uid-" + name,
                ResourceVersion = "1",
                Labels = labels ?? new() { ["app"] = "a" },
            },
            Spec = new PodSpec
            {
                NodeName = node ?? "node-1",
                Containers =
                [
                    new Container
                    {
                        Name = "c",
                        Ports =
                        [
                            new ContainerPort { Name = "web", ContainerPortValue = webPort, Protocol = "TCP" },
                            new ContainerPort { Name = "metrics", ContainerPortValue = 9090, Protocol = "TCP" },
                            new ContainerPort { Name = "dns", ContainerPortValue = 53, Protocol = "UDP" },
                        ],
                    },
                ],
            },
            Status = new PodStatus
            {
                Phase = "Running",
                PodIP = ip,
                PodIPs = [new PodIP { Ip = ip }],
                Conditions = [new PodCondition { Type = "Ready", Status = ready ? "True" : "False", LastTransitionTime = ServiceCreated.AddMinutes(1) }],
            },
        };

    public static Pod With(this Pod pod, Action<Pod> change)
    {
        var copy = KubeObjects.Clone(pod);
        change(copy);
        copy.Metadata!.ResourceVersion = (int.Parse(copy.Metadata.ResourceVersion ?? "0", System.Globalization.CultureInfo.InvariantCulture) + 1).ToString(System.Globalization.CultureInfo.InvariantCulture);
        return copy;
    }

    /// <summary>(ip, pod name) of each address, for compact assertions.</summary>
    public static IEnumerable<(string Ip, string Pod)> Addresses(IEnumerable<EndpointAddress>? addresses)
        => (addresses ?? []).Select(a => (a.Ip!, a.TargetRef!.Name!));
}

/// <summary>Records the controller's writes; applied ones go into the Endpoints cache as the informer would put them.</summary>
internal sealed class FakeEndpointsClient(Kcm.Runtime.Informers.ThreadSafeStore<Endpoints> cache) : IEndpointsClient
{
    private int _resourceVersion = 100;

    public List<(string Verb, Endpoints? Endpoints, string Name)> Calls { get; } = [];

    public KubeApiException? FailWith { get; set; }

    public bool NotFoundOnDelete { get; set; }

    public Task CreateAsync(string @namespace, Endpoints endpoints, CancellationToken cancellationToken)
    {
        Calls.Add(("create", endpoints, endpoints.Metadata!.Name!));
        if (FailWith is { } e)
        {
            throw e;
        }
        var stored = KubeObjects.Clone(endpoints);
        stored.Metadata!.Namespace = @namespace;
        stored.Metadata.ResourceVersion = (++_resourceVersion).ToString(System.Globalization.CultureInfo.InvariantCulture);
        cache.Upsert(stored);
        return Task.CompletedTask;
    }

    public Task UpdateAsync(Endpoints endpoints, CancellationToken cancellationToken)
    {
        Calls.Add(("update", endpoints, endpoints.Metadata!.Name!));
        if (FailWith is { } e)
        {
            throw e;
        }
        var stored = KubeObjects.Clone(endpoints);
        stored.Metadata!.ResourceVersion = (++_resourceVersion).ToString(System.Globalization.CultureInfo.InvariantCulture);
        cache.Upsert(stored);
        return Task.CompletedTask;
    }

    public Task DeleteAsync(string @namespace, string name, CancellationToken cancellationToken)
    {
        Calls.Add(("delete", null, name));
        if (NotFoundOnDelete)
        {
            throw new NotFoundException(404, new Status { Reason = "NotFound" });
        }
        cache.Delete(new Kcm.Runtime.Informers.ObjectKey(@namespace, name));
        return Task.CompletedTask;
    }
}

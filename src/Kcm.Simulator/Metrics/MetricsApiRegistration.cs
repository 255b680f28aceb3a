using System.Net;
using System.Text;
using Kcm.Api.ApiRegistration.V1;
using Kcm.Api.Core.V1;
using Kcm.Api.Meta.V1;
using Kcm.Client;
using Kcm.Client.Errors;

namespace Kcm.Simulator.Metrics;

/// <summary>
/// How an aggregated API is registered (as metrics-server's manifests do): a Service without a selector, its
/// Endpoints naming this machine's address and port, and APIService v1beta1.metrics.k8s.io pointing at the Service
/// with the server's CA bundle. kube-apiserver with --enable-aggregator-routing=true dials the endpoint directly.
/// </summary>
public static class MetricsApiRegistration
{
    public const string ApiServiceName = "v1beta1.metrics.k8s.io";
    private const int ServicePort = 443;

    public static async Task RegisterAsync(KubeApiClient client, MetricsServerOptions options, IPEndPoint endPoint, string caBundlePem, CancellationToken ct)
    {
        var ns = options.ServiceNamespace;
        var labels = new Dictionary<string, string> { ["app.kubernetes.io/managed-by"] = "kcm-simulator" };
        await UpsertAsync(client, ns, options.ServiceName, () => new Service
        {
            Metadata = new ObjectMeta { Name = options.ServiceName, Namespace = ns, Labels = labels },
            Spec = new ServiceSpec { Ports = [new ServicePort { Name = "https", Port = ServicePort, Protocol = "TCP", TargetPort = Kcm.Api.IntOrString.FromInt(endPoint.Port) }] },
        }, existing =>
        {
            existing.Spec ??= new ServiceSpec();
            existing.Spec.Ports = [new ServicePort { Name = "https", Port = ServicePort, Protocol = "TCP", TargetPort = Kcm.Api.IntOrString.FromInt(endPoint.Port) }];
        }, ct).ConfigureAwait(false);

        void Fill(Endpoints e) => e.Subsets =
        [
            new EndpointSubset
            {
                Addresses = [new EndpointAddress { Ip = endPoint.Address.ToString() }],
                Ports = [new EndpointPort { Name = "https", Port = endPoint.Port, Protocol = "TCP" }],
            },
        ];
        await UpsertAsync(client, ns, options.ServiceName, () =>
        {
            var created = new Endpoints { Metadata = new ObjectMeta { Name = options.ServiceName, Namespace = ns, Labels = labels } };
            Fill(created);
            return created;
        }, Fill, ct).ConfigureAwait(false);

        void Point(APIService a) => a.Spec = new APIServiceSpec
        {
            Group = "metrics.k8s.io",
            Version = "v1beta1",
            Service = new ServiceReference { Namespace = ns, Name = options.ServiceName, Port = ServicePort },
            CaBundle = Encoding.ASCII.GetBytes(caBundlePem),
            GroupPriorityMinimum = 100,
            VersionPriority = 100,
        };
        await UpsertAsync(client, null, ApiServiceName, () =>
        {
            var created = new APIService { Metadata = new ObjectMeta { Name = ApiServiceName, Labels = labels } };
            Point(created);
            return created;
        }, Point, ct).ConfigureAwait(false);
    }

    /// <summary>Removes the APIService first (so nothing routes to a stopped server), then the Service and Endpoints.</summary>
    public static async Task UnregisterAsync(KubeApiClient client, MetricsServerOptions options, CancellationToken ct)
    {
        await IgnoreNotFound(() => client.DeleteAsync<APIService>(null, ApiServiceName, cancellationToken: ct)).ConfigureAwait(false);
        await IgnoreNotFound(() => client.DeleteAsync<Endpoints>(options.ServiceNamespace, options.ServiceName, cancellationToken: ct)).ConfigureAwait(false);
        await IgnoreNotFound(() => client.DeleteAsync<Service>(options.ServiceNamespace, options.ServiceName, cancellationToken: ct)).ConfigureAwait(false);
    }

    private static async Task UpsertAsync<T>(KubeApiClient client, string? ns, string name, Func<T> create, Action<T> update, CancellationToken ct)
        where T : class, Kcm.Api.IResource
    {
        for (var attempt = 0; ; attempt++)
        {
            T existing;
            try
            {
                existing = await client.GetAsync<T>(ns, name, ct).ConfigureAwait(false);
            }
            catch (NotFoundException)
            {
                try
                {
                    await client.CreateAsync(create(), ns, cancellationToken: ct).ConfigureAwait(false);
                    return;
                }
                catch (AlreadyExistsException) when (attempt < 3)
                {
                    continue;
                }
            }
            update(existing);
            try
            {
                await client.UpdateAsync(existing, cancellationToken: ct).ConfigureAwait(false);
                return;
            }
            catch (ConflictException) when (attempt < 3)
            {
            }
        }
    }

    private static async Task IgnoreNotFound(Func<Task> delete)
    {
        try
        {
            await delete().ConfigureAwait(false);
        }
        catch (NotFoundException)
        {
        }
    }
}

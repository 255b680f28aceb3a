using Kcm.Api.Apps.V1;
using Kcm.Api.Core.V1;
using Kcm.Api.Meta.V1;
using Kcm.Client;
using Kcm.Manager;
using Kcm.Options;
using Kcm.Testing;
using Microsoft.Extensions.Logging.Abstractions;

namespace Kcm.Tests.Manager;

public sealed class ReplicaControllersRegistrationTests(EmbeddedServerFixture server) : IClassFixture<EmbeddedServerFixture>
{
    [Fact(Timeout = 60_000)]
    public async Task Run_ReplicaSetAndReplicationControllerEnabled_BothManagePods()
    {
        var options = KubeControllerManagerOptions.Parse([$"--kubeconfig={server.AdminKubeconfigPath}", "--secure-port=0", "--leader-elect=false",
            "--controllers=replicaset,replicationcontroller", "--concurrent-replicaset-syncs=2", "--concurrent_rc_syncs=1"]);
        Assert.Empty(options.Validate());
        var host = new ControllerManagerHost(options, NullLoggerFactory.Instance, TimeProvider.System);
        using var client = KubeApiClient.FromKubeconfig(server.AdminKubeconfigPath);
        using var stop = new CancellationTokenSource();
        var run = host.RunAsync(stop.Token);
        // These controllers watch the whole cluster; on a shared one they also size other tests' ReplicaSets, which is harmless.
        var ns = await TestNamespaces.CreateAsync(client, "reg");

        await client.CreateAsync(new ReplicaSet
        {
            Metadata = new ObjectMeta { Name = "rs" },
            Spec = new ReplicaSetSpec { Replicas = 2, Selector = new LabelSelector { MatchLabels = new() { ["app"] = "reg" } }, Template = Template("reg") },
        }, ns);
        await client.CreateAsync(new ReplicationController
        {
            Metadata = new ObjectMeta { Name = "rc" },
            Spec = new ReplicationControllerSpec { Replicas = 1, Selector = new() { ["app"] = "reg-rc" }, Template = Template("reg-rc") },
        }, ns);

        await Eventually.TrueAsync("pods owned by the ReplicaSet and the ReplicationController", async () =>
        {
            var pods = (await client.ListAsync<Pod>(ns)).Items!;
            return pods.Count(p => p.Metadata!.OwnerReferences?.Any(o => o.Kind == "ReplicaSet") == true) == 2
                && pods.Count(p => p.Metadata!.OwnerReferences?.Any(o => o.Kind == "ReplicationController") == true) == 1;
        });

        stop.Cancel();
        Assert.Equal(ManagerExit.Stopped, await run);
    }

    private static PodTemplateSpec Template(string app) => new()
    {
        Metadata = new ObjectMeta { Labels = new() { ["app"] = app } },
        Spec = new PodSpec { Containers = [new Container { Name = "nginx", Image = "nginx" }] },
    };
}

using Kcm.Api.Apps.V1;
using Kcm.Api.Core.V1;
using Kcm.Client;
using Kcm.Client.Config;
using Kcm.Client.Errors;
using Kcm.Controllers.Clients;
using Kcm.Testing;

namespace Kcm.Controllers.Tests.Clients;

public sealed class ServiceAccountControllerClientsTests(EmbeddedServerFixture fixture) : IClassFixture<EmbeddedServerFixture>
{
    [Fact(Timeout = 30_000)]
    public async Task For_ControllerName_ActsAsItsServiceAccountWithOnlyItsRole()
    {
        var rootConfig = KubeconfigLoader.BuildConfigFromFlags(null, fixture.AdminKubeconfigPath);
        using var root = new KubeApiClient(rootConfig);
        using var clients = new ServiceAccountControllerClients(rootConfig, new KubeClientOptions(), root);

        var replicaSets = clients.For("replicaset-controller");

        // system:controller:replicaset-controller may list replicasets and pods but not secrets.
        await replicaSets.ListAsync<ReplicaSet>(null);
        await replicaSets.ListAsync<Pod>(null);
        var denied = await Assert.ThrowsAsync<ForbiddenException>(() => replicaSets.ListAsync<Secret>("kube-system"));
        Assert.Contains("system:serviceaccount:kube-system:replicaset-controller", denied.Message);
        var account = await root.GetAsync<ServiceAccount>("kube-system", "replicaset-controller");
        Assert.Equal("replicaset-controller", account.Metadata!.Name);
        Assert.Same(replicaSets, clients.For("replicaset-controller"));
        Assert.EndsWith("/system:serviceaccount:kube-system:replicaset-controller", replicaSets.Config.UserAgent);
        Assert.Null(replicaSets.Config.ClientCertificate);
    }

    [Fact(Timeout = 30_000)]
    public async Task GetToken_RenewsOnlyAfterEightyPercentOfTheLifetime()
    {
        var clock = new FakeTimeProvider(DateTimeOffset.UtcNow);
        using var root = KubeApiClient.FromKubeconfig(fixture.AdminKubeconfigPath);
        var tokens = new ServiceAccountTokenProvider(root, "kube-system", "renewal-test", clock);

        // The server signs with real time in whole seconds: a real second between requests makes a new token differ.
        var first = await tokens.GetTokenAsync(CancellationToken.None);
        await Task.Delay(1100);
        clock.Advance(TimeSpan.FromMinutes(47));
        var reused = await tokens.GetTokenAsync(CancellationToken.None);
        await Task.Delay(1100);
        clock.Advance(TimeSpan.FromMinutes(2));
        var renewed = await tokens.GetTokenAsync(CancellationToken.None);

        Assert.Equal(first, reused);
        Assert.NotEqual(first, renewed);
    }
}

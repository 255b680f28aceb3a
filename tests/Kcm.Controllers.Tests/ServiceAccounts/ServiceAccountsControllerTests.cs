using Kcm.Api.Core.V1;
using Kcm.Api.Meta.V1;
using Kcm.Client;
using Kcm.Client.Errors;
using Kcm.Controllers.ServiceAccounts;
using Kcm.Controllers.Tests.Support;
using Kcm.Testing;

namespace Kcm.Controllers.Tests.ServiceAccounts;

public sealed class ServiceAccountsControllerTests(EmbeddedServerFixture fixture) : IClassFixture<EmbeddedServerFixture>
{
    [Fact(Timeout = 60_000)]
    public async Task Run_NewNamespace_GetsDefaultServiceAccountRecreatedAfterDeletion()
    {
        await using var host = new ControllerTestHost(fixture);
        var controller = new ServiceAccountsController(host.Context);
        host.Start(controller.RunAsync);

        var ns = (await host.Client.CreateAsync(new Namespace { Metadata = new ObjectMeta { GenerateName = "sa-" } })).Metadata!.Name!;
        var first = await Eventually.GetAsync("default service account", () => TryGetAsync(host, ns, "default"));

        await host.Client.DeleteAsync<ServiceAccount>(ns, "default");
        var second = await Eventually.GetAsync("default service account recreated", async () =>
            await TryGetAsync(host, ns, "default") is { } sa && sa.Metadata!.Uid != first.Metadata!.Uid ? sa : null);
        Assert.Equal(ns, second.Metadata!.Namespace);
    }

    [Fact(Timeout = 60_000)]
    public async Task SyncNamespace_TerminatingNamespace_CreatesNothing()
    {
        await using var host = new ControllerTestHost(fixture);
        var ns = (await host.Client.CreateAsync(new Namespace
        {
            Metadata = new ObjectMeta { GenerateName = "sa-", Finalizers = ["example.com/hold"] },
        })).Metadata!.Name!;
        await host.Client.DeleteAsync<Namespace>(null, ns);
        try
        {
            await Eventually.TrueAsync("namespace terminating", async () =>
                (await host.Client.GetAsync<Namespace>(null, ns)).Status?.Phase == "Terminating");
            // On a shared cluster another test's serviceaccount controller may have created it before the delete.
            await DeleteIfPresentAsync(host, ns, "default");

            var controller = new ServiceAccountsController(host.Context);
            host.Start(controller.RunAsync);
            // A namespace created afterwards proves the controller has synced and is working.
            var other = (await host.Client.CreateAsync(new Namespace { Metadata = new ObjectMeta { GenerateName = "sa-" } })).Metadata!.Name!;
            await Eventually.GetAsync("default service account in the active namespace", () => TryGetAsync(host, other, "default"));

            Assert.Null(await TryGetAsync(host, ns, "default"));
        }
        finally
        {
            // Let the namespace go (on a real cluster its namespace controller then finishes the deletion).
            await host.Client.PatchAsync<Namespace>(null, ns, PatchType.Merge, "{\"metadata\":{\"finalizers\":null}}");
        }
    }

    private static async Task DeleteIfPresentAsync(ControllerTestHost host, string ns, string name)
    {
        try
        {
            await host.Client.DeleteAsync<ServiceAccount>(ns, name);
        }
        catch (NotFoundException)
        {
        }
    }

    private static async Task<ServiceAccount?> TryGetAsync(ControllerTestHost host, string ns, string name)
    {
        try
        {
            return await host.Client.GetAsync<ServiceAccount>(ns, name);
        }
        catch (NotFoundException)
        {
            return null;
        }
    }
}

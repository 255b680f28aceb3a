using Kcm.Api.Core.V1;
using Kcm.Api.Meta.V1;
using Kcm.ApiServer.Hosting;
using Kcm.Client.Errors;
using Kcm.Client.Watch;
using Kcm.Testing;

namespace Kcm.Client.Tests.Integration;

/// <summary>A server with a tiny watch window, so a resourceVersion falls out of it after a few writes.</summary>
public sealed class SmallWatchWindowFixture : EmbeddedServerFixture
{
    protected override void Configure(EmbeddedApiServerOptions options) => options.WatchCacheSize = 20;
}

public sealed class WatchExpiryTests(SmallWatchWindowFixture server) : IClassFixture<SmallWatchWindowFixture>
{
    [EmbeddedOnlyFact("needs the fixture's 20-event watch window; a real apiserver keeps minutes of history", Timeout = 60_000)]
    public async Task Watch_ResourceVersionOutsideWindow_GoneThenRelistAndWatchResumes()
    {
        using var client = KubeApiClient.FromKubeconfig(server.AdminKubeconfigPath);
        var ns = "expiry";
        await client.CreateAsync(new Namespace { Metadata = new ObjectMeta { Name = ns } });
        var staleRv = (await client.ListAsync<ConfigMap>(ns)).Metadata!.ResourceVersion!;
        for (var i = 0; i < 60; i++)
        {
            await client.CreateAsync(new ConfigMap { Metadata = new ObjectMeta { Name = $"cm-{i}" } }, ns);
        }

        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        var gone = await Assert.ThrowsAsync<GoneException>(async () =>
        {
            await foreach (var _ in client.WatchAsync<ConfigMap>(ns, new ListOptions { ResourceVersion = staleRv }, cts.Token))
            {
            }
        });
        Assert.Equal(410, gone.StatusCode);
        Assert.StartsWith("too old resource version: " + staleRv, gone.Status?.Message);

        // What a reflector does on 410: relist, then watch from the list's resourceVersion.
        var relist = await client.ListAllAsync<ConfigMap>(ns);
        Assert.Equal(60, relist.Items!.Count);
        var freshRv = relist.Metadata!.ResourceVersion!;
        await client.DeleteAsync<ConfigMap>(ns, "cm-7");
        await foreach (var e in client.WatchAsync<ConfigMap>(ns, new ListOptions { ResourceVersion = freshRv }, cts.Token))
        {
            Assert.Equal(WatchEventType.Deleted, e.Type);
            Assert.Equal("cm-7", e.Object.Metadata!.Name);
            break;
        }
    }
}

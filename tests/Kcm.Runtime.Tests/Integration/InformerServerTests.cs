using Kcm.Api.Core.V1;
using Kcm.Api.Meta.V1;
using Kcm.ApiServer.Hosting;
using Kcm.Client;
using Kcm.Client.Flowcontrol;
using Kcm.Runtime.Informers;
using Kcm.Runtime.Tests.Support;
using Kcm.Testing;

namespace Kcm.Runtime.Tests.Integration;

/// <summary>A server whose watch window is 20 events, so a disconnected informer falls out of it quickly.</summary>
public sealed class SmallWatchWindowServerFixture : EmbeddedServerFixture
{
    protected override void Configure(EmbeddedApiServerOptions options) => options.WatchCacheSize = 20;
}

public sealed class InformerServerTests(SmallWatchWindowServerFixture server) : IClassFixture<SmallWatchWindowServerFixture>
{
    private static readonly ReflectorOptions FastRetry = new()
    {
        InitialBackoff = TimeSpan.FromMilliseconds(20),
        MaxBackoff = TimeSpan.FromMilliseconds(200),
    };

    private static ConfigMap Cm(string name, string value = "v") => new()
    {
        Metadata = new ObjectMeta { Name = name },
        Data = new Dictionary<string, string> { ["key"] = value },
    };

    private async Task<(KubeApiClient Client, string Namespace)> NewNamespaceAsync(string prefix)
    {
        // Unthrottled: the tests write dozens of objects, which client-go's default 5 qps would stretch to seconds.
        var client = KubeApiClient.FromKubeconfig(server.AdminKubeconfigPath, options: new KubeClientOptions { RateLimiter = new UnlimitedRateLimiter() });
        var ns = $"{prefix}-{Guid.NewGuid():N}"[..20];
        await client.CreateAsync(new Namespace { Metadata = new ObjectMeta { Name = ns } });
        await TestNamespaces.EnsureDefaultServiceAccountAsync(client, ns);
        return (client, ns);
    }

    [Fact(Timeout = 60_000)]
    public async Task Informer_ExistingAndLiveObjects_InitialAddsThenLiveEvents()
    {
        var (client, ns) = await NewNamespaceAsync("inf-live");
        using var _ = client;
        await client.CreateAsync(Cm("one"), ns);
        await client.CreateAsync(Cm("two"), ns);
        var informer = new SharedInformer<ConfigMap>(client, new ListWatchScope { Namespace = ns }, new SharedInformerOptions { Reflector = FastRetry });
        var handler = new RecordingHandler<ConfigMap>();
        var registration = informer.AddEventHandler(handler);
        using var stop = new CancellationTokenSource();
        var run = informer.RunAsync(stop.Token);

        Assert.True(await informer.WaitForCacheSyncAsync(CancellationToken.None));
        Assert.Equal([$"add {ns}/one initial", $"add {ns}/two initial"], (await handler.NextAsync(2)).Order());
        Assert.Equal(2, informer.Cache.ByIndex(KnownIndexers.Namespace, ns).Count);

        var three = await client.CreateAsync(Cm("three"), ns);
        var updated = Cm("one", "changed");
        updated.Metadata!.Namespace = ns;
        updated = await client.UpdateAsync(updated);
        await client.DeleteAsync<ConfigMap>(ns, "two");

        var live = await handler.NextAsync(3);
        Assert.Equal($"add {ns}/three", live[0]);
        Assert.StartsWith($"update {ns}/one ", live[1]);
        Assert.EndsWith("->" + updated.Metadata!.ResourceVersion, live[1]);
        Assert.Equal($"delete {ns}/two", live[2]);
        Assert.True(registration.HasSynced);
        Assert.Equal("changed", informer.Cache.Get(new ObjectKey(ns, "one"))!.Data!["key"]);
        Assert.Equal(three.Metadata!.Uid, informer.Cache.Get(new ObjectKey(ns, "three"))!.Metadata!.Uid);
        Assert.Null(informer.Cache.Get(new ObjectKey(ns, "two")));

        stop.Cancel();
        await run;
    }

    [EmbeddedOnlyFact("needs the fixture's 20-event watch window; a real apiserver keeps minutes of history", Timeout = 60_000)]
    public async Task Informer_WatchExpiredWhileDisconnected_RelistDeletesVanishedObjects()
    {
        var (client, ns) = await NewNamespaceAsync("inf-gone");
        using var _ = client;
        for (var i = 0; i < 3; i++)
        {
            await client.CreateAsync(Cm($"keep-{i}"), ns);
            await client.CreateAsync(Cm($"doomed-{i}"), ns);
        }
        var source = new DisconnectableListWatcher<ConfigMap>(new TypedListWatcher<ConfigMap>(client, new ListWatchScope { Namespace = ns }));
        var informer = new SharedInformer<ConfigMap>(source, new SharedInformerOptions { Reflector = FastRetry });
        var handler = new RecordingHandler<ConfigMap>();
        informer.AddEventHandler(handler);
        using var stop = new CancellationTokenSource();
        var run = informer.RunAsync(stop.Token);
        await informer.WaitForCacheSyncAsync(CancellationToken.None);
        await handler.NextAsync(6);
        while (source.WatchesOpened == 0)
        {
            await Task.Delay(10);
        }

        source.Disconnect();
        for (var i = 0; i < 3; i++)
        {
            await client.DeleteAsync<ConfigMap>(ns, $"doomed-{i}");
        }
        // Enough writes to push the informer's resourceVersion out of the 20-event window.
        for (var i = 0; i < 30; i++)
        {
            await client.CreateAsync(Cm($"new-{i}"), ns);
        }
        Assert.Empty(handler.Drain());
        source.Reconnect();

        var relisted = await handler.NextAsync(3 + 30 + 3);
        Assert.Equal(2, source.ListCalls);
        Assert.Equal([$"delete {ns}/doomed-0 unknown", $"delete {ns}/doomed-1 unknown", $"delete {ns}/doomed-2 unknown"],
            relisted.Where(e => e.StartsWith("delete", StringComparison.Ordinal)).Order());
        Assert.Equal(30, relisted.Count(e => e.StartsWith($"add {ns}/new-", StringComparison.Ordinal) && !e.EndsWith("initial", StringComparison.Ordinal)));
        Assert.Equal(3, relisted.Count(e => e.StartsWith($"update {ns}/keep-", StringComparison.Ordinal)));
        Assert.Equal(33, informer.Cache.Count);

        // And the informer watches again from the relist.
        await client.DeleteAsync<ConfigMap>(ns, "keep-0");
        Assert.Equal([$"delete {ns}/keep-0"], await handler.NextAsync(1));

        stop.Cancel();
        await run;
    }

    [Fact(Timeout = 60_000)]
    public async Task Factory_SameResourceTwice_OneSharedInformer_DynamicInformerSeesJsonObjects()
    {
        var (client, ns) = await NewNamespaceAsync("inf-factory");
        using var _ = client;
        await client.CreateAsync(Cm("one"), ns);
        await using var factory = new SharedInformerFactory(client, new SharedInformerFactoryOptions { Namespace = ns, Reflector = FastRetry });
        var typed = factory.InformerFor<ConfigMap>();
        Assert.Same(typed, factory.InformerFor<ConfigMap>());
        var resource = new GroupVersionResource("", "v1", "configmaps");
        var dynamic = factory.DynamicInformerFor(resource);
        Assert.Same(dynamic, factory.DynamicInformerFor(resource));
        using var stop = new CancellationTokenSource();

        factory.Start(stop.Token);

        Assert.True(await factory.WaitForCacheSyncAsync(CancellationToken.None));
        Assert.True(typed.HasSynced);
        var json = dynamic.Cache.Get(new ObjectKey(ns, "one"));
        Assert.NotNull(json);
        Assert.Equal("ConfigMap", json["kind"]!.GetValue<string>());
        Assert.Equal("v1", json["apiVersion"]!.GetValue<string>());
        Assert.Equal("v", json["data"]!["key"]!.GetValue<string>());

        stop.Cancel();
        await factory.ShutdownAsync();
    }

    [Fact(Timeout = 60_000)]
    public async Task PodInformer_PodsOnNodes_IndexedByNodeName()
    {
        var (client, ns) = await NewNamespaceAsync("inf-pods");
        using var _ = client;
        foreach (var (name, node) in new[] { ("a", "node-1"), ("b", "node-2"), ("c", "node-1") })
        {
            await client.CreateAsync(new Pod
            {
                Metadata = new ObjectMeta { Name = name },
                Spec = new PodSpec { NodeName = node, Containers = [new Container { Name = "c", Image = "busybox" }] },
            }, ns);
        }
        var informer = new SharedInformer<Pod>(client, new ListWatchScope { Namespace = ns }, new SharedInformerOptions { Reflector = FastRetry });
        using var stop = new CancellationTokenSource();
        var run = informer.RunAsync(stop.Token);

        await informer.WaitForCacheSyncAsync(CancellationToken.None);

        Assert.Equal(["a", "c"], informer.Cache.ByIndex(KnownIndexers.PodNodeName, "node-1").Select(p => p.Metadata!.Name).Order());
        stop.Cancel();
        await run;
    }

    [Fact(Timeout = 60_000)]
    public async Task Informer_ObjectWithManagedFields_CachedWithoutThem()
    {
        var (client, ns) = await NewNamespaceAsync("inf-trim");
        using var _ = client;
        var tracked = Cm("tracked");
        tracked.Metadata!.ManagedFields =
        [
            new ManagedFieldsEntry { Manager = "kubectl", Operation = "Update", ApiVersion = "v1", FieldsType = "FieldsV1", FieldsV1 = System.Text.Json.Nodes.JsonNode.Parse("{\"f:data\":{\"f:key\":{}}}") },
        ];
        await client.CreateAsync(tracked, ns);
        Assert.NotNull((await client.GetAsync<ConfigMap>(ns, "tracked")).Metadata!.ManagedFields);
        var informer = new SharedInformer<ConfigMap>(client, new ListWatchScope { Namespace = ns }, new SharedInformerOptions { Reflector = FastRetry });
        using var stop = new CancellationTokenSource();
        var run = informer.RunAsync(stop.Token);
        Assert.True(await informer.WaitForCacheSyncAsync(CancellationToken.None));

        Assert.Null(informer.Cache.Get(new ObjectKey(ns, "tracked"))!.Metadata!.ManagedFields); // from the list
        var watched = Cm("watched");
        watched.Metadata!.ManagedFields = tracked.Metadata.ManagedFields;
        await client.CreateAsync(watched, ns);
        await Eventually.TrueAsync("watched object cached", () => Task.FromResult(informer.Cache.Get(new ObjectKey(ns, "watched")) is not null));
        Assert.Null(informer.Cache.Get(new ObjectKey(ns, "watched"))!.Metadata!.ManagedFields); // from the watch
        Assert.Equal("v", informer.Cache.Get(new ObjectKey(ns, "watched"))!.Data!["key"]);

        await stop.CancelAsync();
        await run;
    }
}

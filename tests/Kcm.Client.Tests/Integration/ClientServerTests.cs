using System.Text.Json.Nodes;
using Kcm.Api.Apps.V1;
using Kcm.Api.Core.V1;
using Kcm.Api.Meta.V1;
using Kcm.Client;
using Kcm.Client.Errors;
using Kcm.Client.Watch;
using Kcm.Testing;

namespace Kcm.Client.Tests.Integration;

/// <summary>
/// Our client against a server over HTTPS with mTLS: the embedded server by default, or the cluster
/// named by KCM_TEST_KUBECONFIG. Each test works in its own namespace.
/// </summary>
public sealed class ClientServerTests(EmbeddedServerFixture server) : IClassFixture<EmbeddedServerFixture>, IAsyncLifetime
{
    private readonly KubeApiClient _client = KubeApiClient.FromKubeconfig(server.AdminKubeconfigPath);
    private readonly string _ns = "it-" + Guid.NewGuid().ToString("N")[..10];

    public async Task InitializeAsync() => await _client.CreateAsync(new Namespace { Metadata = new ObjectMeta { Name = _ns } });

    public async Task DisposeAsync()
    {
        try
        {
            await _client.DeleteAsync<Namespace>(null, _ns);
        }
        finally
        {
            _client.Dispose();
        }
    }

    private static ConfigMap NewConfigMap(string name, Dictionary<string, string>? labels = null) => new()
    {
        Metadata = new ObjectMeta { Name = name, Labels = labels },
        Data = new() { ["key"] = "value" },
    };

    [Fact(Timeout = 30_000)]
    public async Task Crud_ConfigMap_CreateGetUpdateDelete()
    {
        var created = await _client.CreateAsync(NewConfigMap("cm"), _ns);
        Assert.False(string.IsNullOrEmpty(created.Metadata?.Uid));
        Assert.False(string.IsNullOrEmpty(created.Metadata?.ResourceVersion));
        Assert.NotNull(created.Metadata?.CreationTimestamp);

        var fetched = await _client.GetAsync<ConfigMap>(_ns, "cm");
        Assert.Equal(created.Metadata!.Uid, fetched.Metadata?.Uid);
        Assert.Equal("value", fetched.Data?["key"]);

        fetched.Data!["key"] = "changed";
        var updated = await _client.UpdateAsync(fetched);
        Assert.Equal("changed", updated.Data?["key"]);
        Assert.True(long.Parse(updated.Metadata!.ResourceVersion!) > long.Parse(created.Metadata.ResourceVersion!));

        await _client.DeleteAsync<ConfigMap>(_ns, "cm");
        var missing = await Assert.ThrowsAsync<NotFoundException>(() => _client.GetAsync<ConfigMap>(_ns, "cm"));
        Assert.Equal("configmaps \"cm\" not found", missing.Status?.Message);
    }

    [Fact(Timeout = 30_000)]
    public async Task Create_Twice_AlreadyExists()
    {
        await _client.CreateAsync(NewConfigMap("dup"), _ns);
        var e = await Assert.ThrowsAsync<AlreadyExistsException>(() => _client.CreateAsync(NewConfigMap("dup"), _ns));
        Assert.Equal(409, e.StatusCode);
        Assert.Equal("AlreadyExists", e.Status?.Reason);
    }

    [Fact(Timeout = 30_000)]
    public async Task Update_StaleResourceVersion_Conflict()
    {
        var created = await _client.CreateAsync(NewConfigMap("cas"), _ns);
        var first = await _client.GetAsync<ConfigMap>(_ns, "cas");
        var second = await _client.GetAsync<ConfigMap>(_ns, "cas");
        first.Data!["key"] = "first";
        await _client.UpdateAsync(first);
        second.Data!["key"] = "second";
        var e = await Assert.ThrowsAsync<ConflictException>(() => _client.UpdateAsync(second));
        Assert.Equal(
            "Operation cannot be fulfilled on configmaps \"cas\": the object has been modified; please apply your changes to the latest version and try again",
            e.Status?.Message);
        Assert.Equal("first", (await _client.GetAsync<ConfigMap>(_ns, "cas")).Data?["key"]);
        Assert.NotEqual(created.Metadata!.ResourceVersion, (await _client.GetAsync<ConfigMap>(_ns, "cas")).Metadata!.ResourceVersion);
    }

    [Fact(Timeout = 30_000)]
    public async Task List_LabelAndFieldSelectors_FilterItems()
    {
        await _client.CreateAsync(NewConfigMap("web-1", new() { ["app"] = "web", ["tier"] = "front" }), _ns);
        await _client.CreateAsync(NewConfigMap("web-2", new() { ["app"] = "web", ["tier"] = "back" }), _ns);
        await _client.CreateAsync(NewConfigMap("db-1", new() { ["app"] = "db" }), _ns);

        var web = await _client.ListAsync<ConfigMap>(_ns, new ListOptions { LabelSelector = "app=web" });
        Assert.Equal(["web-1", "web-2"], web.Items!.Select(i => i.Metadata!.Name!).ToArray());

        var notFront = await _client.ListAsync<ConfigMap>(_ns, new ListOptions { LabelSelector = "app in (web,db),tier!=front" });
        Assert.Equal(["db-1", "web-2"], notFront.Items!.Select(i => i.Metadata!.Name!).ToArray());

        var noTier = await _client.ListAsync<ConfigMap>(_ns, new ListOptions { LabelSelector = "!tier" });
        Assert.Equal(["db-1"], noTier.Items!.Select(i => i.Metadata!.Name!).ToArray());

        var byName = await _client.ListAsync<ConfigMap>(_ns, new ListOptions { FieldSelector = "metadata.name=web-2" });
        Assert.Equal("web-2", Assert.Single(byName.Items!).Metadata!.Name);

        var bad = await Assert.ThrowsAsync<BadRequestException>(() => _client.ListAsync<ConfigMap>(_ns, new ListOptions { LabelSelector = "app in (" }));
        Assert.Equal(400, bad.StatusCode);
    }

    [Fact(Timeout = 60_000)]
    public async Task List_Paging_FollowsContinueThroughEveryItem()
    {
        for (var i = 0; i < 25; i++) await _client.CreateAsync(NewConfigMap($"page-{i:D2}", new() { ["paged"] = "yes" }), _ns);
        var paged = "paged=yes";

        var first = await _client.ListAsync<ConfigMap>(_ns, new ListOptions { Limit = 10, LabelSelector = paged });
        Assert.Equal(10, first.Items!.Count);
        Assert.False(string.IsNullOrEmpty(first.Metadata?.Continue));
        Assert.Null(first.Metadata!.RemainingItemCount); // upstream counts remaining items only for unfiltered lists

        var second = await _client.ListAsync<ConfigMap>(_ns, new ListOptions { Limit = 10, Continue = first.Metadata.Continue, LabelSelector = paged });
        Assert.Equal("page-10", second.Items![0].Metadata!.Name);

        var all = await _client.ListAllAsync<ConfigMap>(_ns, new ListOptions { Limit = 7, LabelSelector = paged });
        Assert.Equal(Enumerable.Range(0, 25).Select(i => $"page-{i:D2}"), all.Items!.Select(i => i.Metadata!.Name!));
    }

    [Fact(Timeout = 30_000)]
    public async Task Watch_FromListResourceVersion_ReplaysLaterChangesInOrder()
    {
        var watched = new Dictionary<string, string> { ["watched"] = "yes" };
        var list = await _client.ListAsync<ConfigMap>(_ns);
        var rv = list.Metadata!.ResourceVersion!;
        await _client.CreateAsync(NewConfigMap("w1", watched), _ns);
        var w2 = await _client.CreateAsync(NewConfigMap("w2", watched), _ns);
        w2.Data!["key"] = "v2";
        await _client.UpdateAsync(w2);
        await _client.DeleteAsync<ConfigMap>(_ns, "w1");

        var seen = new List<(WatchEventType, string)>();
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        await foreach (var e in _client.WatchAsync<ConfigMap>(_ns, new ListOptions { ResourceVersion = rv, LabelSelector = "watched=yes" }, cts.Token))
        {
            seen.Add((e.Type, e.Object.Metadata!.Name!));
            if (seen.Count == 4) break;
        }
        Assert.Equal([(WatchEventType.Added, "w1"), (WatchEventType.Added, "w2"), (WatchEventType.Modified, "w2"), (WatchEventType.Deleted, "w1")], seen);
    }

    [Fact(Timeout = 30_000)]
    public async Task Watch_LiveChanges_ArriveWhileStreaming()
    {
        var rv = (await _client.ListAsync<ConfigMap>(_ns)).Metadata!.ResourceVersion!;
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        var first = WatchFirstAsync(cts.Token);
        await Task.Delay(200);
        await _client.CreateAsync(NewConfigMap("live", new() { ["live"] = "yes" }), _ns);
        var e = await first;
        Assert.Equal(WatchEventType.Added, e.Type);
        Assert.Equal("live", e.Object.Metadata!.Name);

        async Task<WatchEvent<ConfigMap>> WatchFirstAsync(CancellationToken ct)
        {
            await foreach (var ev in _client.WatchAsync<ConfigMap>(_ns, new ListOptions { ResourceVersion = rv, LabelSelector = "live=yes" }, ct)) return ev;
            throw new InvalidOperationException("watch ended without an event");
        }
    }

    [Fact(Timeout = 30_000)]
    public async Task Patch_StrategicMerge_MergesContainersByName()
    {
        await _client.CreateAsync(new Deployment
        {
            Metadata = new ObjectMeta { Name = "smp" },
            Spec = new DeploymentSpec
            {
                Selector = new LabelSelector { MatchLabels = new() { ["a"] = "b" } },
                Template = new PodTemplateSpec
                {
                    Metadata = new ObjectMeta { Labels = new() { ["a"] = "b" } },
                    Spec = new PodSpec { Containers = [new Container { Name = "web", Image = "nginx:1" }, new Container { Name = "side", Image = "busybox" }] },
                },
            },
        }, _ns);

        var patched = await _client.PatchAsync<Deployment>(_ns, "smp", PatchType.StrategicMerge,
            """{"spec":{"template":{"spec":{"containers":[{"name":"web","image":"nginx:2"}]}}}}""");
        var containers = patched.Spec!.Template!.Spec!.Containers!;
        Assert.Equal(["web", "side"], containers.Select(c => c.Name!));
        Assert.Equal("nginx:2", containers[0].Image);
        Assert.Equal(2, patched.Metadata!.Generation);

        var merged = await _client.PatchAsync<Deployment>(_ns, "smp", PatchType.Merge, """{"metadata":{"labels":{"m":"1"}}}""");
        Assert.Equal("1", merged.Metadata!.Labels!["m"]);
        Assert.Equal(2, merged.Metadata.Generation);
    }

    [Fact(Timeout = 30_000)]
    public async Task StatusAndScale_Subresources_ChangeOnlyTheirPart()
    {
        var d = await _client.CreateAsync(new Deployment
        {
            Metadata = new ObjectMeta { Name = "sub" },
            Spec = new DeploymentSpec
            {
                Replicas = 1,
                Selector = new LabelSelector { MatchLabels = new() { ["a"] = "b" } },
                Template = new PodTemplateSpec
                {
                    Metadata = new ObjectMeta { Labels = new() { ["a"] = "b" } },
                    Spec = new PodSpec { Containers = [new Container { Name = "web", Image = "nginx" }] },
                },
            },
        }, _ns);

        d.Status = new DeploymentStatus { Replicas = 1, ReadyReplicas = 1 };
        d.Spec!.Replicas = 9; // ignored by the status subresource
        var afterStatus = await _client.UpdateStatusAsync(d);
        Assert.Equal(1, afterStatus.Status?.ReadyReplicas);
        Assert.Equal(1, afterStatus.Spec?.Replicas);

        var scale = await _client.GetScaleAsync<Deployment>(_ns, "sub");
        Assert.Equal(1, scale.Spec?.Replicas);
        Assert.Equal("a=b", scale.Status?.Selector);
        scale.Spec!.Replicas = 3;
        await _client.UpdateScaleAsync<Deployment>(_ns, "sub", scale);

        var after = await _client.GetAsync<Deployment>(_ns, "sub");
        Assert.Equal(3, after.Spec?.Replicas);
        Assert.Equal(1, after.Status?.ReadyReplicas);
    }

    [Fact(Timeout = 30_000)]
    public async Task Delete_WithStaleUidPrecondition_Conflict()
    {
        await _client.CreateAsync(NewConfigMap("pre"), _ns);
        await Assert.ThrowsAsync<ConflictException>(() => _client.DeleteAsync<ConfigMap>(_ns, "pre",
            new DeleteOptions { Preconditions = new Preconditions { Uid = Guid.NewGuid().ToString() } }));
        Assert.NotNull(await _client.GetAsync<ConfigMap>(_ns, "pre"));
    }

    [Fact(Timeout = 30_000)]
    public async Task DeleteCollection_WithLabelSelector_DeletesOnlyMatches()
    {
        await _client.CreateAsync(NewConfigMap("dc-a", new() { ["gone"] = "yes" }), _ns);
        await _client.CreateAsync(NewConfigMap("dc-b", new() { ["gone"] = "yes" }), _ns);
        await _client.CreateAsync(NewConfigMap("dc-c"), _ns);
        await _client.DeleteCollectionAsync<ConfigMap>(_ns, new ListOptions { LabelSelector = "gone=yes" });
        var left = await _client.ListAsync<ConfigMap>(_ns);
        Assert.Equal(["dc-c"], left.Items!.Select(i => i.Metadata!.Name!).Where(n => n.StartsWith("dc-", StringComparison.Ordinal)));
    }
}

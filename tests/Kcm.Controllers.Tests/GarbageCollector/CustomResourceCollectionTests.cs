using System.Text.Json.Nodes;
using Kcm.Api.Core.V1;
using Kcm.Api.Meta.V1;
using Kcm.Client;
using Kcm.Client.Errors;
using Kcm.Controllers.Common;
using Kcm.Controllers.GarbageCollector;
using Kcm.Controllers.Namespaces;
using Kcm.Controllers.Tests.Support;
using Kcm.Testing;
using CoreNamespace = Kcm.Api.Core.V1.Namespace;

namespace Kcm.Controllers.Tests.GarbageCollector;

/// <summary>
/// One server with a CRD of its own group (CRDs are cluster-scoped; the real test cluster outlives a run), our garbage
/// collector (discovery re-read every second, so it finds the CRD) and our namespace controller.
/// </summary>
public sealed class CustomResourceCollectionFixture : IAsyncLifetime
{
    public EmbeddedServerFixture Server { get; } = new();

    public ControllerTestHost Host { get; private set; } = null!;

    public string Group { get; } = "g" + Guid.NewGuid().ToString("N")[..10] + ".example.com";

    public DynamicResourceClient Widgets(string ns) => Host.Client.Dynamic.Resource(Group, "v1", "widgets", namespaced: true);

    private DynamicResourceClient Crds => Host.Client.Dynamic.Resource("apiextensions.k8s.io", "v1", "customresourcedefinitions", namespaced: false);

    public async Task InitializeAsync()
    {
        await Server.InitializeAsync();
        Host = new ControllerTestHost(Server, DebugFileLoggerProvider.FromEnvironment(), unthrottled: true);
        await Crds.CreateAsync(JsonNode.Parse($$$$"""
            {"apiVersion":"apiextensions.k8s.io/v1","kind":"CustomResourceDefinition","metadata":{"name":"widgets.{{{{Group}}}}"},
             "spec":{"group":"{{{{Group}}}}","scope":"Namespaced","names":{"plural":"widgets","kind":"Widget"},
              "versions":[{"name":"v1","served":true,"storage":true,"schema":{"openAPIV3Schema":{"type":"object","x-kubernetes-preserve-unknown-fields":true}}}]}}
            """)!.AsObject());
        await Eventually.TrueAsync("the CRD to be Established", async () =>
            ((await Crds.GetAsync(null, "widgets." + Group))["status"]?["conditions"] as JsonArray)?
                .Any(c => c?["type"]?.GetValue<string>() == "Established" && c["status"]?.GetValue<string>() == "True") == true);
        var collector = new Controllers.GarbageCollector.GarbageCollector(Host.Context, new GarbageCollectorOptions { ResourceResyncPeriod = TimeSpan.FromSeconds(1) });
        var namespaces = new NamespaceController(Host.Context, new NamespaceControllerOptions { DeletionGracePeriod = TimeSpan.FromMilliseconds(100) });
        Host.Start(ct => collector.RunAsync(2, ct), ct => namespaces.RunAsync(2, ct));
    }

    public async Task DisposeAsync()
    {
        try
        {
            await Crds.DeleteAsync(null, "widgets." + Group);
        }
        catch (KubeApiException)
        {
            // Best effort: the server may be going away.
        }
        await Host.DisposeAsync();
        await Server.DisposeAsync();
    }
}

public sealed class CustomResourceCollectionTests(CustomResourceCollectionFixture fixture) : IClassFixture<CustomResourceCollectionFixture>
{
    // The collector must first discover the CRD (1 s resync) and list it; generous for the shared real cluster in CI.
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(30);

    private KubeApiClient Client => fixture.Host.Client;

    private async Task<JsonObject> CreateWidgetAsync(string ns, string name, OwnerReference? owner = null)
    {
        var widget = new JsonObject
        {
            ["apiVersion"] = fixture.Group + "/v1",
            ["kind"] = "Widget",
            ["metadata"] = new JsonObject { ["name"] = name },
        };
        if (owner is not null)
        {
            widget["metadata"]!["ownerReferences"] = new JsonArray(new JsonObject
            {
                ["apiVersion"] = owner.ApiVersion, ["kind"] = owner.Kind, ["name"] = owner.Name, ["uid"] = owner.Uid,
            });
        }
        return await fixture.Widgets(ns).CreateAsync(widget, ns);
    }

    private async Task WaitWidgetGoneAsync(string ns, string name) => await Eventually.TrueAsync($"widget {ns}/{name} to be collected", async () =>
    {
        try
        {
            await fixture.Widgets(ns).GetAsync(ns, name);
            return false;
        }
        catch (NotFoundException)
        {
            return true;
        }
    }, Timeout);

    [Fact(Timeout = 60_000)]
    public async Task Collect_ConfigMapOwnedByCustomResource_DeletedWithIt()
    {
        var ns = await TestNamespaces.CreateAsync(Client, "crgc");
        var owner = await CreateWidgetAsync(ns, "owner");
        var uid = owner["metadata"]!["uid"]!.GetValue<string>();
        await Client.CreateAsync(new ConfigMap
        {
            Metadata = new ObjectMeta
            {
                Name = "dependent", Namespace = ns,
                OwnerReferences = [new OwnerReference { ApiVersion = fixture.Group + "/v1", Kind = "Widget", Name = "owner", Uid = uid }],
            },
        });

        await fixture.Widgets(ns).DeleteAsync(ns, "owner");

        await Eventually.TrueAsync("the configmap owned by the widget to be collected", async () =>
        {
            try
            {
                await Client.GetAsync<ConfigMap>(ns, "dependent");
                return false;
            }
            catch (NotFoundException)
            {
                return true;
            }
        }, Timeout);
    }

    [Fact(Timeout = 60_000)]
    public async Task Collect_CustomResourceOwnedByConfigMap_DeletedWithIt()
    {
        var ns = await TestNamespaces.CreateAsync(Client, "crgc");
        var owner = await Client.CreateAsync(new ConfigMap { Metadata = new ObjectMeta { Name = "owner", Namespace = ns } });
        await CreateWidgetAsync(ns, "dependent", new OwnerReference { ApiVersion = "v1", Kind = "ConfigMap", Name = "owner", Uid = owner.Metadata!.Uid! });
        var kept = await CreateWidgetAsync(ns, "unowned");

        await Client.DeleteAsync<ConfigMap>(ns, "owner");

        await WaitWidgetGoneAsync(ns, "dependent");
        Assert.Equal(kept["metadata"]!["uid"]!.GetValue<string>(), (await fixture.Widgets(ns).GetAsync(ns, "unowned"))["metadata"]!["uid"]!.GetValue<string>());
    }

    [Fact(Timeout = 60_000)]
    public async Task DeleteNamespace_WithCustomResources_RemovesThemThenTheNamespace()
    {
        var ns = await TestNamespaces.CreateAsync(Client, "crns");
        await CreateWidgetAsync(ns, "a");
        await CreateWidgetAsync(ns, "b");

        await Client.DeleteAsync<CoreNamespace>(null, ns);

        await Eventually.TrueAsync($"namespace {ns} to be removed", async () =>
        {
            try
            {
                await Client.GetAsync<CoreNamespace>(null, ns);
                return false;
            }
            catch (NotFoundException)
            {
                return true;
            }
        }, Timeout);
        Assert.Empty((await fixture.Widgets(ns).ListAsync(ns))["items"] as JsonArray ?? []);
    }
}

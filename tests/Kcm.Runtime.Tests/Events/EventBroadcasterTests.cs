using Kcm.Api.Apps.V1;
using Kcm.Api.Core.V1;
using Kcm.Api.Meta.V1;
using Kcm.Client;
using Kcm.Runtime.Events;
using Kcm.Testing;
using Microsoft.Extensions.Logging.Abstractions;

namespace Kcm.Runtime.Tests.Events;

public sealed class EventBroadcasterTests(EmbeddedServerFixture fixture) : IClassFixture<EmbeddedServerFixture>
{
    [Fact(Timeout = 30_000)]
    public async Task Event_RecordedTwice_IsOneEventWithCountTwo()
    {
        using var client = KubeApiClient.FromKubeconfig(fixture.AdminKubeconfigPath);
        var ns = await TestNamespaces.CreateAsync(client, "events");
        var replicaSet = new ReplicaSet { Metadata = new ObjectMeta { Name = "events-rs", Namespace = ns, Uid = Guid.NewGuid().ToString() } };
        await using (var broadcaster = new EventBroadcaster(client, NullLoggerFactory.Instance))
        {
            var recorder = broadcaster.NewRecorder("replicaset-controller");
            recorder.Event(replicaSet, EventTypes.Normal, "SuccessfulCreate", "Created pod: events-rs-abcde");
            await Eventually.TrueAsync("first event written", async () => (await ListAsync(client, ns)).Count == 1);
            recorder.Event(replicaSet, EventTypes.Normal, "SuccessfulCreate", "Created pod: events-rs-abcde");
            await Eventually.TrueAsync("count 2", async () => (await ListAsync(client, ns)).SingleOrDefault()?.Count == 2);
        }

        var e = (await ListAsync(client, ns)).Single();
        Assert.StartsWith("events-rs.", e.Metadata!.Name);
        Assert.Equal("ReplicaSet", e.InvolvedObject!.Kind);
        Assert.Equal("apps/v1", e.InvolvedObject.ApiVersion);
        Assert.Equal("replicaset-controller", e.Source!.Component);
        Assert.Equal("Normal", e.Type);
        Assert.True(e.LastTimestamp >= e.FirstTimestamp);
    }

    private static async Task<List<Event>> ListAsync(KubeApiClient client, string ns)
        => [.. ((await client.ListAsync<Event>(ns, new ListOptions { FieldSelector = "involvedObject.name=events-rs" })).Items ?? [])];
}

using Kcm.Testing;
using Kcm.Api.Core.V1;
using Kcm.Api.Meta.V1;
using Kcm.Client.Errors;
using Kcm.Client.Watch;
using Kcm.Runtime.Informers;
using Kcm.Runtime.Tests.Support;

namespace Kcm.Runtime.Tests.Informers;

/// <summary>Informer behaviour against a scripted list/watch source.</summary>
public sealed class SharedInformerTests : IAsyncDisposable
{
    private readonly FakeListWatcher<ConfigMap> _source = new();
    private readonly CancellationTokenSource _stop = new();
    private Task? _run;

    private static readonly ReflectorOptions FastRetry = new() { InitialBackoff = TimeSpan.FromMilliseconds(10), MaxBackoff = TimeSpan.FromMilliseconds(50) };

    private static ConfigMap Cm(string name, string rv, string ns = "ns") => new()
    {
        Metadata = new ObjectMeta { Namespace = ns, Name = name, ResourceVersion = rv },
    };

    private SharedInformer<ConfigMap> Start(SharedInformerOptions? options = null, params RecordingHandler<ConfigMap>[] handlers)
    {
        var informer = new SharedInformer<ConfigMap>(_source, options ?? new SharedInformerOptions { Reflector = FastRetry });
        foreach (var handler in handlers)
        {
            informer.AddEventHandler(handler);
        }
        _run = informer.RunAsync(_stop.Token);
        return informer;
    }

    [Fact(Timeout = 10_000)]
    public async Task RunAsync_InitialList_AddsInInitialListThenSynced()
    {
        _source.NextList = new([Cm("a", "5"), Cm("b", "6")], "10");
        var handler = new RecordingHandler<ConfigMap>();

        var informer = Start(null, handler);

        Assert.True(await informer.WaitForCacheSyncAsync(CancellationToken.None));
        Assert.Equal(["add ns/a initial", "add ns/b initial"], await handler.NextAsync(2));
        Assert.Equal(2, informer.Cache.Count);
        var watch = await _source.NextWatchAsync();
        Assert.Equal("10", watch.ResourceVersion);
    }

    [Fact(Timeout = 10_000)]
    public async Task RunAsync_WatchEvents_DeliveredInOrderAndCacheFollows()
    {
        _source.NextList = new([Cm("a", "5")], "10");
        var handler = new RecordingHandler<ConfigMap>();
        var informer = Start(null, handler);
        var watch = await _source.NextWatchAsync();
        await handler.NextAsync(1);

        watch.Send(WatchEventType.Added, Cm("b", "11"));
        watch.Send(WatchEventType.Modified, Cm("a", "12"));
        watch.Send(WatchEventType.Deleted, Cm("b", "13"));

        Assert.Equal(["add ns/b", "update ns/a 5->12", "delete ns/b"], await handler.NextAsync(3));
        Assert.Equal("12", informer.Cache.Get(new ObjectKey("ns", "a"))!.Metadata!.ResourceVersion);
        Assert.Null(informer.Cache.Get(new ObjectKey("ns", "b")));
        Assert.Equal("13", informer.LastSyncResourceVersion);
    }

    [Fact(Timeout = 10_000)]
    public async Task RunAsync_WatchEnds_ResumesFromLastResourceVersionIncludingBookmark()
    {
        _source.NextList = new([], "10");
        var handler = new RecordingHandler<ConfigMap>();
        Start(null, handler);
        var first = await _source.NextWatchAsync();

        first.Send(WatchEventType.Added, Cm("a", "11"));
        first.Send(WatchEventType.Bookmark, new ConfigMap { Metadata = new ObjectMeta { ResourceVersion = "20" } });
        first.End();

        var second = await _source.NextWatchAsync();
        Assert.Equal("20", second.ResourceVersion);
        Assert.Equal(1, _source.ListCalls);
        Assert.Equal(["add ns/a"], await handler.NextAsync(1));
    }

    [Fact(Timeout = 10_000)]
    public async Task RunAsync_WatchFailsWithOtherError_RetriesWatchWithoutRelist()
    {
        _source.NextList = new([Cm("a", "5")], "10");
        Start(null);
        var first = await _source.NextWatchAsync();
        first.Send(WatchEventType.Modified, Cm("a", "11"));

        first.Fail(new InternalErrorException(500, new Status { Message = "etcd hiccup" }));

        var second = await _source.NextWatchAsync();
        Assert.Equal("11", second.ResourceVersion);
        Assert.Equal(1, _source.ListCalls);
    }

    [Fact(Timeout = 10_000)]
    public async Task RunAsync_WatchGone_RelistsAndDiffsAgainstWholeList()
    {
        _source.NextList = new([Cm("a", "5"), Cm("b", "6"), Cm("c", "7")], "10");
        var handler = new RecordingHandler<ConfigMap>();
        var informer = Start(null, handler);
        var first = await _source.NextWatchAsync();
        await handler.NextAsync(3);

        // While "disconnected": b was deleted, c changed, d was created.
        _source.NextList = new([Cm("a", "5"), Cm("c", "30"), Cm("d", "31")], "40");
        first.Fail(new GoneException(410, new Status { Code = 410, Reason = "Expired", Message = "too old resource version: 10 (35)" }));

        var second = await _source.NextWatchAsync();
        Assert.Equal("40", second.ResourceVersion);
        Assert.Equal(2, _source.ListCalls);
        Assert.Equal(["update ns/a 5->5", "update ns/c 7->30", "add ns/d", "delete ns/b unknown"], await handler.NextAsync(4));
        Assert.Equal(["ns/a", "ns/c", "ns/d"], informer.Cache.ListKeys().Select(k => k.ToString()).Order());
    }

    [Fact(Timeout = 10_000)]
    public async Task RunAsync_GoneByStatusCodeWithoutReason_StillRelists()
    {
        _source.NextList = new([Cm("a", "5")], "10");
        Start(null);
        var first = await _source.NextWatchAsync();

        first.Fail(KubeApiErrors.FromResponse(410, [], null));

        await _source.NextWatchAsync();
        Assert.Equal(2, _source.ListCalls);
    }

    [Fact(Timeout = 10_000)]
    public async Task AddEventHandler_AfterSync_ReplaysCacheAsInitialAddsAndSyncs()
    {
        _source.NextList = new([Cm("a", "5"), Cm("b", "6")], "10");
        var informer = Start(null);
        await informer.WaitForCacheSyncAsync(CancellationToken.None);
        var late = new RecordingHandler<ConfigMap>();

        var registration = informer.AddEventHandler(late);

        Assert.Equal(["add ns/a initial", "add ns/b initial"], (await late.NextAsync(2)).Order());
        while (!registration.HasSynced)
        {
            await Task.Delay(5);
        }
    }

    [Fact(Timeout = 10_000)]
    public async Task Resync_PeriodElapses_UpdateWithSameObjectForEachCachedObject()
    {
        var clock = new FakeTimeProvider();
        _source.NextList = new([Cm("a", "5")], "10");
        var handler = new RecordingHandler<ConfigMap>();
        var informer = Start(new SharedInformerOptions { ResyncPeriod = TimeSpan.FromMinutes(1), TimeProvider = clock, Reflector = FastRetry }, handler);
        await _source.NextWatchAsync();
        await handler.NextAsync(1);

        clock.Advance(TimeSpan.FromMinutes(1));

        Assert.Equal(["update ns/a 5->5"], await handler.NextAsync(1));
        Assert.True(informer.HasSynced);
    }

    [Fact(Timeout = 10_000)]
    public async Task Handler_Throws_LaterNotificationsStillDelivered()
    {
        _source.NextList = new([], "10");
        var seen = new List<string>();
        var done = new TaskCompletionSource();
        var informer = new SharedInformer<ConfigMap>(_source, new SharedInformerOptions { Reflector = FastRetry });
        informer.AddEventHandler(new ResourceEventHandler<ConfigMap>
        {
            Added = (cm, _) =>
            {
                seen.Add(cm.Metadata!.Name!);
                if (cm.Metadata.Name == "bad")
                {
                    throw new InvalidOperationException("handler bug");
                }
                if (cm.Metadata.Name == "good")
                {
                    done.SetResult();
                }
            },
        });
        _run = informer.RunAsync(_stop.Token);
        var watch = await _source.NextWatchAsync();

        watch.Send(WatchEventType.Added, Cm("bad", "11"));
        watch.Send(WatchEventType.Added, Cm("good", "12"));

        await done.Task;
        Assert.Equal(["bad", "good"], seen);
    }

    [Fact(Timeout = 10_000)]
    public async Task UpdateFilter_DeclinedUpdatesNeverReachTheHandler_AThrowingFilterDelivers()
    {
        _source.NextList = new([Cm("quiet", "5"), Cm("loud", "6"), Cm("boom", "7")], "10");
        var handler = new FilteringHandler();
        var informer = Start(null);
        informer.AddEventHandler(handler);
        var watch = await _source.NextWatchAsync();
        Assert.Equal(3, (await handler.Recorded.NextAsync(3)).Count);

        watch.Send(WatchEventType.Modified, Cm("quiet", "11"));
        watch.Send(WatchEventType.Modified, Cm("loud", "12"));
        watch.Send(WatchEventType.Modified, Cm("boom", "13"));
        watch.Send(WatchEventType.Added, Cm("last", "14"));

        // The declined update of "quiet" would have come first: the handler sees the rest, in order, and only them.
        Assert.Equal(["update ns/loud 6->12", "update ns/boom 7->13", "add ns/last"], await handler.Recorded.NextAsync(3));
        Assert.Equal(["quiet 5->11", "loud 6->12", "boom 7->13"], handler.Asked);
        Assert.Empty(handler.Recorded.Drain());
        // Declining is the handler's business: the cache still follows every update.
        Assert.Equal("11", informer.Cache.Get(new ObjectKey("ns", "quiet"))!.Metadata!.ResourceVersion);
    }

    [Fact(Timeout = 10_000)]
    public async Task ResourceEventHandler_UpdateWanted_FiltersUpdatesOnly()
    {
        _source.NextList = new([Cm("quiet", "5"), Cm("loud", "6")], "10");
        var seen = System.Threading.Channels.Channel.CreateUnbounded<string>();
        var informer = Start(null);
        informer.AddEventHandler(new ResourceEventHandler<ConfigMap>
        {
            Added = (cm, _) => seen.Writer.TryWrite("add " + cm.Metadata!.Name),
            UpdateWanted = (_, cm) => cm.Metadata!.Name == "loud",
            Updated = (_, cm) => seen.Writer.TryWrite("update " + cm.Metadata!.Name),
            Deleted = (cm, _) => seen.Writer.TryWrite("delete " + cm.Metadata!.Name),
        });
        var watch = await _source.NextWatchAsync();

        watch.Send(WatchEventType.Modified, Cm("quiet", "11"));
        watch.Send(WatchEventType.Modified, Cm("loud", "12"));
        watch.Send(WatchEventType.Deleted, Cm("quiet", "13"));

        var got = new List<string>();
        for (var i = 0; i < 4; i++)
        {
            got.Add(await seen.Reader.ReadAsync());
        }
        Assert.Equal(["add loud", "add quiet", "delete quiet", "update loud"], got.Order());
        Assert.True(got.IndexOf("update loud") < got.IndexOf("delete quiet"));
        Assert.False(seen.Reader.TryRead(out _));
    }

    /// <summary>Wants updates of "loud" only; throws on "boom".</summary>
    private sealed class FilteringHandler : IResourceEventHandler<ConfigMap>, IUpdateFilter<ConfigMap>
    {
        public RecordingHandler<ConfigMap> Recorded { get; } = new();

        public List<string> Asked { get; } = [];

        public bool WantsUpdate(ConfigMap oldObj, ConfigMap newObj)
        {
            Asked.Add($"{newObj.Metadata!.Name} {oldObj.Metadata!.ResourceVersion}->{newObj.Metadata.ResourceVersion}");
            return newObj.Metadata.Name switch
            {
                "loud" => true,
                "boom" => throw new InvalidOperationException("filter bug"),
                _ => false,
            };
        }

        public void OnAdd(ConfigMap obj, bool isInInitialList) => Recorded.OnAdd(obj, isInInitialList);

        public void OnUpdate(ConfigMap oldObj, ConfigMap newObj) => Recorded.OnUpdate(oldObj, newObj);

        public void OnDelete(ConfigMap obj, bool finalStateUnknown) => Recorded.OnDelete(obj, finalStateUnknown);
    }

    [Fact(Timeout = 10_000)]
    public async Task RunAsync_Twice_Throws()
    {
        var informer = Start(null);

        await Assert.ThrowsAsync<InformerAlreadyStartedException>(() => informer.RunAsync(CancellationToken.None));
    }

    [Fact(Timeout = 10_000)]
    public async Task WaitForCacheSyncAsync_CancelledBeforeList_False()
    {
        var informer = new SharedInformer<ConfigMap>(_source);
        using var cts = new CancellationTokenSource(TimeSpan.FromMilliseconds(20));

        Assert.False(await informer.WaitForCacheSyncAsync(cts.Token));
    }

    public async ValueTask DisposeAsync()
    {
        _stop.Cancel();
        if (_run is not null)
        {
            await _run.WaitAsync(TimeSpan.FromSeconds(10));
        }
        _stop.Dispose();
    }
}

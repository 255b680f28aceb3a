using Kcm.Testing;
using System.Collections.Concurrent;
using Kcm.Runtime.Controllers;
using Kcm.Runtime.Logging;
using Kcm.Runtime.Queues;
using Kcm.Runtime.Tests.Support;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Kcm.Runtime.Tests.Controllers;

public sealed class ControllerWorkersTests
{
    private static RateLimitingQueue<string> Queue(FakeTimeProvider clock)
        => new(new ItemExponentialFailureRateLimiter<string>(TimeSpan.FromMilliseconds(5), TimeSpan.FromSeconds(1000)), new WorkQueueOptions { TimeProvider = clock });

    [Fact(Timeout = 10_000)]
    public async Task ProcessNextAsync_ReconcileSucceeds_ForgetsFailures()
    {
        var clock = new FakeTimeProvider();
        using var queue = Queue(clock);
        queue.AddRateLimited("ns/a");
        clock.Advance(TimeSpan.FromMilliseconds(5));
        var workers = new ControllerWorkers<string>("test", queue, (_, _) => Task.FromResult(ReconcileResult.Done), NullLogger.Instance);

        Assert.True(await workers.ProcessNextAsync(CancellationToken.None));

        Assert.Equal(0, queue.NumRequeues("ns/a"));
        Assert.Equal(0, queue.Count);
    }

    [Fact(Timeout = 10_000)]
    public async Task ProcessNextAsync_DoneKeepFailures_KeepsTheFailureCount()
    {
        var clock = new FakeTimeProvider();
        using var queue = Queue(clock);
        queue.AddRateLimited("ns/a");
        clock.Advance(TimeSpan.FromMilliseconds(5));
        var workers = new ControllerWorkers<string>("test", queue, (_, _) => Task.FromResult(ReconcileResult.DoneKeepFailures), NullLogger.Instance);

        Assert.True(await workers.ProcessNextAsync(CancellationToken.None));

        Assert.Equal(1, queue.NumRequeues("ns/a"));
        Assert.Equal(0, queue.Count);
    }

    [Fact(Timeout = 10_000)]
    public async Task ProcessNextAsync_ReconcileThrows_LoggedOnceAndRequeuedWithBackoff()
    {
        var clock = new FakeTimeProvider();
        using var queue = Queue(clock);
        var logger = new CountingLogger();
        var workers = new ControllerWorkers<string>("test", queue, (_, _) => throw new InvalidOperationException("boom"), logger);
        queue.Add("ns/a");

        await workers.ProcessNextAsync(CancellationToken.None);

        Assert.Equal(1, logger.Errors);
        Assert.Equal(1, queue.NumRequeues("ns/a"));
        Assert.Equal(0, queue.Count);
        clock.Advance(TimeSpan.FromMilliseconds(5));
        Assert.Equal(1, queue.Count);

        await workers.ProcessNextAsync(CancellationToken.None);
        Assert.Equal(2, queue.NumRequeues("ns/a"));
        clock.Advance(TimeSpan.FromMilliseconds(9));
        Assert.Equal(0, queue.Count);
        clock.Advance(TimeSpan.FromMilliseconds(1));
        Assert.Equal(1, queue.Count);
    }

    [Fact(Timeout = 10_000)]
    public async Task ProcessNextAsync_RequeueAfter_AddedAfterDelay()
    {
        var clock = new FakeTimeProvider();
        using var queue = Queue(clock);
        var workers = new ControllerWorkers<string>("test", queue, (_, _) => Task.FromResult(ReconcileResult.After(TimeSpan.FromSeconds(30))), NullLogger.Instance);
        queue.Add("ns/a");

        await workers.ProcessNextAsync(CancellationToken.None);

        Assert.Equal(0, queue.Count);
        Assert.Equal(0, queue.NumRequeues("ns/a"));
        clock.Advance(TimeSpan.FromSeconds(30));
        Assert.Equal(1, queue.Count);
    }

    [Fact(Timeout = 10_000)]
    public async Task RunAsync_TokenCancelled_WaitsForInFlightAndStartsNothingNew()
    {
        var clock = new FakeTimeProvider();
        using var queue = Queue(clock);
        var started = new ConcurrentBag<string>();
        var release = new TaskCompletionSource();
        var inReconcile = new TaskCompletionSource();
        var workers = new ControllerWorkers<string>("test", queue, async (key, _) =>
        {
            started.Add(key);
            inReconcile.TrySetResult();
            await release.Task;
            return ReconcileResult.Done;
        }, NullLogger.Instance);
        queue.Add("ns/a");
        queue.Add("ns/b");
        using var cts = new CancellationTokenSource();

        var run = workers.RunAsync(1, cts.Token);
        await inReconcile.Task;
        cts.Cancel();
        await Task.Delay(50);
        Assert.False(run.IsCompleted);

        release.SetResult();
        await run;
        Assert.Equal(["ns/a"], started);
        Assert.True(queue.ShuttingDown);
    }

    [Fact(Timeout = 10_000)]
    public async Task RunAsync_SeveralWorkers_EachKeyReconciledByOneWorkerAtATime()
    {
        var clock = new FakeTimeProvider();
        using var queue = Queue(clock);
        var active = new ConcurrentDictionary<string, int>();
        var overlaps = 0;
        var reconciled = 0;
        var workers = new ControllerWorkers<string>("test", queue, async (key, _) =>
        {
            if (active.AddOrUpdate(key, 1, (_, n) => n + 1) > 1)
            {
                Interlocked.Increment(ref overlaps);
            }
            await Task.Delay(1);
            active.AddOrUpdate(key, 0, (_, n) => n - 1);
            Interlocked.Increment(ref reconciled);
            return ReconcileResult.Done;
        }, NullLogger.Instance);
        using var cts = new CancellationTokenSource();
        var run = workers.RunAsync(4, cts.Token);

        for (var i = 0; i < 200; i++)
        {
            queue.Add($"ns/{i % 5}");
            if (i % 10 == 0)
            {
                await Task.Delay(1);
            }
        }
        while (queue.Count > 0)
        {
            await Task.Delay(10);
        }
        await queue.ShutDownWithDrainAsync(CancellationToken.None);
        cts.Cancel();
        await run;

        Assert.Equal(0, overlaps);
        Assert.True(reconciled >= 5);
    }

    [Fact(Timeout = 10_000)]
    public async Task ProcessNextAsync_FailsMoreThanMaxRetries_KeyDroppedAndForgotten()
    {
        var clock = new FakeTimeProvider();
        using var queue = Queue(clock);
        var logger = new CountingLogger();
        var attempts = 0;
        var workers = new ControllerWorkers<string>("test", queue, (_, _) =>
        {
            attempts++;
            throw new InvalidOperationException("boom");
        }, logger, RetryPolicy.DropAfter(15, "deployment"));
        queue.Add("ns/a");

        for (var i = 0; i < 16; i++)
        {
            Assert.Equal(1, queue.Count);
            await workers.ProcessNextAsync(CancellationToken.None);
            clock.Advance(TimeSpan.FromSeconds(1000)); // past any backoff
        }

        // 1 try + 15 retries, then dropped: nothing queued or waiting, its failures forgotten, the drop logged once.
        Assert.Equal(16, attempts);
        Assert.Equal(0, queue.Count);
        Assert.Equal(0, queue.WaitingCount);
        Assert.Equal(0, queue.NumRequeues("ns/a"));
        Assert.Equal(15, logger.Errors);
        Assert.Equal(["test: dropping deployment ns/a out of the queue after 15 retries"], logger.Infos);
    }

    [Fact(Timeout = 10_000)]
    public async Task ProcessNextAsync_RetryResult_CountsAgainstMaxRetriesWithoutErrorLog()
    {
        var clock = new FakeTimeProvider();
        using var queue = Queue(clock);
        var logger = new CountingLogger();
        var workers = new ControllerWorkers<string>("test", queue, (_, _) => Task.FromResult(ReconcileResult.Retry), logger, RetryPolicy.DropAfter(2, "key"));
        queue.Add("ns/a");

        for (var i = 0; i < 3; i++)
        {
            await workers.ProcessNextAsync(CancellationToken.None);
            clock.Advance(TimeSpan.FromSeconds(1000));
        }

        Assert.Equal(0, queue.Count);
        Assert.Equal(0, queue.NumRequeues("ns/a"));
        Assert.Equal(0, logger.Errors);
        Assert.Single(logger.Infos);
    }

    [Fact(Timeout = 10_000)]
    public async Task ProcessNextAsync_DefaultPolicy_RetriesForever()
    {
        var clock = new FakeTimeProvider();
        using var queue = Queue(clock);
        var workers = new ControllerWorkers<string>("test", queue, (_, _) => throw new InvalidOperationException("boom"), NullLogger.Instance);
        queue.Add("ns/a");

        for (var i = 0; i < 30; i++)
        {
            await workers.ProcessNextAsync(CancellationToken.None);
            clock.Advance(TimeSpan.FromSeconds(1000));
        }

        Assert.Equal(1, queue.Count);
        Assert.Equal(30, queue.NumRequeues("ns/a"));
    }

    [Fact(Timeout = 10_000)]
    public async Task ProcessNextAsync_FinalError_ForgottenWithoutRetry()
    {
        var clock = new FakeTimeProvider();
        using var queue = Queue(clock);
        var logger = new CountingLogger();
        var policy = RetryPolicy.Forever with { IsFinal = ex => ex is TimeoutException };
        var workers = new ControllerWorkers<string>("test", queue, (_, _) => throw new TimeoutException("namespace terminating"), logger, policy);
        queue.AddRateLimited("ns/a");
        clock.Advance(TimeSpan.FromMilliseconds(5));

        await workers.ProcessNextAsync(CancellationToken.None);

        Assert.Equal(0, queue.Count);
        Assert.Equal(0, queue.WaitingCount);
        Assert.Equal(0, queue.NumRequeues("ns/a"));
        Assert.Equal(0, logger.Errors);
    }

    [Fact(Timeout = 10_000)]
    public async Task ProcessNextAsync_PolicyLogsFailures_UsesItsLinesAndFlagsTheDrop()
    {
        var clock = new FakeTimeProvider();
        using var queue = Queue(clock);
        var calls = new List<(object Key, string Error, bool Dropping)>();
        var policy = RetryPolicy.DropAfter(2, "deployment") with { LogFailure = (_, key, error, dropping) => calls.Add((key, error.Message, dropping)) };
        var logger = new CountingLogger();
        var workers = new ControllerWorkers<string>("test", queue, (_, _) => throw new InvalidOperationException("boom"), logger, policy);
        queue.Add("ns/a");

        for (var i = 0; i < 3; i++)
        {
            await workers.ProcessNextAsync(CancellationToken.None);
            clock.Advance(TimeSpan.FromSeconds(1000));
        }

        Assert.Equal([("ns/a", "boom", false), ("ns/a", "boom", false), ("ns/a", "boom", true)], calls);
        Assert.Equal(0, logger.Errors); // the policy's lines replace the generic ones
        Assert.Empty(logger.Infos);
        Assert.Equal(0, queue.Count);
        Assert.Equal(0, queue.NumRequeues("ns/a"));
    }

    [Fact(Timeout = 10_000)]
    public async Task RunAsync_NamedCacheSync_LogsUpstreamStartAndCacheLines()
    {
        var clock = new FakeTimeProvider();
        using var queue = Queue(clock);
        var logger = new TextLogger();
        var workers = new ControllerWorkers<string>("replicaset", queue, (_, _) => Task.FromResult(ReconcileResult.Done), logger)
        {
            Description = "replicaset controller",
            CacheSyncName = "ReplicaSet",
        };
        using var cts = new CancellationTokenSource();
        cts.Cancel();

        await workers.RunAsync(1, cts.Token); // no informers to wait for; the cancelled token stops the workers at once

        Assert.Equal(
        [
            "Information Starting replicaset controller",
            "Information Waiting for caches to sync for ReplicaSet",
            "Information Caches are synced for ReplicaSet",
            "Information Shutting down replicaset controller",
        ], logger.Lines);
    }

    [Fact(Timeout = 10_000)]
    public async Task RunAsync_CachesNotSynced_ReconcilesNothingUntilCancelled()
    {
        var clock = new FakeTimeProvider();
        using var queue = Queue(clock);
        var reconciled = 0;
        var informer = new NeverSyncedInformer();
        var workers = new ControllerWorkers<string>("test", queue, (_, _) =>
        {
            reconciled++;
            return Task.FromResult(ReconcileResult.Done);
        }, NullLogger.Instance, waitFor: [informer]);
        queue.Add("ns/a");
        using var cts = new CancellationTokenSource();

        var run = workers.RunAsync(1, cts.Token);
        await informer.Waiting.Task;
        cts.Cancel();
        await run;

        Assert.Equal(0, reconciled);
        Assert.True(queue.ShuttingDown);
    }

    private sealed class NeverSyncedInformer : Kcm.Runtime.Informers.ISharedInformer
    {
        public TaskCompletionSource Waiting { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public string Name => "never";

        public bool HasSynced => false;

        public bool IsStarted => true;

        public Task RunAsync(CancellationToken cancellationToken) => Task.CompletedTask;

        public async Task<bool> WaitForCacheSyncAsync(CancellationToken cancellationToken)
        {
            Waiting.TrySetResult();
            try
            {
                await Task.Delay(Timeout.Infinite, cancellationToken);
            }
            catch (OperationCanceledException)
            {
            }
            return false;
        }
    }

    private sealed class TextLogger : ILogger
    {
        public List<string> Lines { get; } = [];

        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull
            => null;

        public bool IsEnabled(LogLevel logLevel) => logLevel >= LogLevel.Debug;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            if (IsEnabled(logLevel))
            {
                lock (Lines) Lines.Add($"{logLevel} {formatter(state, exception)}");
            }
        }
    }

    [Theory(Timeout = 10_000)]
    [InlineData(false, "{Message}")]
    [InlineData(true, "Starting PVC protection controller")]
    public async Task RunAsync_Description_LoggedAsUpstreamsInfofOrInfoS(bool structured, string template)
    {
        using var queue = Queue(new FakeTimeProvider());
        var logger = new EntryLogger();
        var workers = new ControllerWorkers<string>("test", queue, (_, _) => Task.FromResult(ReconcileResult.Done), logger)
        {
            Description = "PVC protection controller",
            DescriptionStructured = structured,
        };
        using var cts = new CancellationTokenSource();
        await cts.CancelAsync();

        await workers.RunAsync(1, cts.Token);

        var (eventId, loggedTemplate, text) = logger.Entries[0];
        Assert.Equal(("Starting PVC protection controller", template), (text, loggedTemplate));
        Assert.Equal(structured, eventId == Klog.InfoS);
        Assert.Equal("Shutting down PVC protection controller", logger.Entries[^1].Text);
    }

    /// <summary>Each entry's event id, message template and text.</summary>
    private sealed class EntryLogger : ILogger
    {
        public List<(EventId EventId, string? Template, string Text)> Entries { get; } = [];

        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull
            => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            var template = (state as IReadOnlyList<KeyValuePair<string, object?>>)?.LastOrDefault(p => p.Key == "{OriginalFormat}").Value as string;
            lock (Entries) Entries.Add((eventId, template, formatter(state, exception)));
        }
    }

    private sealed class CountingLogger : ILogger
    {
        public int Errors;

        public List<string> Infos { get; } = [];

        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull
            => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            if (logLevel >= LogLevel.Error)
            {
                Interlocked.Increment(ref Errors);
            }
            else if (logLevel == LogLevel.Information && formatter(state, exception).Contains("dropping", StringComparison.Ordinal))
            {
                lock (Infos)
                {
                    Infos.Add(formatter(state, exception));
                }
            }
        }
    }
}

public sealed class EnqueueKeyHandlerTests
{
    [Fact(Timeout = 10_000)]
    public async Task Handler_AddUpdateDelete_QueuesObjectKeyOnce()
    {
        using var queue = new WorkQueue<Kcm.Runtime.Informers.ObjectKey>();
        var handler = new EnqueueKeyHandler<Kcm.Api.Core.V1.ConfigMap>(queue);
        var cm = new Kcm.Api.Core.V1.ConfigMap { Metadata = new Kcm.Api.Meta.V1.ObjectMeta { Namespace = "ns", Name = "a" } };

        handler.OnAdd(cm, isInInitialList: true);
        handler.OnUpdate(cm, cm);
        handler.OnDelete(cm, finalStateUnknown: true);

        Assert.Equal(1, queue.Count);
        Assert.Equal((new Kcm.Runtime.Informers.ObjectKey("ns", "a"), false), await queue.GetAsync(CancellationToken.None));
    }
}

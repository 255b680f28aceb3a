using Kcm.Testing;
using Kcm.Runtime.Tests.Support;
using System.Collections.Concurrent;
using Kcm.Runtime.LeaderElection;
using Microsoft.Extensions.Logging;

namespace Kcm.Runtime.Tests.LeaderElection;

/// <summary>One elector under test and everything it reported: callbacks, metric calls, log lines.</summary>
public sealed class Candidate : IAsyncDisposable
{
    private readonly CancellationTokenSource _stop = new();
    private readonly TimeProvider _time;
    private Task? _run;

    public Candidate(IResourceLock resourceLock, TimeProvider time, Func<LeaderElectionConfig, LeaderElectionConfig>? configure = null)
    {
        _time = time;
        Lock = resourceLock;
        var config = new LeaderElectionConfig
        {
            Lock = resourceLock,
            Name = "test-election",
            LeaseDuration = TimeSpan.FromSeconds(15),
            RenewDeadline = TimeSpan.FromSeconds(10),
            RetryPeriod = TimeSpan.FromSeconds(2),
            TimeProvider = time,
            Metrics = Metrics,
            Logger = Logger,
            Callbacks = new LeaderCallbacks
            {
                OnStartedLeading = LeadAsync,
                OnStoppedLeading = () => Stopped.TrySetResult(),
                OnNewLeader = NewLeaders.Enqueue,
            },
        };
        Config = configure?.Invoke(config) ?? config;
        Elector = new LeaderElector(Config);
    }

    public IResourceLock Lock { get; }

    public LeaderElectionConfig Config { get; }

    public LeaderElector Elector { get; }

    public string Identity => Lock.Identity;

    public RecordingMetrics Metrics { get; } = new();

    public ListLogger Logger { get; } = new();

    public TaskCompletionSource Started { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public TaskCompletionSource LeadingCancelled { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public TaskCompletionSource Stopped { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public DateTimeOffset? StartedAt { get; private set; }

    public DateTimeOffset? LeadingCancelledAt { get; private set; }

    public ConcurrentQueue<string> NewLeaders { get; } = new();

    public bool IsStarted => Started.Task.IsCompleted;

    public Task Run => _run ?? throw new InvalidOperationException("not started");

    public Candidate Start()
    {
        _run = Task.Run(() => Elector.RunAsync(_stop.Token));
        return this;
    }

    /// <summary>Cancels the run (a graceful stop) and waits for RunAsync to return.</summary>
    public async Task StopAsync()
    {
        await _stop.CancelAsync();
        await Run.WaitAsync(TimeSpan.FromSeconds(10));
    }

    private async Task LeadAsync(CancellationToken leading)
    {
        var cancelled = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        using (leading.Register(() =>
        {
            LeadingCancelledAt = _time.GetUtcNow();
            LeadingCancelled.TrySetResult();
            cancelled.TrySetResult();
        }))
        {
            StartedAt = _time.GetUtcNow();
            Started.TrySetResult();
            await cancelled.Task;
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        if (_run is not null)
        {
            try
            {
                await _run.WaitAsync(TimeSpan.FromSeconds(10));
            }
            catch (TimeoutException)
            {
                // Reported by the test's own assertions; disposal must not mask them.
            }
        }
        _stop.Dispose();
    }
}

public sealed class RecordingMetrics : ILeaderElectionMetrics
{
    public ConcurrentQueue<string> Calls { get; } = new();

    /// <summary>The value leader_election_master_status would have now.</summary>
    public int Status { get; private set; }

    public void LeaderOn(string name)
    {
        Status = 1;
        Calls.Enqueue($"on:{name}");
    }

    public void LeaderOff(string name)
    {
        Status = 0;
        Calls.Enqueue($"off:{name}");
    }

    public void SlowpathExercised(string name) => Calls.Enqueue($"slowpath:{name}");
}

public sealed class ListLogger : ILogger
{
    public ConcurrentQueue<(LogLevel Level, string Message)> Entries { get; } = new();

    public IEnumerable<string> Messages => Entries.Select(e => e.Message);

    public IDisposable? BeginScope<TState>(TState state)
        where TState : notnull
        => null;

    public bool IsEnabled(LogLevel logLevel) => true;

    public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        => Entries.Enqueue((logLevel, formatter(state, exception)));
}

public static class Waiting
{
    /// <summary>Lets continuations triggered by a fake-clock step run on the thread pool.</summary>
    public static Task SettleAsync() => Task.Delay(10);

    /// <summary>Moves the fake clock in small steps until the condition holds; fails past <paramref name="limit"/> of fake time.</summary>
    public static async Task AdvanceUntilAsync(FakeTimeProvider time, Func<bool> condition, TimeSpan limit, TimeSpan? step = null)
    {
        var advanced = TimeSpan.Zero;
        var stride = step ?? TimeSpan.FromMilliseconds(100);
        while (true)
        {
            await SettleAsync();
            if (condition())
            {
                return;
            }
            if (advanced >= limit)
            {
                throw new Xunit.Sdk.XunitException($"condition not met within {limit} of fake time");
            }
            time.Advance(stride);
            advanced += stride;
        }
    }

    /// <summary>Moves the fake clock by <paramref name="span"/> in small steps, letting the electors react at each.</summary>
    public static async Task AdvanceAsync(FakeTimeProvider time, TimeSpan span, TimeSpan? step = null)
    {
        var stride = step ?? TimeSpan.FromMilliseconds(100);
        for (var advanced = TimeSpan.Zero; advanced < span; advanced += stride)
        {
            await SettleAsync();
            time.Advance(stride);
        }
        await SettleAsync();
    }

    /// <summary>
    /// Moves the fake clock from one armed timer to the next, each firing at exactly its due time, and after each lets
    /// the code under test run until it is <paramref name="idle"/> again (blocked on the clock). Unlike fixed steps,
    /// the clock never runs ahead of a reaction that a busy machine schedules late, so the fake times recorded for
    /// that reaction are the ones a real clock would show. Fails past <paramref name="limit"/> of fake time.
    /// </summary>
    public static async Task RunTimersUntilAsync(FakeTimeProvider time, Func<bool> condition, Func<bool> idle, TimeSpan limit)
    {
        var end = time.GetUtcNow() + limit;
        while (true)
        {
            await UntilAsync(() => condition() || idle(), TimeSpan.FromSeconds(10));
            if (condition())
            {
                return;
            }
            var next = time.NextDue;
            if (next is null || next > end)
            {
                throw new Xunit.Sdk.XunitException($"condition not met within {limit} of fake time");
            }
            var now = time.GetUtcNow();
            time.Advance(next.Value > now ? next.Value - now : TimeSpan.Zero);
        }
    }

    /// <summary>Real-time wait for a condition that needs no clock movement.</summary>
    public static async Task UntilAsync(Func<bool> condition, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (!condition())
        {
            if (DateTime.UtcNow > deadline)
            {
                throw new Xunit.Sdk.XunitException($"condition not met within {timeout}");
            }
            await Task.Delay(20);
        }
    }
}

using Kcm.Testing;
using Kcm.Runtime.Tests.Support;
using Kcm.Runtime.LeaderElection;
using Microsoft.Extensions.Logging;

namespace Kcm.Runtime.Tests.LeaderElection;

/// <summary>The election algorithm on a fake clock against an in-memory lock (lease 15s, renew 10s, retry 2s).</summary>
public sealed class LeaderElectorTests
{
    private static readonly TimeSpan Lease = TimeSpan.FromSeconds(15);
    private static readonly TimeSpan RenewDeadline = TimeSpan.FromSeconds(10);

    private readonly FakeTimeProvider _time = new();
    private readonly InMemoryLockStore _store;

    public LeaderElectorTests() => _store = new InMemoryLockStore(_time);

    private Candidate NewCandidate(string identity, bool releaseOnCancel = false, bool watch = true)
        => new(new InMemoryLock(_store, identity), _time, config => config with { ReleaseOnCancel = releaseOnCancel, WatchForRelease = watch });

    [Fact(Timeout = 10_000)]
    public async Task RunAsync_EmptyLock_CreatesRecordAndLeads()
    {
        var start = _time.GetUtcNow();
        await using var a = NewCandidate("a").Start();
        await a.Started.Task;

        var record = _store.Record!;
        Assert.Equal("a", record.HolderIdentity);
        Assert.Equal(15, record.LeaseDurationSeconds);
        Assert.Equal(start, record.AcquireTime);
        Assert.Equal(start, record.RenewTime);
        Assert.Equal(0, record.LeaderTransitions);
        Assert.True(a.Elector.IsLeader);
        Assert.Equal("a", a.Elector.GetLeader());
        Assert.Equal(["a"], a.NewLeaders);
        Assert.Equal(1, a.Metrics.Status);
        Assert.Equal(["off:test-election", "on:test-election"], a.Metrics.Calls);
        Assert.Contains("attempting to acquire leader lease test/lock...", a.Logger.Messages);
        Assert.Contains("successfully acquired lease test/lock", a.Logger.Messages);
        Assert.Contains("new leader elected: a", a.Logger.Messages);
    }

    [Fact(Timeout = 10_000)]
    public async Task RunAsync_Leading_RenewsEveryRetryPeriodKeepingAcquireTime()
    {
        var start = _time.GetUtcNow();
        await using var a = NewCandidate("a").Start();
        await a.Started.Task;

        await Waiting.AdvanceAsync(_time, TimeSpan.FromSeconds(7));

        var renewals = _store.Writes.Skip(1).ToList();
        Assert.InRange(renewals.Count, 3, 4);
        Assert.All(renewals, w =>
        {
            Assert.Equal("a", w.Record.HolderIdentity);
            Assert.Equal(start, w.Record.AcquireTime);
            Assert.Equal(w.At, w.Record.RenewTime);
            Assert.Equal(0, w.Record.LeaderTransitions);
        });
        Assert.DoesNotContain("slowpath:test-election", a.Metrics.Calls);
        Assert.Equal(["a"], a.NewLeaders);
    }

    [Fact(Timeout = 15_000)]
    public async Task RunAsync_ThreeCandidates_ExactlyOneLeads()
    {
        await using var a = NewCandidate("a").Start();
        await using var b = NewCandidate("b").Start();
        await using var c = NewCandidate("c").Start();
        var all = new[] { a, b, c };
        await Waiting.UntilAsync(() => all.Any(x => x.IsStarted), TimeSpan.FromSeconds(5));

        await Waiting.AdvanceAsync(_time, TimeSpan.FromSeconds(40), TimeSpan.FromMilliseconds(250));

        var leader = Assert.Single(all, x => x.IsStarted);
        Assert.Equal(leader.Identity, _store.Record!.HolderIdentity);
        Assert.Equal(0, _store.Record.LeaderTransitions);
        Assert.All(all, x => Assert.Equal(leader.Identity, x.Elector.GetLeader()));
        Assert.All(all.Where(x => x != leader), x => Assert.Equal([leader.Identity], x.NewLeaders));
        Assert.All(all.Where(x => x != leader), x => Assert.Equal(0, x.Metrics.Status));
        // Upstream logs a standby's every retry at V(4) only; at the guides' --v=2 a standby's log stays quiet.
        var standby = all.First(x => x != leader);
        Assert.Contains((LogLevel.Trace, $"lock is held by {leader.Identity} and has not yet expired"), standby.Logger.Entries);
        Assert.Contains((LogLevel.Trace, "failed to acquire lease test/lock"), standby.Logger.Entries);
        Assert.DoesNotContain(standby.Logger.Entries, e => e.Level == LogLevel.Debug);
    }

    [Fact(Timeout = 15_000)]
    public async Task RunAsync_HolderStopsRenewing_StandbyTakesOverOnlyAfterLeaseFromItsLastObservedChange()
    {
        await using var a = NewCandidate("a").Start();
        await a.Started.Task;
        await using var b = NewCandidate("b").Start();
        await Waiting.AdvanceAsync(_time, TimeSpan.FromSeconds(5), TimeSpan.FromMilliseconds(250));
        Assert.False(b.IsStarted);

        // A crash: a stops writing without releasing.
        ((InMemoryLock)a.Lock).Fail = true;
        var lastWriteByA = _store.Writes.Last(w => w.Writer == "a").At;
        await Waiting.AdvanceUntilAsync(_time, () => b.IsStarted, TimeSpan.FromSeconds(30), TimeSpan.FromMilliseconds(250));

        var takeover = _store.Writes.First(w => w.Writer == "b");
        Assert.True(takeover.At >= lastWriteByA + Lease, $"b took over at {takeover.At}, a last renewed at {lastWriteByA}");
        // b sees a's last write at its next poll (at most retry * 2.2 later) and takes over right when that expires.
        Assert.True(takeover.At <= lastWriteByA + Lease + TimeSpan.FromSeconds(4.4) + TimeSpan.FromMilliseconds(500), $"b took over late: {takeover.At - lastWriteByA}");
        Assert.Equal(1, takeover.Record.LeaderTransitions);
        Assert.Equal(takeover.At, takeover.Record.AcquireTime);
        Assert.Equal(["a", "b"], b.NewLeaders);
    }

    [Fact(Timeout = 15_000)]
    public async Task RunAsync_LeaderCannotRenew_CancelsLeadingBeforeAnyStandbyCouldTakeOver()
    {
        await using var a = NewCandidate("a").Start();
        await a.Started.Task;
        await using var b = NewCandidate("b").Start();
        await Waiting.AdvanceAsync(_time, TimeSpan.FromSeconds(3), TimeSpan.FromMilliseconds(250));

        ((InMemoryLock)a.Lock).Fail = true;
        var lastWriteByA = _store.Writes.Last(w => w.Writer == "a").At;
        await Waiting.AdvanceUntilAsync(_time, () => a.Stopped.Task.IsCompleted, TimeSpan.FromSeconds(20), TimeSpan.FromMilliseconds(250));

        Assert.True(a.LeadingCancelled.Task.IsCompleted);
        Assert.True(a.LeadingCancelledAt <= lastWriteByA + RenewDeadline + TimeSpan.FromMilliseconds(250), $"cancelled {a.LeadingCancelledAt - lastWriteByA} after the last renewal");
        Assert.True(a.LeadingCancelledAt < lastWriteByA + Lease);
        Assert.False(b.IsStarted);
        Assert.Equal(0, a.Metrics.Status);
        Assert.Equal("off:test-election", a.Metrics.Calls.Last());
        Assert.Contains(a.Logger.Messages, m => m.StartsWith("failed to renew lease test/lock", StringComparison.Ordinal));
        await a.Run.WaitAsync(TimeSpan.FromSeconds(5));

        await Waiting.AdvanceUntilAsync(_time, () => b.IsStarted, TimeSpan.FromSeconds(30), TimeSpan.FromMilliseconds(250));
        Assert.True(b.StartedAt > a.LeadingCancelledAt);
    }

    [Fact(Timeout = 15_000)]
    public async Task RunAsync_ShortOutage_LeaderRetriesWithinRenewDeadlineAndKeepsLeading()
    {
        await using var a = NewCandidate("a").Start();
        await a.Started.Task;
        await Waiting.AdvanceAsync(_time, TimeSpan.FromSeconds(3), TimeSpan.FromMilliseconds(250));

        ((InMemoryLock)a.Lock).Fail = true;
        await Waiting.AdvanceAsync(_time, TimeSpan.FromSeconds(5), TimeSpan.FromMilliseconds(250));
        ((InMemoryLock)a.Lock).Fail = false;
        await Waiting.AdvanceAsync(_time, TimeSpan.FromSeconds(5), TimeSpan.FromMilliseconds(250));

        Assert.False(a.LeadingCancelled.Task.IsCompleted);
        Assert.Equal(1, a.Metrics.Status);
        Assert.Equal("a", _store.Record!.HolderIdentity);
        Assert.Equal(0, _store.Record.LeaderTransitions);
    }

    [Fact(Timeout = 15_000)]
    public async Task RunAsync_RecordTimesFromSkewedClock_ExpiryJudgedOnlyByLocalObservation()
    {
        // The holder's clock is a day ahead, then a year behind: neither may shorten or lengthen the lease here.
        _store.Put(new LeaderElectionRecord
        {
            HolderIdentity = "go-kcm_1",
            LeaseDurationSeconds = 15,
            AcquireTime = _time.GetUtcNow().AddDays(1),
            RenewTime = _time.GetUtcNow().AddDays(1),
            LeaderTransitions = 4,
        });
        var firstSeen = _time.GetUtcNow();
        await using var b = NewCandidate("b").Start();
        await Waiting.AdvanceAsync(_time, TimeSpan.FromSeconds(8), TimeSpan.FromMilliseconds(250));
        Assert.False(b.IsStarted);

        // A renewal by the other holder (with a stale clock) restarts the lease from when b sees it.
        _store.Put(_store.Record! with { RenewTime = _time.GetUtcNow().AddYears(-1) });
        var renewedAt = _time.GetUtcNow();
        await Waiting.AdvanceAsync(_time, TimeSpan.FromSeconds(12), TimeSpan.FromMilliseconds(250));
        Assert.False(b.IsStarted, "b took over although the holder renewed less than a lease ago");

        await Waiting.AdvanceUntilAsync(_time, () => b.IsStarted, TimeSpan.FromSeconds(20), TimeSpan.FromMilliseconds(250));
        var takeover = _store.Writes.First(w => w.Writer == "b");
        Assert.True(takeover.At >= renewedAt + Lease);
        Assert.True(takeover.At > firstSeen + Lease);
        Assert.Equal(5, takeover.Record.LeaderTransitions);
    }

    [Fact(Timeout = 10_000)]
    public async Task RunAsync_ReleasedRecord_AcquiredAtOnceWithTransitionIncrement()
    {
        _store.Put(new LeaderElectionRecord
        {
            HolderIdentity = "",
            LeaseDurationSeconds = 1,
            AcquireTime = _time.GetUtcNow(),
            RenewTime = _time.GetUtcNow(),
            LeaderTransitions = 7,
        });
        await using var b = NewCandidate("b").Start();
        await b.Started.Task;
        Assert.Equal(8, _store.Record!.LeaderTransitions);
        Assert.Equal("b", _store.Record.HolderIdentity);
        Assert.Equal(15, _store.Record.LeaseDurationSeconds);
    }

    [Fact(Timeout = 15_000)]
    public async Task StopAsync_ReleaseOnCancel_WritesUpstreamReleaseRecordAndStandbyWakesFromWatch()
    {
        await using var a = NewCandidate("a", releaseOnCancel: true).Start();
        await a.Started.Task;
        await using var b = NewCandidate("b").Start();
        await Waiting.AdvanceAsync(_time, TimeSpan.FromSeconds(5), TimeSpan.FromMilliseconds(250));
        Assert.False(b.IsStarted);

        var releasedAt = _time.GetUtcNow();
        await a.StopAsync();

        Assert.True(a.LeadingCancelled.Task.IsCompleted);
        Assert.True(a.Stopped.Task.IsCompleted);
        Assert.Equal(0, a.Metrics.Status);
        var release = _store.Writes.Last(w => w.Writer == "a").Record;
        Assert.Equal(new LeaderElectionRecord
        {
            HolderIdentity = "",
            LeaseDurationSeconds = 1,
            AcquireTime = releasedAt,
            RenewTime = releasedAt,
            LeaderTransitions = 0,
        }, release);

        // No clock movement: the watch event alone wakes b.
        await b.Started.Task.WaitAsync(TimeSpan.FromSeconds(5));
        var takeover = _store.Writes.First(w => w.Writer == "b");
        Assert.Equal(releasedAt, takeover.At);
        Assert.Equal(1, takeover.Record.LeaderTransitions);
        Assert.Equal(["a", "b"], b.NewLeaders);
    }

    [Fact(Timeout = 15_000)]
    public async Task StopAsync_ReleasedWithoutWatch_StandbyTakesOverAtNextPoll()
    {
        await using var a = NewCandidate("a", releaseOnCancel: true).Start();
        await a.Started.Task;
        await using var b = NewCandidate("b", watch: false).Start();
        await Waiting.AdvanceAsync(_time, TimeSpan.FromSeconds(3), TimeSpan.FromMilliseconds(250));
        var releasedAt = _time.GetUtcNow();
        await a.StopAsync();

        // b is idle when its retry wait is armed on the clock (a has stopped: no other timers). Fixed clock steps
        // with a short real-time pause would let a loaded machine run b's poll one or more steps after it fell due.
        await Waiting.RunTimersUntilAsync(_time, () => _store.HasWritten("b"), idle: () => _time.ArmedTimers > 0, TimeSpan.FromSeconds(10));
        await b.Started.Task.WaitAsync(TimeSpan.FromSeconds(10));
        var takeover = _store.Writes.First(w => w.Writer == "b");
        Assert.True(takeover.At <= releasedAt + TimeSpan.FromSeconds(2 * 2.2), $"b took over {takeover.At - releasedAt} after the release");
        Assert.Equal(1, takeover.Record.LeaderTransitions);
    }

    [Fact(Timeout = 10_000)]
    public async Task StopAsync_WithoutReleaseOnCancel_LeavesRecordHeld()
    {
        await using var a = NewCandidate("a").Start();
        await a.Started.Task;
        await a.StopAsync();

        Assert.True(a.LeadingCancelled.Task.IsCompleted);
        Assert.True(a.Stopped.Task.IsCompleted);
        Assert.Equal("a", _store.Record!.HolderIdentity);
        Assert.Equal(0, a.Metrics.Status);
    }

    [Fact(Timeout = 10_000)]
    public async Task StopAsync_BeforeEverLeading_CallsOnStoppedLeadingOnly()
    {
        _store.Put(new LeaderElectionRecord { HolderIdentity = "other", LeaseDurationSeconds = 15, RenewTime = _time.GetUtcNow() });
        await using var b = NewCandidate("b", releaseOnCancel: true).Start();
        await Waiting.AdvanceAsync(_time, TimeSpan.FromSeconds(3), TimeSpan.FromMilliseconds(250));
        await b.StopAsync();

        Assert.True(b.Stopped.Task.IsCompleted);
        Assert.False(b.IsStarted);
        Assert.Equal("other", _store.Record!.HolderIdentity);
        Assert.Equal(["other"], b.NewLeaders);
    }

    [Fact(Timeout = 10_000)]
    public async Task TryCheckHealth_LeaderPastLeasePlusTolerance_Unhealthy()
    {
        await using var a = NewCandidate("a").Start();
        await a.Started.Task;
        Assert.True(a.Elector.TryCheckHealth(TimeSpan.FromSeconds(20), out _));

        // A wedged leader: time passes but nothing runs (no Advance-driven renewals are allowed to complete).
        ((InMemoryLock)a.Lock).Fail = true;
        _time.Advance(TimeSpan.FromSeconds(40));
        Assert.False(a.Elector.TryCheckHealth(TimeSpan.FromSeconds(20), out var failure));
        Assert.Equal("failed election to renew leadership on lease test-election", failure);
    }
}

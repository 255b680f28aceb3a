using Kcm.Testing;
using Kcm.Runtime.LeaderElection;

namespace Kcm.Runtime.Tests.LeaderElection;

/// <summary>
/// Issue 19 item 3 on a fake clock: after the leader dies (kill -9: no release) or is cut off, a standby that watches
/// the lock takes over within 0.3 s of leaseDuration after the last renewal it saw, not at its next poll, and never
/// while the old leader still acts.
/// </summary>
public sealed class LeaseLimitFailoverTests
{
    private static readonly TimeSpan Lease = TimeSpan.FromSeconds(15);
    private static readonly TimeSpan Step = TimeSpan.FromMilliseconds(100);

    private readonly FakeTimeProvider _time = new();
    private readonly InMemoryLockStore _store;

    public LeaseLimitFailoverTests() => _store = new InMemoryLockStore(_time);

    // Pinned jitter: b's polls fall between a's renewals, so waiting for the next poll would cost b up to seconds.
    private Candidate NewCandidate(string identity, int seed)
        => new(new InMemoryLock(_store, identity, _time), _time, config => config with { Random = new Random(seed) });

    [Theory(Timeout = 60_000)]
    [InlineData(true)]
    [InlineData(false)]
    public async Task RunAsync_LeaderGoneRightAfterARenewal_StandbyLeadsAtLeaseLimitWithoutOverlap(bool killed)
    {
        await using var a = NewCandidate("a", 1).Start();
        await a.Started.Task.WaitAsync(TimeSpan.FromSeconds(10));
        await using var b = NewCandidate("b", 2).Start();

        // Both stand on the clock after every step, and b has seen every write, so fake times are exact.
        Func<bool> settled = () => _time.ArmedTimers >= (a.Run.IsCompleted ? 1 : 2) && b.Elector.Observation.Record == _store.Record;
        var writesByA = 0;
        for (var elapsed = TimeSpan.Zero; elapsed < TimeSpan.FromSeconds(9) || _store.Writes.Count(w => w.Writer == "a") == writesByA; elapsed += Step)
        {
            writesByA = _store.Writes.Count(w => w.Writer == "a");
            _time.Advance(Step);
            await Waiting.UntilAsync(settled, TimeSpan.FromSeconds(10));
        }
        Assert.False(b.IsStarted);
        var lastWriteByA = _store.Writes.Last(w => w.Writer == "a").At;
        // Seen from the watch, within the clock step of the write (a poll would have seen it up to 4.4 s later).
        Assert.InRange(b.Elector.Observation.ObservedAt - lastWriteByA, TimeSpan.Zero, Step);

        if (killed)
        {
            // kill -9: a writes nothing more (no release).
            await a.StopAsync();
        }
        else
        {
            // Cut off from the API server: a keeps running, its renewals fail, it must stop acting by itself.
            ((InMemoryLock)a.Lock).Fail = true;
        }
        await Waiting.RunTimersUntilAsync(_time, () => _store.HasWritten("b"), idle: () => _time.ArmedTimers >= (a.Run.IsCompleted ? 1 : 2), TimeSpan.FromSeconds(30));
        await b.Started.Task.WaitAsync(TimeSpan.FromSeconds(10));

        var takeover = _store.Writes.First(w => w.Writer == "b");
        Assert.InRange(takeover.At - lastWriteByA, Lease, Lease + TimeSpan.FromMilliseconds(300));
        Assert.Equal(1, takeover.Record.LeaderTransitions);
        Assert.Equal("b", _store.Record!.HolderIdentity);
        Assert.True(a.LeadingCancelled.Task.IsCompleted, "a still acts as leader");
        Assert.True(a.LeadingCancelledAt < b.StartedAt, $"a stopped acting at {a.LeadingCancelledAt}, b started at {b.StartedAt}");
    }

    [Theory(Timeout = 60_000)]
    [InlineData(1, 2)]
    [InlineData(3, 4)]
    [InlineData(5, 6)]
    public async Task RunAsync_StandbyReadStraddlesExpiry_RetriesAtOnceInsteadOfAPeriodLater(int seedA, int seedB)
    {
        await using var a = NewCandidate("a", seedA).Start();
        await a.Started.Task.WaitAsync(TimeSpan.FromSeconds(10));
        await using var b = NewCandidate("b", seedB).Start();
        Func<bool> bothWaiting = () => _time.ArmedTimers >= (a.Run.IsCompleted ? 1 : 2);
        for (var elapsed = TimeSpan.Zero; elapsed < TimeSpan.FromSeconds(5); elapsed += Step)
        {
            _time.Advance(Step);
            await Waiting.UntilAsync(() => bothWaiting() && b.Elector.Observation.Record == _store.Record, TimeSpan.FromSeconds(10));
        }
        await a.StopAsync();
        var lastWriteByA = _store.Writes.Last(w => w.Writer == "a").At;
        var expiry = b.Elector.Observation.ObservedAt + Lease;

        // Any read b starts in the last 4.5 s before expiry (a jittered retry wait is at most 2 s × 2.2, so one does)
        // is answered just after it: judged by its start, the lease is still held.
        var straddled = 0;
        ((InMemoryLock)b.Lock).ReadLatency = start =>
        {
            if (start >= expiry - TimeSpan.FromSeconds(4.5) && start < expiry)
            {
                Interlocked.Increment(ref straddled);
                return expiry - start + TimeSpan.FromMilliseconds(50);
            }
            return TimeSpan.Zero;
        };
        await Waiting.RunTimersUntilAsync(_time, () => _store.HasWritten("b"), idle: bothWaiting, TimeSpan.FromSeconds(30));
        await b.Started.Task.WaitAsync(TimeSpan.FromSeconds(10));

        Assert.True(straddled > 0, "no read of b straddled the expiry");
        var takeover = _store.Writes.First(w => w.Writer == "b");
        Assert.InRange(takeover.At - lastWriteByA, Lease, Lease + TimeSpan.FromMilliseconds(300));
    }
}

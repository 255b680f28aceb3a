using Kcm.Client.Errors;
using Microsoft.Extensions.Logging;

namespace Kcm.Runtime.LeaderElection;

/// <summary>
/// client-go's LeaderElector, so this process and upstream Go components can share one election. As upstream, a
/// candidate judges expiry only from its own clock: a record is valid for its leaseDurationSeconds after the
/// moment this candidate last saw it change, whatever times the holder wrote into it.
/// </summary>
public sealed class LeaderElector
{
    private readonly LeaderElectionConfig _config;
    private readonly IResourceLock _lock;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly object _observedGate = new();
    private readonly SemaphoreSlim _wake = new(0, 1);

    private LeaderElectionRecord _observedRecord = new();
    private string? _observedRaw;
    private DateTimeOffset _observedTime;
    private bool _lastAttemptFoundLeaseHeld;
    private string _reportedLeader = "";
    private int _running;

    public LeaderElector(LeaderElectionConfig config)
    {
        ArgumentNullException.ThrowIfNull(config);
        config.Validate();
        _config = config;
        _lock = config.Lock!;
        _time = config.TimeProvider;
        _logger = config.Logger;
        _config.Metrics.LeaderOff(_config.Name);
    }

    public string Identity => _lock.Identity;

    /// <summary>The holder last observed, "" before anything was observed. For information only (logs, status).</summary>
    public string GetLeader()
    {
        lock (_observedGate)
        {
            return _observedRecord.HolderIdentity;
        }
    }

    /// <summary>The record last observed and when (this clock) it was first seen: the lease runs from that moment.</summary>
    public (LeaderElectionRecord Record, DateTimeOffset ObservedAt) Observation
    {
        get
        {
            lock (_observedGate)
            {
                return (_observedRecord, _observedTime);
            }
        }
    }

    /// <summary>Whether the record last observed names this candidate.</summary>
    public bool IsLeader
    {
        get
        {
            lock (_observedGate)
            {
                return _observedRecord.HolderIdentity == _lock.Identity;
            }
        }
    }

    /// <summary>
    /// client-go's Check, for a /healthz watchdog: a leader whose last successful renewal is older than the lease plus
    /// <paramref name="maxTolerableExpiredLease"/> should have stepped down already and is reported unhealthy.
    /// </summary>
    public bool TryCheckHealth(TimeSpan maxTolerableExpiredLease, out string? failure)
    {
        failure = null;
        if (!IsLeader)
        {
            return true;
        }
        DateTimeOffset observedTime;
        lock (_observedGate)
        {
            observedTime = _observedTime;
        }
        if (_time.GetUtcNow() - observedTime > _config.LeaseDuration + maxTolerableExpiredLease)
        {
            failure = $"failed election to renew leadership on lease {_config.Name}";
            return false;
        }
        return true;
    }

    /// <summary>Validates the config, then runs until leadership is lost or the token is cancelled.</summary>
    public static Task RunOrThrowAsync(LeaderElectionConfig config, CancellationToken cancellationToken)
        => new LeaderElector(config).RunAsync(cancellationToken);

    /// <summary>
    /// Competes until this candidate leads, then renews until renewal fails for RenewDeadline or the token is
    /// cancelled. OnStoppedLeading runs at the end in every case, as upstream.
    /// </summary>
    public async Task RunAsync(CancellationToken cancellationToken)
    {
        if (Interlocked.Exchange(ref _running, 1) == 1)
        {
            throw new InvalidOperationException("this LeaderElector is already running");
        }
        try
        {
            var acquiredAt = await AcquireAsync(cancellationToken).ConfigureAwait(false);
            if (acquiredAt is null)
            {
                return;
            }
            await LeadAsync(acquiredAt.Value, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            Volatile.Write(ref _running, 0);
            _config.Callbacks.OnStoppedLeading!();
        }
    }

    private async Task LeadAsync(DateTimeOffset acquiredAt, CancellationToken cancellationToken)
    {
        using var leading = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var leadingTask = Task.Run(() => RunStartedLeadingAsync(leading.Token), CancellationToken.None);
        try
        {
            await RenewAsync(acquiredAt, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            // Before anything else: the work guarded by the lease must stop while the lease is still ours on every clock.
            await leading.CancelAsync().ConfigureAwait(false);
            _config.Metrics.LeaderOff(_config.Name);
        }
        if (_config.ReleaseOnCancel)
        {
            if (cancellationToken.IsCancellationRequested)
            {
                // Releasing while the old work still runs would let a standby start alongside it.
                try
                {
                    await leadingTask.WaitAsync(_config.RenewDeadline, _time, CancellationToken.None).ConfigureAwait(false);
                }
                catch (TimeoutException)
                {
                    _logger.LogWarning("OnStartedLeading did not return within {RenewDeadline} of cancellation; releasing lease {Lock} anyway", _config.RenewDeadline, _lock.Describe());
                }
            }
            await ReleaseAsync().ConfigureAwait(false);
        }
    }

    private async Task RunStartedLeadingAsync(CancellationToken leadingToken)
    {
        try
        {
            await _config.Callbacks.OnStartedLeading!(leadingToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (leadingToken.IsCancellationRequested)
        {
        }
        catch (Exception ex)
        {
            _logger.LogError(ex, "OnStartedLeading for lease {Lock} failed", _lock.Describe());
        }
    }

    /// <summary>Loops until this candidate holds the lock (returns when the winning attempt started) or the token is cancelled (null).</summary>
    private async Task<DateTimeOffset?> AcquireAsync(CancellationToken cancellationToken)
    {
        var description = _lock.Describe();
        _logger.LogInformation("attempting to acquire leader lease {Lock}...", description);
        using var stopWatching = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var watcher = _config.WatchForRelease ? WatchForReleaseAsync(stopWatching.Token) : Task.CompletedTask;
        try
        {
            while (!cancellationToken.IsCancellationRequested)
            {
                var attemptStart = _time.GetUtcNow();
                var succeeded = await TryAcquireOrRenewAsync(cancellationToken).ConfigureAwait(false);
                MaybeReportTransition();
                if (succeeded)
                {
                    _config.Metrics.LeaderOn(_config.Name);
                    _logger.LogInformation("successfully acquired lease {Lock}", description);
                    return attemptStart;
                }
                _logger.LogTrace("failed to acquire lease {Lock}", description);
                await WaitBeforeRetryAsync(cancellationToken).ConfigureAwait(false);
            }
            return null;
        }
        finally
        {
            await stopWatching.CancelAsync().ConfigureAwait(false);
            await watcher.ConfigureAwait(false);
        }
    }

    /// <summary>
    /// Renews every RetryPeriod. Gives up once RenewDeadline has passed since the last renewal that succeeded (measured
    /// from when that attempt started), which is before any standby can count the lease as expired.
    /// </summary>
    private async Task RenewAsync(DateTimeOffset lastSuccessStart, CancellationToken cancellationToken)
    {
        var description = _lock.Describe();
        while (true)
        {
            if (!await DelayAsync(_config.RetryPeriod, cancellationToken).ConfigureAwait(false))
            {
                return;
            }
            var deadline = lastSuccessStart + _config.RenewDeadline;
            var renewed = false;
            while (!renewed)
            {
                var remaining = deadline - _time.GetUtcNow();
                if (remaining <= TimeSpan.Zero)
                {
                    break;
                }
                using var attempt = new CancellationTokenSource(remaining, _time);
                using var linked = CancellationTokenSource.CreateLinkedTokenSource(attempt.Token, cancellationToken);
                var attemptStart = _time.GetUtcNow();
                renewed = await TryAcquireOrRenewAsync(linked.Token).ConfigureAwait(false);
                if (renewed)
                {
                    lastSuccessStart = attemptStart;
                    break;
                }
                if (cancellationToken.IsCancellationRequested)
                {
                    return;
                }
                var untilDeadline = deadline - _time.GetUtcNow();
                if (untilDeadline <= TimeSpan.Zero || !await DelayAsync(Min(_config.RetryPeriod, untilDeadline), cancellationToken).ConfigureAwait(false))
                {
                    break;
                }
            }
            MaybeReportTransition();
            if (cancellationToken.IsCancellationRequested)
            {
                return;
            }
            if (!renewed)
            {
                _logger.LogInformation("failed to renew lease {Lock}: timed out waiting for the condition (no successful renewal within {RenewDeadline})", description, _config.RenewDeadline);
                return;
            }
            _logger.LogTrace("successfully renewed lease {Lock}", description);
        }
    }

    /// <summary>One round of client-go's tryAcquireOrRenew; every failure means "not this round".</summary>
    private async Task<bool> TryAcquireOrRenewAsync(CancellationToken cancellationToken)
    {
        _lastAttemptFoundLeaseHeld = false;
        var now = _time.GetUtcNow();
        var desired = new LeaderElectionRecord
        {
            HolderIdentity = _lock.Identity,
            LeaseDurationSeconds = (int)_config.LeaseDuration.TotalSeconds,
            AcquireTime = now,
            RenewTime = now,
        };

        // 1. Fast path: a leader with a valid lease writes over its cached object without reading first.
        if (IsLeader && IsLeaseValid(now))
        {
            var observed = GetObservedRecord();
            var renewal = desired with { AcquireTime = observed.AcquireTime, LeaderTransitions = observed.LeaderTransitions };
            try
            {
                await _lock.UpdateAsync(renewal, cancellationToken).ConfigureAwait(false);
                SetObservedRecord(renewal, _observedRaw);
                return true;
            }
            catch (Exception ex) when (ex is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
            {
                _logger.LogError("Failed to update lock optimistically: {Error}, falling back to slow path", ex.Message);
            }
            catch (OperationCanceledException)
            {
                return false;
            }
        }

        // 2. Read the record, or create the lock object when there is none.
        ObservedLeaderElectionRecord? current;
        try
        {
            current = await _lock.GetAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (!IsOwnCancellation(ex, cancellationToken))
        {
            _logger.LogError("error retrieving resource lock {Lock}: {Error}", _lock.Describe(), ex.Message);
            return false;
        }
        catch (OperationCanceledException)
        {
            return false;
        }
        if (current is null)
        {
            try
            {
                await _lock.CreateAsync(desired, cancellationToken).ConfigureAwait(false);
            }
            catch (Exception ex) when (!IsOwnCancellation(ex, cancellationToken))
            {
                _logger.LogError("error initially creating leader election record: {Error}", ex.Message);
                return false;
            }
            catch (OperationCanceledException)
            {
                return false;
            }
            SetObservedRecord(desired, null);
            return true;
        }

        // 3. A change of the record, however small, restarts the lease on this candidate's clock, unless the watch
        // already saw this very record: then the lease runs from that earlier sighting.
        if (current.Raw != ObservedRaw())
        {
            if (current.Record == GetObservedRecord())
            {
                SetObservedRaw(current.Raw);
            }
            else
            {
                SetObservedRecord(current.Record, current.Raw);
            }
        }
        var record = current.Record;
        if (record.HolderIdentity.Length > 0 && IsLeaseValid(now) && !IsLeader)
        {
            _lastAttemptFoundLeaseHeld = true;
            if (_logger.IsEnabled(LogLevel.Trace))
            {
                // Upstream's V(4) Infof: the holder inside the sentence, not a key.
                _logger.LogTrace("{Message}", $"lock is held by {record.HolderIdentity} and has not yet expired");
            }
            return false;
        }

        // 4. Take over (a new term) or renew (same acquire time and transition count).
        if (IsLeader)
        {
            desired = desired with { AcquireTime = record.AcquireTime, LeaderTransitions = record.LeaderTransitions };
            _config.Metrics.SlowpathExercised(_config.Name);
        }
        else
        {
            desired = desired with { LeaderTransitions = record.LeaderTransitions + 1 };
        }
        try
        {
            await _lock.UpdateAsync(desired, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (!IsOwnCancellation(ex, cancellationToken))
        {
            _logger.LogError("Failed to update lock: {Error}", ex.Message);
            return false;
        }
        catch (OperationCanceledException)
        {
            return false;
        }
        SetObservedRecord(desired, current.Raw);
        return true;
    }

    /// <summary>client-go's release: an empty holder with a one-second lease, keeping the transition count.</summary>
    private async Task<bool> ReleaseAsync()
    {
        if (!IsLeader)
        {
            return true;
        }
        var now = _time.GetUtcNow();
        var released = new LeaderElectionRecord
        {
            HolderIdentity = "",
            LeaseDurationSeconds = 1,
            AcquireTime = now,
            RenewTime = now,
            LeaderTransitions = GetObservedRecord().LeaderTransitions,
        };
        // The run's token is already cancelled; bound the release on its own so shutdown cannot hang on it.
        using var timeout = new CancellationTokenSource(_config.RenewDeadline, _time);
        try
        {
            try
            {
                await _lock.UpdateAsync(released, timeout.Token).ConfigureAwait(false);
            }
            catch (ConflictException)
            {
                // A renewal cancelled in flight may have reached the server first: re-read, and release while still ours
                // (upstream gives up here and leaves standbys to wait out the lease).
                var current = await _lock.GetAsync(timeout.Token).ConfigureAwait(false);
                if (current?.Record.HolderIdentity != _lock.Identity)
                {
                    return true;
                }
                released = released with { LeaderTransitions = current.Record.LeaderTransitions };
                await _lock.UpdateAsync(released, timeout.Token).ConfigureAwait(false);
            }
        }
        catch (Exception ex)
        {
            _logger.LogError("Failed to release lock: {Error}", ex.Message);
            return false;
        }
        SetObservedRecord(released, _observedRaw);
        _logger.LogInformation("released lease {Lock}", _lock.Describe());
        return true;
    }

    private void MaybeReportTransition()
    {
        var holder = GetLeader();
        if (holder == _reportedLeader)
        {
            return;
        }
        _reportedLeader = holder;
        if (holder.Length > 0)
        {
            _logger.LogInformation("new leader elected: {Leader}", holder);
        }
        try
        {
            _config.Callbacks.OnNewLeader?.Invoke(holder);
        }
        catch (Exception ex)
        {
            _logger.LogError(ex, "OnNewLeader for lease {Lock} failed", _lock.Describe());
        }
    }

    /// <summary>
    /// Follows the lock while standing by. Every record the watch delivers counts as observed the moment it arrives, so
    /// the lease of a holder that dies runs out on this clock leaseDuration after its last renewal reached the server,
    /// not after the poll that happened to read it (up to RetryPeriod × 2.2 later); the retry wait is cut to that expiry.
    /// A release or deletion wakes the loop at once. Still safe: a watch event never precedes the write it reports, so
    /// expiry is never judged earlier than upstream's poll would judge it from the same write.
    /// </summary>
    private async Task WatchForReleaseAsync(CancellationToken cancellationToken)
    {
        while (!cancellationToken.IsCancellationRequested)
        {
            try
            {
                await foreach (var record in _lock.WatchAsync(cancellationToken).ConfigureAwait(false))
                {
                    if (record is null || record.HolderIdentity.Length == 0)
                    {
                        Wake();
                    }
                    else
                    {
                        ObserveWatched(record);
                    }
                }
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception ex)
            {
                _logger.LogTrace("watch of lock {Lock} ended: {Error}", _lock.Describe(), ex.Message);
            }
            if (!await DelayAsync(_config.RetryPeriod, cancellationToken).ConfigureAwait(false))
            {
                return;
            }
        }
    }

    private void Wake()
    {
        try
        {
            _wake.Release();
        }
        catch (SemaphoreFullException)
        {
            // Already signalled; one wake-up is enough.
        }
    }

    /// <summary>
    /// The jittered retry wait of wait.JitterUntil, cut short when the watch sees a release or when the observed lease
    /// expires on this clock, so a crashed leader is replaced right at expiry rather than up to a retry later.
    /// </summary>
    private async Task WaitBeforeRetryAsync(CancellationToken cancellationToken)
    {
        var wait = _config.RetryPeriod + TimeSpan.FromTicks((long)(_config.Random.NextDouble() * LeaderElectionConfig.JitterFactor * _config.RetryPeriod.Ticks));
        var record = GetObservedRecord();
        if (record.HolderIdentity.Length > 0)
        {
            var untilExpiry = ObservedExpiry() - _time.GetUtcNow();
            if (untilExpiry <= TimeSpan.Zero && _lastAttemptFoundLeaseHeld)
            {
                // The attempt judged the lease valid by the time it started, and it ran out while the read was in
                // flight: retry now rather than a full period later. Once per judgement, since the next attempt's
                // start is past this expiry.
                wait = TimeSpan.Zero;
            }
            else if (untilExpiry > TimeSpan.Zero && untilExpiry < wait)
            {
                // Timers count whole milliseconds and may round down: wake no earlier than the expiry itself.
                wait = TimeSpan.FromMilliseconds(Math.Ceiling(untilExpiry.TotalMilliseconds));
            }
        }
        if (wait == TimeSpan.Zero)
        {
            return;
        }
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var delay = Task.Delay(wait, _time, stop.Token);
        var woken = _wake.WaitAsync(stop.Token);
        await Task.WhenAny(delay, woken).ConfigureAwait(false);
        // The loser ends cancelled; a cancelled task raises no unobserved-exception event, so it need not be awaited.
        await stop.CancelAsync().ConfigureAwait(false);
    }

    /// <summary>False when cancelled instead of waiting the full time.</summary>
    private async Task<bool> DelayAsync(TimeSpan delay, CancellationToken cancellationToken)
    {
        try
        {
            await Task.Delay(delay, _time, cancellationToken).ConfigureAwait(false);
            return true;
        }
        catch (OperationCanceledException)
        {
            return false;
        }
    }

    private bool IsLeaseValid(DateTimeOffset now) => ObservedExpiry() > now;

    /// <summary>
    /// When the observed record expires on this clock. The holder's own leaseDurationSeconds counts, as in current
    /// client-go; a record without one (0) falls back to this candidate's configured lease duration.
    /// </summary>
    private DateTimeOffset ObservedExpiry()
    {
        lock (_observedGate)
        {
            var duration = _observedRecord.LeaseDurationSeconds > 0
                ? TimeSpan.FromSeconds(_observedRecord.LeaseDurationSeconds)
                : _config.LeaseDuration;
            return _observedTime + duration;
        }
    }

    private LeaderElectionRecord GetObservedRecord()
    {
        lock (_observedGate)
        {
            return _observedRecord;
        }
    }

    private string? ObservedRaw()
    {
        lock (_observedGate)
        {
            return _observedRaw;
        }
    }

    private void SetObservedRecord(LeaderElectionRecord record, string? raw)
    {
        lock (_observedGate)
        {
            _observedRecord = record;
            _observedRaw = raw;
            _observedTime = _time.GetUtcNow();
        }
    }

    /// <summary>A record seen on the watch; the raw form stays unknown until the next read (which then matches by value).</summary>
    private void ObserveWatched(LeaderElectionRecord record)
    {
        lock (_observedGate)
        {
            // Once this candidate's own write is observed it is done standing by; a late event must not undo that.
            if (record == _observedRecord || _observedRecord.HolderIdentity == _lock.Identity)
            {
                return;
            }
            _observedRecord = record;
            _observedRaw = null;
            _observedTime = _time.GetUtcNow();
        }
    }

    private void SetObservedRaw(string? raw)
    {
        lock (_observedGate)
        {
            _observedRaw = raw;
        }
    }

    private static bool IsOwnCancellation(Exception ex, CancellationToken cancellationToken)
        => ex is OperationCanceledException && cancellationToken.IsCancellationRequested;

    private static TimeSpan Min(TimeSpan a, TimeSpan b) => a < b ? a : b;
}

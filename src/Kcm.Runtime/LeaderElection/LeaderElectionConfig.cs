using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Kcm.Runtime.LeaderElection;

/// <summary>client-go's LeaderCallbacks. Callbacks run on the elector's loop or the thread pool, so keep them short.</summary>
public sealed record LeaderCallbacks
{
    /// <summary>Runs on the thread pool once leadership is acquired; the token is cancelled the moment it is lost or the run stops.</summary>
    public Func<CancellationToken, Task>? OnStartedLeading { get; init; }

    /// <summary>Runs when <see cref="LeaderElector.RunAsync"/> ends, whether or not this candidate ever led.</summary>
    public Action? OnStoppedLeading { get; init; }

    /// <summary>Called with each newly observed holder, including the first one and "" after a release.</summary>
    public Action<string>? OnNewLeader { get; init; }
}

/// <summary>client-go's LeaderElectionConfig; core components use lease 15s, renew 10s, retry 2s (the defaults).</summary>
public sealed record LeaderElectionConfig
{
    /// <summary>client-go's JitterFactor: retries wait RetryPeriod plus up to 1.2 times RetryPeriod more.</summary>
    public const double JitterFactor = 1.2;

    public IResourceLock? Lock { get; init; }

    /// <summary>How long standbys wait, from their last observed change of the record, before taking over.</summary>
    public TimeSpan LeaseDuration { get; init; } = TimeSpan.FromSeconds(15);

    /// <summary>How long the leader keeps retrying a failing renewal before it gives leadership up.</summary>
    public TimeSpan RenewDeadline { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>The wait between attempts.</summary>
    public TimeSpan RetryPeriod { get; init; } = TimeSpan.FromSeconds(2);

    public LeaderCallbacks Callbacks { get; init; } = new();

    /// <summary>
    /// Release the lock (empty holder, duration 1s) when the run is cancelled, so a standby takes over at once. Only
    /// safe when the work guarded by the lease stops with the OnStartedLeading token; the elector waits for it, up to RenewDeadline.
    /// </summary>
    public bool ReleaseOnCancel { get; init; }

    /// <summary>The election's name for metrics and health messages (kube-controller-manager uses the lock name).</summary>
    public string Name { get; init; } = "";

    /// <summary>
    /// Beyond upstream: standbys also watch the lock object. Each change they see starts the lease on their clock at
    /// once (so a crashed holder is replaced right at leaseDuration after its last renewal), and a release or deletion
    /// makes them try at once. The record written stays upstream's.
    /// </summary>
    public bool WatchForRelease { get; init; } = true;

    public TimeProvider TimeProvider { get; init; } = TimeProvider.System;

    public ILeaderElectionMetrics Metrics { get; init; } = NullLeaderElectionMetrics.Instance;

    public ILogger Logger { get; init; } = NullLogger.Instance;

    /// <summary>Source of retry jitter; tests may pin it.</summary>
    public Random Random { get; init; } = Random.Shared;

    /// <summary>client-go's NewLeaderElector checks, in its order and with its messages (plus the values).</summary>
    public void Validate()
    {
        if (LeaseDuration <= RenewDeadline)
        {
            throw new LeaderElectionConfigException($"leaseDuration must be greater than renewDeadline (leaseDuration {LeaseDuration}, renewDeadline {RenewDeadline})");
        }
        var jitteredRetry = TimeSpan.FromTicks((long)(JitterFactor * RetryPeriod.Ticks));
        if (RenewDeadline <= jitteredRetry)
        {
            throw new LeaderElectionConfigException(
                $"renewDeadline must be greater than retryPeriod*JitterFactor (renewDeadline {RenewDeadline}, retryPeriod {RetryPeriod}, JitterFactor {JitterFactor})");
        }
        if (LeaseDuration <= TimeSpan.Zero)
        {
            throw new LeaderElectionConfigException($"leaseDuration must be greater than zero (got {LeaseDuration})");
        }
        if (RenewDeadline <= TimeSpan.Zero)
        {
            throw new LeaderElectionConfigException($"renewDeadline must be greater than zero (got {RenewDeadline})");
        }
        if (RetryPeriod <= TimeSpan.Zero)
        {
            throw new LeaderElectionConfigException($"retryPeriod must be greater than zero (got {RetryPeriod})");
        }
        if (Callbacks.OnStartedLeading is null)
        {
            throw new LeaderElectionConfigException("OnStartedLeading callback must not be nil");
        }
        if (Callbacks.OnStoppedLeading is null)
        {
            throw new LeaderElectionConfigException("OnStoppedLeading callback must not be nil");
        }
        if (Lock is null)
        {
            throw new LeaderElectionConfigException("Lock must not be nil");
        }
        if (string.IsNullOrEmpty(Lock.Identity))
        {
            throw new LeaderElectionConfigException("Lock identity is empty");
        }
    }
}

public sealed class LeaderElectionConfigException(string message) : ArgumentException(message);
